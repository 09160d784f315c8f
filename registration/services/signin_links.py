"""Emailed one-time sign-in links for staff: what the right password gets when the account
has seen too many failed sign-ins from everywhere (signin_throttle.py).

A link is an itsdangerous token signed with SECRET_KEY (own salt) holding the account id,
its session version and its last sign-in time. It expires after
LOGIN_LINK_MAX_AGE_MINUTES (default 15) and works once: using it moves `last_login_at` with
a compare-and-set UPDATE, so a second use (or a use racing the first, or any other sign-in
in between) no longer matches. Changing the password or ending all sessions (a new session
version) kills it too. The link opens a page with a button; only the POST signs in, so mail
scanners that fetch links do not use it up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..extensions import db
from ..models import LoginThrottle, StaffUser
from . import manage_links, one_time_links, signin_throttle
from .mail import compose, outbox

SALT = "staff.signin-link.v1"
KIND = "staff_signin_link"


class SigninLinkInvalid(Exception):
    """The link is malformed, expired, already used or no longer matches the account."""


def _serializer() -> URLSafeTimedSerializer:
    return one_time_links.serializer(SALT)


def max_age() -> timedelta:
    minutes = current_app.config.get("LOGIN_LINK_MAX_AGE_MINUTES")
    return timedelta(minutes=15 if minutes is None else int(minutes))


def make_token(staff: StaffUser) -> str:
    return _serializer().dumps({"s": staff.id, "v": staff.session_version,
                                "l": one_time_links.stamp(staff.last_login_at)})


def resolve(token: str) -> StaffUser:
    """The account a valid, unused link belongs to. Raises SigninLinkInvalid."""
    try:
        payload = _serializer().loads(token, max_age=int(max_age().total_seconds()))
    except BadSignature:
        raise SigninLinkInvalid("bad or expired link") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise SigninLinkInvalid("unexpected payload")
    staff = db.session.get(StaffUser, payload["s"])
    if staff is None or not staff.active or payload.get("v") != staff.session_version \
            or payload.get("l") != one_time_links.stamp(staff.last_login_at):
        raise SigninLinkInvalid("link already used or no longer valid")
    return staff


def consume(token: str) -> StaffUser:
    """Use the link (commits): the account, signed in once. Raises SigninLinkInvalid."""
    staff = resolve(token)
    if not one_time_links.use_once(StaffUser, staff.id, "last_login_at", staff.last_login_at,
                                   failed_logins=0):
        db.session.rollback()
        raise SigninLinkInvalid("link already used")
    row = db.session.get(LoginThrottle, signin_throttle.account_key(staff.email))
    if row is not None:
        db.session.delete(row)
    db.session.commit()
    db.session.refresh(staff)
    return staff


def send(staff: StaffUser) -> None:
    """Queue the one-time link to the account's address (commits)."""
    url = manage_links.base_url() + manage_links.path_for("staff.login_link",
                                                          token=make_token(staff))
    minutes = int(max_age().total_seconds() // 60)
    msg = EmailMessage()
    msg["Subject"] = _("Your one-time sign-in link")
    msg["From"] = compose.sender()
    msg["To"] = staff.email
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid()
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n\n".join([
        _("There were many failed sign-ins to your staff account, so the right password "
          "alone no longer signs it in for a while. Use this link to sign in (it works once, "
          "for %(minutes)d minutes):", minutes=minutes),
        url,
        _("If you did not just try to sign in, someone else knows your password: change it "
          "and tell an administrator."),
    ]) + "\n")
    outbox.queue_message(KIND, staff.email, msg)
    db.session.commit()
