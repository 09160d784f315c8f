"""Delegations and their focal points: `delegations create|list`, the emailed one-time
sign-in at /delegation/, nominating within the quota, substituting (the old badge refused
at the door, online and offline), the head of delegation, the Note Verbale upload, and a
focal point never seeing another delegation."""

from __future__ import annotations

import email
import email.policy
import io
import re
import uuid
from pathlib import Path

import sqlalchemy as sa
from reportlab.pdfgen import canvas

from registration.extensions import db
from registration.models import AuditEntry, Delegate, Delegation, OutboxMessage
from registration.services import devices as device_svc
from registration.services.badge_signing import token_for

FOCAL = "protocol@mfa.example.fr"


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def create(runner, name: str = "France", focal: str = FOCAL, quota: str = "government=2",
           *extra: str) -> str:
    result = runner.invoke(args=["delegations", "create", name, "--country", "FR",
                                 "--focal-point", focal, "--quota", quota, *extra])
    assert result.exit_code == 0, result.output
    found = re.search(r"https?://\S+/delegation/signin/\S+", result.output)
    assert found, result.output
    return path_of(found.group(0))


def sign_in(client, link: str, csrf_from) -> None:
    page = client.get(link)
    assert page.status_code == 200
    response = client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 303


def nominee(csrf: str, form_data, given: str, email_address: str | None, **extra) -> dict:
    data = form_data(csrf, "government", given_name=given, family_name="Martin",
                     email=email_address or "", country="FR", delegation="FR",
                     head_of_delegation=None, **extra)
    return data


def nominate(client, csrf_from, form_data, given: str, email_address: str | None,
             replaces: str = ""):
    url = "/delegation/nominate" + (f"?replaces={replaces}" if replaces else "")
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, data=nominee(csrf_from(page.get_data(as_text=True)), form_data,
                                         given, email_address))


def members(app, name: str = "France") -> list[Delegate]:
    with app.app_context():
        delegation = db.session.scalars(sa.select(Delegation).where(
            Delegation.name_en == name)).one()
        return list(db.session.scalars(sa.select(Delegate).where(
            Delegate.delegation_id == delegation.id).order_by(Delegate.id)))


def pdf(pages: int = 1) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out)
    for n in range(pages):
        c.drawString(72, 720, f"Note Verbale page {n + 1}")
        c.showPage()
    c.save()
    return out.getvalue()


def test_create_and_list(app, runner):
    link = create(runner, "France", FOCAL, "government=5,expert=2")
    with app.app_context():
        mail = db.session.scalars(sa.select(OutboxMessage)).one()
        assert mail.recipient == FOCAL
        body = email.message_from_bytes(bytes(mail.message),
                                        policy=email.policy.default).get_content()
        assert link in body
    listed = runner.invoke(args=["delegations", "list"])
    assert "France" in listed.output and "government 0/5" in listed.output
    assert "expert 0/2" in listed.output and FOCAL in listed.output
    for bad, message in ((["--quota", "royalty=2"], "Unknown category"),
                         (["--quota", "government=lots"], "whole number"),
                         (["--country", "ZZ"], "Unknown country")):
        args = ["delegations", "create", "Spain", "--country", "ES", "--focal-point",
                "a@b.example.org", *bad]
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and message in result.output, result.output
    again = runner.invoke(args=["delegations", "create", "France", "--country", "FR",
                                "--focal-point", FOCAL])
    assert again.exit_code == 1 and "already a delegation" in again.output
    assert "1 delegation." in runner.invoke(args=["delegations", "list"]).output


def test_sign_in_link_is_one_time_and_the_request_answer_is_the_same(app, runner, client,
                                                                      csrf_from):
    link = create(runner)
    assert client.get("/delegation/nominate").status_code == 302  # not signed in
    sign_in(client, link, csrf_from)
    assert "France" in client.get("/delegation/").get_data(as_text=True)
    other = app.test_client()
    assert other.get(link).status_code == 410  # used
    token = csrf_from(other.get("/delegation/").get_data(as_text=True))
    known = other.post("/delegation/", data={"csrf_token": token, "email": FOCAL})
    unknown = other.post("/delegation/", data={"csrf_token": token,
                                               "email": "stranger@example.org"})
    assert known.status_code == unknown.status_code == 200

    def strip(page: str) -> str:
        return page.replace(FOCAL, "X").replace("stranger@example.org", "X")

    assert strip(known.get_data(as_text=True)) == strip(unknown.get_data(as_text=True))
    with app.app_context():
        recipients = db.session.scalars(sa.select(OutboxMessage.recipient)).all()
    assert recipients == [FOCAL, FOCAL]


