"""What every portal's form views share: a service's field messages put on the form, and the 400 for a
form whose CSRF token is missing or stale."""

from __future__ import annotations

from flask import abort


def attach(form, errors: dict, renames: dict | None = None) -> None:
    """Put a service's field messages beside the form's fields (unknown fields go to the first one)."""
    for name, messages in errors.items():
        target = getattr(form, (renames or {}).get(name, name), None) or next(f for f in form if f.name != "csrf_token")
        target.errors = [*target.errors, *messages] if isinstance(target.errors, list) else list(messages)


def csrf_or_400(form) -> None:
    """A form that failed on its CSRF token is a bad request, not a page with field errors."""
    if "csrf_token" in form.errors:
        abort(400)
