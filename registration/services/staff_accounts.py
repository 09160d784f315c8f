"""Staff accounts: creating and disabling them, and signing in with throttling.

Passwords are hashed by werkzeug with the method in PASSWORD_HASH_METHOD (scrypt unless
configured otherwise). Failed sign-ins are counted in the LoginThrottle table under two keys,
the account ("email:…") and the client address ("ip:…"), so every gunicorn worker sees the
same counts. Too many failures within the window lock the key for
a while; a successful sign-in clears the account's counter (not the address's: one valid
account must not unlock an address that is guessing other accounts' passwords).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import LoginThrottle, Role, StaffUser

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
FIRST_ADMIN_EMAIL = "admin@forum.local"

# Defaults, each overridable in the app config under the same name.
LOGIN_MAX_FAILURES_ACCOUNT = 5
LOGIN_MAX_FAILURES_IP = 20  # a desk's staff often share one address
LOGIN_WINDOW_MINUTES = 15
LOGIN_LOCK_MINUTES = 15

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class StaffAccountError(ValueError):
    """A staff account cannot be created or changed as asked (message for the user);
    `field` names the form field it is about."""

    def __init__(self, message: str, field: str = "email") -> None:
        super().__init__(message)
        self.field = field


class LoginRefused(Exception):
    """Sign-in refused. `reason`: "invalid" (unknown email or wrong password),
    "locked_account", "locked_ip" (too many failures; `until` says when it ends) or
    "disabled" (right password, disabled account)."""

    def __init__(self, reason: str, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.until = until


@dataclass(frozen=True)
class ThrottleSettings:
    max_account: int
    max_ip: int
    window: timedelta
    lock: timedelta


def _settings() -> ThrottleSettings:
    cfg = current_app.config
    return ThrottleSettings(
        max_account=int(cfg.get("LOGIN_MAX_FAILURES_ACCOUNT", LOGIN_MAX_FAILURES_ACCOUNT)),
        max_ip=int(cfg.get("LOGIN_MAX_FAILURES_IP", LOGIN_MAX_FAILURES_IP)),
        window=timedelta(minutes=int(cfg.get("LOGIN_WINDOW_MINUTES", LOGIN_WINDOW_MINUTES))),
        lock=timedelta(minutes=int(cfg.get("LOGIN_LOCK_MINUTES", LOGIN_LOCK_MINUTES))),
    )


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def check_email(email: str) -> str:
    email = normalise_email(email)
    if not _EMAIL_RE.match(email) or len(email) > 254:
        raise StaffAccountError("Enter a valid email address, like desk@forum.org.")
    return email


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise StaffAccountError(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.", "password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise StaffAccountError(
            f"The password must be at most {MAX_PASSWORD_LENGTH} characters.", "password"
        )
    if not password.strip():
        raise StaffAccountError("The password cannot be only spaces.", "password")
    return password


def check_role(role: str | Role) -> Role:
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise StaffAccountError("The role must be admin, desk or scanner.", "role") from None


def _hash_method() -> str:
    return str(current_app.config.get("PASSWORD_HASH_METHOD") or "scrypt")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_hash_method())


@cache
def _dummy_hash(method: str) -> str:
    """Compared against when the account does not exist, so that timing does not tell; made
    with the same method as real hashes so that it costs the same."""
    return generate_password_hash("not a real password, only for timing", method=method)


def find_staff(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))


def list_staff() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.email)))


def create_staff(email: str, password: str, role: str | Role) -> StaffUser:
    """Create an active account and commit. Raises StaffAccountError."""
    email = check_email(email)
    check_password(password)
    role = check_role(role)
    if find_staff(email) is not None:
        raise StaffAccountError(f"There is already a staff account for {email}.")
    staff = StaffUser(email=email, password_hash=hash_password(password), role=role.value,
                      active=True, session_version=0, failed_logins=0)
    db.session.add(staff)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise StaffAccountError(f"There is already a staff account for {email}.") from None
    return staff


def _active_admins() -> int:
    return db.session.scalar(
        select(func.count(StaffUser.id)).where(StaffUser.role == Role.ADMIN.value,
                                               StaffUser.active.is_(True))
    ) or 0


def disable_staff(email: str) -> StaffUser:
    """Disable an account and end its sessions. The last active admin cannot be disabled."""
    staff = find_staff(email)
    if staff is None:
        raise StaffAccountError(f"There is no staff account for {normalise_email(email)}.")
    if not staff.active:
        raise StaffAccountError(f"{staff.email} is already disabled.")
    if staff.role == Role.ADMIN.value and _active_admins() <= 1:
        raise StaffAccountError("This is the last active admin account: create another admin "
                                "before disabling it.")
    staff.active = False
    staff.session_version = (staff.session_version or 0) + 1
    db.session.commit()
    return staff


def enable_staff(email: str) -> StaffUser:
    staff = find_staff(email)
    if staff is None:
        raise StaffAccountError(f"There is no staff account for {normalise_email(email)}.")
    staff.active = True
    staff.failed_logins = 0
    staff.locked_until = None
    db.session.commit()
    return staff


def end_all_sessions(staff: StaffUser) -> None:
    """Log the account out everywhere: every session carries the old version."""
    staff.session_version = (staff.session_version or 0) + 1
    db.session.commit()


def set_password(staff: StaffUser, password: str) -> None:
    """Change a password and end the account's other sessions."""
    check_password(password)
    staff.password_hash = hash_password(password)
    staff.session_version = (staff.session_version or 0) + 1
    db.session.commit()


