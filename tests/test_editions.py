"""Editions side by side: scoping, the current edition, badges that cannot cross editions,
the migration from 0002, purge, and the `editions` commands."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from registration.badge_token import issue
from registration.editions import edition_scope, require_edition
from registration.extensions import db
from registration.models import Checkpoint, Delegate, Edition
from registration.services.badge_signing import signing_key, token_for
from registration.services.checkin.scan import check_in

# Tables whose rows belong to an edition (names are constants: no user input in the SQL).
SCOPED = ("delegate", "delegate_photo", "checkpoint", "device", "scan", "check_in",
          "outbox_message", "audit_entry")


@pytest.fixture
def two_editions(app, runner):
    """The seeded first edition plus `2027` copied from it (conftest removes the extra
    edition and its records afterwards)."""
    with app.app_context():
        first = db.session.scalar(sa.select(Edition.slug).order_by(Edition.id))
    result = runner.invoke(args=["editions", "create", "2027", "--name", "Forum 2027",
                                 "--name-zh", "论坛 2027", "--starts", "2027-12-07",
                                 "--ends", "2027-12-09", "--copy-from", first])
    assert result.exit_code == 0, result.output
    return first, "2027"


@pytest.fixture
def register(client, get_csrf, form_data):
    def post(email: str = "ada@example.org"):
        return client.post("/register", data=form_data(
            get_csrf(), given_name=email.split("@")[0].title(), email=email))

    return post


def raw_count(table: str, edition_id: int) -> int:
    assert table in SCOPED
    return db.session.execute(sa.text(f"SELECT count(*) FROM {table} WHERE edition_id = :e"),  # noqa: S608
                              {"e": edition_id}).scalar_one()


def edition_id(slug: str) -> int:
    return require_edition(slug).id


def test_registration_lands_in_the_current_edition_and_email_is_per_edition(
        app, client, runner, register, two_editions):
    first, second = two_editions
    assert register().status_code == 303
    assert runner.invoke(args=["editions", "set-current", second]).exit_code == 0
    assert register().status_code == 303  # same address, new edition: accepted
    assert register().status_code == 422  # but only once per edition
    with app.app_context():
        assert raw_count("delegate", edition_id(first)) == 1
        assert raw_count("delegate", edition_id(second)) == 1
    page = client.get("/").get_data(as_text=True)
    assert "Forum 2027" in page
    assert "论坛 2027" in client.get("/", headers={"Accept-Language": "zh"}).get_data(as_text=True)


def test_a_reference_taken_in_another_edition_is_drawn_again(
        app, runner, register, two_editions, monkeypatch):
    """References are unique across editions (their constraint): the clash check looks in
    every edition, so a drawn reference that an earlier edition holds is drawn again
    instead of failing the insert."""
    first, second = two_editions
    assert register("early@example.org").status_code == 303
    with app.app_context(), edition_scope(require_edition(first)):
        taken = db.session.scalar(sa.select(Delegate.reference))
    assert runner.invoke(args=["editions", "set-current", second]).exit_code == 0
    from registration.services import registration as registration_service
    draws = iter([taken, "GPSCF-NEW0-0001"])
    monkeypatch.setattr(registration_service, "new_reference", lambda prefix: next(draws))
    assert register("later@example.org").status_code == 303
    with app.app_context(), edition_scope(require_edition(second)):
        assert db.session.scalar(sa.select(Delegate.reference)) == "GPSCF-NEW0-0001"


def test_the_public_mail_cap_counts_a_mailbox_in_every_edition(app, two_editions,
                                                              make_delegate):
    """At most three public mails an hour reach one address, whichever edition they are
    about."""
    from registration.services.mail import outbox

    first, second = two_editions
    with app.app_context():
        with edition_scope(require_edition(first)):
            old = make_delegate(email="inbox@example.org")
            assert all(outbox.queue("manage_link", old) is not None for _ in range(3))
            db.session.commit()
        with edition_scope(require_edition(second)):
            new = make_delegate(email="inbox@example.org")
            assert outbox.queue("registered", new) is None
            assert outbox.queue("approved", new) is not None  # the desk's mail: not capped


def test_desk_of_one_edition_never_sees_the_other(app, client, runner, login, register,
                                                  two_editions, csrf_from, tmp_path):
    first, second = two_editions
    register("first@example.org")
    runner.invoke(args=["editions", "set-current", second])
    register("second@example.org")
    login("admin")
    # The switcher on every staff page picks the edition the desk works on.
    page = client.get("/staff/delegates").get_data(as_text=True)
    assert 'name="edition"' in page and f'value="{second}" selected' in page
    token = csrf_from(page)
    assert client.post("/staff/edition", data={"csrf_token": token, "edition": first}
                       ).status_code == 303
    listing = client.get("/staff/delegates").get_data(as_text=True)
    assert "First Wang" in listing and "Second Wang" not in listing
    export = client.get("/staff/export.csv").get_data(as_text=True)
    assert "first@example.org" in export and "second@example.org" not in export
    counts = client.get("/staff/dashboard.json").get_json()
    assert counts["totals"]["accredited"] == 0
    assert sum(c["accredited"] for c in counts["categories"]) == 0
    client.post("/staff/edition", data={"csrf_token": token, "edition": second})
    listing = client.get("/staff/delegates").get_data(as_text=True)
    assert "Second Wang" in listing and "First Wang" not in listing
    # An unknown slug changes nothing.
    client.post("/staff/edition", data={"csrf_token": token, "edition": "nope"})
    assert "Second Wang" in client.get("/staff/delegates").get_data(as_text=True)
    # CLI export: --edition, default the current one.
    out = runner.invoke(args=["delegates", "export", "-o", str(tmp_path / "a.csv"),
                              "--edition", first])
    assert out.exit_code == 0, out.output
    exported = (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert "first@example.org" in exported and "second@example.org" not in exported
    out = runner.invoke(args=["delegates", "export", "-o", str(tmp_path / "b.csv")])
    exported = (tmp_path / "b.csv").read_text(encoding="utf-8-sig")
    assert "second@example.org" in exported and "first@example.org" not in exported
    with app.app_context(), edition_scope(require_edition(first)):
        assert db.session.scalar(sa.select(sa.func.count(Delegate.id))) == 1
        assert db.session.scalar(sa.select(Delegate.email)) == "first@example.org"


def test_badges_print_only_the_chosen_edition(app, runner, two_editions, make_delegate,
                                              tmp_path):
    _first, second = two_editions
    with app.app_context():
        make_delegate(status="approved", given_name="Firstone")
        with edition_scope(require_edition(second)):
            make_delegate(status="approved", given_name="Secondone")
    pdf = tmp_path / "b.pdf"
    result = runner.invoke(args=["badges", "print", "-o", str(pdf), "--edition", second])
    assert result.exit_code == 0, result.output
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument(pdf.read_bytes())
    text = " ".join(page.get_textpage().get_text_range() for page in document)
    assert "Secondone" in text and "Firstone" not in text


def test_badge_of_one_edition_is_refused_at_the_other(app, runner, register, two_editions):
    first, second = two_editions
    register()
    with app.app_context():
        delegate = db.session.scalar(sa.select(Delegate))
        delegate.status = "badge_printed"
        db.session.commit()
        token = token_for(delegate)
        legacy = issue(signing_key(), delegate.public_id, delegate.badge_serial)  # no edition
    runner.invoke(args=["editions", "set-current", second])
    with app.app_context():
        for code in (token, legacy):
            result = check_in(code, "main", uuid.uuid4().hex)
            assert (result.status, result.reason) == ("invalid", "other_edition")
    runner.invoke(args=["editions", "set-current", first])
    with app.app_context():
        assert check_in(legacy, "main", uuid.uuid4().hex).status == "checked_in"


def test_offline_snapshot_names_the_edition(app, client, runner, login, register,
                                            two_editions):
    first, second = two_editions
    register()
    runner.invoke(args=["editions", "set-current", second])
    login("scanner")
    snap = client.get("/api/v1/checkin-snapshot").get_json()
    with app.app_context():
        assert snap["edition"] == edition_id(second)
        assert snap["legacy_edition"] == edition_id(first)
    assert snap["delegates"] == []


def test_device_of_one_edition_is_refused_in_the_other(app, client, runner, two_editions):
    _first, second = two_editions
    issued = runner.invoke(args=["devices", "issue", "door", "--edition", second])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().split()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/checkin-snapshot", headers=headers).status_code == 401
    runner.invoke(args=["editions", "set-current", second])
    assert client.get("/api/v1/checkin-snapshot", headers=headers).status_code == 200


def test_purge_leaves_no_personal_field(app, runner, register, two_editions):
    first, second = two_editions
    register()
    with app.app_context():
        db.session.scalars(sa.select(Delegate)).one().vetting_note = "Passport E48213907?"
        db.session.commit()
    result = runner.invoke(args=["editions", "purge", first])
    assert result.exit_code == 1 and "current" in result.output
    runner.invoke(args=["editions", "set-current", second])
    result = runner.invoke(args=["editions", "purge", first])
    assert result.exit_code == 1 and "--force" in result.output
    result = runner.invoke(args=["editions", "purge", first, "--force"])
    assert result.exit_code == 0, result.output
    assert "records touched" in result.output
    with app.app_context():
        eid = edition_id(first)
        row = db.session.execute(sa.text(
            "SELECT honorific, given_name, family_name, native_name, badge_name, organisation,"
            " position, email, email_key, phone, dietary_needs, accessibility_needs, "
            "search_text, vetting_note FROM delegate WHERE edition_id = :e"), {"e": eid}).one()
        assert set(row) <= {"", None}
        details = db.session.execute(sa.text("SELECT details FROM delegate"
                                             " WHERE edition_id = :e"), {"e": eid}).scalar()
        assert details in ({}, "{}")
        assert raw_count("delegate", eid) == 1  # counts are kept
        assert raw_count("delegate_photo", eid) == 0
        mail = db.session.execute(sa.text(
            "SELECT recipient, subject FROM outbox_message WHERE edition_id = :e"),
            {"e": eid}).all()
        assert mail and all(set(m) == {""} for m in mail)
        audit = db.session.execute(sa.text(
            "SELECT details FROM audit_entry WHERE edition_id = :e"), {"e": eid}).scalars().all()
        assert audit and "example.org" not in str(audit).lower()
        assert "Ada" not in str(audit)
        assert db.session.get(Edition, eid).purged_at is not None
    assert "(purged)" in runner.invoke(args=["editions", "list"]).output


def test_purge_also_erases_invitations_focal_points_letters_and_vetting(
        app, runner, register, two_editions):
    """The tables later features added hold personal data too: the purge leaves none."""
    from datetime import date

    from registration.editions import ALL_EDITIONS
    from registration.models import (
        Delegation,
        FocalPoint,
        Invitation,
        VettingRequest,
        VisaLetter,
    )
    from registration.services import delegations, invitations, visa_letters

    first, second = two_editions
    register()
    with app.app_context():
        delegate = db.session.scalars(sa.select(Delegate)).one()
        invitations.create("invitee@example.org", "expert", prefill={"given_name": "Ivana"})
        delegation, _ = delegations.create("France", "FR", quotas={"government": 3},
                                           focal_emails=["focal1@example.fr",
                                                         "focal2@example.fr"])
        delegation.letter, delegation.letter_name = b"%PDF-1.4 Ivana Petrova", "note.pdf"
        delegation.letter_size, delegation.letter_uploaded_at = 22, delegate.created_at
        db.session.add(VisaLetter(delegate_id=delegate.id, edition_id=delegate.edition_id,
                                  stay_from=date(2026, 12, 6), stay_to=date(2026, 12, 10),
                                  purpose="Meet Ivana Petrova", holder_name="Ada Lovelace",
                                  holder_nationality="GB", holder_document_number="E48213907",
                                  holder_date_of_birth="1990-01-31", state="approved",
                                  issued_at=delegate.created_at, reference="VL-2026-00001"))
        db.session.add(VettingRequest(delegate_id=delegate.id, edition_id=delegate.edition_id,
                                      question="Send page 2 of E48213907",
                                      answer="Here: E48213907", mailed_to="ada@example.org"))
        db.session.commit()
    with app.app_context():
        token = visa_letters.token_for(db.session.scalars(sa.select(VisaLetter)).one())
        assert visa_letters.verify(token).status == "genuine"
    runner.invoke(args=["editions", "set-current", second])
    result = runner.invoke(args=["editions", "purge", first, "--force"])
    assert result.exit_code == 0, result.output
    assert "1 visa letters withdrawn" in result.output, result.output
    assert ("1 invitations, 2 focal points, 1 delegation letters, 1 visa letters, "
            "1 vetting requests" in result.output), result.output
    with app.app_context():
        eid = edition_id(first)
        invitation = db.session.scalars(sa.select(Invitation).where(
            Invitation.edition_id == eid).execution_options(**ALL_EDITIONS)).one()
        assert (invitation.email, invitation.email_key, invitation.prefill) == ("", "", {})
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FocalPoint).where(
            FocalPoint.edition_id == eid).execution_options(**ALL_EDITIONS)) == 0
        france = db.session.scalars(sa.select(Delegation).where(
            Delegation.edition_id == eid).execution_options(**ALL_EDITIONS)).one()
        assert france.letter is None and france.letter_name == "" and france.name_en == "France"
        letter = db.session.scalars(sa.select(VisaLetter)
                                    .execution_options(**ALL_EDITIONS)).one()
        assert (letter.holder_name, letter.holder_document_number, letter.purpose,
                letter.holder_date_of_birth) == ("", None, "", None)
        # With no name left to compare, the page no longer calls the letter valid.
        verdict = visa_letters.verify(token)
        assert verdict.status == "withdrawn"
        assert "deleted its records" in verdict.letter.withdrawn_reason_label
        request = db.session.scalars(sa.select(VettingRequest)
                                     .execution_options(**ALL_EDITIONS)).one()
        assert (request.question, request.answer, request.mailed_to) == (None, None, "")
        raw = str(db.session.execute(sa.text(
            "SELECT i.email, i.prefill, f.email, v.holder_name, v.purpose "
            "FROM invitation i LEFT JOIN focal_point f ON f.edition_id = i.edition_id "
            "LEFT JOIN visa_letter v ON v.edition_id = i.edition_id")).all())
        assert "Ivana" not in raw and "example" not in raw and "Ada" not in raw


def test_purge_waits_for_the_retention_date(app, runner, two_editions):
    _first, second = two_editions
    with app.app_context():
        edition = require_edition(second)
        edition.retention_until = edition.starts_on
        db.session.commit()
    result = runner.invoke(args=["editions", "purge", second])
    assert result.exit_code == 1 and "2027-12-07" in result.output


def test_editions_commands_and_bad_input(app, runner, two_editions):
    first, second = two_editions
    listing = runner.invoke(args=["editions", "list"])
    assert listing.exit_code == 0 and first in listing.output and second in listing.output
    assert f"* {first}" in listing.output
    bad = [
        ["editions", "create", "Bad Slug", "--name", "x", "--starts", "2028-01-01",
         "--ends", "2028-01-02"],
        ["editions", "create", "2028", "--name", "x", "--starts", "2028-01-05",
         "--ends", "2028-01-02"],
        ["editions", "create", "2028", "--name", "x", "--starts", "5 Jan 2028",
         "--ends", "2028-01-02"],
        ["editions", "create", second, "--name", "x", "--starts", "2028-01-01",
         "--ends", "2028-01-02"],
        ["editions", "create", "2028", "--name", "x", "--starts", "2028-01-01",
         "--ends", "2028-01-02", "--copy-from", "nope"],
        ["editions", "set-current", "nope"],
        ["editions", "purge", "nope"],
        ["checkpoints", "list", "--edition", "nope"],
        ["delegates", "export", "-o", "x.csv", "--edition", "nope"],
    ]
    for args in bad:
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert "Error" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Edition.id))) == 2  # nothing half-made
        # --copy-from copied the checkpoints (and only those, never people).
        with edition_scope(require_edition(second)):
            assert db.session.scalars(sa.select(Checkpoint.id)).all() == ["main"]
    added = runner.invoke(args=["checkpoints", "add", "vip", "VIP", "--edition", second])
    assert added.exit_code == 0, added.output
    assert "vip" not in runner.invoke(args=["checkpoints", "list"]).output
    assert "vip" in runner.invoke(args=["checkpoints", "list", "--edition", second]).output
    copied = runner.invoke(args=["editions", "create", "2028", "--name", "Forum 2028",
                                 "--starts", "2028-12-05", "--ends", "2028-12-07",
                                 "--copy-from", second])
    assert copied.exit_code == 0, copied.output
    assert "vip" in runner.invoke(args=["checkpoints", "list", "--edition", "2028"]).output


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
        with db.engine.connect() as conn:
            before = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608
                      for t in SCOPED}
        upgrade()
        with db.engine.connect() as conn:
            editions = conn.execute(sa.text(
                "SELECT id, slug, is_current, starts_on, name_en FROM edition")).all()
            assert len(editions) == 1 and editions[0].is_current
            assert editions[0].slug == "2026" and str(editions[0].starts_on) == "2026-12-08"
            assert editions[0].name_en == app.config["EVENT_NAME"]
            for table in SCOPED:
                rows = conn.execute(sa.text(f"SELECT edition_id FROM {table}")  # noqa: S608
                                    ).scalars().all()
                assert len(rows) == before[table] >= 1, table
                assert set(rows) == {editions[0].id}, table
        assert db.session.scalar(sa.select(Delegate.email)) == "old@example.org"
        downgrade(revision="0002")
        upgrade()
        db.session.remove()
        db.engine.dispose()


def test_periodic_sweep_purges_past_editions_after_their_retention_date(app, runner, register,
                                                                         two_editions):
    from datetime import UTC, datetime, timedelta

    from registration.tasks.definitions import purge_expired_editions

    today = datetime.now(UTC).date()

    first, second = two_editions
    register()  # lands in the first edition
    with app.app_context():
        assert purge_expired_editions() == {}  # the current edition is never purged
    runner.invoke(args=["editions", "set-current", second])
    with app.app_context():
        edition = require_edition(first)
        edition.retention_until = today + timedelta(days=30)
        db.session.commit()
        assert purge_expired_editions() == {}  # kept until its date
        edition = require_edition(first)
        edition.retention_until = today - timedelta(days=2)
        db.session.commit()
        purged = purge_expired_editions()
        assert purged[first]["delegates"] == 1
        eid = edition_id(first)
        names = db.session.execute(sa.text("SELECT given_name, email FROM delegate"
                                           " WHERE edition_id = :e"), {"e": eid}).one()
        assert set(names) <= {"", None}
        assert purge_expired_editions() == {}  # once only


def test_a_public_request_reads_the_edition_without_copying_it_into_the_session(
        app, client, get_csrf, form_data, edition_settings, monkeypatch):
    """The blank form and a registration read the edition's settings from the process's
    cached copy (editions.edition_settings): no copy is merged into the request's session
    for it; the settings read are still the edition's own."""
    from sqlalchemy.orm import Session

    merged: list[str] = []
    merge = Session.merge

    def counting_merge(self, instance, *args, **kwargs):
        merged.append(type(instance).__name__)
        return merge(self, instance, *args, **kwargs)

    monkeypatch.setattr(Session, "merge", counting_merge)
    # The process's copy stays valid for the whole test (a slow machine must not let it
    # expire between two requests: a fresh read merges nothing either).
    monkeypatch.setitem(app.config, "EDITION_CACHE_SECONDS", 600)
    edition_settings(capacities={"ngo": 0})
    token = get_csrf()  # reads the edition afresh after the change, and caches it
    assert client.post("/register", data=form_data(token)).status_code == 303
    full = client.post("/register", data=form_data(get_csrf(), "ngo", email="n@example.org"))
    assert full.status_code == 422
    assert "Registration for this category is full." in full.get_data(as_text=True)
    assert "Edition" not in merged