def test_quota_nomination_substitution_and_the_door(app, runner, client, csrf_from,
                                                    form_data):
    sign_in(client, create(runner, quota="government=2"), csrf_from)
    first = nominate(client, csrf_from, form_data, "Anne", "anne@mfa.example.fr")
    assert first.status_code == 303, first.get_data(as_text=True)
    # Without an email the nominee's mail goes to the focal point.
    second = nominate(client, csrf_from, form_data, "Bruno", None)
    assert second.status_code == 303, second.get_data(as_text=True)
    third = nominate(client, csrf_from, form_data, "Claire", "claire@mfa.example.fr")
    assert third.status_code == 422
    text = third.get_data(as_text=True)
    assert "The quota for Government official is 2 and 2 are nominated" in text or \
        "is 2 and 2 are nominated" in text
    anne, bruno = members(app)
    assert (anne.given_name, bruno.given_name) == ("Anne", "Bruno")
    assert bruno.email == FOCAL and anne.source == "nomination"
    # A nominee whose address is already registered is refused, nothing stored.
    dup = nominate(client, csrf_from, form_data, "Anne", "anne@mfa.example.fr")
    assert dup.status_code == 422 and len(members(app)) == 2
    page = client.get("/delegation/").get_data(as_text=True)
    assert anne.reference in page and "Bruno" in page

    # Accredited and printed, then substituted: the old badge no longer opens the door.
    with app.app_context():
        delegate = db.session.get(Delegate, anne.id)
        delegate.status = "badge_printed"
        db.session.commit()
        old_badge = token_for(delegate)
        device = device_svc.issue("Door")[1]
    door = app.test_client()
    answer = door.post("/api/v1/checkins", headers={"Authorization": f"Bearer {device}"},
                       json={"code": old_badge, "checkpoint": "main",
                             "nonce": uuid.uuid4().hex})
    assert answer.get_json()["status"] == "checked_in"
    substituted = nominate(client, csrf_from, form_data, "Denise", "denise@mfa.example.fr",
                           replaces=str(anne.public_id))
    assert substituted.status_code == 303, substituted.get_data(as_text=True)
    anne, bruno, denise = members(app)
    assert anne.status == "cancelled" and denise.status == "submitted"
    answer = door.post("/api/v1/checkins", headers={"Authorization": f"Bearer {device}"},
                       json={"code": old_badge, "checkpoint": "main",
                             "nonce": uuid.uuid4().hex})
    assert answer.get_json()["status"] in ("revoked", "not_accredited")
    snapshot = door.get("/api/v1/checkin-snapshot",
                        headers={"Authorization": f"Bearer {device}"}).get_json()
    entry = next(d for d in snapshot["delegates"] if d["public_id"] == str(anne.public_id))
    assert entry["refused"] is True
    with app.app_context():
        trail = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.delegate_id.in_([anne.id, denise.id]))).all()
    assert any(e.details.get("substituted_by") == denise.reference for e in trail)
    assert any(e.details.get("substitutes") == anne.reference for e in trail)
    assert "government 2/2" in runner.invoke(args=["delegations", "list"]).output


def test_head_of_delegation_only_one(app, runner, client, csrf_from, form_data):
    sign_in(client, create(runner, quota="government=3"), csrf_from)
    for name in ("Anne", "Bruno"):
        nominate(client, csrf_from, form_data, name, f"{name.lower()}@mfa.example.fr")
    anne, bruno = members(app)
    token = csrf_from(client.get("/delegation/").get_data(as_text=True))
    assert client.post("/delegation/head", data={"csrf_token": token,
                                                 "delegate": str(anne.public_id)}
                       ).status_code == 303
    second = client.post("/delegation/head", data={"csrf_token": token,
                                                   "delegate": str(bruno.public_id)},
                         follow_redirects=True)
    assert "already has a head of delegation" in second.get_data(as_text=True)
    anne, bruno = members(app)
    assert anne.details.get("head_of_delegation") is True
    assert not bruno.details.get("head_of_delegation")
    assert "head: " + anne.reference in runner.invoke(args=["delegations", "list"]).output


