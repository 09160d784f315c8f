"""Who is signed in: staff sessions (Flask-Login), the session policy and role checks for
staff routes. `init_app` is called once by the app factory."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from flask import Flask, abort, current_app, session
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from .extensions import db, login_manager
from .models import LoginThrottle, Role, StaffUser

# How long a staff session lasts after sign-in (setting STAFF_SESSION_LIFETIME).
SESSION_LIFETIME = timedelta(hours=12)
SIGNED_IN_AT = "staff_signed_in_at"
# Each staff session has an id; signing out records it as ended (a LoginThrottle row keyed
# "ended-session:<id>", kept until the session would have expired anyway), and every request
# checks it: a copied cookie stops working at sign-out, on this server and every other one.
SESSION_ID = "staff_session_id"
ENDED_PREFIX = "ended-session:"


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
            _forget_user()
        elif "_user_id" in session:
            sid = session.get(SESSION_ID)
            if sid is None:  # a session from before session ids: give it one
                session[SESSION_ID] = secrets.token_urlsafe(16)
            elif db.session.get(LoginThrottle, ENDED_PREFIX + str(sid)[:64]) is not None:
                _forget_user()


def _forget_user() -> None:
    for key in ("_user_id", SIGNED_IN_AT, SESSION_ID, "_fresh"):
        session.pop(key, None)


def end_session() -> None:
    """Sign out: this session's id is recorded as ended on the server, then the cookie's
    session is cleared (the language stays)."""
    sid = session.get(SESSION_ID)
    if sid is not None:
        lifetime = current_app.permanent_session_lifetime
        key = ENDED_PREFIX + str(sid)[:64]
        if db.session.get(LoginThrottle, key) is None:
            now = datetime.now(UTC)
            db.session.add(LoginThrottle(key=key, failures=0, window_started_at=now,
                                         locked_until=now + lifetime))
            db.session.commit()
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


def start_session(staff: StaffUser) -> None:
    """Sign `staff` in on a fresh session (no session fixation), keeping the chosen
    language; the session's fixed lifetime starts now."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.permanent = True
    session[SIGNED_IN_AT] = int(time.time())
    session[SESSION_ID] = secrets.token_urlsafe(16)
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


def may_see_identity(user: Any) -> bool:
    """Whether `user` sees identity data unmasked: the vetting role and administrators."""
    return bool(getattr(user, "is_authenticated", False)
                and getattr(user, "role", None) in {Role.VETTING, Role.ADMIN})
