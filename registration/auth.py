"""Who is signed in: staff sessions (Flask-Login), the session policy and role checks for
staff routes. `init_app` is called once by the app factory."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Flask, abort, session
from flask_babel import gettext as _
from flask_login import current_user, login_user

from .extensions import db, login_manager
from .models import Role, StaffUser

# How long a staff session lasts after sign-in (setting STAFF_SESSION_LIFETIME).
SESSION_LIFETIME = timedelta(hours=12)
SIGNED_IN_AT = "staff_signed_in_at"


def init_app(app: Flask) -> None:
    """Login options and the staff session policy, for every page of the app."""
    login_manager.login_view = "staff.login"
    login_manager.login_message = "Please sign in to use the staff desk."
    login_manager.login_message_category = "info"
    login_manager.localize_callback = _  # translated when flashed (a plain str in the session)
    lifetime = app.config.get("STAFF_SESSION_LIFETIME", SESSION_LIFETIME)
    app.permanent_session_lifetime = (
        lifetime if isinstance(lifetime, timedelta) else timedelta(seconds=int(lifetime))
    )

    @app.before_request
    def _staff_session_checks() -> None:
        # A staff session ends a fixed time after sign-in, however busy it has been (the
        # cookie's own expiry slides with every request).
        since = session.get(SIGNED_IN_AT)
        if since is not None and time.time() - since > app.permanent_session_lifetime \
                .total_seconds():
            session.pop("_user_id", None)
            session.pop(SIGNED_IN_AT, None)


def start_session(staff: StaffUser) -> None:
    """Sign `staff` in on a fresh session (no session fixation), keeping the chosen
    language; the session's fixed lifetime starts now."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.permanent = True
    session[SIGNED_IN_AT] = int(time.time())
    login_user(staff)


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