def test_letter_upload(app, runner, client, csrf_from):
    sign_in(client, create(runner), csrf_from)
    token = csrf_from(client.get("/delegation/").get_data(as_text=True))

    def upload(data: bytes, name: str = "note.pdf"):
        return client.post("/delegation/letter", data={
            "csrf_token": token, "letter": (io.BytesIO(data), name)},
            content_type="multipart/form-data")

    broken = upload(b"%PDF-1.4 this is not really a pdf", "fake.pdf")
    assert broken.status_code == 422
    assert "not a PDF that can be opened" in broken.get_data(as_text=True)
    big = upload(pdf() + b"\n%" + b"x" * (10 * 1024 * 1024), "big.pdf")
    assert big.status_code == 422 and "larger than 10 MB" in big.get_data(as_text=True)
    good = upload(pdf(2), "Note Verbale 12-2026.pdf")
    assert good.status_code == 303
    with app.app_context():
        delegation = db.session.scalars(sa.select(Delegation)).one()
        assert delegation.letter_name == "Note Verbale 12-2026.pdf"
        assert delegation.letter.startswith(b"%PDF")
        assert delegation.letter_size == len(delegation.letter) > 1000
    assert "letter: Note Verbale 12-2026.pdf" in runner.invoke(
        args=["delegations", "list"]).output


def test_a_focal_point_never_sees_another_delegation(app, runner, client, csrf_from,
                                                     form_data):
    other_link = create(runner, "Germany", "protokoll@aa.example.de", "government=2")
    other = app.test_client()
    sign_in(other, other_link, csrf_from)
    assert nominate(other, csrf_from, form_data, "Greta",
                    "greta@aa.example.de").status_code == 303
    [greta] = members(app, "Germany")
    sign_in(client, create(runner), csrf_from)
    page = client.get("/delegation/").get_data(as_text=True)
    assert "Greta" not in page and "Germany" not in page
    assert client.get(f"/delegation/nominate?replaces={greta.public_id}").status_code == 404
    token = csrf_from(page)
    assert client.post("/delegation/head", data={"csrf_token": token,
                                                 "delegate": str(greta.public_id)}
                       ).status_code == 404
    assert not members(app, "Germany")[0].details.get("head_of_delegation")


def test_desk_page_approves_changes_quotas_and_adds_focal_points(app, runner, client,
                                                                 csrf_from, form_data,
                                                                 login, tmp_path):
    focal = app.test_client()
    sign_in(focal, create(runner, quota="government=3"), csrf_from)
    for name in ("Anne", "Bruno", "Claire"):
        assert nominate(focal, csrf_from, form_data, name,
                        f"{name.lower()}@mfa.example.fr").status_code == 303
    create(runner, "Germany", "protokoll@aa.example.de", "government=1")
    anne, _bruno, claire = members(app)
    login("desk")
    page = client.get("/staff/delegations").get_data(as_text=True)
    assert "Nominations waiting" in page and anne.reference in page and "Germany" in page
    token = csrf_from(page)
    france = anne.delegation_id
    one = client.post(f"/staff/delegations/{france}/approve",
                      data={"csrf_token": token, "selected": str(anne.public_id)})
    assert one.status_code == 303
    assert [m.status for m in members(app)] == ["approved", "submitted", "submitted"]
    client.post(f"/staff/delegations/{france}/approve", data={"csrf_token": token, "all": "1"})
    assert [m.status for m in members(app)] == ["approved"] * 3
    printed = client.post(f"/staff/delegations/{france}/print",
                          data={"csrf_token": token, "layout": "a6"})
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(printed.data)
    cover = document[len(document) - 1].get_textpage().get_text_range()
    assert all(m.reference in cover for m in members(app))
    assert [m.status for m in members(app)] == ["badge_printed"] * 3
    again = client.post(f"/staff/delegations/{france}/print",
                        data={"csrf_token": token, "unprinted": "1"}, follow_redirects=True)
    assert "No accredited delegate of France to print" in again.get_data(as_text=True)
    bad = client.post(f"/staff/delegations/{france}/quotas",
                      data={"csrf_token": token, "quotas": "government=many"},
                      follow_redirects=True)
    assert "whole number" in bad.get_data(as_text=True)
    client.post(f"/staff/delegations/{france}/quotas",
                data={"csrf_token": token, "quotas": "government=4,expert=1"})
    assert "government 3/4" in runner.invoke(args=["delegations", "list"]).output
    added = client.post(f"/staff/delegations/{france}/focal-points",
                        data={"csrf_token": token, "email": "second@mfa.example.fr"})
    assert added.status_code == 303
    assert "second@mfa.example.fr" in runner.invoke(args=["delegations", "list"]).output
    assert client.get(f"/staff/delegations/{france}/letter.pdf").status_code == 404
    # The delegates list and the export filter by delegation.
    listed = client.get(f"/staff/delegates?delegation={france}").get_data(as_text=True)
    assert claire.reference in listed
    out = tmp_path / "france.csv"
    result = runner.invoke(args=["delegates", "export", "-o", str(out), "--delegation",
                                 "France"])
    assert result.exit_code == 0 and "3 delegates" in result.output
    text = out.read_text(encoding="utf-8-sig")
    header = text.splitlines()[0].split(",")
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert header[-1] == "delegation" and [row[-1] for row in rows] == ["France"] * 3
    assert runner.invoke(args=["delegates", "export", "-o", str(out), "--delegation",
                               "Atlantis"]).exit_code == 1


