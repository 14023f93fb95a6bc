"""One form action of a portal as one unit of work: validate the form, run the service, commit or roll back,
say what happened and answer (the enterprise portal's every action reads this way)."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect
from flask_babel import gettext as _

from xinyidai.domain.errors import Invalid, Refused
from xinyidai.domain.lifecycle import IllegalTransition
from xinyidai.extensions import db
from xinyidai.i18n import localized
from xinyidai.web.forms import attach, csrf_or_400

REFUSALS = (Refused, IllegalTransition)


def refusal_text(error: Refused | IllegalTransition) -> str:
    """Why the service refused, in the page's language."""
    if isinstance(error, IllegalTransition):
        return localized(error.zh, error.en)
    return str(error.message)


def act(form, action: Callable, *, done: str | Callable | None, to, again: Callable | None = None,
        back: str | None = None, valid: Callable | None = None):
    """Run `action()` for the posted `form` and answer.

    - The form does not validate (`valid(form)`, else `form.validate()`): a button (no `again`) is a 400; a
      form with fields is shown again, `again(form, 422)`, its errors beside the fields (a stale CSRF token: 400).
    - The service says `Invalid`: rolled back; its messages go beside the fields and `again(form, 422)` shows
      them, or, for a button, they are flashed and the answer is a redirect to `back` (else `to`).
    - The service refuses (`Refused`, `IllegalTransition`): rolled back, the reason flashed, a redirect to `back`;
      without `back`, `again(form, 409)` for a form, a redirect to `to` for a button (give `back` when `to` is a
      function).
    - Done: committed; `done` (a message, or a function of what `action` returned giving a message or a
      (message, category) pair; None says nothing) is flashed, and the answer is a redirect to `to` — a URL, or a function of the result giving a URL or the
      response itself.
    """
    if not (valid or type(form).validate)(form):
        if again is None:
            abort(400)
        csrf_or_400(form)
        db.session.rollback()
        return again(form, 422)
    try:
        result = action()
    except Invalid as error:
        db.session.rollback()
        if again is None:
            flash(_("；").join(str(message) for texts in error.errors.values() for message in texts), "error")
            return redirect(back or to)
        attach(form, error.errors)
        return again(form, 422)
    except REFUSALS as error:
        db.session.rollback()
        flash(refusal_text(error), "error")
        if back is None and again is not None:
            return again(form, 409)
        return redirect(back or to)
    db.session.commit()
    message = done(result) if callable(done) else done
    if message:
        flash(*(message if isinstance(message, tuple) else (message, "success")))
    answer = to(result) if callable(to) else to
    return redirect(answer) if isinstance(answer, str) else answer
