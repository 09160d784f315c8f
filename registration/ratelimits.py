"""Rate limits (Flask-Limiter): which requests count, under which key, against which setting.

Counts live in Redis when REDIS_URL is set (every app server shares them), else in process
memory. Each limit is a setting (RATELIMIT_REGISTRATION, RATELIMIT_MANAGE_LINK,
RATELIMIT_STAFF_LOGIN, RATELIMIT_API) read at request time. A refused request gets 429 with
Retry-After: a page in the visitor's language, or JSON `rate_limited` on the API (web.py).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import wraps

from flask import Flask, current_app, request
from limits import RateLimitItem

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


def only_on_post(limit: Callable[[Callable], Callable]) -> Callable[[Callable], Callable]:
    """`limit` (a Flask-Limiter decorator declared with methods=["POST"]) on a view that
    also answers GET: the GET goes straight to the view. Flask-Limiter would resolve and
    evaluate the view's limits on the GET too, only to find them exempt for that method
    (~0.1 ms of a worker's CPU per blank registration form)."""

    def decorate(view: Callable) -> Callable:
        limited = limit(view)

        @wraps(view)
        def dispatch(*args: object, **kwargs: object) -> object:
            if request.method == "POST":
                return limited(*args, **kwargs)
            return view(*args, **kwargs)

        return dispatch

    return decorate


registration_limit = only_on_post(
    limiter.limit(setting("RATELIMIT_REGISTRATION"), methods=["POST"]))
staff_login_limit = limiter.limit(setting("RATELIMIT_STAFF_LOGIN"), methods=["POST"])


def manage_link_limits(view: Callable) -> Callable:
    """Per client address and per recipient address."""
    view = limiter.limit(setting("RATELIMIT_MANAGE_LINK"), methods=["POST"],
                         key_func=recipient_key, scope="recipient")(view)
    return limiter.limit(setting("RATELIMIT_MANAGE_LINK"), methods=["POST"])(view)


api_limit = limiter.limit(setting("RATELIMIT_API"), key_func=api_key)


def init_app(app: Flask) -> None:
    """Flask-Limiter, with its before_request check run only where it can find a limit.

    Limits on a view are checked by the view's decorator. Flask-Limiter's before_request
    hook looks, on every request, for default and application-wide limits (this app has
    none), meta limits (none) and the limits of the request's blueprint (only the API's:
    api_limit): on a public page it resolved and evaluated an empty list for ~0.35 ms of a
    worker's CPU (8.6 % of a gunicorn worker's samples under bench/register.py, py-spy).
    The hook now runs only for blueprints with limits, as the library itself resolves them
    (asked once per blueprint and app); and everywhere, as the library has it, if default,
    application or meta limits are ever configured.
    """
    limiter.init_app(app)
    hooks = app.before_request_funcs.setdefault(None, [])
    library_check = limiter._check_request_limit
    manager = limiter.limit_manager
    if (library_check not in hooks or manager.default_limits or manager.application_limits
            or limiter._meta_limits):
        return  # already replaced for this app, or limits that apply to every request
    limited: dict[str | None, bool] = {}  # blueprint -> has limits of its own or inherited

    def check_blueprint_limits() -> None:
        blueprint = request.blueprint
        if blueprint not in limited:
            limited[blueprint] = bool(
                blueprint and manager.blueprint_limits(current_app, blueprint))
        if limited[blueprint]:
            library_check()

    hooks[hooks.index(library_check)] = check_blueprint_limits


class LocalMovingWindow:
    """A moving-window limit counted in this process's memory, for the door's lean path
    (api/fast_checkin.py), where a shared-store round trip per scan costs too much.

    Hand-written on purpose: `limits`' MemoryStorage (5.8) starts a `threading.Timer` thread
    every 10 ms of activity to expire its entries, which at a door's rate is a new thread
    per few scans; `python bench/limiter.py` measures both (the library's hit cost, with
    the thread starts, against this one's). Same semantics as the library's moving window:
    at most `limit.amount` hits in any `limit.get_expiry()` seconds, per key. Limits are
    parsed by `limits.parse_many` as everywhere else.
    """

    def __init__(self) -> None:
        self._hits: dict[tuple[str, int, int], deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, limit: RateLimitItem, key: str, now: float | None = None) -> float | None:
        """Count a hit; None when allowed, else the seconds until one would be."""
        now = time.monotonic() if now is None else now
        expiry = limit.get_expiry()
        slot = (key, limit.amount, expiry)
        with self._lock:
            hits = self._hits.get(slot)
            if hits is None:
                if len(self._hits) > 10_000:  # forget idle keys (devices gone quiet)
                    self._forget_idle(now)
                hits = self._hits[slot] = deque()
            while hits and hits[0] <= now - expiry:
                hits.popleft()
            if len(hits) >= limit.amount:
                return hits[0] + expiry - now
            hits.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        for slot, hits in list(self._hits.items()):
            if not hits or hits[-1] <= now - slot[2]:
                del self._hits[slot]
