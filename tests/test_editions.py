"""Editions side by side: scoping, the current edition, badges that cannot cross editions,
the migration from 0002, purge, and the `editions` commands."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from registration.editions import edition_scope, require_edition
from registration.extensions import db
from registration.models import Checkpoint, Delegate, Edition
from registration.services import checkin as checkin_service
from registration.services.badge_tokens import signing_key, token_for
from registration.tickets import issue
from tests.conftest import csrf_from
from tests.test_registration import form_data


@pytest.fixture
def two_editions(app, runner):
    """The seeded first edition plus `2027`; afterwards the extra edition and its records go
    (conftest empties the forum's tables but keeps editions)."""
    first = db.session.scalar(sa.select(Edition).order_by(Edition.id))
    result = runner.invoke(args=["editions", "create", "2027", "--name", "Forum 2027",
                                 "--starts", "2027-12-07", "--ends", "2027-12-09",
                                 "--copy-from", first.slug])
    assert result.exit_code == 0, result.output
    yield first.slug, "2027"
    db.session.rollback()
    tables = [t for t in reversed(db.metadata.sorted_tables) if "edition_id" in t.c]
    extra = sa.select(Edition.id).where(Edition.id != first.id).scalar_subquery()
    for table in tables:
        db.session.execute(table.delete().where(table.c.edition_id.in_(extra)))
    db.session.execute(sa.delete(Edition).where(Edition.id != first.id))
    db.session.execute(sa.update(Edition).values(is_current=True))
    db.session.commit()


def register(client, email="ada@example.org"):
    token = csrf_from(client.get("/register").get_data(as_text=True))
    return client.post("/register", data=form_data(token, given_name=email.split("@")[0].title(),
                                                 email=email))


def raw_count(table: str, edition_id: int) -> int:
    return db.session.execute(sa.text(f"SELECT count(*) FROM {table} WHERE edition_id = :e"),
                              {"e": edition_id}).scalar()


def test_registration_lands_in_the_current_edition_and_email_is_per_edition(
        app, client, runner, two_editions):
    first, second = two_editions
    assert register(client).status_code == 303
    assert runner.invoke(args=["editions", "set-current", second]).exit_code == 0
    assert register(client).status_code == 303  # same address, new edition: accepted
    assert register(client).status_code == 422  # but only once per edition
    a, b = require_edition(first), require_edition(second)
    assert raw_count("delegate", a.id) == 1 and raw_count("delegate", b.id) == 1
    page = client.get("/").get_data(as_text=True)
    assert "Forum 2027" in page


def test_desk_of_one_edition_never_sees_the_other(app, client, runner, login, two_editions,
                                                  tmp_path):
    first, second = two_editions
    register(client, "first@example.org")
    runner.invoke(args=["editions", "set-current", second])
    register(client, "second@example.org")
    login("admin")
    # The staff switcher picks the edition the desk works on.
    token = csrf_from(client.get("/staff/delegates").get_data(as_text=True))
    assert client.post("/staff/edition", data={"csrf_token": token, "edition": first}
                       ).status_code == 303
    listing = client.get("/staff/delegates").get_data(as_text=True)
    assert "First Wang" in listing and "Second Wang" not in listing
    export = client.get("/staff/export.csv").get_data(as_text=True)
    assert "first@example.org" in export and "second@example.org" not in export
    client.post("/staff/edition", data={"csrf_token": token, "edition": second})
    listing = client.get("/staff/delegates").get_data(as_text=True)
    assert "Second Wang" in listing and "First Wang" not in listing
    # CLI export: --edition, default the current one.
    out = runner.invoke(args=["delegates", "export", "-o", str(tmp_path / "a.csv"),
                              "--edition", first])
    assert out.exit_code == 0, out.output
    exported = (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert "first@example.org" in exported and "second@example.org" not in exported
    with edition_scope(require_edition(first)):
        assert db.session.scalar(sa.select(sa.func.count(Delegate.id))) == 1
        assert db.session.scalar(sa.select(Delegate.email)) == "first@example.org"


def test_badge_of_one_edition_is_refused_at_the_other(app, client, runner, two_editions):
    first, second = two_editions
    register(client)
    with edition_scope(require_edition(first)):
        delegate = db.session.scalar(sa.select(Delegate))
        delegate.status = "badge_printed"
        db.session.commit()
        token = token_for(delegate)
        legacy = issue(signing_key(), delegate.public_id, delegate.badge_serial)  # no edition
    runner.invoke(args=["editions", "set-current", second])
    for code in (token, legacy):
        result = checkin_service.check_in(code, "main", uuid.uuid4().hex)
        assert (result.status, result.reason) == ("invalid", "other_edition")
    snap = checkin_service.snapshot()
    assert snap["edition"] == require_edition(second).id
    assert snap["legacy_edition"] == require_edition(first).id
    assert snap["delegates"] == []
    runner.invoke(args=["editions", "set-current", first])
    assert checkin_service.check_in(legacy, "main", uuid.uuid4().hex).status == "checked_in"


def test_purge_leaves_no_personal_field(app, client, runner, two_editions):
    first, second = two_editions
    register(client)
    result = runner.invoke(args=["editions", "purge", first])
    assert result.exit_code == 1 and "current" in result.output
    runner.invoke(args=["editions", "set-current", second])
    result = runner.invoke(args=["editions", "purge", first])
    assert result.exit_code == 1 and "--force" in result.output
    result = runner.invoke(args=["editions", "purge", first, "--force"])
    assert result.exit_code == 0, result.output
    assert "records touched" in result.output
    eid = require_edition(first).id
    row = db.session.execute(sa.text(
        "SELECT given_name, family_name, email, email_key, phone, organisation, search_text "
        "FROM delegate WHERE edition_id = :e"), {"e": eid}).one()
    assert set(row) <= {"", None}
    assert raw_count("delegate", eid) == 1  # counts are kept
    assert raw_count("delegate_photo", eid) == 0
    for (message,) in db.session.execute(sa.text(
            "SELECT recipient FROM outbox_message WHERE edition_id = :e"), {"e": eid}):
        assert message == ""
    details = db.session.execute(sa.text(
        "SELECT details FROM audit_entry WHERE edition_id = :e"), {"e": eid}).scalars().all()
    assert details and "example.org" not in str(details).lower()


def test_editions_commands_and_bad_input(app, runner, two_editions):
    first, second = two_editions
    listing = runner.invoke(args=["editions", "list"])
    assert listing.exit_code == 0 and first in listing.output and second in listing.output
    bad = [
        ["editions", "create", "Bad Slug", "--name", "x", "--starts", "2028-01-01",
         "--ends", "2028-01-02"],
        ["editions", "create", "2028", "--name", "x", "--starts", "2028-01-05",
         "--ends", "2028-01-02"],
        ["editions", "create", second, "--name", "x", "--starts", "2028-01-01",
         "--ends", "2028-01-02"],
        ["editions", "create", "2028", "--name", "x", "--starts", "2028-01-01",
         "--ends", "2028-01-02", "--copy-from", "nope"],
        ["editions", "set-current", "nope"],
        ["editions", "purge", "nope"],
        ["checkpoints", "list", "--edition", "nope"],
    ]
    for args in bad:
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert "Error" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Edition.id))) == 2  # nothing half-made
    # --copy-from copied the checkpoints (and only those, never people).
    with edition_scope(require_edition(second)):
        assert db.session.scalars(sa.select(Checkpoint.id)).all() == ["main"]
    added = runner.invoke(args=["checkpoints", "add", "vip", "VIP", "--edition", second])
    assert added.exit_code == 0, added.output
    ids = runner.invoke(args=["checkpoints", "list"]).output
    assert "vip" not in ids  # the current edition (the first) has no vip


