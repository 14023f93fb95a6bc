"""The demo population: Shanghai-like enterprises, their provider data, banks and lending history.

`seed_demo(session, instance_path, enterprises=, seed=)` and `demo_logins()` are the entry points;
`xyd demo seed` and `xyd demo logins` call them.
"""

from __future__ import annotations


def __getattr__(name: str):
    # Imported lazily so that `xyd` starts without loading numpy and pandas.
    if name == "seed_demo":
        from xinyidai.demo.seed import seed_demo

        return seed_demo
    if name == "demo_logins":
        from xinyidai.demo.logins import demo_logins

        return demo_logins
    raise AttributeError(name)


__all__ = ["demo_logins", "seed_demo"]
