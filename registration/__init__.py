"""The registration and accreditation service: the Flask app factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request, session

from .config import load_config
from .extensions import babel, csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    """The language chosen on the page (remembered in the session), else the browser's."""
    from flask import current_app, has_request_context

    if not has_request_context():  # CLI commands and background jobs
        return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "en"))
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    return str(request.accept_languages.best_match(languages) or "en")


def select_timezone() -> str:
    """Times are shown in the time zone of the edition being worked on."""
    from .editions import timezone_name

    return timezone_name()


def _blueprints() -> list:
    """One blueprint per audience. Each package's __init__ defines `bp`; importing its view
    modules attaches their routes to it."""
    from .api import bp as api_bp
    from .api import kiosk as _api_kiosk  # noqa: F401
    from .api import views as _api_views  # noqa: F401
    from .checkin import bp as checkin_bp
    from .checkin import views as _checkin_views  # noqa: F401
    from .delegation import bp as delegation_bp
    from .delegation import views as _delegation_views  # noqa: F401
    from .kiosk import bp as kiosk_bp
    from .public import verify as _public_verify  # noqa: F401
    from .public.views import bp as public_bp
    from .self_service import bp as self_service_bp
    from .self_service import vetting_answer as _vetting_answer  # noqa: F401
    from .self_service import views as _self_service_views  # noqa: F401
    from .self_service import visa as _self_service_visa  # noqa: F401
    from .staff import (  # noqa: F401
        accounts,
        checkpoints,
        dashboard,
        delegates,
        delegations,
        devices,
        editions,
        import_export,
        invitations,
        jobs,
        photos,
        printers,
        printing,
        signin,
        vetting,
        visa_letters,
        walk_in,
        watchlist,
    )
    from .staff import bp as staff_bp

    return [public_bp, staff_bp, checkin_bp, api_bp, self_service_bp, delegation_bp, kiosk_bp]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides what the environment says (tests use it)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    settings = load_config()
    if config:
        settings.update(config)
    app.config.update(settings)
    if app.config.get("COUNTRY_NAMES_FILE"):  # a broken names file stops the start, not a page
        from .countries import CountryNamesError, load_overrides

        try:
            load_overrides(app.config["COUNTRY_NAMES_FILE"])
        except CountryNamesError as exc:
            from .config import ConfigError

            raise ConfigError(str(exc)) from exc
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories=str(ROOT / "translations"),
    )

    from . import auth, editions, models  # noqa: F401  (user loader; tables on the metadata)
    from .web import register_web_helpers

    auth.init_app(app)

    from . import ratelimits

    ratelimits.init_app(app)
    for blueprint in _blueprints():
        app.register_blueprint(blueprint)
    register_web_helpers(app)
    editions.init_app(app)  # every forum query scoped to the current edition
    from .services import watchlist

    watchlist.init_app(app)  # identity stored → matched against the watchlist before commit
    from .services import mail

    mail.init_app(app)  # outbox receivers for the domain signals
    from . import tasks
    from .ops import init_app as init_ops

    tasks.init_app(app)  # Celery (or the embedded pool), mail delivery after requests
    init_ops(app)  # /healthz, /readyz, /metrics, database outages answered 503
    from .api import fast_checkin

    fast_checkin.init_app(app)  # the door's scans before Flask's per-request hooks

    from .cli import register_cli

    register_cli(app)
    return app
