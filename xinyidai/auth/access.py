"""Role checks for views: `@role_required(Role.BANK)`; queries still filter by the caller's tenant."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from models.identity import Role


def role_required(*roles: Role):
    """Allow the view only to logged-in users with one of `roles`; others get 403, anonymous users the login page."""

    def decorate(view):
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate
