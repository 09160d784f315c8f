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
    assert "1 delegations" in runner.invoke(args=["delegations", "list"]).output


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
                                                             form_data, tmp_path):
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
        db.session.commit()
        device = device_svc.issue("Door")[1]
    out = tmp_path / "unodc.pdf"
    assert runner.invoke(args=["badges", "print", "-o", str(out), "--delegation", "UNODC",
                               "--layout", "a6"]).exit_code == 0
    document = pdfium.PdfDocument(out.read_bytes())
    assert "UNODC" in document[0].get_textpage().get_text_range()
    with app.app_context():
        badge = token_for(db.session.get(Delegate, olga.id))
    answer = app.test_client().post(
        "/api/v1/checkins", headers={"Authorization": f"Bearer {device}"},
        json={"code": badge, "checkpoint": "main", "nonce": uuid.uuid4().hex}).get_json()
    assert answer["status"] == "checked_in"
    assert answer["delegate"]["delegation_name"] == "UNODC"