def test_delegation_batch_print_head_first_with_a_cover_sheet(app, runner, csrf_from,
                                                              form_data, tmp_path):
    import pypdfium2 as pdfium

    focal = app.test_client()
    sign_in(focal, create(runner, quota="government=3"), csrf_from)
    for name in ("Anne", "Zoe"):
        assert nominate(focal, csrf_from, form_data, name,
                        f"{name.lower()}@mfa.example.fr").status_code == 303
    anne, zoe = members(app)
    token = csrf_from(focal.get("/delegation/").get_data(as_text=True))
    focal.post("/delegation/head", data={"csrf_token": token, "delegate": str(zoe.public_id)})
    out = tmp_path / "france.pdf"
    nothing = runner.invoke(args=["badges", "print", "-o", str(out), "--delegation", "France"])
    assert nothing.exit_code == 1 and "nothing printed" in nothing.output  # none accredited
    with app.app_context():
        for delegate in db.session.scalars(sa.select(Delegate)):
            delegate.status = "approved"
        db.session.commit()
    result = runner.invoke(args=["badges", "print", "-o", str(out), "--delegation", "France",
                                 "--layout", "a6"])
    assert result.exit_code == 0, result.output
    assert "2 badges of France" in result.output
    document = pdfium.PdfDocument(out.read_bytes())
    texts = [document[i].get_textpage().get_text_range() for i in range(len(document))]
    assert len(texts) >= 3  # two a6 badges, then the cover sheet
    badges_text = "".join(texts[:-1])
    # The head of delegation first.
    assert badges_text.index("Zoe Martin") < badges_text.index("Anne Martin")
    cover = texts[-1]
    assert cover.index(zoe.reference) < cover.index(anne.reference)
    assert "head of delegation" in cover and "France" in cover
    assert all(m.status == "badge_printed" for m in members(app))


def test_scanner_and_badge_name_an_organisation_not_its_seat(app, runner, csrf_from,
                                                             form_data, tmp_path,
                                                             make_delegate):
    import pypdfium2 as pdfium

    focal = app.test_client()
    sign_in(focal, create(runner, "UNODC", "liaison@unodc.example.org", "government=2",
                          "--kind", "organisation"), csrf_from)
    assert nominate(focal, csrf_from, form_data, "Olga",
                    "olga@unodc.example.org").status_code == 303
    sign_in(app.test_client(), create(runner, "France", FOCAL, "government=1"), csrf_from)
    [olga] = members(app, "UNODC")
    with app.app_context():
        db.session.get(Delegate, olga.id).status = "approved"
        france = db.session.scalars(sa.select(Delegation.id).where(
            Delegation.name_en == "France")).one()
        paul = make_delegate(status="approved", given_name="Paul", country="FR",
                             delegation_id=france)
        solo = make_delegate(status="approved", given_name="Solo")
        db.session.commit()
        paul_id, solo_id = paul.public_id, solo.public_id
        device = device_svc.issue("Door")[1]
    out = tmp_path / "unodc.pdf"
    assert runner.invoke(args=["badges", "print", "-o", str(out), "--delegation", "UNODC",
                               "--layout", "a6"]).exit_code == 0
    document = pdfium.PdfDocument(out.read_bytes())
    badge_text = document[0].get_textpage().get_text_range()
    # The organisation's name where the country would be (Olga's country is France).
    assert "UNODC" in badge_text and "France" not in badge_text
    # The offline list carries it too, only where it says more than the country.
    names = {pid: snapshot_entry(app, device, pid)["delegation_name"]
             for pid in (olga.public_id, paul_id, solo_id)}
    assert names == {olga.public_id: "UNODC", paul_id: None, solo_id: None}
    with app.app_context():
        badge = token_for(db.session.get(Delegate, olga.id))
    answer = app.test_client().post(
        "/api/v1/checkins", headers={"Authorization": f"Bearer {device}"},
        json={"code": badge, "checkpoint": "main", "nonce": uuid.uuid4().hex}).get_json()
    assert answer["status"] == "checked_in"
    assert answer["delegate"]["delegation_name"] == "UNODC"


