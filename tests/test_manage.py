"""The delegate's private manage link: valid, expired, tampered, after cancellation; edits
before and after printing; photo; e-ticket; cancel; export; erasure; a new link by email.

Decision tested here: after a cancellation the link still opens the registration, read-only
(status, export, erase); after erasure, or once the email address is changed, earlier links
are dead (404)."""

from __future__ import annotations

import email
import io
import json
import re
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from itsdangerous import URLSafeTimedSerializer
from PIL import Image
from sqlalchemy import func, select

from registration import signals
from registration.extensions import db
from registration.models import AuditEntry, Delegate, DelegatePhoto, OutboxMessage, Status
from registration.services import mail, manage_links

EMAIL = "wang.xiaoming@example.cn"


@pytest.fixture
def delegate(app, client, get_csrf, form_data) -> Delegate:
    assert client.post("/register", data=form_data(get_csrf())).status_code == 303
    with app.app_context():
        return db.session.scalars(select(Delegate)).one()


@pytest.fixture
def link(app, delegate) -> str:
    with app.app_context():
        return f"/manage/{manage_links.make_token(delegate)}"


def delivered_text(row: OutboxMessage) -> str:
    """The plain text of a queued message, once delivered (to instance/mail in tests)."""
    mail.deliver_pending()
    db.session.refresh(row)
    assert row.status == "sent"
    return email.message_from_bytes(row.message, policy=policy.default).get_body(
        ("plain",)).get_content()


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


@pytest.fixture
def post(csrf_from):
    """Post a page's form with the CSRF token of that page."""

    def send(client, url: str, data: dict | None = None, **kwargs):
        token = csrf_from(client.get(url).get_data(as_text=True))
        return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)

    return send


def edit_data(delegate: Delegate, **changes) -> dict:
    data = {
        "honorific": delegate.honorific, "given_name": delegate.given_name,
        "family_name": delegate.family_name, "native_name": delegate.native_name,
        "badge_name": delegate.badge_name, "organisation": delegate.organisation,
        "position": delegate.position, "country": delegate.country, "email": delegate.email,
        "phone": delegate.phone, "dietary_needs": delegate.dietary_needs,
        "accessibility_needs": delegate.accessibility_needs,
        "ministry": delegate.details.get("ministry", ""),
        "delegation": delegate.details.get("delegation", ""),
        "head_of_delegation": "y" if delegate.details.get("head_of_delegation") else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != "" or k in changes}


def audit_actions(delegate: Delegate) -> list[str]:
    return db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.delegate_id == delegate.id).order_by(AuditEntry.id)).all()


def mark_printed(app, delegate: Delegate) -> Delegate:
    """What the desk's printing does to the record; returns the record as it is then."""
    with app.app_context():
        delegate = db.session.get(Delegate, delegate.id)
        delegate.move_to(Status.APPROVED)
        delegate.move_to(Status.BADGE_PRINTED)
        delegate.printed_at = datetime.now(UTC)
        delegate.print_count = 1
        db.session.commit()
        db.session.refresh(delegate)
        return delegate


