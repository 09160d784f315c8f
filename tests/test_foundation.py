"""Foundation: the status machine, migrations = models, configuration rules."""

from __future__ import annotations

import warnings

import click
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from registration import create_app
from registration.config import ConfigError, load_config
from registration.data_crypto import new_key
from registration.extensions import db
from registration.models import Checkpoint, Delegate, InvalidTransition, Status
from registration.models.status import TRANSITIONS, can_transition
from registration.text import REFERENCE_ALPHABET, new_reference, search_key


def test_migrations_produce_exactly_the_models_schema(app_ctx):
    with db.engine.connect() as conn, warnings.catch_warnings():
        # SQLAlchemy cannot reflect SQLite's expression indexes (PostgreSQL's it can, and
        # compares them); the one there is, is checked by name below.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("outbox_message")}
    assert diff == []
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            indexes |= set(conn.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'outbox_message'")))
    assert "ix_outbox_message_recipient_lower" in indexes


def test_main_checkpoint_exists_from_the_first_migration(app_ctx):
    main = db.session.scalar(select(Checkpoint).where(Checkpoint.id == "main"))
    assert main is not None
    assert main.name == "Main entrance"
    assert main.allowed_categories is None


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        (Status.SUBMITTED, Status.APPROVED, True),
        (Status.SUBMITTED, Status.REJECTED, True),
        (Status.SUBMITTED, Status.BADGE_PRINTED, False),
        (Status.SUBMITTED, Status.CHECKED_IN, False),
        (Status.APPROVED, Status.BADGE_PRINTED, True),
        (Status.APPROVED, Status.CHECKED_IN, True),
        (Status.BADGE_PRINTED, Status.BADGE_PRINTED, True),  # reprint
        (Status.BADGE_PRINTED, Status.CHECKED_IN, True),
        (Status.BADGE_PRINTED, Status.SUBMITTED, False),
        (Status.CHECKED_IN, Status.APPROVED, False),
        (Status.REJECTED, Status.APPROVED, True),
        (Status.REJECTED, Status.BADGE_PRINTED, False),
        (Status.CANCELLED, Status.APPROVED, False),
    ],
)
def test_status_machine(old, new, allowed):
    assert can_transition(old, new) is allowed
    delegate = Delegate(status=old.value)
    if allowed:
        assert delegate.move_to(new) is old
        assert delegate.status == new.value
    else:
        with pytest.raises(InvalidTransition):
            delegate.move_to(new)
        assert delegate.status == old.value


def test_every_status_has_a_transition_entry():
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.CANCELLED] == frozenset()


def test_reference_codes_use_unambiguous_characters():
    refs = {new_reference() for _ in range(500)}
    assert len(refs) == 500
    for ref in refs:
        prefix, a, b = ref.split("-")
        assert prefix == "GPS" and len(a) == len(b) == 4
        assert set(a + b) <= set(REFERENCE_ALPHABET)
        assert not set(a + b) & set("01OIL")


def test_search_key_folds_case_accents_and_keeps_other_scripts():
    assert search_key("Müller") == "muller"
    assert search_key("Lars ØSTERGÅRD") == "lars ostergard"
    assert search_key("王小明") == "王小明"
    assert search_key("Мария") == "мария"


def test_production_refuses_to_start_without_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"APP_ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_config({"APP_ENV": "production", "SECRET_KEY": "s" * 64,
                     "INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigError, match="DATA_ENCRYPTION_KEY"):
        load_config({"APP_ENV": "production", "SECRET_KEY": "s" * 64,
                     "PUBLIC_BASE_URL": "https://register.forum.example/",
                     "INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"DATA_ENCRYPTION_KEY.*32 bytes"):
        load_config({"APP_ENV": "production", "SECRET_KEY": "s" * 64,
                     "PUBLIC_BASE_URL": "https://register.forum.example/",
                     "DATA_ENCRYPTION_KEY": "c2hvcnQ", "INSTANCE_PATH": str(tmp_path)})
    config = load_config({"APP_ENV": "production", "SECRET_KEY": "s" * 64,
                          "PUBLIC_BASE_URL": "https://register.forum.example/",
                          "DATA_ENCRYPTION_KEY": new_key(),
                          "INSTANCE_PATH": str(tmp_path)})
    assert config["SECRET_KEY"] == "s" * 64
    assert config["PUBLIC_BASE_URL"] == "https://register.forum.example"
    assert config["SESSION_COOKIE_SECURE"] is True


def test_development_generates_and_keeps_a_secret_key(tmp_path):
    first = load_config({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    second = load_config({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_database_url_defaults_to_sqlite_under_instance_and_normalises_postgres(tmp_path):
    config = load_config({"INSTANCE_PATH": str(tmp_path)})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'registration.sqlite3'}"
    config = load_config({"INSTANCE_PATH": str(tmp_path),
                          "DATABASE_URL": "postgres://u@db.example/forum"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/forum"


def test_bad_settings_are_reported_clearly(tmp_path):
    with pytest.raises(ConfigError, match="CAPACITY_EXPERT"):
        load_config({"INSTANCE_PATH": str(tmp_path), "CAPACITY_EXPERT": "many"})
    with pytest.raises(ConfigError, match="REGISTRATION_CLOSES_AT"):
        load_config({"INSTANCE_PATH": str(tmp_path), "REGISTRATION_CLOSES_AT": "tomorrow"})
    config = load_config({"INSTANCE_PATH": str(tmp_path), "CAPACITY_EXPERT": "300",
                          "REGISTRATION_CLOSES_AT": "2026-12-01T18:00"})
    assert config["CATEGORY_CAPACITIES"] == {"expert": 300}
    assert config["REGISTRATION_CLOSES_AT"].utcoffset().total_seconds() == 8 * 3600


def test_config_cli_shows_settings_and_hides_the_database_password(runner, app):
    from registration.cli import redact_url

    assert redact_url("postgresql+psycopg://u:hunter2@db.example/forum") == (
        "postgresql+psycopg://u:***@db.example/forum")
    result = runner.invoke(args=["config"])
    assert result.exit_code == 0, result.output
    assert "edition.name_en = Global Public Safety Cooperation Forum" in result.output
    assert "Event settings live in the database" in result.output
    assert redact_url(app.config["SQLALCHEMY_DATABASE_URI"]) in result.output


def test_security_headers_are_set(client):
    response = client.get("/register")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_unknown_page_is_a_clear_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_no_delegates_at_start(app_ctx):
    assert db.session.execute(select(Delegate)).first() is None


def test_create_app_accepts_overrides(base_config):
    app = create_app({**base_config, "EVENT_NAME": "Test Forum"})
    assert app.config["EVENT_NAME"] == "Test Forum"


def test_client_address_behind_a_trusted_proxy(make_app):
    from flask import request

    seen = []
    app = make_app(TRUSTED_PROXIES=1)
    app.before_request(lambda: seen.append(request.remote_addr))
    app.test_client().get("/privacy", headers={"X-Forwarded-For": "203.0.113.9"})
    plain = make_app()
    plain.before_request(lambda: seen.append(request.remote_addr))
    plain.test_client().get("/privacy", headers={"X-Forwarded-For": "203.0.113.9"})
    assert seen == ["203.0.113.9", "127.0.0.1"]


@pytest.mark.parametrize(("args", "named"), [
    (["invitations", "create"], "EMAIL"),                       # a missing argument
    (["printers", "add", "Desk 1", "ipp://p.local/ipp/print", "--layout", "a5"], "a5"),
    (["vetting", "import"], "FILE"),
    (["delegates", "export", "--nonsense"], "--nonsense"),      # an unknown option
    (["editions", "settings", "--vetting", "maybe"], "maybe"),
])
def test_a_command_given_bad_input_says_what_and_exits_with_status_1(runner, args, named):
    result = runner.invoke(args=args)
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output and named in result.output
    assert "Usage:" in result.output  # Click's own report: how to call the command


def test_every_command_group_reports_usage_errors_with_status_1(app):
    from registration.cli_base import CommandGroup

    groups = [c for c in app.cli.commands.values()
              if isinstance(c, click.Group) and c.name != "db"]  # db: Flask-Migrate's own
    assert len(groups) >= 12
    assert all(isinstance(group, CommandGroup) for group in groups), [
        group.name for group in groups if not isinstance(group, CommandGroup)]
