"""Identity (travel document) data: asked in the edition's identity categories on every way
in (form, walk-in, nomination, import, manage page, desk edit), validated, kept encrypted,
shown masked, exported, erased, purged, and the `incomplete` ↔ `pending` vetting rule."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from registration.editions import marked_current
from registration.extensions import db
from registration.models import AuditEntry, Delegate, DelegateIdentity, VettingRequest

NUMBER = "E48213907"
DOB = "1971-03-09"
EXPIRY = "2031-06-30"
IDENTITY = {"nationality": "FR", "date_of_birth": DOB, "document_type": "passport",
            "document_number": NUMBER, "document_country": "FR", "document_expiry": EXPIRY}


@pytest.fixture
def identity_for(edition_settings):
    def switch(*categories: str) -> None:
        edition_settings(identity_categories=list(categories))
    return switch


def stored(app, email: str) -> Delegate:
    with app.app_context():
        delegate = db.session.scalar(sa.select(Delegate).where(Delegate.email == email))
        assert delegate is not None
        delegate.identity  # noqa: B018 -- load it before the context ends
        db.session.expunge_all()
        return delegate


# --------------------------------------------------------------------------- the form


def test_form_asks_identity_for_the_editions_categories_only(app, client, get_csrf,
                                                             form_data, identity_for):
    page = client.get("/register").get_data(as_text=True)
    assert "identity-section" not in page  # off in a new edition: the form is as before
    identity_for("government")
    page = client.get("/register").get_data(as_text=True)
    assert 'data-categories="government"' in page and 'name="document_number"' in page

    missing = client.post("/register", data=form_data(get_csrf()))
    assert missing.status_code == 422
    text = missing.get_data(as_text=True)
    assert "Enter the document number." in text and "Enter your date of birth." in text

    ok = client.post("/register", data=form_data(get_csrf(), **IDENTITY))
    assert ok.status_code == 303, ok.get_data(as_text=True)
    delegate = stored(app, "wang.xiaoming@example.cn")
    assert delegate.identity is not None and delegate.identity.as_dict() == IDENTITY
    assert delegate.vetting_status == "pending"

    # A category the edition does not ask gives none (and is not held back).
    scholar = client.post("/register", data=form_data(get_csrf(), "scholar",
                                                      email="scholar@example.org"))
    assert scholar.status_code == 303
    other = stored(app, "scholar@example.org")
    assert other.identity is None and other.vetting_status == "pending"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("document_expiry", "2026-12-09",
     "This document expires before the forum ends (2026-12-10)"),
    ("document_expiry", "31/12/2030", "Enter the date as YYYY-MM-DD"),
    ("document_number", "E-4821-3907", "Use letters and digits only"),
    ("document_number", "E12", "A document number has 5 to 20 letters and digits."),
    ("date_of_birth", "2021-01-01", "This date of birth is not plausible"),
    ("date_of_birth", "1890-01-01", "This date of birth is not plausible"),
    ("nationality", "XX", "Choose a country or region from the list."),
    ("document_type", "visa", "Choose the type of document"),
])
def test_identity_validation(app, client, get_csrf, form_data, identity_for, field, value,
                             message):
    identity_for("government")
    response = client.post("/register", data=form_data(get_csrf(), **{**IDENTITY,
                                                                       field: value}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert error is not None and message in error.group(1).replace("&#34;", '"')


def test_number_is_normalised_and_issuing_country_defaults_to_nationality(
        app, client, get_csrf, form_data, identity_for):
    identity_for("government")
    response = client.post("/register", data=form_data(
        get_csrf(), **{**IDENTITY, "document_number": " e48 213 907 ", "document_country": ""}))
    assert response.status_code == 303
    identity = stored(app, "wang.xiaoming@example.cn").identity
    assert identity is not None
    assert identity.document_number == NUMBER and identity.document_country == "FR"


# --------------------------------------------------------------------------- at rest


def test_numbers_and_dates_of_birth_never_in_clear_in_the_database(
        app, client, get_csrf, form_data, identity_for, caplog, stored_bytes):
    identity_for("government")
    caplog.set_level("DEBUG")
    assert client.post("/register", data=form_data(get_csrf(), **IDENTITY)).status_code == 303
    raw = stored_bytes(app)
    assert b"wang.xiaoming@example.cn" in raw  # the search does see the data
    for secret in (NUMBER, DOB, EXPIRY, "E48 213", DOB.replace("-", "")):
        assert secret.encode() not in raw, secret
    assert NUMBER not in caplog.text and DOB not in caplog.text
    with app.app_context():  # and it reads back
        assert db.session.scalar(sa.select(DelegateIdentity.document_number)) == NUMBER


# --------------------------------------------------------------------------- other ways in


def test_import_without_identity_columns_waits_as_incomplete_until_the_desk_adds_it(
        app, client, login, get_csrf, runner, identity_for, tmp_path):
    identity_for("government", "expert")
    plain = tmp_path / "plain.csv"
    plain.write_text("category,given_name,family_name,organisation,position,country,email,"
                     "phone\ngovernment,Ana,Silva,MRE,Director,BR,ana@example.br,"
                     "+55 61 99999 1234\n")
    result = runner.invoke(args=["delegates", "import", str(plain)])
    assert result.exit_code == 0, result.output
    ana = stored(app, "ana@example.br")
    assert ana.vetting_status == "incomplete" and ana.identity is None

    login("desk")
    page = client.get(f"/staff/delegates/{ana.public_id}").get_data(as_text=True)
    assert "Identity data is missing" in page
    edit_url = f"/staff/delegates/{ana.public_id}/edit"
    form = client.get(edit_url).get_data(as_text=True)
    assert 'name="document_number"' in form
    data = {"csrf_token": get_csrf(edit_url), "category": "government", "honorific": "",
            "given_name": "Ana", "family_name": "Silva", "organisation": "MRE",
            "position": "Director", "country": "BR", "email": "ana@example.br",
            "phone": "+55 61 99999 1234", "ministry": "MRE", **IDENTITY,
            "nationality": "BR", "document_country": "BR"}
    saved = client.post(edit_url, data=data)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    ana = stored(app, "ana@example.br")
    assert ana.vetting_status == "pending" and ana.identity is not None
    assert ana.identity.document_number == NUMBER
    with app.app_context():
        actions = {e.action: e.details for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.delegate_id == ana.id))}
    assert actions["vetting"] == {"via": "identity", "from": "incomplete", "to": "pending"}
    assert sorted(actions["identity_updated"]["fields"]) == sorted(IDENTITY)
    assert NUMBER not in json.dumps(list(actions.values()))
    trail = client.get(f"/staff/delegates/{ana.public_id}").get_data(as_text=True)
    assert "identity document data updated" in trail and NUMBER not in trail

    # Saving the edit page again with the secret fields left empty keeps them.
    again = client.post(edit_url, data={**data, "csrf_token": get_csrf(edit_url),
                                        "date_of_birth": "", "document_number": "",
                                        "document_expiry": ""})
    assert again.status_code == 303
    assert stored(app, "ana@example.br").identity.as_dict()["document_number"] == NUMBER


def test_import_and_export_share_the_identity_columns(app, client, login, runner,
                                                       identity_for, tmp_path):
    identity_for("government")
    good = tmp_path / "good.csv"
    header = ("category,given_name,family_name,organisation,position,country,email,phone,"
              "nationality,date_of_birth,document_type,document_number,document_country,"
              "document_expiry\n")
    good.write_text(header + "government,Ana,Silva,MRE,Director,BR,ana@example.br,"
                    f"+55 61 99999 1234,BR,{DOB},passport,{NUMBER},BR,{EXPIRY}\n")
    result = runner.invoke(args=["delegates", "import", str(good)])
    assert result.exit_code == 0, result.output
    ana = stored(app, "ana@example.br")
    assert ana.vetting_status == "pending" and ana.identity.document_number == NUMBER

    bad = tmp_path / "bad.csv"
    bad.write_text(header + "government,Bo,Li,MPS,Director,CN,bo@example.cn,"
                   f"+86 138 0013 8000,CN,{DOB},passport,G1234567,CN,2026-12-01\n")
    refused = runner.invoke(args=["delegates", "import", str(bad)])
    assert refused.exit_code == 1
    assert "row 2" in refused.output.lower() and "document_expiry" in refused.output
    assert "expires before the forum ends" in refused.output

    out = tmp_path / "masked.csv"
    assert runner.invoke(args=["delegates", "export", "-o", str(out)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0]["document_number"] == "•••907" and rows[0]["date_of_birth"] == "•••-09"
    assert rows[0]["nationality"] == "BR" and NUMBER not in out.read_text()
    # A masked export imports again: the masked cells keep what is stored.
    again = runner.invoke(args=["delegates", "import", str(out)])
    assert again.exit_code == 0 and "1 already imported" in again.output, again.output

    clear = tmp_path / "clear.csv"
    assert runner.invoke(args=["delegates", "export", "-o", str(clear),
                               "--reveal-identity"]).exit_code == 0
    assert f",{NUMBER}," in clear.read_text()

    login("desk")
    desk = client.get("/staff/export.csv").get_data(as_text=True)
    assert "•••907" in desk and NUMBER not in desk
    login("admin", email="admin@forum.test")
    admin = client.get("/staff/export.csv").get_data(as_text=True)
    assert NUMBER in admin and DOB in admin


def test_a_walk_in_may_leave_it_for_later(app, client, login, get_csrf,
                                                        form_data, identity_for):
    identity_for("government")
    login("desk")
    walk = client.post("/staff/walk-in", data=form_data(get_csrf("/staff/walk-in"),
                                                        email="walkin@example.org"))
    assert walk.status_code == 303, walk.get_data(as_text=True)
    assert stored(app, "walkin@example.org").vetting_status == "incomplete"
    walk2 = client.post("/staff/walk-in", data=form_data(get_csrf("/staff/walk-in"),
                                                         email="walkin2@example.org",
                                                         **IDENTITY))
    assert walk2.status_code == 303
    assert stored(app, "walkin2@example.org").vetting_status == "pending"


def test_a_focal_point_nominates_with_or_without_identity(app, runner, client, csrf_from,
                                                         form_data, identity_for):
    from test_delegations import create, nominee, sign_in

    identity_for("government")
    sign_in(client, create(runner, quota="government=3"), csrf_from)
    page = client.get("/delegation/nominate").get_data(as_text=True)
    assert 'name="document_number"' in page
    later = client.post("/delegation/nominate", data=nominee(
        csrf_from(page), form_data, "Anne", "anne@mfa.example.fr"))
    assert later.status_code == 303
    assert stored(app, "anne@mfa.example.fr").vetting_status == "incomplete"
    page = client.get("/delegation/nominate").get_data(as_text=True)
    bad = client.post("/delegation/nominate", data=nominee(
        csrf_from(page), form_data, "Bruno", "bruno@mfa.example.fr",
        **{**IDENTITY, "document_expiry": "2026-12-10"}))
    assert bad.status_code == 422 and "expires before the forum ends" in bad.get_data(
        as_text=True)
    full = client.post("/delegation/nominate", data=nominee(
        csrf_from(page), form_data, "Bruno", "bruno@mfa.example.fr", **IDENTITY))
    assert full.status_code == 303
    bruno = stored(app, "bruno@mfa.example.fr")
    assert bruno.vetting_status == "pending" and bruno.identity.document_number == NUMBER


# --------------------------------------------------------------------------- who sees what


def test_staff_pages_mask_identity_except_for_admins(app, client, login, make_delegate,
                                                     identity_for):
    identity_for("government")
    delegate = make_delegate(**IDENTITY)
    url = f"/staff/delegates/{delegate.public_id}"
    login("desk")
    page = client.get(url).get_data(as_text=True)
    assert "•••907" in page and NUMBER not in page and DOB not in page
    assert "France (FR)" in page and "passport" in page
    edit = client.get(url + "/edit").get_data(as_text=True)
    assert NUMBER not in edit and "On file: •••907" in edit
    login("admin", email="admin@forum.test")
    page = client.get(url).get_data(as_text=True)
    assert NUMBER in page and DOB in page and EXPIRY in page


def test_may_see_identity_roles(app):
    from registration.auth import may_see_identity
    from registration.services.identity import mask

    class User:
        is_authenticated = True

        def __init__(self, role: str) -> None:
            self.role = role

    assert may_see_identity(User("admin")) and may_see_identity(User("vetting"))
    assert not may_see_identity(User("desk")) and not may_see_identity(User("scanner"))
    assert mask("E48213907") == "•••907" and mask("") == "" and mask("AB") == "•••"


def test_scanner_snapshot_never_holds_identity(app_ctx, make_delegate, identity_for):
    from registration.api.shapes import snapshot_json
    from registration.services.checkin.snapshot import snapshot

    identity_for("government")
    make_delegate(status="approved", **IDENTITY)
    data = json.dumps(snapshot_json(snapshot()))
    assert '"status": "approved"' in data  # the delegate is in it
    for secret in (NUMBER, DOB, EXPIRY, "907", "date_of_birth", "document"):
        assert secret not in data


def test_delegate_manages_exports_and_erases_their_identity(app, client, get_csrf,
                                                           make_delegate, identity_for):
    from registration.services.manage_links import make_token

    identity_for("government")
    with app.app_context():
        delegate = make_delegate(email="own@example.org")  # nominated without it
        token = make_token(delegate)
        assert delegate.vetting_status == "incomplete"
    base = f"/manage/{token}"
    show = client.get(base).get_data(as_text=True)
    assert "Identity data is missing" in show
    form_page = client.get(base + "/edit").get_data(as_text=True)
    assert 'name="document_number"' in form_page
    data = {"csrf_token": get_csrf(base + "/edit"), "honorific": "Dr.", "given_name": "Given1",
            "family_name": "Wang", "organisation": "Ministry of Public Security",
            "position": "Director", "country": "CN", "email": "own@example.org",
            "phone": "+86 138 0013 8000", "ministry": "MPS", **IDENTITY}
    saved = client.post(base + "/edit", data=data)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert stored(app, "own@example.org").vetting_status == "pending"
    show = client.get(base).get_data(as_text=True)
    assert "•••907" in show and NUMBER not in show  # masked here too: the link is a key

    exported = client.get(base + "/export.json").get_json()
    assert exported["identity"] == IDENTITY

    with app.app_context():
        db.session.get(Delegate, delegate.id).vetting_note = "Is " + NUMBER + " still valid?"
        db.session.add(VettingRequest(delegate_id=delegate.id, question="Is it still valid?",
                                      answer="Yes, " + NUMBER, requested_by="vetting"))
        db.session.commit()
    erase = client.post(base + "/erase", data={"csrf_token": get_csrf(base + "/erase"),
                                               "confirm": "y"})
    assert erase.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DelegateIdentity)) == 0
        assert db.session.scalar(sa.text("SELECT vetting_note FROM delegate")) is None
        assert db.session.execute(sa.text(
            "SELECT question, answer FROM vetting_request")).one() == (None, None)


# --------------------------------------------------------------------------- vetting rule


def test_a_cleared_delegate_whose_document_changes_goes_back_to_pending(app_ctx,
                                                                         make_delegate,
                                                                         identity_for):
    from registration.services.identity import save_identity

    identity_for("government")
    delegate = make_delegate(**IDENTITY)
    delegate.vetting_status = "cleared"
    assert save_identity(delegate, {"document_number": NUMBER}) == []  # same: no change
    assert delegate.vetting_status == "cleared"
    assert save_identity(delegate, {"document_number": "F12345678"}) == ["document_number"]
    assert delegate.vetting_status == "pending"
    db.session.commit()
    hits = db.session.scalar(sa.select(DelegateIdentity.document_number_hash))
    from registration.data_crypto import app_keyring
    assert hits == app_keyring().keyed_hash("F12345678")


# --------------------------------------------------------------------------- settings page


SETTINGS = {
    "name_en": "Global Public Safety Cooperation Forum", "name_zh": "全球公共安全合作论坛",
    "starts_on": "2026-12-08", "ends_on": "2026-12-10", "venue_en": "Convention Centre",
    "venue_zh": "会议中心", "city_en": "Lianyungang", "city_zh": "连云港",
    "timezone": "Asia/Shanghai", "organiser_name": "Forum Secretariat",
    "contact_email": "contact@forum-secretariat.org", "privacy_en": "", "privacy_zh": "",
}


def test_settings_page_switches_identity_vetting_and_photo(app, client, login, get_csrf):
    login("admin", email="admin@forum.test")
    page = client.get("/staff/settings").get_data(as_text=True)
    assert 'name="identity_categories"' in page and 'name="vetting_required"' in page
    data = {"csrf_token": get_csrf("/staff/settings"), **SETTINGS,
            "identity_categories": ["government", "expert"], "vetting_required": "y",
            "photo_required": "y", "identity_retention_days": "45"}
    response = client.post("/staff/settings", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        edition = marked_current()
        assert edition is not None
        assert edition.identity_categories == ["government", "expert"]
        assert edition.vetting_required and edition.photo_required
        assert edition.identity_retention_days == 45
    page = client.get("/staff/settings").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="vetting_required"[^>]*>', page)
    assert box is not None and "checked" in box.group(0)
    assert 'value="45"' in page
    bad = client.post("/staff/settings", data={**data, "identity_retention_days": "0"})
    assert bad.status_code == 422 and "Enter a number of days, at least 1." in bad.get_data(
        as_text=True)
    off = client.post("/staff/settings", data={k: v for k, v in data.items()
                                               if k not in ("vetting_required",
                                                            "identity_categories")})
    assert off.status_code == 303
    with app.app_context():
        edition = marked_current()
        assert edition is not None and not edition.vetting_required
        assert edition.identity_categories == [] and edition.identity_retention_days == 45


def test_switching_identity_on_holds_back_those_without_it(app, client, login, get_csrf,
                                                           make_delegate, runner):
    without, scholar = make_delegate(), make_delegate("scholar")  # stored, detached
    assert runner.invoke(args=["editions", "settings", "--identity", "government"]
                         ).exit_code == 0
    with app.app_context():
        assert db.session.get(Delegate, without.id).vetting_status == "incomplete"
        assert db.session.get(Delegate, scholar.id).vetting_status == "pending"
    assert runner.invoke(args=["editions", "settings", "--identity", "none"]).exit_code == 0
    with app.app_context():
        assert db.session.get(Delegate, without.id).vetting_status == "pending"


# --------------------------------------------------------------------------- keys, purge


def test_new_key_and_rotation_reencrypt_and_rehash(app, runner, make_delegate,
                                                   identity_for):
    from registration.data_crypto import app_keyring, decode_key, key_id

    identity_for("government")
    with app.app_context():
        make_delegate(**IDENTITY)
        old_id = app_keyring().current_id
        old_key = app.config.get("DATA_ENCRYPTION_KEY") or Path(
            app.config["INSTANCE_DIR"], "data_encryption_key").read_text().strip()
    made = runner.invoke(args=["privacy", "new-key"])
    assert made.exit_code == 0
    new_key = made.output.strip()
    assert len(decode_key(new_key)) == 32

    # Not yet configured: rotating with only the new key cannot read the old values.
    app.config["DATA_ENCRYPTION_KEY"] = new_key
    app.extensions.pop("data_keyring", None)
    refused = runner.invoke(args=["privacy", "rotate-key"])
    assert refused.exit_code == 1 and "DATA_ENCRYPTION_OLD_KEYS" in refused.output
    assert "Nothing was changed" in refused.output

    app.config["DATA_ENCRYPTION_OLD_KEYS"] = old_key
    app.extensions.pop("data_keyring", None)
    done = runner.invoke(args=["privacy", "rotate-key"])
    assert done.exit_code == 0, done.output
    assert "3 values re-encrypted, 1 keyed hash recomputed" in done.output
    assert re.search(r"delegate_identity +1 row:", done.output), done.output
    with app.app_context():
        raw = db.session.execute(sa.text(
            "SELECT date_of_birth, document_number, document_expiry, document_number_hash "
            "FROM delegate_identity")).one()
        new_id = key_id(decode_key(new_key))
        assert all(v.startswith(f"e1.{new_id}.") for v in raw[:3]) and new_id != old_id
        assert raw[3] == app_keyring().keyed_hash(NUMBER)
        audit = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.action == "data_key_rotated"))
        assert audit is not None and audit.details["reencrypted"] == 3
    # The old key can go: everything reads with the new one alone.
    app.config["DATA_ENCRYPTION_OLD_KEYS"] = ""
    app.extensions.pop("data_keyring", None)
    with app.app_context():
        assert db.session.scalar(sa.select(DelegateIdentity.document_number)) == NUMBER
    again = runner.invoke(args=["privacy", "rotate-key"])
    assert "0 values re-encrypted, 0 keyed hashes recomputed" in again.output


def test_the_periodic_sweep_purges_after_the_retention_period(app, make_delegate,
                                                               identity_for,
                                                               edition_settings):
    from registration.tasks.definitions import PURGE_IDENTITY, TASKS, purge_expired_identity
    from registration.tasks.dispatch import schedule

    assert schedule(app)["identity-purge"][0] == PURGE_IDENTITY  # on the periodic schedule
    assert TASKS[PURGE_IDENTITY] is purge_expired_identity
    identity_for("government")
    with app.app_context():
        make_delegate(**IDENTITY)
        make_delegate(**{**IDENTITY, "document_number": "F12345678"})
        slug = marked_current().slug
    today = datetime.now(UTC).date()
    edition_settings(starts_on=today - timedelta(days=42), ends_on=today - timedelta(days=40),
                     identity_retention_days=60)
    with app.app_context():
        assert purge_expired_identity() == {}  # kept until 60 days after the last day
    edition_settings(identity_retention_days=30)
    with app.app_context():
        assert purge_expired_identity() == {slug: 2}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DelegateIdentity)) == 0
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.action == "identity_purged"))
        assert entry is not None and entry.details == {
            "edition": slug, "count": 2, "reason": "retention", "visa_letters": 0,
            "vetting_requests": 0, "vetting_notes": 0, "watchlist_entries": 0,
            "watchlist_hits": 0}
        assert purge_expired_identity() == {}  # nothing left


def test_purge_identity_now_is_audited_with_the_count(app, runner, make_delegate,
                                                      identity_for, edition_settings):
    identity_for("government")
    with app.app_context():
        make_delegate(**IDENTITY)
        make_delegate(**{**IDENTITY, "document_number": "F12345678"})
    edition_settings(ends_on=datetime.now(UTC).date() + timedelta(days=5))
    early = runner.invoke(args=["privacy", "purge-identity"])
    assert early.exit_code == 1 and "has not ended yet" in early.output
    done = runner.invoke(args=["privacy", "purge-identity", "--force"])
    assert done.exit_code == 0, done.output
    assert "Identity data of 2 delegates" in done.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DelegateIdentity)) == 0
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.action == "identity_purged"))
        assert entry is not None and entry.details["count"] == 2
        assert marked_current().identity_purged_at is not None
    unknown = runner.invoke(args=["privacy", "purge-identity", "--edition", "nope"])
    assert unknown.exit_code == 1 and "No edition 'nope'" in unknown.output


def test_purge_identity_also_clears_letters_vetting_answers_and_the_watchlist(
        app, runner, make_delegate, identity_for, edition_settings, tmp_path):
    """What was copied from identity data or said about it goes with it."""
    from registration.models import StaffUser, VettingRequest, VisaLetter, WatchlistEntry
    from registration.services import vetting, visa_letters
    from registration.services.watchlist.entries import import_watchlist

    identity_for("government")
    today = datetime.now(UTC).date()
    edition_settings(starts_on=today - timedelta(days=3), ends_on=today - timedelta(days=1),
                     letter_organiser_en="Forum Secretariat", letter_signatory_en="Li Wei",
                     letter_signatory_title_en="Secretary-General")
    with app.app_context():
        delegate = make_delegate(**{**IDENTITY, "nationality": "FR"})
        staff = db.session.scalars(sa.select(StaffUser)).first() or StaffUser(
            email="desk@forum.test", password_hash="x", role="desk")
        db.session.add(staff)
        db.session.commit()
        starts = marked_current().starts_on
        letter = visa_letters.request_letter(delegate, starts, starts)
        visa_letters.approve(letter, staff)
        vetting.decide(delegate, "more_info", "Send a copy of page 2 of " + NUMBER, staff)
        import_watchlist(b"family_name,given_name,date_of_birth,nationality,document_number,"
                         b"note\nDOE,John,1960-01-01,GB,AB123456,listed\n", "test", None)
        assert letter.holder_document_number == NUMBER
    done = runner.invoke(args=["privacy", "purge-identity"])
    assert done.exit_code == 0, done.output
    assert ("Identity data of 1 delegate of " in done.output and "deleted; also cleared: "
            "the holder's passport number and date of birth on 1 visa letter, 1 vetting "
            "question with the answers, 1 vetting note, 1 watchlist entry and 0 watchlist "
            "matches."
            in done.output), done.output
    with app.app_context():
        letter = db.session.scalars(sa.select(VisaLetter)).one()
        assert letter.holder_document_number is None and letter.holder_date_of_birth is None
        assert db.session.scalars(sa.select(VettingRequest)).one().question is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Delegate).where(
            Delegate.vetting_note.is_not(None))) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WatchlistEntry)) == 0
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.action == "identity_purged"))
        assert entry.details["visa_letters"] == 1 and entry.details["vetting_requests"] == 1
        assert entry.details["vetting_notes"] == 1
        assert entry.details["watchlist_entries"] == 1