def png_photo(width: int = 600, height: int = 800) -> bytes:
    """A portrait with the test face (tests/data/face.jpg): uploads must show one face."""
    image = Image.new("RGB", (width, height), (200, 180, 160))
    face = Image.open(Path(__file__).parent / "data" / "face.jpg").convert("RGB")
    face = face.resize((width * 3 // 4, width * 3 // 4 * face.height // face.width))
    image.paste(face, ((width - face.width) // 2, (height - face.height) // 2))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- the link ------------------------------------------------------------------------------


def test_link_from_the_confirmation_email_opens_the_registration(app, client, delegate):
    with app.app_context():
        text = delivered_text(db.session.scalars(select(OutboxMessage)).one())
    path = re.search(r"https?://[^/\s]+(/manage/\S+)", text).group(1)
    html = page(client, path)
    assert delegate.reference in html
    assert "submitted — pending accreditation" in html
    assert "(GMT+08:00)" in html  # dates in the forum's zone, with the zone
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_tokens_are_unguessable_and_bound_to_the_delegate(app, delegate):
    with app.app_context():
        token = manage_links.make_token(delegate)
        assert str(delegate.public_id) not in token and delegate.reference not in token
        assert manage_links.resolve(token).id == delegate.id


def test_expired_link(app, client, delegate):
    with app.app_context():
        old = manage_links.make_token(delegate,
                                      issued_at=datetime.now(UTC) - timedelta(days=31))
    response = client.get(f"/manage/{old}")
    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)
    assert delegate.reference not in response.get_data(as_text=True)
    # Still inside the 30 days: works.
    with app.app_context():
        recent = manage_links.make_token(delegate,
                                         issued_at=datetime.now(UTC) - timedelta(days=29))
    assert client.get(f"/manage/{recent}").status_code == 200
    # The clock moving on kills a fresh link too.
    with app.app_context():
        fresh = manage_links.make_token(delegate)
        with pytest.raises(manage_links.LinkExpired):
            manage_links.resolve(fresh, now=datetime.now(UTC) + timedelta(days=30, minutes=1))


def test_max_age_is_configurable(make_app, csrf_from, form_data):
    app = make_app(MANAGE_LINK_MAX_AGE_DAYS=2)
    client = app.test_client()
    token = csrf_from(client.get("/register").get_data(as_text=True))
    client.post("/register", data=form_data(token))
    with app.app_context():
        delegate = db.session.scalars(select(Delegate)).one()
        old = manage_links.make_token(delegate, issued_at=datetime.now(UTC) - timedelta(days=3))
    assert client.get(f"/manage/{old}").status_code == 410


@pytest.mark.parametrize("how", ["signature", "payload", "garbage", "other_key", "empty_v"])
def test_tampered_link(app, client, delegate, how):
    with app.app_context():
        token = manage_links.make_token(delegate)
        version = manage_links.link_version(delegate)
    if how == "signature":
        # Change the signature's first character: the last one of a base64 string can hold
        # unused bits, so changing it may decode to the very same signature.
        head, signature = token.rsplit(".", 1)
        token = f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    elif how == "payload":
        payload, rest = token.split(".", 1)
        token = payload[:-2] + ("xx" if payload[-2:] != "xx" else "yy") + "." + rest
    elif how == "garbage":
        token = "not-a-token"
    elif how == "other_key":
        token = URLSafeTimedSerializer("someone-elses-key", salt=manage_links.SALT).dumps(
            {"d": delegate.public_id.hex, "v": version})
    else:
        token = URLSafeTimedSerializer("test-secret-key", salt=manage_links.SALT).dumps(
            {"d": delegate.public_id.hex, "v": ""})
    response = client.get(f"/manage/{token}")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "This link does not work" in body and delegate.reference not in body
    assert client.get(f"/manage/{token}/export.json").status_code == 404


def test_after_cancellation_the_link_is_read_only(client, delegate, link, post, csrf_from,
                                                  from_db):
    response = post(client, f"{link}/cancel", {"confirm": "y"})
    assert response.status_code == 303
    html = page(client, link)
    assert "This registration is cancelled" in html
    assert f"{link}/edit" not in html and f"{link}/e-ticket.pdf" not in html
    assert f"{link}/export.json" in html and f"{link}/erase" in html
    # Edits are refused (redirect back, nothing changes).
    token = csrf_from(page(client, link + "/erase"))
    response = client.post(f"{link}/edit", data={"csrf_token": token,
                                                  **edit_data(delegate, organisation="X")})
    assert response.status_code == 303
    delegate = from_db(delegate)
    assert delegate.organisation == "Ministry of Public Security"
    assert client.get(f"{link}/e-ticket.pdf").status_code == 403
    assert client.get(f"{link}/export.json").status_code == 200


# --- edits -------------------------------------------------------------------------------


def test_edit_before_printing_applies_and_is_audited(app, client, delegate, link, post,
                                                     from_db):
    form = page(client, f"{link}/edit")
    assert 'value="Xiaoming"' in form and 'name="consent"' not in form
    response = post(client, f"{link}/edit", edit_data(
        delegate, given_name="Xiao-Ming", badge_name="Xiao-Ming Wang", phone="+86 139 0013 9000",
        organisation="Ministry of Public Security, Jiangsu", ministry="MPS Jiangsu"))
    assert response.status_code == 303
    delegate = from_db(delegate)
    assert delegate.given_name == "Xiao-Ming"
    assert delegate.badge_name == "Xiao-Ming Wang"
    assert delegate.phone == "+8613900139000"
    assert delegate.details["ministry"] == "MPS Jiangsu"
    assert delegate.needs_reprint is False
    assert "xiao-ming" in delegate.search_text
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "edited")).one()
    assert entry.actor == "delegate"
    assert entry.details["fields"] == ["badge_name", "details", "given_name", "organisation",
                                       "phone"]
    assert "Xiao-Ming" not in json.dumps(entry.details)  # names of fields, not values
    assert "Your changes are saved." in page(client, link)


def test_saving_in_chinese_makes_chinese_the_language_of_emails(client, delegate, link, post,
                                                                from_db):
    assert delegate.locale == "en"
    client.get("/lang/zh")
    assert post(client, f"{link}/edit", edit_data(delegate)).status_code == 303
    delegate = from_db(delegate)
    assert delegate.locale == "zh"


def test_edit_errors_are_shown_and_nothing_changes(app, client, delegate, link, post, from_db):
    response = post(client, f"{link}/edit", edit_data(delegate, phone="call me", country="XX"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="phone-error"' in html and 'id="country-error"' in html
    delegate = from_db(delegate)
    assert delegate.phone == "+8613800138000"
    with app.app_context():
        assert "edited" not in audit_actions(delegate)


def test_category_cannot_be_changed(client, delegate, link, post, from_db):
    response = post(client, f"{link}/edit", {**edit_data(delegate), "category": "ngo"})
    assert response.status_code == 303
    delegate = from_db(delegate)
    assert delegate.category == "government"


def test_after_printing_badge_changes_go_to_the_desk(app, client, delegate, link, post,
                                                     from_db):
    mark_printed(app, delegate)
    html = page(client, f"{link}/edit")
    assert "Your badge is already printed" in html
    response = post(client, f"{link}/edit", edit_data(
        delegate, badge_name="Dr Xiao-Ming Wang", organisation="MPS Jiangsu",
        phone="+86 139 0013 9000", dietary_needs="Vegetarian"))
    assert response.status_code == 303
    delegate = from_db(delegate)
    # Badge fields unchanged, flagged for the desk with the requested values.
    assert delegate.badge_name == "Xiaoming Wang"
    assert delegate.organisation == "Ministry of Public Security"
    assert delegate.needs_reprint is True
    # Other fields applied.
    assert delegate.phone == "+8613900139000"
    assert delegate.dietary_needs == "Vegetarian"
    with app.app_context():
        request_entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "change_requested")).one()
        assert request_entry.details["requested"] == {"badge_name": "Dr Xiao-Ming Wang",
                                                      "organisation": "MPS Jiangsu"}
        edited = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "edited")
                                    ).one()
        assert edited.details["fields"] == ["dietary_needs", "phone"]
    html = page(client, link)
    assert "sent to the accreditation desk" in html
    assert "Dr Xiao-Ming Wang" in html and "MPS Jiangsu" in html  # the pending request


