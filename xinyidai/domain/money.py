"""Money is integer fen and rates integer basis points (DESIGN §8): the one conversion from what people type
(yuan, 万元, percent — as Decimal) to what is stored. Every form, the CSV upload and the API body use it."""

from __future__ import annotations

from decimal import Decimal

FEN_PER_YUAN = 100
FEN_PER_WAN = 1_000_000
BASIS_POINTS_PER_PERCENT = 100


def fen(yuan: Decimal | int | None) -> int | None:
    """Yuan → fen, rounded half to even at the fen (None stays None)."""
    return None if yuan is None else int((Decimal(yuan) * FEN_PER_YUAN).to_integral_value())


def fen_from_wan(wan: Decimal | int | None) -> int | None:
    return None if wan is None else int((Decimal(wan) * FEN_PER_WAN).to_integral_value())


def basis_points(percent: Decimal | int | None) -> int | None:
    """An annual rate in percent → basis points (3.85 → 385)."""
    return None if percent is None else int((Decimal(percent) * BASIS_POINTS_PER_PERCENT).to_integral_value())
