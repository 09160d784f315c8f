"""A delegate's private manage link: signed, unguessable, expiring.

The token is an itsdangerous URLSafeTimedSerializer payload signed with SECRET_KEY (own
salt), holding the delegate's public_id and a *version*: a short hash of the delegate's
current email key. The version changes — and every link sent before dies — when

- the email address is changed (the old inbox no longer controls the registration), or
- the personal data is erased (email_key becomes NULL: no link is accepted any more).

After a cancellation the link keeps working, read-only: the delegate still sees that the
registration is cancelled and can export or erase their data (privacy rights outlive the
registration). Links expire after MANAGE_LINK_MAX_AGE_DAYS (default 30); a new one can be
requested by email address at any time.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, has_request_context, request, url_for
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from ..extensions import db
from ..models import Delegate

SALT = "registration.manage-link.v1"


class LinkInvalid(Exception):
    """The token is malformed, tampered with, or no longer matches the delegate."""


class LinkExpired(LinkInvalid):
    """The token was genuine but is older than MANAGE_LINK_MAX_AGE_DAYS."""


def _serializer(issued_at: datetime | None = None) -> URLSafeTimedSerializer:
    if issued_at is None:
        signer: type[TimestampSigner] = TimestampSigner
    else:
        stamp = int(issued_at.timestamp())

        class _FixedTimeSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return stamp

        signer = _FixedTimeSigner
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT, signer=signer)


def link_version(delegate: Delegate) -> str:
    """Changes whenever links sent before must stop working (email changed, data erased)."""
    if delegate.email_key is None:
        return "erased"
    digest = hashlib.sha256(f"{delegate.public_id}|{delegate.email_key}".encode())
    return digest.hexdigest()[:16]


def max_age() -> timedelta:
    return timedelta(days=current_app.config.get("MANAGE_LINK_MAX_AGE_DAYS") or 30)


def make_token(delegate: Delegate, *, issued_at: datetime | None = None) -> str:
    """A token for `delegate` (issued now, or at `issued_at` for tests and tools)."""
    if delegate.email_key is None:
        raise LinkInvalid("no link for an erased registration")
    payload = {"d": delegate.public_id.hex, "v": link_version(delegate)}
    return _serializer(issued_at).dumps(payload)


def resolve(token: str, *, now: datetime | None = None) -> Delegate:
    """The delegate a token belongs to. Raises LinkExpired or LinkInvalid."""
    serializer = _serializer()
    try:
        payload, signed_at = serializer.loads(token, return_timestamp=True)
    except SignatureExpired as exc:  # pragma: no cover - no max_age is given to loads
        raise LinkExpired(str(exc)) from None
    except BadSignature as exc:
        raise LinkInvalid(str(exc)) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("d"), str):
        raise LinkInvalid("unexpected payload")
    try:
        public_id = uuid.UUID(hex=payload["d"])
    except ValueError:
        raise LinkInvalid("unexpected payload") from None
    now = now or datetime.now(UTC)
    if now - signed_at > max_age():
        raise LinkExpired(f"issued {signed_at.isoformat()}")
    delegate = db.session.scalar(select(Delegate).where(Delegate.public_id == public_id))
    if delegate is None or payload.get("v") != link_version(delegate) \
            or delegate.email_key is None:
        raise LinkInvalid("link no longer valid")
    return delegate


def expires_at(token: str) -> datetime | None:
    """When a (valid) token stops working."""
    try:
        _payload, signed_at = _serializer().loads(token, return_timestamp=True)
    except BadSignature:
        return None
    return signed_at + max_age()


def base_url() -> str:
    """Where emailed links point: PUBLIC_BASE_URL, else the current request's own address."""
    configured = current_app.config.get("PUBLIC_BASE_URL") or ""
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.url_root.rstrip("/")
    return "http://127.0.0.1:5000"


def path_for(endpoint: str, **values: Any) -> str:
    """A URL path for `endpoint`, with or without a request (CLI, background delivery)."""
    if has_request_context():
        return url_for(endpoint, **values)
    adapter = current_app.url_map.bind("localhost", script_name=current_app.config.get(
        "APPLICATION_ROOT") or "/")
    return adapter.build(endpoint, values)


def manage_url(delegate: Delegate, base: str | None = None) -> str:
    """The absolute manage link to put in an email (`base`: the site's address, by default
    base_url())."""
    return (base or base_url()).rstrip("/") + path_for("self_service.show",
                                                       token=make_token(delegate))
