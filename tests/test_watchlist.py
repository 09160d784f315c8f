"""Watchlists: the import (all or nothing), matching across scripts and formats, matching
when a registration arrives and over everyone after an import, the review page for the
vetting role, encryption at rest and lookups across a key rotation."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from registration.data_crypto import app_keyring, new_key
from registration.extensions import db
from registration.models import AuditEntry, DelegateIdentity, WatchlistEntry, WatchlistHit
from registration.models.delegate import RecordSource
from registration.services.registration import register_delegate
from registration.validation import clean_record

HEADER = "family_name,given_name,date_of_birth,nationality,document_number,note\n"
WATCHLIST = HEADER + (
    "IVANOV,Sergei,1971-03-15,RU,,Interpol notice 2031\n"
    "WANG,Xiaoming,1980-07-01,CN,,Listed by agency B\n"
    "李,华,1985-02-11,CN,,Han characters on the list\n"
    "DOE,John,1960-01-01,GB,AB 123-456,Forged passport series\n"
)
_numbers = itertools.count(1)


def write(tmp_path: Path, text: str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_list(runner, tmp_path: Path, text: str = WATCHLIST, *args: str):
    return runner.invoke(args=["watchlist", "import", str(write(tmp_path, text)), *args])


def register(app, *, given: str, family: str, native: str = "", born: str | None = None,
             number: str | None = None, email: str | None = None):
    """A self-registration through the registration service, identity data stored with it
    in the same transaction (as the registration form does); returns its reference."""
    with app.app_context():
        clean, errors = clean_record({
            "category": "expert", "given_name": given, "family_name": family,
            "native_name": native, "organisation": "Institute", "position": "Fellow",
            "country": "FR", "email": email or f"person{next(_numbers)}@example.org",
            "phone": "+33 6 12 34 56 78", "expertise": "cybersecurity"},
            require_category_fields=False, require_consent=False)
        assert not errors, errors

        def attach(delegate):
            delegate.identity = DelegateIdentity(
                nationality="RU", date_of_birth=born, document_type="passport",
                document_number=number, document_country="RU", document_expiry="2032-01-01")

        delegate = register_delegate(clean, source=RecordSource.SELF, prepare=attach)
        return delegate.reference


def hits_of(app, reference: str) -> list[tuple[str, str, float]]:
    """(entry family name, kind, score) of a delegate's hits."""
    with app.app_context():
        rows = db.session.scalars(sa.select(WatchlistHit)).all()
        return sorted((h.entry.family_name or "", h.kind, h.score) for h in rows
                      if h.delegate.reference == reference)


def test_a_cyrillic_registration_matches_a_latin_entry_when_it_arrives(app, runner,
                                                                        tmp_path):
    assert import_list(runner, tmp_path).exit_code == 0
    reference = register(app, given="Сергей", family="Иванов", born="1971-03-15")
    [(family, kind, score)] = hits_of(app, reference)
    assert (family, kind) == ("IVANOV", "name_dob") and 0.9 <= score < 1


def test_chinese_characters_and_pinyin_match_both_ways(app, runner, tmp_path):
    assert import_list(runner, tmp_path).exit_code == 0
    # Han in the delegate's fields, pinyin on the list.
    han = register(app, given="小明", family="王", born="1980-07-01")
    # Only the native name in Han; Latin fields that are another name altogether.
    native = register(app, given="Tony", family="Wong", native="王小明", born="1980-07-01")
    # Pinyin from the delegate, Han characters on the list.
    pinyin = register(app, given="Hua", family="Li", born="1985-02-11")
    assert [k for _f, k, _s in hits_of(app, han)] == ["name_dob"]
    assert [f for f, _k, _s in hits_of(app, native)] == ["WANG"]
    assert [(f, k) for f, k, _s in hits_of(app, pinyin)] == [("李", "name_dob")]