# --- the desk does what a focal point does -------------------------------------------------

def door_answer(app, device: str, code: str) -> dict:
    return app.test_client().post(
        "/api/v1/checkins", headers={"Authorization": f"Bearer {device}"},
        json={"code": code, "checkpoint": "main", "nonce": uuid.uuid4().hex}).get_json()


def snapshot_entry(app, device: str, public_id) -> dict:
    snapshot = app.test_client().get("/api/v1/checkin-snapshot",
                                     headers={"Authorization": f"Bearer {device}"}).get_json()
    return next(d for d in snapshot["delegates"] if d["public_id"] == str(public_id))


def test_the_desk_substitutes_a_delegate_and_the_old_badge_is_refused(
        app, runner, client, csrf_from, form_data, login):
    focal = app.test_client()
    sign_in(focal, create(runner, quota="government=2"), csrf_from)
    for name in ("Anne", "Bruno"):
        assert nominate(focal, csrf_from, form_data, name,
                        f"{name.lower()}@mfa.example.fr").status_code == 303
    sign_in(app.test_client(), create(runner, "Germany", "protokoll@aa.example.de"),
            csrf_from)
    anne, _bruno = members(app)
    with app.app_context():
        delegate = db.session.get(Delegate, anne.id)
        delegate.status = "badge_printed"
        db.session.commit()
        old_badge = token_for(delegate)
        device = device_svc.issue("Door")[1]
    assert door_answer(app, device, old_badge)["status"] == "checked_in"
    assert snapshot_entry(app, device, anne.public_id)["refused"] is False
    staff = login("desk")
    france = anne.delegation_id
    page = client.get("/staff/delegations").get_data(as_text=True)
    url = f"/staff/delegations/{france}/substitute/{anne.public_id}"
    assert url in page  # the desk's page links each delegate's substitution
    form = client.get(url)
    assert form.status_code == 200
    assert "will be cancelled" in form.get_data(as_text=True) and anne.reference in \
        form.get_data(as_text=True)
    token = csrf_from(form.get_data(as_text=True))
    # Another delegation's delegate is not France's to substitute.
    with app.app_context():
        germany = db.session.scalars(sa.select(Delegation.id).where(
            Delegation.name_en == "Germany")).one()
    assert client.get(f"/staff/delegations/{germany}/substitute/{anne.public_id}"
                      ).status_code == 404
    # The form's rules apply: nothing happens on a bad form.
    bad = client.post(url, data=nominee(token, form_data, "Denise", "not-an-address"))
    assert bad.status_code == 422 and "email" in bad.get_data(as_text=True)
    assert [m.status for m in members(app)] == ["checked_in", "submitted"]
    # Without an email, the new delegate's mail goes to the focal point.
    done = client.post(url, data=nominee(token, form_data, "Denise", None))
    assert done.status_code == 303, done.get_data(as_text=True)
    anne, bruno, denise = members(app)
    assert (anne.status, bruno.status, denise.status) == ("cancelled", "submitted",
                                                          "submitted")
    assert denise.given_name == "Denise" and denise.email == FOCAL
    assert anne.badge_serial == 2
    # The old badge: refused online, and the offline list refuses it too.
    assert door_answer(app, device, old_badge)["status"] in ("revoked", "not_accredited")
    entry = snapshot_entry(app, device, anne.public_id)
    assert entry["refused"] is True and entry["badge_serial"] == 2 and "name" not in entry
    with app.app_context():
        trail = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.delegate_id.in_([anne.id, denise.id]))).all()
    cancelled = next(e for e in trail if e.details.get("substituted_by") == denise.reference)
    nominated = next(e for e in trail if e.details.get("substitutes") == anne.reference)
    assert cancelled.staff_id == nominated.staff_id == staff.id
    assert cancelled.actor == "staff:desk@forum.test"
    # The quota still holds: the cancelled one's place was taken, none is left.
    assert "government 2/2" in runner.invoke(args=["delegations", "list"]).output
    # A cancelled delegate cannot be substituted again.
    assert client.get(url).status_code == 404


