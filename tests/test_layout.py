"""The repository layout the design card asks for, and nothing that shadows the standard library."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def top_level_packages() -> list[str]:
    return [p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()]


def test_no_top_level_package_is_named_like_a_standard_library_module():
    shadowing = [name for name in top_level_packages() if name in sys.stdlib_module_names]
    assert shadowing == []


def test_design_card_layout_is_present():
    for name in ("wsgi.py", "pyproject.toml", "xinyidai", "models", "ml", "templates", "tests", "deploy"):
        assert (ROOT / name).exists(), name
    assert (ROOT / "deploy" / "gunicorn.conf.py").is_file()


def test_wsgi_exposes_the_app_from_the_factory():
    text = (ROOT / "wsgi.py").read_text()
    assert "from xinyidai import create_app" in text
    assert "app = create_app()" in text