def test_migration_from_0002_keeps_every_row(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="0002")
        with db.engine.begin() as conn:
            now = "2026-11-01 10:00:00"
            conn.execute(sa.text(
                "INSERT INTO delegate (id, public_id, reference, category, status, source, "
                "honorific, given_name, family_name, native_name, badge_name, organisation, "
                "position, country, email, email_key, phone, dietary_needs, "
                "accessibility_needs, details, locale, search_text, badge_serial, "
                "print_count, needs_reprint, created_at, updated_at) VALUES (1, :u, "
                "'GPS-OLD1-0001', 'expert', 'checked_in', 'self', '', 'Old', 'Row', '', '', "
                "'', '', 'FR', 'old@example.org', 'old@example.org', '', '', '', '{}', 'en', "
                "'', 1, 1, 0, :t, :t)"), {"u": uuid.uuid4().hex, "t": now})
            conn.execute(sa.text(
                "INSERT INTO delegate_photo (delegate_id, jpeg, updated_at) VALUES (1, :j, :t)"),
                {"j": b"jpeg", "t": now})
            conn.execute(sa.text(
                "INSERT INTO device (id, name, token_hash, created_at) VALUES "
                "(1, 'door', 'h', :t)"), {"t": now})
            conn.execute(sa.text(
                "INSERT INTO scan (id, nonce, checkpoint_id, delegate_id, device_id, result, "
                "scanned_at, received_at, offline) VALUES (1, 'n1', 'main', 1, 1, "
                "'checked_in', :t, :t, 0)"), {"t": now})
            conn.execute(sa.text(
                "INSERT INTO check_in (id, delegate_id, checkpoint_id, scan_id, checked_in_at)"
                " VALUES (1, 1, 'main', 1, :t)"), {"t": now})
            conn.execute(sa.text(
                "INSERT INTO outbox_message (id, delegate_id, kind, recipient, subject, "
                "message, status, attempts, next_attempt_at, last_error, created_at) VALUES "
                "(1, 1, 'registered', 'old@example.org', 's', :m, 'sent', 1, :t, '', :t)"),
                {"m": b"mail", "t": now})
            conn.execute(sa.text(
                "INSERT INTO audit_entry (id, delegate_id, actor, action, details, created_at)"
                " VALUES (1, 1, 'delegate', 'registered', '{}', :t)"), {"t": now})
        tables = ("delegate", "delegate_photo", "checkpoint", "device", "scan", "check_in",
                  "outbox_message", "audit_entry")
        with db.engine.connect() as conn:
            before = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                      for t in tables}
        upgrade()
        with db.engine.connect() as conn:
            editions = conn.execute(sa.text("SELECT id, slug, is_current FROM edition")).all()
            assert len(editions) == 1 and editions[0][2]
            for table in tables:
                rows = conn.execute(sa.text(f"SELECT edition_id FROM {table}")).scalars().all()
                assert len(rows) == before[table] >= 1, table
                assert set(rows) == {editions[0][0]}, table
        assert db.session.scalar(sa.select(Delegate.email)) == "old@example.org"
        downgrade(revision="0002")
        upgrade()
        db.session.remove()
        db.engine.dispose()
    assert date(2026, 12, 8)  # the first edition's dates come from EVENT_DATES
