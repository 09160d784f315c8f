"""Who is signed in: staff sessions (Flask-Login) and role checks for staff routes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user

from .extensions import db, login_manager
from .models import Role, StaffUser


@login_manager.user_loader
def load_staff(identity: str) -> StaffUser | None:
    """Sessions store "id:session_version"; a bumped version ends every older session."""
    try:
        staff_id, version = (int(part) for part in identity.split(":", 1))
    except ValueError:
        return None
    staff = db.session.get(StaffUser, staff_id)
    if staff is None or not staff.active or staff.session_version != version:
        return None
    return staff


def roles_required(*roles: Role) -> Callable:
    """Staff route guard: anonymous → login page, signed in with another role → 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