def test_no_hit_on_a_near_miss(app, runner, tmp_path):
    assert import_list(runner, tmp_path).exit_code == 0
    other_birthday = register(app, given="Сергей", family="Иванов", born="1971-03-16")
    other_name = register(app, given="Sergei", family="Smirnov", born="1971-03-15")
    other_person = register(app, given="Wei", family="Zhang", native="张伟", born="1980-07-01")
    no_identity_data = register(app, given="Sergei", family="Ivanov", born=None)
    for reference in (other_birthday, other_name, other_person, no_identity_data):
        assert hits_of(app, reference) == [], reference


def test_the_document_number_matches_whatever_its_formatting(app, runner, tmp_path):
    assert import_list(runner, tmp_path).exit_code == 0
    # A different name and birthday: the number alone is a hit.
    reference = register(app, given="Jan", family="Novak", born="1990-05-05",
                         number="ab123456")
    assert hits_of(app, reference) == [("DOE", "document", 1.0)]
    assert hits_of(app, register(app, given="Jan", family="Novak", born="1990-05-05",
                                 number="AB123457")) == []


def test_importing_a_watchlist_matches_everyone_already_registered(app, runner, tmp_path,
                                                                    make_delegate):
    early = register(app, given="Sergey", family="Ivanov", born="1971-03-15")
    assert hits_of(app, early) == []  # no watchlist yet
    result = import_list(runner, tmp_path)
    assert result.exit_code == 0, result.output
    assert "4 watchlist entries imported" in result.output
    assert "1 new hit to review" in result.output
    assert [k for _f, k, _s in hits_of(app, early)] == ["name_dob"]
    # Matching again makes no second hit for the same pair.
    again = runner.invoke(args=["watchlist", "match"])
    assert again.exit_code == 0 and "0 new matches" in again.output
    listed = runner.invoke(args=["watchlist", "list"])
    assert "4  list.csv" in listed.output and "open 1" in listed.output


def test_identity_added_later_is_matched_on_its_commit(app, runner, tmp_path):
    assert import_list(runner, tmp_path).exit_code == 0
    reference = register(app, given="John", family="Doe", born=None)
    assert hits_of(app, reference) == []
    with app.app_context():
        from registration.models import Delegate

        delegate = db.session.scalars(sa.select(Delegate).where(
            Delegate.reference == reference)).one()
        delegate.identity.date_of_birth = "1960-01-01"  # the delegate completes their data
        db.session.commit()
    assert hits_of(app, reference) == [("DOE", "name_dob", 1.0)]


def test_a_bad_file_is_refused_whole_with_a_report_per_row(app, runner, tmp_path):
    text = HEADER + (
        "IVANOV,Sergei,1971-03-15,RU,,fine\n"
        "PETROV,Ivan,15/03/1971,RU,,date written the other way\n"
        "ORLOV,Oleg,1972-02-30,XX,,no such day and no such country\n"
        ",,,,,nothing to match on\n"
        "KOVAL,Anna,,UA,AB#12,bad number\n"
    )
    result = import_list(runner, tmp_path, text)
    assert result.exit_code == 1
    errors = result.stderr
    assert "row 3: date_of_birth: Write the date of birth as YYYY-MM-DD." in errors
    assert "row 4: date_of_birth: This date does not exist." in errors
    assert "row 4: nationality:" in errors
    assert "row 5: family_name: Give a name and a date of birth, or a document number." \
        in errors
    assert "row 6: document_number: A document number has letters and digits only." \
        in errors
    assert "row 2" not in errors
    assert "Nothing imported: 4 of 5 rows have errors." in errors
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(WatchlistEntry.id))) == 0
    wrong_columns = import_list(runner, tmp_path, "surname,born\nIVANOV,1971-03-15\n")
    assert wrong_columns.exit_code == 1 and "Unknown column(s): surname, born" \
        in wrong_columns.stderr


