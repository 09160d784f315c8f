"""The door's hot request, answered before Flask's per-request machinery.

`POST /api/v1/checkins` from a scanner device (`Authorization: Bearer`, a JSON body, no
cookie, no query string) is the one request the doors send hundreds of times a second. This
WSGI middleware answers it with services/checkin/fast_path.py (PostgreSQL, one statement)
inside a bare request context (a replay, an offline scan, a typed code: with the full
path's service, `api.views.decide_scan`), without the hooks every other request runs: no session is
loaded or saved, no CSRF check (bearer requests are exempt anyway), no Redis round trips
for the rate-limit counter and its headers, no template globals. What it keeps:

* **Authentication**: the device token, looked up through `devices.authenticate_cached`
  (an unknown, revoked or kiosk token goes to the full path, which answers 401 / 403).
* **Input hygiene**: the same rules (`input_hygiene.check_request`); refused input goes to
  the full path, which answers 400.
* **Rate limit, in a cheap form**: RATELIMIT_API per device token, counted in this
  process's memory (ratelimits.LocalMovingWindow: a moving window, as the shared limiter).
  With several processes the ceiling for one token is therefore RATELIMIT_API ×
  processes on this path — still a bound on what a stolen token can do; the other API
  routes count in the shared store (Redis).
  Over the limit: 429 `rate_limited` with Retry-After, as elsewhere.
* **Language** of the labels (Accept-Language, as the locale selector reads it), the
  security headers every API answer carries, the request-latency metric.

Anything else — a staff session (a cookie), a body that is not a JSON object, refused
input, an unknown token, SQLite — falls through to the normal Flask route with the body
intact, so the behaviour is the full route's.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from flask import Flask, request
from limits import parse_many

from ..ratelimits import LocalMovingWindow

log = logging.getLogger(__name__)
PATH = "/api/v1/checkins"
ENDPOINT = "api.post_checkin"
BASE_HEADERS = [
    ("Content-Type", "application/json"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
     "style-src 'self'; script-src 'self'; frame-ancestors 'none'"),
    ("Permissions-Policy",
     "geolocation=(), microphone=(), payment=(), usb=(), camera=()"),
    ("Cache-Control", "no-store"),
]
StartResponse = Callable[..., Any]


class FastCheckin:
    """WSGI middleware: the door's scans on the lean path, everything else to `wrapped`."""

    def __init__(self, app: Flask, wrapped: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wrapped = wrapped
        self.limiter = LocalMovingWindow()
        self._limits: tuple[str, list[Any]] = ("", [])
        self._available: bool | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        if (environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != PATH
                or environ.get("QUERY_STRING") or "HTTP_COOKIE" in environ
                or environ.get("HTTP_AUTHORIZATION", "")[:7].lower() != "bearer "
                or not _small(environ.get("CONTENT_LENGTH"),
                              int(self.app.config.get("JSON_MAX_BYTES") or 65536))):
            return self.wrapped(environ, start_response)
        started = time.perf_counter()
        answer: tuple[str, list[tuple[str, str]], bytes] | None = None
        with self.app.request_context(environ):
            try:
                answer = self._answer()
            except Exception:  # the full path answers
                log.exception("check-in fast path failed; using the full path")
                answer = None
            body = request.get_data(cache=True) if answer is None else b""
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return self.wrapped(environ, start_response)
        status, headers, payload = answer
        start_response(status, [*headers, ("Content-Length", str(len(payload)))])
        _observe(started)
        return [payload]

    def _is_available(self) -> bool:
        if self._available is None:
            from ..services.checkin import fast_path

            self._available = fast_path.available()
        return self._available

    def _over_limit(self, token_key: str) -> int | None:
        """Seconds to wait when this device is over RATELIMIT_API here, else None."""
        config = self.app.config
        if not config.get("RATELIMIT_ENABLED", True):
            return None
        setting = str(config.get("RATELIMIT_API") or "")
        if setting != self._limits[0]:
            self._limits = (setting, parse_many(setting) if setting else [])
        for limit in self._limits[1]:
            wait = self.limiter.hit(limit, token_key)
            if wait is not None:
                return max(1, int(wait) + 1)
        return None

    def _answer(self) -> tuple[str, list[tuple[str, str]], bytes] | None:
        from ..input_hygiene import BadInput, check_request
        from ..ratelimits import api_key
        from ..services import devices
        from ..services.checkin import fast_path
        from .shapes import scan_result_json
        from .views import ApiError, decide_scan

        if not request.is_json or not self._is_available():
            return None
        try:
            check_request()
        except BadInput:
            return None  # the full path answers 400
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return None  # the full route answers invalid_json
        token = request.headers["Authorization"][7:].strip()
        device = devices.authenticate_cached(token)
        if device is None or device.kiosk:
            return None  # unknown token, or a kiosk's: the full path answers (401 / 403)
        wait = self._over_limit(api_key())
        if wait is not None:
            payload = json.dumps({"error": "rate_limited", "message": "Too many requests "
                                  f"({self._limits[0]}); retry later."}).encode()
            return "429 TOO MANY REQUESTS", [*BASE_HEADERS, ("Retry-After", str(wait))], payload
        result = None if body.get("scanned_at") is not None else fast_path.check_in(
            body.get("code"), body.get("checkpoint"), body.get("nonce"), device)
        status = "200 OK"
        if result is not None:
            data = scan_result_json(result)
        else:  # a replay, a typed code, an offline scan...: the full path's service
            device = devices.authenticate(token)  # afresh, as the full route does
            if device is None or device.kiosk:
                return None
            try:
                data = decide_scan(body, device, None)
            except ApiError as exc:
                status = f"{exc.status} {HTTPStatus(exc.status).phrase.upper()}"
                data = {"error": exc.code, "message": exc.message}
        # As jsonify writes it (the app's JSON provider: sorted keys, ASCII, compact).
        text = self.app.json.dumps(data, separators=(",", ":"))
        return status, BASE_HEADERS, (text + "\n").encode()


def _small(length: str | None, limit: int) -> bool:
    """A body of a stated length within `limit` (else the full path answers)."""
    return bool(length) and str(length).isdigit() and 0 < int(str(length)) <= limit


def _observe(started: float) -> None:
    from ..ops import REQUEST_LATENCY

    REQUEST_LATENCY.labels("POST", ENDPOINT).observe(time.perf_counter() - started)


def init_app(app: Flask) -> None:
    """Put the lean path in front of the app (it needs no client address: the limit is per
    device token)."""
    app.wsgi_app = FastCheckin(app, app.wsgi_app)  # type: ignore[method-assign]