def test_changing_the_email_kills_old_links_and_mails_a_new_one(app, client, delegate, link,
                                                                post):
    response = post(client, f"{link}/edit", edit_data(delegate, email="new.address@example.org"))
    assert response.status_code == 303
    new_link = response.headers["Location"]
    assert new_link != link
    assert client.get(link).status_code == 404
    assert "new.address@example.org" in page(client, new_link)
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "manage_link")).one()
    assert row.recipient == "new.address@example.org"


def test_changing_only_the_capitals_of_the_email_keeps_the_link(app, client, delegate, link,
                                                                post, from_db):
    response = post(client, f"{link}/edit", edit_data(delegate, email="Wang.Xiaoming@example.cn"))
    assert response.status_code == 303
    assert response.headers["Location"] == link
    delegate = from_db(delegate)
    assert delegate.email == "Wang.Xiaoming@example.cn"
    assert client.get(link).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.kind == "manage_link")) == 0


def test_email_of_another_registration_is_refused(client, get_csrf, delegate, link, post,
                                                  form_data):
    client.post("/register", data=form_data(get_csrf(), email="other@example.org"))
    response = post(client, f"{link}/edit", edit_data(delegate, email="OTHER@example.org"))
    assert response.status_code == 422
    assert "already used by another registration" in response.get_data(as_text=True)


# --- photo, e-ticket -----------------------------------------------------------------------


def test_photo_upload(app, client, delegate, link, post):
    response = post(client, f"{link}/photo",
                    {"photo": (io.BytesIO(png_photo()), "me.png")},
                    content_type="multipart/form-data")
    assert response.status_code == 303
    with app.app_context():
        stored = db.session.get(DelegatePhoto, delegate.id)
        assert stored is not None and stored.jpeg.startswith(b"\xff\xd8")
    image = client.get(f"{link}/photo.jpg")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    with app.app_context():
        assert "photo_changed" in audit_actions(delegate)


def test_photo_upload_rejects_what_the_desk_rejects(app, client, delegate, link, post):
    response = post(client, f"{link}/photo",
                    {"photo": (io.BytesIO(b"%PDF-1.4 not a photo"), "me.jpg")},
                    content_type="multipart/form-data")
    assert response.status_code == 422
    assert 'id="photo-error"' in response.get_data(as_text=True)
    response = post(client, f"{link}/photo", {}, content_type="multipart/form-data")
    assert response.status_code == 422
    with app.app_context():
        assert db.session.get(DelegatePhoto, delegate.id) is None


def test_no_photo_change_after_printing(app, client, delegate, link, post):
    mark_printed(app, delegate)
    response = post(client, f"{link}/photo", {"photo": (io.BytesIO(png_photo()), "me.png")},
                    content_type="multipart/form-data")
    assert response.status_code == 422
    assert "see the accreditation desk" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(DelegatePhoto, delegate.id) is None


def test_eticket_only_once_accredited(app, client, delegate, link):
    response = client.get(f"{link}/e-ticket.pdf")
    assert response.status_code == 403
    assert "once you are accredited" in response.get_data(as_text=True)
    with app.app_context():
        delegate = db.session.get(Delegate, delegate.id)
        delegate.move_to(Status.APPROVED)
        signals.delegate_approved.send(app, delegate=delegate)
        db.session.commit()
        db.session.refresh(delegate)
    response = client.get(f"{link}/e-ticket.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    doc = pdfium.PdfDocument(response.data)
    assert delegate.reference in doc[0].get_textpage().get_text_range()
    assert "Download my e-ticket" in page(client, link)


# --- cancel, export, erase -----------------------------------------------------------------


def test_cancel_needs_confirmation(app, client, delegate, link, post, from_db):
    response = post(client, f"{link}/cancel", {})
    assert response.status_code == 422
    delegate = from_db(delegate)
    assert delegate.status == "submitted"
    response = post(client, f"{link}/cancel", {"confirm": "y"})
    assert response.status_code == 303
    delegate = from_db(delegate)
    assert delegate.status == "cancelled"
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "status")).one()
        assert entry.details["to"] == "cancelled" and entry.actor == "delegate"
        kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds == ["registered", "cancelled"]


def test_cancel_without_csrf_token_is_refused(client, delegate, link, from_db):
    assert client.post(f"{link}/cancel", data={"confirm": "y"}).status_code == 400
    delegate = from_db(delegate)
    assert delegate.status == "submitted"