def test_the_watchlist_is_encrypted_at_rest(app, runner, tmp_path):
    assert import_list(runner, tmp_path).exit_code == 0
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM watchlist_entry")).mappings().all()
        assert len(rows) == 4
        dump = repr([dict(r) for r in rows])
        for clear in ("IVANOV", "Sergei", "1971-03-15", "AB 123-456", "AB123456", "Interpol",
                      "李"):
            assert clear not in dump
        assert all(r["family_name"].startswith("e1.") for r in rows)
        # …while the model reads it back.
        names = set(db.session.scalars(sa.select(WatchlistEntry.family_name)))
        assert names == {"IVANOV", "WANG", "李", "DOE"}


def test_lookups_still_match_after_a_key_rotation(make_app, tmp_path):
    old, new = new_key(), new_key()
    before = make_app(DATA_ENCRYPTION_KEY=old)
    assert import_list(before.test_cli_runner(), tmp_path).exit_code == 0
    after = make_app(DATA_ENCRYPTION_KEY=new, DATA_ENCRYPTION_OLD_KEYS=old)
    by_number = register(after, given="Jan", family="Novak", born="1990-05-05",
                         number="AB-123456")
    by_name = register(after, given="Sergei", family="Ivanov", born="1971-03-15")
    assert hits_of(after, by_number) == [("DOE", "document", 1.0)]
    assert [k for _f, k, _s in hits_of(after, by_name)] == ["name_dob"]
    # `privacy rotate-key` re-encrypts every EncryptedText column and rehashes the entries
    # (number and date of birth); then the old key can go.
    rotated = after.test_cli_runner().invoke(args=["privacy", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    with after.app_context():
        raw = db.session.execute(sa.text(
            "SELECT family_name, date_of_birth FROM watchlist_entry")).all()
        assert all(value.split(".")[1] == app_keyring().current_id
                   for row in raw for value in row if value)
    only_new = make_app(DATA_ENCRYPTION_KEY=new)
    later = register(only_new, given="Petr", family="Novak", born="1991-05-05",
                     number="ab 123 456")
    assert hits_of(only_new, later) == [("DOE", "document", 1.0)]


def test_the_vetting_role_reviews_hits_side_by_side(app, client, runner, tmp_path, login,
                                                    csrf_from):
    assert import_list(runner, tmp_path).exit_code == 0
    reference = register(app, given="Сергей", family="Иванов", born="1971-03-15",
                         number="X9876543")
    login("vetting")
    page = client.get("/staff/vetting/watchlist")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    card = html[html.index('class="card watchlist-hit"'):]
    for shown in ("Иванов", "IVANOV", "Сергей", "Sergei", "Ivanov Sergey", "1971-03-15",
                  "X9876543",
                  "Interpol notice 2031", reference, "similar name, same date of birth"):
        assert shown in card, shown
    hit_id = int(re.search(r'data-hit="(\d+)"', html).group(1))
    token = csrf_from(html)
    # Dismissing needs a reason.
    refused = client.post(f"/staff/vetting/watchlist/{hit_id}",
                          data={"csrf_token": token, "decision": "dismiss", "note": ""})
    assert refused.status_code == 422
    assert "Say why this is not the same person" in refused.get_data(as_text=True)
    kept = client.post(f"/staff/vetting/watchlist/{hit_id}",
                       data={"csrf_token": token, "decision": "keep", "note": "Same face"})
    assert kept.status_code == 303
    assert "to review (0)" in client.get("/staff/vetting/watchlist").get_data(as_text=True)
    kept_page = client.get("/staff/vetting/watchlist?state=kept").get_data(as_text=True)
    assert "kept flagged" in kept_page and "Same face" in kept_page
    dismissed = client.post(f"/staff/vetting/watchlist/{hit_id}", data={
        "csrf_token": token, "decision": "dismiss", "note": "Different passport photo"})
    assert dismissed.status_code == 303
    with app.app_context():
        hit = db.session.get(WatchlistHit, hit_id)
        assert hit.dismissed and hit.reviewed_by == "vetting@forum.test"
        raw_note = db.session.execute(sa.text("SELECT review_note FROM watchlist_hit")).scalar()
        assert raw_note.startswith("e1.") and "passport" not in raw_note
        assert hit.delegate.vetting_status == "pending"  # a flag, never a decision
        decisions = [e.details["decision"] for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "watchlist_hit_reviewed")
            .order_by(AuditEntry.id))]
        assert decisions == ["kept", "dismissed"]
    # A dismissed hit is not raised again by matching everyone again.
    assert "0 new matches" in runner.invoke(args=["watchlist", "match"]).output
    assert client.post("/staff/vetting/watchlist/999999",
                       data={"csrf_token": token, "decision": "keep"}).status_code == 404


@pytest.mark.parametrize("role", ["desk", "scanner"])
def test_other_roles_do_not_see_the_hits(app, client, login, role):
    login(role)
    assert client.get("/staff/vetting/watchlist").status_code == 403


def test_clear_removes_the_list_and_its_hits(app, runner, tmp_path):
    assert import_list(runner, tmp_path).exit_code == 0
    register(app, given="Sergei", family="Ivanov", born="1971-03-15")
    result = runner.invoke(args=["watchlist", "clear", "--yes"])
    assert result.exit_code == 0 and "4 watchlist entries removed" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(WatchlistHit.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(WatchlistEntry.id))) == 0
    replaced = import_list(runner, tmp_path, HEADER + "ROE,Jane,1950-01-01,,,\n", "--replace")
    assert replaced.exit_code == 0 and "1 watchlist entry imported" in replaced.output


def test_a_name_corrected_later_is_matched_on_its_commit(app, runner, tmp_path):
    assert import_list(runner, tmp_path).exit_code == 0
    reference = register(app, given="John", family="Dough", born="1960-01-01")
    assert hits_of(app, reference) == []
    with app.app_context():
        from registration.models import Delegate

        delegate = db.session.scalars(sa.select(Delegate).where(
            Delegate.reference == reference)).one()
        delegate.family_name = "Doe"  # the desk corrects the spelling
        db.session.commit()
    assert hits_of(app, reference) == [("DOE", "name_dob", 1.0)]


def test_each_edition_has_its_own_watchlist_and_a_purge_removes_it(app, runner, tmp_path):
    created = runner.invoke(args=["editions", "create", "2027", "--name", "Forum 2027",
                                  "--starts", "2027-12-07", "--ends", "2027-12-09"])
    assert created.exit_code == 0, created.output
    assert import_list(runner, tmp_path, WATCHLIST, "--edition", "2027").exit_code == 0
    assert "No watchlist in this edition." in runner.invoke(args=["watchlist", "list"]).output
    # The current edition's registrations are not matched against 2027's list.
    reference = register(app, given="Sergei", family="Ivanov", born="1971-03-15")
    assert hits_of(app, reference) == []
    assert "4 entries" in runner.invoke(args=["watchlist", "list", "--edition",
                                              "2027"]).output
    purged = runner.invoke(args=["editions", "purge", "2027", "--force"])
    assert purged.exit_code == 0, purged.output
    assert "4 watchlist entries" in purged.output
    assert "No watchlist in this edition." in runner.invoke(args=[
        "watchlist", "list", "--edition", "2027"]).output


def test_the_name_threshold_is_a_setting(make_app, tmp_path):
    strict = make_app(WATCHLIST_NAME_THRESHOLD=0.95)
    assert import_list(strict.test_cli_runner(), tmp_path).exit_code == 0
    # Сергей → "Sergey" against "Sergei": 0.93, a hit at the default 0.9 (see above).
    assert hits_of(strict, register(strict, given="Сергей", family="Иванов",
                                    born="1971-03-15")) == []
    assert [k for _f, k, _s in hits_of(strict, register(
        strict, given="Sergei", family="Ivanov", born="1971-03-15"))] == ["name_dob"]


