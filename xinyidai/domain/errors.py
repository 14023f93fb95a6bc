"""What the domain raises; each channel turns it into its own answer (a page, 404, 422, a row result, a CLI
message). One set for every aggregate: a view catches `NotFound` whichever service raised it."""

from __future__ import annotations


class NotFound(LookupError):
    """No such object for this caller's tenant (enterprise, bank): another tenant's object looks exactly the
    same as a missing one."""


class Invalid(ValueError):
    """Input that breaks a rule; `errors` maps a field name to its messages (Chinese, the platform default;
    lazy strings are worded when shown)."""

    def __init__(self, errors: dict[str, list]):
        super().__init__(errors)
        self.errors = errors

    def __str__(self) -> str:
        return "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in self.errors.items())


class Refused(Exception):
    """A request the current state does not allow; `message` says why in plain words."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message
