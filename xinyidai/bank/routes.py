"""The bank workspace pages under /bank/… (the landing page /bank/ belongs to xinyidai.web)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("bank", __name__, url_prefix="/bank")