def test_the_vetting_queue_flags_a_delegate_with_a_match_to_review(app, client, runner,
                                                                   tmp_path, login, csrf_from):
    assert import_list(runner, tmp_path).exit_code == 0
    reference = register(app, given="Сергей", family="Иванов", born="1971-03-15")
    register(app, given="Anna", family="Berg", born="1990-01-01")
    login("vetting")
    queue = client.get("/staff/vetting").get_data(as_text=True)
    flagged = queue[queue.index(f'data-reference="{reference}"'):]
    flagged = flagged[:flagged.index("</tr>")]
    assert "1 watchlist match" in flagged
    assert queue.count("watchlist match") == 1  # Anna Berg is not flagged
    with app.app_context():
        public_id = db.session.scalars(sa.select(WatchlistHit)).one().delegate.public_id
    record = client.get(f"/staff/vetting/{public_id}").get_data(as_text=True)
    assert "1 watchlist match awaits review" in record
    hits_page = client.get("/staff/vetting/watchlist").get_data(as_text=True)
    assert f"/staff/vetting/{public_id}" in hits_page  # the hit links to the decision page
    hit_id = int(re.search(r'data-hit="(\d+)"', hits_page).group(1))
    client.post(f"/staff/vetting/watchlist/{hit_id}", data={
        "csrf_token": csrf_from(hits_page), "decision": "dismiss", "note": "Other person"})
    assert "watchlist match" not in client.get("/staff/vetting").get_data(as_text=True)
    assert "awaits review" not in client.get(
        f"/staff/vetting/{public_id}").get_data(as_text=True)


def test_clearing_waits_for_the_review_of_a_watchlist_match(app, client, runner, tmp_path,
                                                           login, csrf_from):
    """A match is a flag, never a decision; but nobody may clear a delegate whose match
    nobody has looked at (page and file import alike). Rejecting or asking for more
    information stays possible."""
    assert import_list(runner, tmp_path).exit_code == 0
    ivanov = register(app, given="Сергей", family="Иванов", born="1971-03-15")
    wang = register(app, given="Xiaoming", family="Wang", born="1980-07-01")
    berg = register(app, given="Anna", family="Berg", born="1990-01-01")
    with app.app_context():
        from registration.models import Delegate

        public_id = db.session.scalars(sa.select(Delegate.public_id).where(
            Delegate.reference == ivanov)).one()
    login("vetting")
    path = f"/staff/vetting/{public_id}"
    token = csrf_from(client.get(path).get_data(as_text=True))
    refused = client.post(path, data={"csrf_token": token, "decision": "cleared"})
    assert refused.status_code == 422
    assert "Review the watchlist match first: /staff/vetting/watchlist" in \
        refused.get_data(as_text=True)
    results = write(tmp_path, f"reference,decision,note\n{berg},cleared,\n{ivanov},cleared,\n",
                    "results.csv")
    bad = runner.invoke(args=["vetting", "import", str(results)])
    assert bad.exit_code == 1
    assert ("row 3: decision: Not cleared: this delegate has a watchlist match nobody has "
            "reviewed yet. Review the watchlist match first") in bad.output
    ok = write(tmp_path, f"reference,decision,note\n{berg},cleared,\n{wang},rejected,listed\n",
               "ok.csv")
    assert runner.invoke(args=["vetting", "import", str(ok)]).exit_code == 0
    with app.app_context():
        from registration.models import Delegate

        status = dict(db.session.execute(sa.select(Delegate.reference,
                                                   Delegate.vetting_status)).tuples().all())
    assert status == {ivanov: "pending", wang: "rejected", berg: "cleared"}
    # Reviewed (here kept flagged: the vetting officer looked), the delegate may be cleared.
    with app.app_context():
        [hit_id] = [h.id for h in db.session.scalars(sa.select(WatchlistHit))
                    if h.delegate.reference == ivanov]
    assert client.post(f"/staff/vetting/watchlist/{hit_id}", data={
        "csrf_token": token, "decision": "keep", "note": "Checked with the agency"}
    ).status_code == 303
    assert client.post(path, data={"csrf_token": token, "decision": "cleared"}
                       ).status_code == 303