def test_the_desk_names_the_head_of_delegation_and_a_second_is_refused(
        app, runner, client, csrf_from, form_data, login):
    focal = app.test_client()
    sign_in(focal, create(runner, quota="government=3"), csrf_from)
    for name in ("Anne", "Bruno"):
        assert nominate(focal, csrf_from, form_data, name,
                        f"{name.lower()}@mfa.example.fr").status_code == 303
    anne, bruno = members(app)
    staff = login("desk")
    france = anne.delegation_id
    token = csrf_from(client.get("/staff/delegations").get_data(as_text=True))
    head = f"/staff/delegations/{france}/head"
    named = client.post(head, data={"csrf_token": token, "delegate": str(anne.public_id)},
                        follow_redirects=True)
    assert "Head of delegation of France: Anne Martin." in named.get_data(as_text=True)
    second = client.post(head, data={"csrf_token": token, "delegate": str(bruno.public_id)},
                         follow_redirects=True)
    text = second.get_data(as_text=True)
    assert "France already has a head of delegation: Anne Martin. Remove the current head " \
        "first." in text
    anne, bruno = members(app)
    assert anne.details.get("head_of_delegation") is True
    assert not bruno.details.get("head_of_delegation")
    assert "head: " + anne.reference in runner.invoke(args=["delegations", "list"]).output
    # The focal point sees the desk's choice.
    assert "head of delegation" in focal.get("/delegation/").get_data(as_text=True)
    client.post(head, data={"csrf_token": token, "delegate": "none"})
    client.post(head, data={"csrf_token": token, "delegate": str(bruno.public_id)})
    anne, bruno = members(app)
    assert not anne.details.get("head_of_delegation")
    assert bruno.details.get("head_of_delegation") is True
    assert "head: " + bruno.reference in runner.invoke(args=["delegations", "list"]).output
    with app.app_context():
        actions = [(e.action, e.staff_id) for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.like("head_of_delegation%"))
            .order_by(AuditEntry.id))]
    assert actions == [("head_of_delegation", staff.id),
                       ("head_of_delegation_removed", staff.id),
                       ("head_of_delegation", staff.id)]
    assert client.post(head, data={"csrf_token": token, "delegate": str(uuid.uuid4())}
                       ).status_code == 404


def test_export_names_the_delegation_and_filters_by_it_and_old_files_still_import(
        app, runner, client, csrf_from, login, make_delegate, tmp_path):
    import csv

    create(runner, "UNODC", "liaison@unodc.example.org", "government=2", "--kind",
           "organisation")
    create(runner, "France", FOCAL, "government=2")
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Delegation.name_en, Delegation.id)).tuples()
                   .all())
        make_delegate(given_name="Olga", country="AT", email="olga@unodc.example.org",
                      delegation="AT", delegation_id=ids["UNODC"])
        make_delegate(given_name="Paul", country="FR", email="paul@mfa.example.fr",
                      delegation="FR", delegation_id=ids["France"])
        make_delegate(given_name="Solo", country="CN", email="solo@example.cn")

    def table(path) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))

    everyone = tmp_path / "all.csv"
    assert runner.invoke(args=["delegates", "export", "-o", str(everyone)]).exit_code == 0
    rows = {r["given_name"]: r for r in table(everyone)}
    assert {name: (r["delegation"], r["delegation_country"]) for name, r in rows.items()} == {
        "Olga": ("UNODC", "AT"), "Paul": ("France", "FR"), "Solo": ("", "CN")}
    unodc = tmp_path / "unodc.csv"
    result = runner.invoke(args=["delegates", "export", "-o", str(unodc), "--delegation",
                                 "unodc"])
    assert result.exit_code == 0 and "1 delegate written" in result.output, result.output
    assert [r["given_name"] for r in table(unodc)] == ["Olga"]
    unknown = runner.invoke(args=["delegates", "export", "-o", str(unodc), "--delegation",
                                  "Atlantis"])
    assert unknown.exit_code == 1 and "no delegation called 'Atlantis'" in unknown.output
    # The desk's list and its export filter by delegation too.
    login("desk")
    listed = client.get(f"/staff/delegates?delegation={ids['France']}").get_data(as_text=True)
    listed = listed[listed.index("<tbody>"):listed.index("</tbody>")]
    assert "Paul" in listed and "Olga" not in listed and "Solo" not in listed
    web = client.get(f"/staff/export.csv?delegation={ids['UNODC']}")
    web_rows = list(csv.DictReader(io.StringIO(web.data.decode("utf-8-sig"))))
    assert [(r["given_name"], r["delegation"]) for r in web_rows] == [("Olga", "UNODC")]

    # The export imports again (its `delegation` column is ignored): nothing new.
    again = runner.invoke(args=["delegates", "import", str(everyone)])
    assert again.exit_code == 0 and again.output.count("— skipped") == 3, again.output
    # A file made before the rename: its `delegation` column is the country field.
    old = tmp_path / "old.csv"
    old.write_text("category,given_name,family_name,organisation,position,country,email,"
                   "phone,ministry,delegation\n"
                   "government,Kenji,Sato,MOFA,Director,JP,kenji@mofa.example.jp,"
                   "+81 90 1234 5678,MOFA,JP\n", encoding="utf-8")
    imported = runner.invoke(args=["delegates", "import", str(old)])
    assert imported.exit_code == 0, imported.output
    with app.app_context():
        kenji = db.session.scalars(sa.select(Delegate).where(
            Delegate.given_name == "Kenji")).one()
        assert kenji.details["delegation"] == "JP" and kenji.delegation_id is None
    # A bad value is reported under today's column name.
    bad = tmp_path / "bad.csv"
    bad.write_text("category,given_name,family_name,organisation,position,country,email,"
                   "phone,delegation_country\n"
                   "government,Lena,Berg,MFA,Director,SE,lena@mfa.example.se,"
                   "+46 70 123 45 67,Narnia\n", encoding="utf-8")
    refused = runner.invoke(args=["delegates", "import", str(bad)])
    assert refused.exit_code == 1 and "delegation_country" in refused.output, refused.output
    # The import template names the column as the export does.
    template = (Path(app.root_path).parent / "static" / "import-template.csv").read_text(
        encoding="utf-8-sig").splitlines()[0].split(",")
    assert "delegation_country" in template and "delegation" not in template


