"""What every page shares: template globals, error pages (HTML or JSON), security headers."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError

try:  # Jinja's own newstyle gettext wrappers (private names: Jinja2 is pinned in requirements)
    from jinja2.ext import _make_new_gettext, _make_new_ngettext
except ImportError:  # pragma: no cover - a Jinja without them: Flask-Babel's lookup per string
    _make_new_gettext = _make_new_ngettext = None  # type: ignore[assignment]
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .countries import country_name
from .i18n import event_texts, local_datetime, yes_no
from .input_hygiene import BadInput, check_request
from .ops import wants_json


def safe_next(target: str | None) -> str | None:
    """A same-site relative path, or None (never an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# Pages that may use the camera: the door scanner and the desk's webcam photo capture.
CAMERA_ENDPOINTS = frozenset({"checkin.scanner", "staff.delegate", "kiosk.page"})
# Blueprints whose pages show personal data: never stored by a browser or proxy cache.
NO_STORE_BLUEPRINTS = frozenset({"staff", "checkin", "self_service", "api"})
# …except the scanner's service worker script: no personal data, and it must be revalidated
# (no-cache), not forbidden from the cache that keeps the door working offline.
NO_STORE_EXEMPT = frozenset({"checkin.service_worker"})
PERMISSIONS = "geolocation=(), microphone=(), payment=(), usb=(), camera={camera}"


def _security_headers(app: Flask, response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    )
    camera = "(self)" if request.endpoint in CAMERA_ENDPOINTS else "()"
    response.headers.setdefault("Permissions-Policy", PERMISSIONS.format(camera=camera))
    if request.blueprint in NO_STORE_BLUEPRINTS and request.endpoint not in NO_STORE_EXEMPT:
        response.headers["Cache-Control"] = "no-store"
    hsts = int(app.config.get("HSTS_SECONDS") or 0)
    if hsts > 0:
        response.headers.setdefault("Strict-Transport-Security",
                                    f"max-age={hsts}; includeSubDomains")
    return response


def _retry_after(exc: RateLimitExceeded) -> int:
    """Seconds until the exceeded limit lets a request through again (read from the
    limiter's storage only now, for the refused request)."""
    from .extensions import limiter

    try:
        current = limiter.current_limit
        if current is not None and current.breached:
            return max(1, int(current.reset_at - time.time()) + 1)
        return max(1, int(exc.limit.limit.get_expiry()))
    except Exception:  # noqa: BLE001 - the storage is unreachable: a fair guess
        return 60


def register_web_helpers(app: Flask) -> None:
    @app.context_processor
    def inject_globals() -> dict:
        lang = str(get_locale() or "en")
        try:
            texts = event_texts(lang)  # the event's name and dates in the page's language
        except SQLAlchemyError:  # the database is down: the 503 page still has a heading
            texts = {"event_name": app.config.get("EVENT_NAME", ""), "event_dates": ""}
        # The templates' gettext and ngettext bound to this render's catalogue once, not
        # looked up again for each string (the same catalogue and wrapping as flask_babel's
        # own callables, which stay the globals for templates imported without context).
        translations = get_translations()
        bound = ({"gettext": _make_new_gettext(translations.ugettext),
                  "ngettext": _make_new_ngettext(translations.ungettext)}
                 if _make_new_gettext is not None and _make_new_ngettext is not None else {})
        return {
            **bound,
            "current_lang": lang,
            "country_name": lambda code: country_name(code, lang),
            **texts,
        }

    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_global(yes_no, "yes_no")

    @app.after_request
    def security_headers(response):
        return _security_headers(app, response)

    @app.before_request
    def refuse_bad_input() -> None:
        check_request()  # raises BadInput: control characters, oversized or deep JSON

    @app.errorhandler(BadInput)
    def bad_input(exc: BadInput):
        if wants_json() or request.is_json:
            return jsonify(error=exc.code, message=exc.message), 400
        message = _("What you sent contains invisible control characters (such as NUL), "
                    "for example from copying text out of another program. Go back, "
                    "retype the affected field and submit again.")
        if exc.field:
            message += " " + _("Field: %(field)s.", field=exc.field)
        return _error_page(400, title=_("Characters that cannot be accepted"),
                           message=message)

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded):
        if wants_json():
            response = jsonify(error="rate_limited",
                               message=f"Too many requests ({exc.description}); retry later.")
            response.status_code = 429
        else:
            response = _error_page(
                429, title=_("Too many requests"),
                message=_("Too many requests came from your connection in a short time. "
                          "Please wait a few minutes and try again."))
        if response.status_code == 429:  # (not the outage's 503)
            response.headers["Retry-After"] = str(_retry_after(exc))
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if wants_json():
            return jsonify(error="csrf_failed", message=exc.description), 400
        return _error_page(
            400, title=_("This form has expired"),
            message=_("The page was open too long or was sent from another site. Go back, "
                      "reload the page and submit it again."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if wants_json():
            response = jsonify(error=exc.name.lower().replace(" ", "_"),
                               message=exc.description)
            response.status_code = code
        else:
            # Werkzeug's stock description ("The requested URL was not found on the
            # server…") gives way to the page's own wording; a message the app wrote stays.
            own = exc.description if exc.description != type(exc).description else None
            response = _error_page(code, title=exc.name, message=own)
        if (isinstance(exc, MethodNotAllowed) and exc.valid_methods
                and response.status_code == code):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response


def _error_page(code: int, **values: Any) -> Response:
    """error.html as a response with `code`. While the database is unreachable, drawing it
    can fail where the page asks who is signed in: the outage's 503 with Retry-After then
    (ops.outage_response), not a bare 500."""
    from .ops import is_outage, outage_response

    try:
        response = current_app.make_response(
            render_template("error.html", code=code, **values))
    except DBAPIError as exc:
        if not is_outage(exc):
            raise
        return current_app.make_response(outage_response(exc))
    response.status_code = code
    return response
