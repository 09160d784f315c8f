"""`flask --app wsgi …` commands. Each area keeps its commands beside its code (a module
with a `commands` list); this file collects them and adds the general ones."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

# Environment settings read once, by the migration that makes the first edition.
SEED_KEYS = ("EVENT_NAME", "EVENT_NAME_ZH", "EVENT_DATES", "EVENT_DATES_ZH", "EVENT_TIMEZONE",
             "EVENT_VENUE", "EVENT_VENUE_ZH", "EVENT_ORGANISER", "EVENT_CONTACT_EMAIL",
             "REGISTRATION_CLOSES_AT", "CATEGORY_CAPACITIES")


def redact_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@click.command("config")
@with_appcontext
def show_config() -> None:
    """Show the effective settings (secrets hidden) and the current edition's event settings."""
    for key in ("APP_ENV", "SQLALCHEMY_DATABASE_URI", "INSTANCE_DIR", "PUBLIC_BASE_URL",
                "TRUSTED_PROXIES", "MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL",
                "MAIL_DEFAULT_SENDER", "MANAGE_LINK_MAX_AGE_DAYS", "RATELIMIT_ENABLED",
                "RATELIMIT_STORAGE_URI", "RATELIMIT_REGISTRATION", "RATELIMIT_MANAGE_LINK",
                "RATELIMIT_STAFF_LOGIN", "RATELIMIT_API", "REDIS_URL", "CELERY_BROKER_URL",
                "JOB_STALE_SECONDS", "JOB_MAX_ATTEMPTS", "METRICS_TOKEN"):
        value = current_app.config.get(key)
        if key in ("SQLALCHEMY_DATABASE_URI", "RATELIMIT_STORAGE_URI", "REDIS_URL",
                   "CELERY_BROKER_URL") and value and "://" in str(value) \
                and not str(value).startswith("memory"):
            value = redact_url(str(value))
        elif key == "METRICS_TOKEN":
            value = "(set)" if value else "(not set: /metrics is off)"
        click.echo(f"{key} = {value}")
    from .editions import marked_current

    try:
        edition = marked_current()
    except SQLAlchemyError:  # no database or not migrated yet
        edition = None
    if edition is None:
        click.echo("# No edition yet: `flask --app wsgi db upgrade` makes the first one from:")
        for key in SEED_KEYS:
            click.echo(f"{key} = {current_app.config.get(key)}")
        return
    click.echo(f"# Event settings live in the database, per edition (admins: /staff/settings;"
               f" EVENT_* only seed the first edition). Current edition: {edition.slug}")
    for key, value in edition.settings().items():
        click.echo(f"edition.{key} = {value}")


@click.command("welcome")
@click.option("--url", default="http://127.0.0.1:5000", help="Where the service will listen.")
@with_appcontext
def welcome(url: str) -> None:
    """What `make run` prints before serving: where to go and how staff sign in."""
    from .services.staff_accounts import ensure_first_admin

    click.echo("")
    click.echo(f"  Registration form:  {url}/register")
    click.echo(f"  Staff desk:         {url}/staff/login")
    created = ensure_first_admin()
    if created:
        email, password = created
        click.echo(f"  First admin created: {email} / {password}")
        click.echo("  (shown once: sign in and change it, or create your own account with")
        click.echo("   flask --app wsgi staff create YOU@EXAMPLE.ORG --role admin)")
    else:
        click.echo("  Staff accounts: flask --app wsgi staff list  (new one: flask --app wsgi "
                   "staff create EMAIL --role admin|desk|scanner|vetting)")
    from badges.fonts import missing_fonts_hint

    hint = missing_fonts_hint()
    if hint:
        click.echo(f"  Badge fonts missing for some scripts; add them with: {hint}")
    click.echo("")


def register_cli(app: Flask) -> None:
    app.cli.add_command(show_config)
    app.cli.add_command(welcome)
    # Command groups live beside their area: staff, delegates + badges, devices +
    # checkpoints, mail.
    from . import cli_delegations, cli_editions, cli_invitations, cli_mail, cli_vetting, cli_visa
    from .checkin import cli as checkin_cli
    from .staff import cli as staff_cli
    from .staff import cli_delegates, cli_printers

    for module in (staff_cli, cli_delegates, checkin_cli, cli_mail, cli_editions,
                   cli_invitations, cli_delegations, cli_printers, cli_vetting, cli_visa):
        for command in module.commands:
            app.cli.add_command(command)