def heads(app, name: str = "France") -> list[str]:
    """The given names of the delegates whose record carries the head flag."""
    return [m.given_name for m in members(app, name) if m.details.get("head_of_delegation")]


def test_a_nomination_ticking_head_goes_through_the_one_head_rule(app, runner, client,
                                                                  csrf_from, form_data):
    sign_in(client, create(runner, quota="government=3"), csrf_from)

    def nominate_head(given: str):
        page = client.get("/delegation/nominate")
        return client.post("/delegation/nominate", data=nominee(
            csrf_from(page.get_data(as_text=True)), form_data, given,
            f"{given.lower()}@mfa.example.fr") | {"head_of_delegation": "y"})

    first = nominate_head("Anne")
    assert first.status_code == 303, first.get_data(as_text=True)
    [anne] = members(app)
    assert heads(app) == ["Anne"]
    assert "head: " + anne.reference in runner.invoke(args=["delegations", "list"]).output
    with app.app_context():
        named = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "head_of_delegation")).one()
        assert named.delegate_id == anne.id and named.actor == f"focal:{FOCAL}"
    second = nominate_head("Bruno")
    assert second.status_code == 422
    assert "France already has a head of delegation: Anne Martin. Remove the current head " \
        "first." in second.get_data(as_text=True)
    assert len(members(app)) == 1 and heads(app) == ["Anne"]  # nothing stored
    # Without the tick the same nominee is welcome.
    assert nominate(client, csrf_from, form_data, "Bruno",
                    "bruno@mfa.example.fr").status_code == 303
    assert heads(app) == ["Anne"]


def test_substituting_the_head_moves_the_flag_to_the_substitute(app, runner, client,
                                                                csrf_from, form_data):
    sign_in(client, create(runner, quota="government=2"), csrf_from)
    for name in ("Anne", "Bruno"):
        nominate(client, csrf_from, form_data, name, f"{name.lower()}@mfa.example.fr")
    anne, _bruno = members(app)
    token = csrf_from(client.get("/delegation/").get_data(as_text=True))
    client.post("/delegation/head", data={"csrf_token": token, "delegate": str(anne.public_id)})
    assert heads(app) == ["Anne"]
    assert nominate(client, csrf_from, form_data, "Denise", "denise@mfa.example.fr",
                    replaces=str(anne.public_id)).status_code == 303
    anne, _bruno, denise = members(app)
    assert anne.status == "cancelled" and heads(app) == ["Denise"]
    assert "head: " + denise.reference in runner.invoke(args=["delegations", "list"]).output


def test_the_desk_cannot_set_a_quota_below_the_places_taken(app, runner, client, csrf_from,
                                                            form_data, login):
    focal = app.test_client()
    sign_in(focal, create(runner, quota="government=2"), csrf_from)
    assert nominate(focal, csrf_from, form_data, "Anne",
                    "anne@mfa.example.fr").status_code == 303
    [anne] = members(app)
    login("desk")
    token = csrf_from(client.get("/staff/delegations").get_data(as_text=True))
    url = f"/staff/delegations/{anne.delegation_id}/quotas"
    for quotas in ("government=0", "expert=3"):  # left out: no place for government
        refused = client.post(url, data={"csrf_token": token, "quotas": quotas},
                              follow_redirects=True)
        assert "The quota for Government official cannot be 0: 1 delegate is nominated." in \
            refused.get_data(as_text=True)
        assert "government 1/2" in runner.invoke(args=["delegations", "list"]).output
    client.post(url, data={"csrf_token": token, "quotas": "government=1"})
    assert "government 1/1" in runner.invoke(args=["delegations", "list"]).output


