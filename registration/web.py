"""What every page shares: template globals, error pages (HTML or JSON), security headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .countries import country_name
from .i18n import event_texts, local_datetime, yes_no


def safe_next(target: str | None) -> str | None:
    """A same-site relative path, or None (never an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def register_web_helpers(app: Flask) -> None:
    @app.context_processor
    def inject_globals() -> dict:
        lang = str(get_locale() or "en")
        return {
            "current_lang": lang,
            "country_name": lambda code: country_name(code, lang),
            **event_texts(lang),  # the event's name and dates in the page's language
        }

    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_global(yes_no, "yes_no")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if _wants_json():
            return jsonify(error="csrf_failed", message=exc.description), 400
        return render_template(
            "error.html", code=400, title=_("This form has expired"),
            message=_("The page was open too long or was sent from another site. Go back, "
                      "reload the page and submit it again."),
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if _wants_json():
            return jsonify(error=exc.name.lower().replace(" ", "_"),
                           message=exc.description), code
        # Werkzeug's stock description ("The requested URL was not found on the server…")
        # gives way to the page's own wording; a message the app wrote itself stays.
        own = exc.description if exc.description != type(exc).description else None
        return render_template("error.html", code=code, title=exc.name, message=own), code
