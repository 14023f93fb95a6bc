"""What the bank services raise; each channel turns them into its own answer (page, 404, 422, row result)."""

from __future__ import annotations


class NotFound(LookupError):
    """No such object for this bank. Another bank's object is reported exactly like a missing one."""


class Invalid(ValueError):
    """Input that breaks a rule; `errors` maps a field name to its messages (Chinese, the platform default)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors
