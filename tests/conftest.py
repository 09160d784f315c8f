"""Fixtures: one migrated database per test session (SQLite, or PostgreSQL from
TEST_DATABASE_URL), a fresh app per test, emptied tables after each test."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, g, request_started
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade

from registration import create_app
from registration.extensions import db

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples" / "delegates.csv"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # every test run starts from an empty schema
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def base_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {
        "APP_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
        "REGISTRATION_CLOSES_AT": None,
        "CATEGORY_CAPACITIES": {},
    }


@pytest.fixture(scope="session")
def _migrated(base_config: dict) -> None:
    app = create_app(base_config)
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _empty_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name != "checkpoint"]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("TRUNCATE " + ", ".join(t.name for t in tables)
                                   + " RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.execute(sa.text("DELETE FROM checkpoint WHERE id <> 'main'"))
    db.session.commit()


def _fresh_request_state(sender: Flask, **extra) -> None:
    g.pop("_login_user", None)
    g.pop(sender.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@pytest.fixture
def make_app(base_config: dict, _migrated: None) -> Iterator:
    """Build an app with extra settings; tables are emptied afterwards."""
    apps: list[Flask] = []

    def factory(**overrides) -> Flask:
        app = create_app({**base_config, **overrides})
        # Tests keep one app context open across requests, so `g` outlives a request; in
        # production every request has its own. Drop what extensions cache there per request
        # (Flask-Login's user, Flask-WTF's CSRF token) so each request reads its own session.
        request_started.connect(_fresh_request_state, app)
        apps.append(app)
        return app

    yield factory
    for app in apps[:1]:
        with app.app_context():
            db.session.remove()
            _empty_tables()
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app) -> Iterator[Flask]:
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def get_csrf(client: FlaskClient):
    def fetch(path: str = "/register") -> str:
        return csrf_from(client.get(path).get_data(as_text=True))

    return fetch


STAFF_PASSWORD = "correct horse battery staple"


@pytest.fixture
def login(client: FlaskClient, app: Flask):
    """Sign `client` in as a new staff member of `role` (without going through the form)."""
    from werkzeug.security import generate_password_hash

    from registration.models import StaffUser

    def sign_in(role: str = "desk", email: str | None = None) -> StaffUser:
        staff = StaffUser(email=email or f"{role}@forum.test", role=role, active=True,
                          password_hash=generate_password_hash(STAFF_PASSWORD),
                          session_version=0, failed_logins=0)
        db.session.add(staff)
        db.session.commit()
        with client.session_transaction() as session:
            session["_user_id"] = staff.get_id()
            session["_fresh"] = True
        return staff

    return sign_in