def change_password(staff: StaffUser, current: str, new: str) -> None:
    """A staff member's own change: the current password must be right."""
    if not check_password_hash(staff.password_hash, (current or "")[:MAX_PASSWORD_LENGTH]):
        raise StaffAccountError("The current password is not right.", "current_password")
    if current == new:
        raise StaffAccountError("Choose a password different from the current one.",
                                "new_password")
    try:
        check_password(new)
    except StaffAccountError as exc:
        raise StaffAccountError(str(exc), "new_password") from None
    set_password(staff, new)


# --- throttling -----------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def _locked_until(key: str, now: datetime) -> datetime | None:
    row = db.session.get(LoginThrottle, key)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    return None


def _count_failure(key: str, limit: int, settings: ThrottleSettings, now: datetime) -> None:
    row = db.session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(key=key, failures=0, window_started_at=now)
        db.session.add(row)
    if row.window_started_at + settings.window <= now or (
            row.locked_until is not None and row.locked_until <= now):
        row.failures = 0
        row.window_started_at = now
        row.locked_until = None
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + settings.lock


def _forget_stale(settings: ThrottleSettings, now: datetime) -> None:
    """Drop counters whose window and lock are over, so guessed emails do not pile up."""
    db.session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_started_at < now - settings.window,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )


def _record_failure(email_key: str, ip_key: str, staff: StaffUser | None) -> None:
    settings = _settings()
    for attempt in range(2):
        now = _now()
        try:
            _forget_stale(settings, now)
            _count_failure(email_key, settings.max_account, settings, now)
            _count_failure(ip_key, settings.max_ip, settings, now)
            if staff is not None:
                staff.failed_logins = (staff.failed_logins or 0) + 1
                throttle = db.session.get(LoginThrottle, email_key)
                staff.locked_until = throttle.locked_until if throttle is not None else None
            db.session.commit()
            return
        except IntegrityError:  # another worker inserted the same key first: count again
            db.session.rollback()
            if attempt:
                raise


def throttle_keys(email: str, ip: str | None) -> tuple[str, str]:
    return f"email:{normalise_email(email)[:250]}", f"ip:{(ip or 'unknown')[:64]}"


def authenticate(email: str, password: str, ip: str | None) -> StaffUser:
    """Check a sign-in. Returns the staff member, or raises LoginRefused (and counts it)."""
    email_key, ip_key = throttle_keys(email, ip)
    now = _now()
    for key, reason in ((ip_key, "locked_ip"), (email_key, "locked_account")):
        until = _locked_until(key, now)
        if until is not None:
            raise LoginRefused(reason, until)

    staff = find_staff(email)
    password = (password or "")[:MAX_PASSWORD_LENGTH]
    if staff is None:
        check_password_hash(_dummy_hash(_hash_method()), password)
        ok = False
    else:
        ok = check_password_hash(staff.password_hash, password)
    if staff is None or not ok:
        _record_failure(email_key, ip_key, staff)
        # The failure that reaches the limit already says so.
        now = _now()
        for key, reason in ((email_key, "locked_account"), (ip_key, "locked_ip")):
            until = _locked_until(key, now)
            if until is not None:
                raise LoginRefused(reason, until)
        raise LoginRefused("invalid")
    if not staff.active:
        raise LoginRefused("disabled")

    row = db.session.get(LoginThrottle, email_key)
    if row is not None:
        db.session.delete(row)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    db.session.commit()
    return staff


# --- first run ------------------------------------------------------------------------------

def ensure_first_admin() -> tuple[str, str] | None:
    """If no active admin exists, create (or re-enable) admin@forum.local with a random
    password and return (email, password) to print once; otherwise None."""
    if _active_admins() > 0:
        return None
    password = secrets.token_urlsafe(18)
    staff = find_staff(FIRST_ADMIN_EMAIL)
    if staff is None:
        staff = StaffUser(email=FIRST_ADMIN_EMAIL, role=Role.ADMIN.value, session_version=0,
                          failed_logins=0)
        db.session.add(staff)
    staff.role = Role.ADMIN.value
    staff.active = True
    staff.password_hash = hash_password(password)
    staff.session_version = (staff.session_version or 0) + 1
    staff.locked_until = None
    db.session.commit()
    return FIRST_ADMIN_EMAIL, password