def test_export_contains_their_data(client, delegate, link, post):
    post(client, f"{link}/photo", {"photo": (io.BytesIO(png_photo()), "me.png")},
         content_type="multipart/form-data")
    response = client.get(f"{link}/export.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.data)
    assert data["reference"] == delegate.reference
    assert data["email"] == EMAIL
    assert data["native_name"] == "王小明"
    assert data["phone"] == "+8613800138000"
    assert data["details"]["ministry"] == "Ministry of Public Security"
    assert data["consent_at"]
    assert [h["action"] for h in data["history"]] == ["registered", "photo_changed"]
    assert {h["actor"] for h in data["history"]} == {"delegate"}
    assert data["emails"][0]["kind"] == "registered"
    assert data["photo_jpeg_base64"]


def test_erasure_blanks_personal_data_and_keeps_an_anonymous_audit(app, client, delegate,
                                                                     link, post, csrf_from,
                                                                     form_data):
    # Something personal in the audit trail: a change request and a staff edit's values.
    mark_printed(app, delegate)
    post(client, f"{link}/edit", edit_data(delegate, badge_name="Secret Name"))
    with app.app_context():
        db.session.add(AuditEntry(delegate_id=delegate.id, actor="staff:desk@forum.test",
                                  action="edited",
                                  details={"changes": {"phone": ["+8613800138000",
                                                                 "+8613900"]}}))
        db.session.commit()
    post(client, f"{link}/photo", {"photo": (io.BytesIO(png_photo()), "me.png")},
         content_type="multipart/form-data")
    with app.app_context():
        audit_before = len(audit_actions(delegate))

    assert post(client, f"{link}/erase", {}).status_code == 422
    response = post(client, f"{link}/erase", {"confirm": "y"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/manage/erased")
    assert "Your data is deleted" in page(client, "/manage/erased")

    with app.app_context():
        d = db.session.get(Delegate, delegate.id)
        assert d.status == "cancelled"
        for name in ("given_name", "family_name", "native_name", "badge_name", "honorific",
                     "organisation", "position", "email", "phone", "dietary_needs",
                     "accessibility_needs", "search_text"):
            assert getattr(d, name) == "", name
        assert d.email_key is None and d.details == {}
        assert db.session.get(DelegatePhoto, delegate.id) is None
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
        # The audit trail is kept (plus the cancellation and the erasure), without personal
        # data.
        actions = audit_actions(d)
        assert len(actions) == audit_before + 2
        assert actions[-2:] == ["status", "erased"]
        dumped = json.dumps([e.details for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.delegate_id == d.id))], ensure_ascii=False)
    for personal in ("Secret Name", "Xiaoming", "王小明", "8613800138000", EMAIL):
        assert personal not in dumped
    assert "badge_name" in dumped  # what was asked for remains known, not the value
    # The link is dead; the address can register again.
    assert client.get(link).status_code == 404
    token = csrf_from(page(client, "/register"))
    assert client.post("/register", data=form_data(token)).status_code == 303


# --- a new link by email ---------------------------------------------------------------------


def test_request_link_same_answer_whether_registered_or_not(app, client, delegate, csrf_from):
    def ask(address: str):
        token = csrf_from(page(client, "/manage/"))
        return client.post("/manage/", data={"csrf_token": token, "email": address})

    known = ask("Wang.Xiaoming@Example.cn")
    unknown = ask("nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    normalise = lambda r, a: r.get_data(as_text=True).replace(a, "ADDRESS")  # noqa: E731
    assert normalise(known, "Wang.Xiaoming@example.cn") == normalise(unknown,
                                                                     "nobody@example.org")
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "manage_link")).all()
        assert [r.recipient for r in rows] == [EMAIL]
        text = delivered_text(rows[0])
    path = re.search(r"https?://[^/\s]+(/manage/\S+)", text).group(1)
    assert delegate.reference in page(client, path)
    # Asking again at once does not send another one (no mail bombing), same answer.
    again = ask(EMAIL)
    assert again.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.kind == "manage_link")) == 1


def test_request_link_with_an_invalid_address(client, csrf_from):
    token = csrf_from(page(client, "/manage/"))
    response = client.post("/manage/", data={"csrf_token": token, "email": "not an email"})
    assert response.status_code == 422
    assert 'id="email-error"' in response.get_data(as_text=True)


def test_confirmation_page_announces_the_email(client, delegate):
    html = page(client, "/register/confirmation")
    assert "confirmation email" in html and "private link" in html


