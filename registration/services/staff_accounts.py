"""Staff accounts: creating and disabling them, and signing in.

Passwords are hashed by werkzeug with the method in PASSWORD_HASH_METHOD (scrypt unless
configured otherwise). Failed sign-ins are counted per (account, client address) and per
account in the database (signin_throttle.py): a slow-down and then a short lock for the pair
only, and past a per-account ceiling an emailed one-time link (signin_links.py) instead of a
refusal. Nobody can lock a real member of staff out.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from functools import cache

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import Role, StaffUser
from . import signin_links, signin_throttle

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
FIRST_ADMIN_EMAIL = "admin@forum.local"

LOGIN_LOCK_MINUTES = signin_throttle.DEFAULTS["LOGIN_LOCK_MINUTES"]

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class StaffAccountError(ValueError):
    """A staff account cannot be created or changed as asked (message for the user);
    `field` names the form field it is about."""

    def __init__(self, message: str, field: str = "email") -> None:
        super().__init__(message)
        self.field = field


class LoginRefused(Exception):
    """Sign-in refused. `reason`: "invalid" (unknown email or wrong password),
    "slow_down" (too many failures from this address for this account: wait until `until`),
    "locked" (the short lock of this account from this address, until `until`),
    "link_sent" (right password, but the account has had too many failures from everywhere:
    a one-time sign-in link was emailed) or "disabled" (right password, disabled account)."""

    def __init__(self, reason: str, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.until = until


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
        raise StaffAccountError("The role must be admin, desk, scanner or vetting.",
                                "role") from None


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


# --- signing in -----------------------------------------------------------------------------

def authenticate(email: str, password: str, ip: str | None) -> StaffUser:
    """Check a sign-in from client address `ip`. Returns the staff member, or raises
    LoginRefused (and counts the failure; see signin_throttle for the rules)."""
    email = normalise_email(email)
    now = signin_throttle.now()
    state = signin_throttle.pair_state(email, ip, now)
    if state is not None:
        if not state.locked:  # did not wait: refused unchecked, and counted
            state = signin_throttle.record_failure(email, ip, find_staff(email)) or state
        raise LoginRefused("locked" if state.locked else "slow_down", state.until)

    staff = find_staff(email)
    password = (password or "")[:MAX_PASSWORD_LENGTH]
    if staff is None:
        check_password_hash(_dummy_hash(_hash_method()), password)
        ok = False
    else:
        ok = check_password_hash(staff.password_hash, password)
    if staff is None or not ok:
        state = signin_throttle.record_failure(email, ip, staff)
        if state is not None and state.locked:  # the failure that reaches the limit says so
            raise LoginRefused("locked", state.until)
        raise LoginRefused("invalid")
    if not staff.active:
        raise LoginRefused("disabled")
    if signin_throttle.account_over_ceiling(email, now):
        # Many failures from many addresses: the password alone is not enough for now,
        # but the owner is not refused either. A one-time link goes to their mailbox.
        signin_links.send(staff)
        raise LoginRefused("link_sent")

    signin_throttle.clear(email, ip)
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
