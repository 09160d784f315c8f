"""Focal points sign in with an emailed one-time link, the way staff do after a throttle
(services/signin_links.py): an itsdangerous token signed with SECRET_KEY (own salt) holding
the focal point's id and its last sign-in time; using it moves `last_signin_at` with a
compare-and-set UPDATE, so the link works once. Links live FOCAL_LINK_MAX_AGE_HOURS
(default 72: the first one is mailed when the delegation is created). Asking for a link
gets the same answer whether or not the address is a focal point's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from ..extensions import db
from ..models import Delegation, FocalPoint
from ..validation import email_keys
from . import manage_links, one_time_links
from .mail import compose, outbox

SALT = "delegation.focal-signin.v1"
KIND = "focal_signin_link"


class FocalLinkInvalid(Exception):
    """The link is malformed, expired or already used."""


def max_age() -> timedelta:
    hours = current_app.config.get("FOCAL_LINK_MAX_AGE_HOURS")
    return timedelta(hours=72 if hours is None else int(hours))


def _serializer() -> URLSafeTimedSerializer:
    return one_time_links.serializer(SALT)


def link(focal: FocalPoint) -> str:
    token = _serializer().dumps({"f": focal.id, "l": one_time_links.stamp(focal.last_signin_at)})
    return manage_links.base_url() + manage_links.path_for("delegation.signin", token=token)


def resolve(token: str) -> FocalPoint:
    try:
        payload = _serializer().loads(token, max_age=int(max_age().total_seconds()))
    except BadSignature:
        raise FocalLinkInvalid("bad or expired link") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("f"), int):
        raise FocalLinkInvalid("unexpected payload")
    focal = db.session.get(FocalPoint, payload["f"])
    if focal is None or payload.get("l") != one_time_links.stamp(focal.last_signin_at):
        raise FocalLinkInvalid("link already used")
    return focal


def consume(token: str) -> FocalPoint:
    """Use the link (commits): the focal point, signed in once. Raises FocalLinkInvalid."""
    focal = resolve(token)
    if not one_time_links.use_once(FocalPoint, focal.id, "last_signin_at",
                                   focal.last_signin_at):
        db.session.rollback()
        raise FocalLinkInvalid("link already used")
    db.session.commit()
    db.session.refresh(focal)
    return focal


def send(focal: FocalPoint, delegation: Delegation) -> str:
    """Queue the sign-in link to the focal point (commits); returns the link."""
    url = link(focal)
    hours = int(max_age().total_seconds() // 3600)
    msg = EmailMessage()
    msg["Subject"] = _("Sign in to manage the delegation %(name)s", name=delegation.name_en)
    msg["From"] = compose.sender()
    msg["To"] = focal.email
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid()
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n\n".join([
        _("You are a focal point of the delegation %(name)s. Use this link to sign in, "
          "nominate its delegates and follow their accreditation (it works once, for "
          "%(hours)d hours; you can ask for a new one at any time):",
          name=delegation.name_en, hours=hours),
        url,
    ]) + "\n")
    outbox.queue_message(KIND, focal.email, msg)
    db.session.commit()
    return url


def request_link(email: str) -> None:
    """Mail a link to every focal point with this address (nothing if none)."""
    focals = db.session.scalars(select(FocalPoint).where(
        FocalPoint.email_key.in_(email_keys(email.strip())))).all()
    for focal in focals:
        delegation = db.session.get(Delegation, focal.delegation_id)
        if delegation is not None:
            send(focal, delegation)