def test_desk_sees_and_applies_the_delegates_request(app, client, delegate, link, login,
                                                     get_csrf, post, from_db):
    mark_printed(app, delegate)
    post(client, f"{link}/edit", edit_data(delegate, badge_name="Dr Xiao-Ming Wang"))
    login("desk")
    record = client.get(f"/staff/delegates/{delegate.public_id}").get_data(as_text=True)
    assert 'id="change-request"' in record
    assert "Xiaoming Wang" in record and "Dr Xiao-Ming Wang" in record

    edit_url = f"/staff/delegates/{delegate.public_id}/edit"
    form = client.get(f"{edit_url}?apply_request=1").get_data(as_text=True)
    assert 'value="Dr Xiao-Ming Wang"' in form  # prefilled with the request
    plain = client.get(edit_url).get_data(as_text=True)
    assert 'value="Dr Xiao-Ming Wang"' not in plain

    data = {**edit_data(delegate, badge_name="Dr Xiao-Ming Wang"), "category": delegate.category}
    data["csrf_token"] = get_csrf(edit_url)
    assert client.post(edit_url, data=data).status_code == 303
    delegate = from_db(delegate)
    assert delegate.badge_name == "Dr Xiao-Ming Wang"
    assert delegate.needs_reprint is True  # printed badge shows the old name
    with app.app_context():
        edited = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "edited",
                                     AuditEntry.staff_id.is_not(None))).one()
    assert edited.details["changes"]["badge_name"] == ["Xiaoming Wang", "Dr Xiao-Ming Wang"]
    assert 'id="change-request"' not in client.get(
        f"/staff/delegates/{delegate.public_id}").get_data(as_text=True)


def test_head_of_delegation_is_a_desk_decision_once_accredited(app, client, delegate, link,
                                                               post, from_db):
    # Before accreditation the desk reviews everything at approval: the answer applies.
    with app.app_context():
        delegate = db.session.get(Delegate, delegate.id)
        delegate.details = {**delegate.details, "head_of_delegation": False}
        db.session.commit()
        db.session.refresh(delegate)
    post(client, f"{link}/edit", edit_data(delegate, head_of_delegation="y"))
    delegate = from_db(delegate)
    assert delegate.details["head_of_delegation"] is True
    # Accredited (not printed): ticking it no longer opens VIP doors by itself.
    post(client, f"{link}/edit", edit_data(delegate, head_of_delegation=""))
    with app.app_context():
        delegate = db.session.get(Delegate, delegate.id)
        delegate.move_to(Status.APPROVED)
        db.session.commit()
        db.session.refresh(delegate)
    response = post(client, f"{link}/edit", edit_data(delegate, head_of_delegation="y"))
    assert response.status_code == 303
    delegate = from_db(delegate)
    assert delegate.details["head_of_delegation"] is False
    with app.app_context():
        request_entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "change_requested")).one()
    assert request_entry.details["requested"] == {"head_of_delegation": True}


def test_change_request_survives_a_reprint_until_declined(app, client, delegate, link, login,
                                                          get_csrf, post, from_db):
    from registration.services import self_service

    mark_printed(app, delegate)
    post(client, f"{link}/edit", edit_data(delegate, organisation="MPS Jiangsu"))
    with app.app_context():
        delegate = db.session.get(Delegate, delegate.id)
        delegate.needs_reprint = False  # the desk reprinted for a lost badge meanwhile
        delegate.badge_serial += 1
        db.session.commit()
        assert self_service.pending_change_request(delegate) == {"organisation": "MPS Jiangsu"}
    login("desk")
    record_url = f"/staff/delegates/{delegate.public_id}"
    assert 'id="change-request"' in client.get(record_url).get_data(as_text=True)
    response = client.post(f"{record_url}/decline-request",
                           data={"csrf_token": get_csrf(record_url)})
    assert response.status_code == 303
    assert 'id="change-request"' not in client.get(record_url).get_data(as_text=True)
    delegate = from_db(delegate)
    assert delegate.organisation == "Ministry of Public Security"
    with app.app_context():
        assert "change_request_declined" in audit_actions(delegate)