def test_the_cover_sheet_counts_one_badge_in_the_singular(app, runner, csrf_from, form_data,
                                                          tmp_path):
    import pypdfium2 as pdfium

    focal = app.test_client()
    sign_in(focal, create(runner, quota="government=1"), csrf_from)
    assert nominate(focal, csrf_from, form_data, "Anne",
                    "anne@mfa.example.fr").status_code == 303
    with app.app_context():
        db.session.execute(sa.update(Delegate).values(status="approved"))
        db.session.commit()
    out = tmp_path / "france.pdf"
    result = runner.invoke(args=["badges", "print", "-o", str(out), "--delegation", "France",
                                 "--layout", "a6"])
    assert result.exit_code == 0, result.output
    document = pdfium.PdfDocument(out.read_bytes())
    cover = document[len(document) - 1].get_textpage().get_text_range()
    assert "1 badge" in cover and "1 badges" not in cover


def france_with_head(app, runner, make_delegate, other_status: str) -> tuple[int, int]:
    """France with two government delegates, the first (approved) named head: their ids."""
    from registration.services import delegations as service

    create(runner, "France", FOCAL, "government=3")
    with app.app_context():
        france = db.session.scalars(sa.select(Delegation)).one()
        head_id = make_delegate(category="government", delegation_id=france.id).id
        other_id = make_delegate(category="government", delegation_id=france.id,
                                 status=other_status).id
        service.set_head(france, db.session.get(Delegate, head_id), "test")
    return head_id, other_id


def test_the_desk_edit_form_keeps_one_head(app, runner, client, login, csrf_from,
                                           make_delegate):
    """Ticking "head of delegation" on the desk's edit form (as when applying a delegate's
    own request) passes the one-head rule; clearing it on the head leaves no head."""
    from registration.fields import COMMON_FIELDS
    from registration.services.checkin import is_head_of_delegation

    head_id, other_id = france_with_head(app, runner, make_delegate, "approved")

    def edit(delegate_id: int, head: bool):
        with app.app_context():
            delegate = db.session.get(Delegate, delegate_id)
            data = {name: getattr(delegate, name) for name in COMMON_FIELDS}
            data.update({k: v for k, v in (delegate.details or {}).items()
                         if not isinstance(v, bool)})
            url = f"/staff/delegates/{delegate.public_id}/edit"
        if head:
            data["head_of_delegation"] = "y"
        data["csrf_token"] = csrf_from(client.get(url).get_data(as_text=True))
        return client.post(url, data=data)

    login("desk")
    refused = edit(other_id, head=True)
    assert refused.status_code == 422
    assert "already has a head of delegation" in refused.get_data(as_text=True)
    with app.app_context():
        assert not is_head_of_delegation(db.session.get(Delegate, other_id).details)

    assert edit(head_id, head=False).status_code == 303  # the head steps down
    assert edit(other_id, head=True).status_code == 303  # now there is room
    with app.app_context():
        assert db.session.scalars(sa.select(Delegation)).one().head_delegate_id == other_id
        assert not is_head_of_delegation(db.session.get(Delegate, head_id).details)
        assert is_head_of_delegation(db.session.get(Delegate, other_id).details)


def test_a_head_who_cancels_or_is_rejected_is_head_no_more(app, runner, make_delegate):
    """The head cancelling their registration (manage page) or rejected by the desk leaves
    the delegation without a head, audited; another can then be named."""
    from registration.services import accreditation, self_service
    from registration.services import delegations as service
    from registration.services.checkin import is_head_of_delegation

    first_id, second_id = france_with_head(app, runner, make_delegate, "submitted")
    with app.app_context():
        self_service.cancel(db.session.get(Delegate, first_id))
        france = db.session.scalars(sa.select(Delegation)).one()
        assert france.head_delegate_id is None
        assert not is_head_of_delegation(db.session.get(Delegate, first_id).details)
        assert db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "head_of_delegation_removed")).one().details["why"] == \
            "cancelled"

        service.set_head(france, db.session.get(Delegate, second_id), "test")
        accreditation.reject(db.session.get(Delegate, second_id), None, "Not eligible")
        assert db.session.scalars(sa.select(Delegation)).one().head_delegate_id is None
