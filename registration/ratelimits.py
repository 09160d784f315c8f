"""Rate limits (Flask-Limiter): which requests count, under which key, against which setting.

Counts live in Redis when REDIS_URL is set (every app server shares them), else in process
memory. Each limit is a setting (RATELIMIT_REGISTRATION, RATELIMIT_MANAGE_LINK,
RATELIMIT_STAFF_LOGIN, RATELIMIT_API) read at request time. A refused request gets 429 with
Retry-After: a page in the visitor's language, or JSON `rate_limited` on the API (web.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Flask, current_app, request

from .extensions import client_address, limiter


def setting(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


def recipient_key() -> str:
    """The mailbox a manage-link request asks to write to (plus-tags and dots folded)."""
    from .validation import email_key

    return "to:" + email_key(request.form.get("email", "") or "")[:254]


def api_key() -> str:
    """API callers: per device token (50 scanners behind one NAT each count alone), else
    per staff session's address."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "device:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "addr:" + client_address()


registration_limit = limiter.limit(setting("RATELIMIT_REGISTRATION"), methods=["POST"])
staff_login_limit = limiter.limit(setting("RATELIMIT_STAFF_LOGIN"), methods=["POST"])


def manage_link_limits(view: Callable) -> Callable:
    """Per client address and per recipient address."""
    view = limiter.limit(setting("RATELIMIT_MANAGE_LINK"), methods=["POST"],
                         key_func=recipient_key, scope="recipient")(view)
    return limiter.limit(setting("RATELIMIT_MANAGE_LINK"), methods=["POST"])(view)


api_limit = limiter.limit(setting("RATELIMIT_API"), key_func=api_key)


def init_app(app: Flask) -> None:
    limiter.init_app(app)
