"""The vetting stage (issue 15, part 2): the gate at printing (desk, batch, kiosk) and at
the door (online, the PostgreSQL fast path, the offline snapshot), the vetting role and
its queue, decisions with their audit trail, a rejection revoking a printed badge, the
more_info round trip through the manage page, and the CLI exchange of files."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from sqlalchemy import select, text

from registration.api import views as api_views
from registration.extensions import db
from registration.models import (
    AuditEntry,
    Delegate,
    DelegateIdentity,
    OutboxMessage,
    Status,
    VettingRequest,
    VettingStatus,
)
from registration.models.status import refusal
from registration.services import devices, manage_links
from registration.services.badge_signing import token_for

IDENTITY = {"nationality": "FR", "date_of_birth": "1980-02-03", "document_type": "passport",
            "document_number": "X1234567", "document_country": "FR",
            "document_expiry": "2030-01-01"}


@pytest.fixture
def vetting_on(edition_settings):
    edition_settings(vetting_required=True)


def with_identity(delegate: Delegate, **values: str) -> Delegate:
    db.session.add(DelegateIdentity(delegate_id=delegate.id, **{**IDENTITY, **values}))
    db.session.commit()
    return delegate


def fresh(delegate: Delegate) -> Delegate:
    return db.session.get(Delegate, delegate.id)


def audits(delegate_id: int, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(
        AuditEntry.delegate_id == delegate_id, AuditEntry.action == action)
        .order_by(AuditEntry.id)))


def door_scan(client, token: str, code: str) -> dict:
    response = client.post("/api/v1/checkins", headers={"Authorization": f"Bearer {token}"},
                           json={"code": code, "checkpoint": "main",
                                 "nonce": uuid.uuid4().hex})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def flashes(client) -> str:
    with client.session_transaction() as session:
        return " ".join(message for _, message in session.get("_flashes", []))


# ------------------------------------------------------------------------- the one rule


def test_the_rule_for_every_status_and_vetting_combination():
    for status in Status:
        for vetting in VettingStatus:
            off = refusal(status, vetting, vetting_required=False)
            on = refusal(status, vetting, vetting_required=True)
            accredited = status in (Status.APPROVED, Status.BADGE_PRINTED, Status.CHECKED_IN)
            assert off == (None if accredited else "status")
            if not accredited:
                assert on == "status"
            else:
                assert on == (None if vetting == VettingStatus.CLEARED else "vetting")


# ------------------------------------------------------------------------- printing


def test_desk_print_waits_for_vetting_when_the_edition_requires_it(app, client, login,
                                                                    csrf_from, vetting_on,
                                                                    make_delegate):
    login("desk")
    waiting = make_delegate(status=Status.APPROVED)
    cleared = make_delegate(status=Status.APPROVED, vetting_status="cleared")
    page = client.get(f"/staff/delegates/{waiting.public_id}").get_data(as_text=True)
    assert '<dd class="vetting-status">pending</dd>' in page  # the desk sees why
    csrf = csrf_from(page)
    refused = client.post(f"/staff/delegates/{waiting.public_id}/badge.pdf",
                          data={"csrf_token": csrf, "layout": "a6"})
    assert refused.status_code == 303
    assert "No badge before vetting clears" in flashes(client)
    assert client.get(f"/staff/delegates/{waiting.public_id}/badge-preview.pdf"
                      ).status_code == 409
    printed = client.post(f"/staff/delegates/{cleared.public_id}/badge.pdf",
                          data={"csrf_token": csrf, "layout": "a6"})
    assert printed.status_code == 200 and printed.data.startswith(b"%PDF")
    with app.app_context():
        assert fresh(waiting).printed_at is None and fresh(waiting).status == "approved"
        assert fresh(cleared).status == Status.BADGE_PRINTED.value
    # Batch printing counts (and prints) only the cleared.
    make_delegate(status=Status.APPROVED, vetting_status="cleared")
    make_delegate(status=Status.APPROVED, vetting_status="more_info")
    batch = client.get("/staff/print?unprinted=1").get_data(as_text=True)
    assert "1 badge will be printed" in batch


def test_nothing_to_print_says_that_vetting_holds_the_badges_back(app, client, runner, login,
                                                                 csrf_from, vetting_on,
                                                                 make_delegate, tmp_path):
    make_delegate(status=Status.APPROVED)
    make_delegate(status=Status.APPROVED, vetting_status="more_info", category="expert")
    make_delegate(status=Status.SUBMITTED)  # not accredited: not counted
    out = tmp_path / "badges.pdf"
    result = runner.invoke(args=["badges", "print", "--unprinted", "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert ("No badge to print: 2 accredited delegates are waiting for vetting. "
            "Nothing printed.") in result.output
    login("desk")
    csrf = csrf_from(client.get("/staff/print").get_data(as_text=True))
    page = client.post("/staff/print", data={"csrf_token": csrf, "layout": "a4-4up",
                                             "unprinted": "1"})
    assert page.status_code == 400
    assert "No badge to print: 2 accredited delegates are waiting for vetting." in \
        page.get_data(as_text=True)
    one = runner.invoke(args=["badges", "print", "--category", "expert", "-o", str(out)])
    assert "No badge to print: 1 accredited delegate is waiting for vetting." in one.output
    none = runner.invoke(args=["badges", "print", "--category", "ngo", "-o", str(out)])
    assert "No accredited delegate matches this selection. Nothing printed." in none.output


def test_vetting_off_prints_and_admits_as_before(app, client, login, csrf_from,
                                                 make_delegate):
    login("desk")
    delegate = make_delegate(status=Status.APPROVED)  # vetting "pending", but not required
    csrf = csrf_from(client.get(f"/staff/delegates/{delegate.public_id}").get_data(
        as_text=True))
    assert client.post(f"/staff/delegates/{delegate.public_id}/badge.pdf",
                       data={"csrf_token": csrf, "layout": "a6"}).status_code == 200
    with app.app_context():
        token = devices.issue("Door 1")[1]
        code = token_for(fresh(delegate))
    assert door_scan(client, token, code)["status"] == "checked_in"


def test_kiosk_refuses_a_delegate_waiting_for_vetting(app, client, runner, vetting_on,
                                                      make_delegate):
    assert runner.invoke(args=["printers", "add", "K", "ipp://127.0.0.1:9/ipp/print",
                               "--layout", "a6"]).exit_code == 0
    issued = runner.invoke(args=["devices", "issue", "Kiosk", "--kiosk", "--printer", "K"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    waiting = make_delegate(status=Status.APPROVED, vetting_status="pending")
    with app.app_context():
        code = token_for(fresh(waiting))
    for path in ("lookup", "print"):
        response = client.post(f"/api/v1/kiosk/{path}", json={"code": code},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403
        body = response.get_json()
        assert body["error"] == "not_accredited" and body["detail"] == "vetting"
    with app.app_context():
        assert fresh(waiting).printed_at is None


# ------------------------------------------------------------------------- the door


def test_door_answers_not_accredited_with_reason_vetting_online(app, client, vetting_on,
                                                                make_delegate):
    waiting = make_delegate(status=Status.BADGE_PRINTED, printed=True)
    asked = make_delegate(status=Status.APPROVED, vetting_status="more_info")
    cleared = make_delegate(status=Status.BADGE_PRINTED, printed=True,
                            vetting_status="cleared")
    submitted = make_delegate(status=Status.SUBMITTED, vetting_status="cleared")
    with app.app_context():
        token = devices.issue("Door 1")[1]
        codes = [token_for(fresh(d)) for d in (waiting, asked, cleared, submitted)]
    answers = [door_scan(client, token, code) for code in codes]
    assert [(a["status"], a["reason"]) for a in answers] == [
        ("not_accredited", "vetting"), ("not_accredited", "vetting"), ("checked_in", None),
        ("not_accredited", None)]
    with app.app_context():
        assert fresh(waiting).status == Status.BADGE_PRINTED.value  # not checked in
        assert fresh(cleared).status == Status.CHECKED_IN.value


def test_fast_path_refuses_uncleared_in_its_one_statement(app, client, vetting_on,
                                                          make_delegate, monkeypatch):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the fast path is for PostgreSQL (TEST_DATABASE_URL)")

    def refuse(*args, **kwargs):
        raise AssertionError("the full path was used")

    monkeypatch.setattr(api_views, "check_in", refuse)
    waiting = make_delegate(status=Status.BADGE_PRINTED, printed=True)
    cleared = make_delegate(status=Status.APPROVED, vetting_status="cleared")
    with app.app_context():
        token = devices.issue("Door 2")[1]
        waiting_code, cleared_code = token_for(fresh(waiting)), token_for(fresh(cleared))
    answer = door_scan(client, token, waiting_code)
    assert (answer["status"], answer["reason"]) == ("not_accredited", "vetting")
    assert answer["delegate"]["reference"] == waiting.reference
    assert door_scan(client, token, cleared_code)["status"] == "checked_in"
    with app.app_context():
        results = db.session.scalars(text("SELECT result FROM scan ORDER BY id")).all()
        assert results == ["not_accredited", "checked_in"]
        assert fresh(waiting).status == Status.BADGE_PRINTED.value


def test_offline_snapshot_lists_the_uncleared_as_refused_with_reason(app, client,
                                                                     vetting_on,
                                                                     make_delegate):
    waiting = make_delegate(status=Status.APPROVED, given_name="Waiting")
    cleared = make_delegate(status=Status.APPROVED, vetting_status="cleared",
                            given_name="Cleared")
    cancelled = make_delegate(status=Status.CANCELLED, vetting_status="cleared")
    with app.app_context():
        token = devices.issue("Door 3")[1]
    response = client.get("/api/v1/checkin-snapshot",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.get_json()
    entries = {d["public_id"]: d for d in body["delegates"]}
    assert entries[str(cleared.public_id)]["refused"] is False
    assert entries[str(waiting.public_id)] == {
        "public_id": str(waiting.public_id), "badge_serial": 1, "refused": True,
        "reason": "vetting"}  # no name: the door learns nothing about them
    assert entries[str(cancelled.public_id)]["reason"] == "status"
    assert "Waiting" not in response.get_data(as_text=True)
    # A typed reference code finds only admitted delegates offline.
    assert str(waiting.public_id) not in body["references"].values()
    assert str(cleared.public_id) in body["references"].values()


# ------------------------------------------------------------------------- the role


def test_vetting_role_sees_the_queue_with_identity_in_clear_and_nothing_else(
        app, client, login, vetting_on, make_delegate):
    login("vetting")
    delegate = make_delegate(status=Status.APPROVED, given_name="Amélie", family_name="Roux")
    with app.app_context():
        with_identity(fresh(delegate))
    assert client.get("/staff/").headers["Location"].endswith("/staff/vetting")
    queue = client.get("/staff/vetting").get_data(as_text=True)
    assert "Roux, Amélie" in queue and delegate.reference in queue
    record = client.get(f"/staff/vetting/{delegate.public_id}").get_data(as_text=True)
    assert "X1234567" in record and "1980-02-03" in record  # unmasked for vetting
    assert "<dd>passport</dd>" in record  # the document type by its label …
    zh = client.get(f"/staff/vetting/{delegate.public_id}",
                    headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "<dd>护照</dd>" in zh  # … in the reader's language
    assert '/checkin"' not in record and "/staff/delegates" not in record  # nav: vetting only
    for path in ("/staff/delegates", f"/staff/delegates/{delegate.public_id}", "/checkin",
                 "/staff/print", "/staff/export", "/staff/walk-in", "/staff/dashboard"):
        assert client.get(path).status_code == 403, path


def test_desk_cannot_open_the_vetting_queue(client, login):
    login("desk")
    assert client.get("/staff/vetting").status_code == 403


def test_staff_cli_creates_a_vetting_account(runner, app):
    result = runner.invoke(args=["staff", "create", "vet@forum.test", "--role", "vetting",
                                 "--password-stdin"], input="a long vetting password 1\n")
    assert result.exit_code == 0, result.output
    assert "vetting" in result.output


# ------------------------------------------------------------------------- decisions


def test_decisions_on_the_page_are_audited_and_filterable(app, client, login, csrf_from,
                                                          vetting_on, make_delegate):
    login("vetting", email="officer@vetting.test")
    delegate = make_delegate(status=Status.APPROVED)
    path = f"/staff/vetting/{delegate.public_id}"
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    missing = client.post(path, data={"csrf_token": csrf})
    assert missing.status_code == 422
    no_note = client.post(path, data={"csrf_token": csrf, "decision": "more_info"})
    assert no_note.status_code == 422
    assert "Say what information is needed" in no_note.get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf, "decision": "cleared",
                                   "note": "Checked against the list"})
    assert done.status_code == 303
    cleared = client.get("/staff/vetting?status=cleared").get_data(as_text=True)
    assert delegate.reference in cleared
    assert delegate.reference not in client.get("/staff/vetting").get_data(as_text=True)
    with app.app_context():
        stored = fresh(delegate)
        assert stored.vetting_status == "cleared" and stored.vetted_by == \
            "staff:officer@vetting.test"
        [entry] = audits(delegate.id, "vetting")
        assert entry.details == {"vetting_from": "pending", "vetting_to": "cleared",
                                 "note_given": True}  # the text stays on the delegate
        assert stored.vetting_note == "Checked against the list"
        assert entry.actor == "staff:officer@vetting.test"
        assert fresh(delegate).status == Status.APPROVED.value  # the status machine: untouched
    history = client.get(path).get_data(as_text=True)
    assert "pending → cleared (with a note)" in history
    assert "Checked against the list" in history  # the note, shown once, above


def test_incomplete_identity_cannot_be_cleared(app, client, login, csrf_from, vetting_on,
                                               make_delegate):
    login("vetting")
    delegate = make_delegate(status=Status.APPROVED, vetting_status="incomplete")
    path = f"/staff/vetting/{delegate.public_id}"
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    refused = client.post(path, data={"csrf_token": csrf, "decision": "cleared"})
    assert refused.status_code == 422
    assert "cannot be cleared yet" in refused.get_data(as_text=True)
    with app.app_context():
        assert fresh(delegate).vetting_status == "incomplete"
        assert audits(delegate.id, "vetting") == []


def test_rejection_after_printing_revokes_the_badge_at_the_door(app, client, login,
                                                                 csrf_from, vetting_on,
                                                                 make_delegate):
    delegate = make_delegate(status=Status.BADGE_PRINTED, printed=True,
                             vetting_status="cleared")
    with app.app_context():
        token = devices.issue("Door 4")[1]
        old_code = token_for(fresh(delegate))
    login("vetting")
    path = f"/staff/vetting/{delegate.public_id}"
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    assert client.post(path, data={"csrf_token": csrf, "decision": "rejected",
                                   "note": "Listed"}).status_code == 303
    with app.app_context():
        stored = fresh(delegate)
        assert stored.badge_serial == 2 and stored.vetting_status == "rejected"
        assert audits(delegate.id, "vetting")[-1].details["revoked_serial"] == 1
        snapshot_token = devices.issue("Door 5")[1]
    assert door_scan(client, token, old_code)["status"] == "revoked"
    # Offline too: the snapshot carries the new serial, so the old QR is revoked there.
    snap = client.get("/api/v1/checkin-snapshot",
                      headers={"Authorization": f"Bearer {snapshot_token}"}).get_json()
    entry = next(d for d in snap["delegates"] if d["public_id"] == str(delegate.public_id))
    assert entry["badge_serial"] == 2 and entry["refused"] is True


# ------------------------------------------------------------------------- more_info


def test_more_info_mails_the_manage_link_and_the_answer_returns_to_pending(
        app, client, login, csrf_from, vetting_on, make_delegate, mail_text):
    delegate = make_delegate(status=Status.APPROVED, email="amelie@example.org")
    login("vetting")
    path = f"/staff/vetting/{delegate.public_id}"
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    question = "Please confirm your employer since 2020."
    assert client.post(path, data={"csrf_token": csrf, "decision": "more_info",
                                   "note": question}).status_code == 303
    with app.app_context():
        [mail] = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "more_info")).all()
        assert mail.recipient == "amelie@example.org"
        stored = fresh(delegate)
        assert stored.vetting_status == "more_info"
        token = manage_links.make_token(stored)
    # The message carries the manage link (rendered as the outbox would send it).
    from registration.services.mail.outbox import materialise
    with app.app_context():
        mail = db.session.get(OutboxMessage, mail.id)
        materialise(mail)
        body = mail_text(mail.message)
        assert "/manage/" in body and question not in body  # the question stays on the page

    client.post("/staff/logout", data={"csrf_token": csrf})
    page = client.get(f"/manage/{token}").get_data(as_text=True)
    assert question in page
    csrf = csrf_from(page)
    empty = client.post(f"/manage/{token}/vetting", data={"csrf_token": csrf, "answer": ""})
    assert empty.status_code == 422
    answer = "Ministry of Interior, since March 2019; passport X7654321 attached."
    sent = client.post(f"/manage/{token}/vetting", data={"csrf_token": csrf,
                                                         "answer": answer})
    assert sent.status_code == 303
    assert question not in client.get(f"/manage/{token}").get_data(as_text=True)
    with app.app_context():
        assert fresh(delegate).vetting_status == "pending"
        [request] = db.session.scalars(select(VettingRequest)).all()
        assert request.answer == answer and request.answered_at is not None
        raw = db.session.execute(text("SELECT question, answer FROM vetting_request")).one()
        assert "X7654321" not in raw.answer and question not in raw.question  # encrypted
        assert audits(delegate.id, "vetting_answered")
    # Answering again: nothing is asked any more.
    again = client.post(f"/manage/{token}/vetting", data={"csrf_token": csrf,
                                                          "answer": "more"})
    assert again.status_code == 303
    login("vetting", email="second@vetting.test")
    record = client.get(path).get_data(as_text=True)
    assert answer in record  # the officer reads the answer


def test_more_info_for_a_nominee_goes_to_the_focal_point(app, client, runner, csrf_from,
                                                         form_data, login, vetting_on):
    """A nominee without an address of their own: the request (with the nominee's manage
    link) goes to the focal point, who answers for them."""
    created = runner.invoke(args=["delegations", "create", "Atlantis", "--country", "FR",
                                  "--focal-point", "fp@atlantis.example", "--quota",
                                  "government=2"])
    assert created.exit_code == 0, created.output
    link = "/delegation/signin/" + created.output.split("/delegation/signin/")[1].split()[0]
    page = client.get(link)
    assert client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))}
                       ).status_code == 303
    nominate = client.get("/delegation/nominate").get_data(as_text=True)
    data = form_data(csrf_from(nominate), "government", given_name="Nomi",
                     family_name="Nee", email="", country="FR", delegation="FR",
                     head_of_delegation=None)
    assert client.post("/delegation/nominate", data=data).status_code == 303
    with app.app_context():
        nominee = db.session.scalars(select(Delegate).where(
            Delegate.given_name == "Nomi")).one()
        public_id = nominee.public_id
    login("vetting")
    path = f"/staff/vetting/{public_id}"
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    assert client.post(path, data={"csrf_token": csrf, "decision": "more_info",
                                   "note": "Date of birth?"}).status_code == 303
    with app.app_context():
        [mail] = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "more_info")).all()
        assert mail.recipient == "fp@atlantis.example"
        [request] = db.session.scalars(select(VettingRequest)).all()
        assert request.mailed_to == "fp@atlantis.example"


# ------------------------------------------------------------------------- the exchange


def read_csv(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, rows: list[tuple[str, ...]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(("reference", "decision", "note"))
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def test_export_import_round_trip_all_or_nothing(app, runner, tmp_path, vetting_on,
                                                 make_delegate):
    with app.app_context():
        a = with_identity(make_delegate(status=Status.APPROVED, given_name="Ivan",
                                        family_name="Petrov", native_name="Иван Петров",
                                        country="RU"),
                          nationality="RU", document_number="7512345678")
        b = make_delegate(status=Status.SUBMITTED, given_name="Mei", family_name="Li",
                          native_name="李梅")
        c = make_delegate(status=Status.APPROVED, vetting_status="incomplete")
        done = make_delegate(status=Status.APPROVED, vetting_status="cleared")
        refs = {"a": a.reference, "b": b.reference, "c": c.reference,
                "done": done.reference}
    out = tmp_path / "batch.csv"
    result = runner.invoke(args=["vetting", "export", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert [r["reference"] for r in rows] == [refs["a"], refs["b"]]  # pending only
    assert list(rows[0]) == ["reference", "given_name", "family_name", "native_name",
                             "date_of_birth", "nationality", "document_type",
                             "document_number", "document_country", "document_expiry",
                             "organisation", "position", "delegation", "category",
                             "vetting_status"]
    assert rows[0]["native_name"] == "Иван Петров"
    assert rows[0]["document_number"] == "7512345678"
    assert rows[0]["date_of_birth"] == "1980-02-03" and rows[0]["nationality"] == "RU"
    assert rows[1]["native_name"] == "李梅" and rows[1]["document_number"] == ""
    every = runner.invoke(args=["vetting", "export", "-o", str(out), "--status", "all"])
    assert every.exit_code == 0 and len(read_csv(out)) == 4

    results = tmp_path / "results.csv"
    write_csv(results, [(refs["a"], "cleared", ""), (refs["b"], "maybe", ""),
                        (refs["c"], "cleared", ""), ("GPS-ZZZZ-ZZZZ", "rejected", ""),
                        (refs["a"], "rejected", "dup"), (refs["done"], "more_info", "")])
    bad = runner.invoke(args=["vetting", "import", str(results)])
    assert bad.exit_code == 1
    report = bad.output
    assert "row 3: decision: The decision must be cleared, rejected or more_info." in report
    assert "row 4: decision: The identity data is incomplete" in report
    assert "row 5: reference: No delegate GPS-ZZZZ-ZZZZ" in report
    assert f"row 6: reference: {refs['a']} is already on row 2." in report
    assert "row 7: decision: Say what information is needed" in report
    assert "Nothing imported: 5 of 6 rows have errors" in report
    # One report in row order, although rows 4 and 7 are found wrong by a later check.
    assert [int(n) for n in re.findall(r"^row (\d+):", report, re.M)] == [3, 4, 5, 6, 7]
    with app.app_context():
        assert fresh(a).vetting_status == "pending"  # all or nothing
        assert not db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "vetting")).all()

    write_csv(results, [(refs["a"].lower().replace("-", ""), "cleared", "ok"),
                        (refs["b"], "more_info", "Which ministry?"),
                        (refs["c"], "rejected", "no identity given")])
    good = runner.invoke(args=["vetting", "import", str(results)])
    assert good.exit_code == 0, good.output
    assert "3 vetting decisions recorded" in good.output
    with app.app_context():
        assert [fresh(d).vetting_status for d in (a, b, c)] == ["cleared", "more_info",
                                                                 "rejected"]
        assert len(db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "vetting")).all()) == 3
        assert db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.in_(("vetting_export", "vetting_import")))).all() == [
            "vetting_export", "vetting_export", "vetting_import"]


def test_import_refuses_a_file_without_the_columns(runner, tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("ref,verdict\nA,cleared\n", encoding="utf-8")
    result = runner.invoke(args=["vetting", "import", str(bad)])
    assert result.exit_code == 1
    assert "Missing columns: reference, decision, note" in result.output
    missing = runner.invoke(args=["vetting", "import", str(tmp_path / "none.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


@pytest.mark.parametrize(("text", "message"), [
    ("reference,decision,note,decision\nGPS-AAAA-BBBB,rejected,x,cleared\n",
     "A column appears twice: decision."),
    ("reference,decision,note\nGPS-AAAA-BBBB,cleared,ok,extra\n",
     "Row 2 has more cells than the header has columns."),
])
def test_import_refuses_an_ambiguous_file(app, runner, tmp_path, make_delegate, text, message):
    """A security decision is never read from a column guessed among two."""
    make_delegate(status="approved")
    bad = tmp_path / "x.csv"
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["vetting", "import", str(bad)])
    assert result.exit_code == 1 and message in result.output


# ------------------------------------------------------------------------- the note at rest

PAGE_NUMBER = "JP6433012"  # numbers no other test writes: the database file is shared
FILE_NUMBER = "KQ7710358"


def test_the_note_is_encrypted_and_the_audit_trail_does_not_repeat_it(
        app, client, login, csrf_from, runner, tmp_path, vetting_on, make_delegate,
        stored_bytes):
    asked = make_delegate(status=Status.APPROVED, email="asked@example.org")
    filed = make_delegate(status=Status.APPROVED, email="filed@example.org")
    silent = make_delegate(status=Status.APPROVED, email="silent@example.org")
    login("vetting")
    path = f"/staff/vetting/{asked.public_id}"
    question = f"Please send a copy of passport {PAGE_NUMBER}"
    assert client.post(path, data={"csrf_token": csrf_from(client.get(path).get_data(
        as_text=True)), "decision": "more_info", "note": question}).status_code == 303
    results = tmp_path / "results.csv"
    write_csv(results, [(filed.reference, "rejected", f"Listed under passport {FILE_NUMBER}"),
                        (silent.reference, "cleared", "")])
    imported = runner.invoke(args=["vetting", "import", str(results)])
    assert imported.exit_code == 0, imported.output

    record = client.get(path).get_data(as_text=True)
    assert question in record  # the vetting officer reads it
    assert "pending → more information requested (with a note)" in record
    with app.app_context():
        loaded = fresh(asked)
        assert "vetting_note" not in loaded.__dict__  # deferred: lists do not decrypt it
        assert loaded.vetting_note == question
        assert fresh(filed).vetting_note == f"Listed under passport {FILE_NUMBER}"
        raw = dict(db.session.execute(text(
            "SELECT email, vetting_note FROM delegate")).tuples().all())
        assert raw["silent@example.org"] is None  # no note: no envelope
        assert raw["asked@example.org"].startswith("e1.")
        assert raw["filed@example.org"].startswith("e1.")
        details = {e.delegate_id: e.details for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "vetting"))}
        assert details[asked.id]["note_given"] is True
        assert details[filed.id]["note_given"] is True
        assert details[silent.id]["note_given"] is False
        assert all("note" not in d for d in details.values())
    stored = stored_bytes(app)
    assert b"asked@example.org" in stored  # the search does see the data
    for number in (PAGE_NUMBER, FILE_NUMBER):
        assert number.encode() not in stored, number


def test_rotate_key_reencrypts_the_note(make_app, make_delegate):
    from registration.data_crypto import app_keyring, new_key
    from registration.services import vetting

    old, new = new_key(), new_key()
    delegate = make_delegate(status=Status.APPROVED)
    before = make_app(DATA_ENCRYPTION_KEY=old)
    with before.app_context():
        vetting.decide(fresh(delegate), "rejected", f"Passport {PAGE_NUMBER} is reported lost",
                       None)
        old_id = app_keyring().current_id
        stored = db.session.scalar(text("SELECT vetting_note FROM delegate"))
        assert stored.split(".")[1] == old_id
    after = make_app(DATA_ENCRYPTION_KEY=new, DATA_ENCRYPTION_OLD_KEYS=old)
    rotated = after.test_cli_runner().invoke(args=["privacy", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    assert re.search(r"delegate +1 row: vetting_note 1", rotated.output), rotated.output
    only_new = make_app(DATA_ENCRYPTION_KEY=new)
    with only_new.app_context():
        stored = db.session.scalar(text("SELECT vetting_note FROM delegate"))
        assert stored.split(".")[1] == app_keyring().current_id != old_id
        assert db.session.scalar(select(Delegate.vetting_note)) == \
            f"Passport {PAGE_NUMBER} is reported lost"


def test_migration_encrypts_clear_notes_and_strips_them_from_the_audit(make_app, tmp_path):
    import json
    from datetime import UTC, datetime

    from flask_migrate import downgrade, upgrade

    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.sqlite3'}")
    clear = f"Please send a copy of passport {PAGE_NUMBER}"
    with app.app_context():
        upgrade(revision="0014_outbox_recipient_index")
        with db.engine.begin() as conn:
            now = datetime.now(UTC).replace(tzinfo=None)
            for n, note in ((1, clear), (2, "")):
                conn.execute(text(
                    "INSERT INTO delegate (id, public_id, reference, category, status, "
                    "source, honorific, given_name, family_name, native_name, badge_name, "
                    "organisation, position, country, email, email_key, phone, "
                    "dietary_needs, accessibility_needs, details, locale, search_text, "
                    "badge_serial, print_count, needs_reprint, created_at, updated_at, "
                    "edition_id, vetting_status, vetting_note, vetted_by) VALUES (:id, :u, "
                    ":ref, 'government', 'approved', 'self', '', 'Old', 'Row', '', '', '', "
                    "'', 'FR', :mail, :mail, '', '', '', '{}', 'en', '', 1, 0, 0, :t, :t, 1, "
                    "'more_info', :note, 'staff:old@vetting.test')"),
                    {"id": n, "u": uuid.uuid4().hex, "ref": f"GPS-MIGR-000{n}",
                     "mail": f"old{n}@example.org", "t": now, "note": note})
                conn.execute(text(
                    "INSERT INTO audit_entry (delegate_id, actor, action, details, "
                    "created_at, edition_id) VALUES (:id, 'staff:old@vetting.test', "
                    "'vetting', :d, :t, 1)"),
                    {"id": n, "t": now, "d": json.dumps({"vetting_from": "pending",
                                                         "vetting_to": "more_info",
                                                         "note": note})})
        upgrade()
        with db.engine.connect() as conn:
            notes = dict(conn.execute(text("SELECT id, vetting_note FROM delegate")).all())
            details = [json.loads(d) for d in conn.execute(text(
                "SELECT details FROM audit_entry ORDER BY delegate_id")).scalars()]
        assert notes[1].startswith("e1.") and PAGE_NUMBER not in notes[1]
        assert notes[2] is None
        assert details == [{"vetting_from": "pending", "vetting_to": "more_info",
                            "note_given": True},
                           {"vetting_from": "pending", "vetting_to": "more_info",
                            "note_given": False}]
        assert db.session.get(Delegate, 1).vetting_note == clear  # the model reads it
        db.session.remove()
        downgrade(revision="0014_outbox_recipient_index")  # the notes come back in clear
        with db.engine.connect() as conn:
            assert dict(conn.execute(text("SELECT id, vetting_note FROM delegate")).all()) \
                == {1: clear, 2: ""}
        upgrade()
        db.session.remove()
        db.engine.dispose()
