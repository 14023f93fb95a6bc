"""The one way every portal writes money, rates and shares (DESIGN §8: amounts are integer fen, rates
integer basis points). Registered as template globals for every page; exports and messages call them."""

from __future__ import annotations

from xinyidai.domain.money import BASIS_POINTS_PER_PERCENT, FEN_PER_WAN, FEN_PER_YUAN
from xinyidai.i18n import locale_code

MISSING = "—"


def yuan(fen: int | None) -> str:
    """Fen as yuan with two decimals: 1,234.50."""
    return MISSING if fen is None else f"{fen / FEN_PER_YUAN:,.2f}"


def wan(fen: int | None, *, fixed: bool = False) -> str:
    """Fen as 万元: without trailing zeros (500, 120.5), or with two decimals in a table column (`fixed`)."""
    if fen is None:
        return MISSING
    text = f"{fen / FEN_PER_WAN:,.2f}"
    return text if fixed else text.rstrip("0").rstrip(".")


def money(fen: int | None) -> str:
    """An amount as people say it: 200 万元 in Chinese, 2,000,000 yuan in English."""
    if fen is None:
        return MISSING
    return f"{fen / FEN_PER_YUAN:,.0f} yuan" if locale_code() == "en" else f"{wan(fen)} 万元"


def money_range(low: int, high: int) -> str:
    if locale_code() == "en":
        return f"{low / FEN_PER_YUAN:,.0f} – {high / FEN_PER_YUAN:,.0f} yuan"
    return f"{wan(low)} – {wan(high)} 万元"


def percent(basis_points: int | None) -> str:
    """A rate in basis points as a percentage with two decimals: 385 → 3.85%."""
    return MISSING if basis_points is None else f"{basis_points / BASIS_POINTS_PER_PERCENT:.2f}%"


def ratio(value: float | None) -> str:
    """A share (0–1) as a percentage with one decimal: 0.667 → 66.7%."""
    return MISSING if value is None else f"{value * 100:.1f}%"


def init_app(app) -> None:
    app.jinja_env.globals.update(yuan=yuan, wan=wan, money=money, money_range=money_range, percent=percent,
                                 ratio=ratio)
