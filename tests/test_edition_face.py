"""The edition's face and settings: the admin's settings page (logo, capacities, invitation
only, registration window, retention, privacy), the landing and privacy pages in English and
Chinese, the logo route, the logo on badges, and background work that keeps its edition."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from registration.editions import edition_scope, marked_current, require_edition
from registration.extensions import db
from registration.models import AuditEntry, OutboxMessage
from registration.services import mail

pdfium = pytest.importorskip("pypdfium2")


def png(size=(240, 120), color=(200, 30, 30, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, color).save(out, "PNG")
    return out.getvalue()


SETTINGS = {
    "name_en": "Global Public Safety Cooperation Forum", "name_zh": "全球公共安全合作论坛",
    "starts_on": "2026-12-08", "ends_on": "2026-12-10",
    "venue_en": "Lianyungang Convention Centre", "venue_zh": "连云港国际会议中心",
    "city_en": "Lianyungang", "city_zh": "连云港", "timezone": "Asia/Shanghai",
    "registration_opens_at": "2020-01-01T09:00", "registration_closes_at": "2099-11-30T23:59",
    "invitation_only": ["government"], "organiser_name": "Forum Secretariat",
    "contact_email": "contact@forum-secretariat.org", "privacy_en": "We never sell your data.",
    "privacy_zh": "我们绝不出售您的数据。", "retention_until": "2027-06-30",
    "capacity_expert": "300", "capacity_scholar": "", "capacity_ngo": "0",
    "capacity_government": "",
}


@pytest.fixture
def admin(client, login, csrf_from):
    login("admin")
    return csrf_from(client.get("/staff/settings").get_data(as_text=True))


def post_settings(client, token, logo: bytes | None = None, **changes):
    data = {"csrf_token": token, **SETTINGS, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo), "logo.png")
    return client.post("/staff/settings", data=data, content_type="multipart/form-data")


def test_settings_page_saves_and_audits_every_change(app, client, admin):
    response = post_settings(client, admin, logo=png())
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        edition = marked_current()
        assert edition.venue_en == "Lianyungang Convention Centre"
        assert edition.capacities == {"expert": 300, "ngo": 0}
        assert edition.invitation_only == ["government"]
        # Typed in the edition's time zone (UTC+8), stored in UTC.
        assert edition.registration_closes_at.isoformat() == "2099-11-30T15:59:00+00:00"
        assert str(edition.retention_until) == "2027-06-30"
        assert edition.logo_mime == "image/png" and edition.logo.startswith(b"\x89PNG")
        entry = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "edition_settings")).one()
        assert {"venue_en", "capacities", "invitation_only", "logo_digest",
                "registration_closes_at", "privacy_en"} <= set(entry.details["changes"])
        assert entry.actor == "staff:admin@forum.test"
    page = client.get("/staff/settings").get_data(as_text=True)
    assert 'value="2099-11-30T23:59"' in page and "Remove the logo" in page
    # Saving the same values again changes nothing and audits nothing.
    assert post_settings(client, admin).status_code == 303
    assert post_settings(client, admin, remove_logo="y").status_code == 303
    with app.app_context():
        assert marked_current().logo_digest == ""
        assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(
            AuditEntry.action == "edition_settings")) == 2


@pytest.mark.parametrize(("changes", "logo", "message"), [
    ({}, b"not an image at all", "not a PNG or JPEG image"),
    ({}, b"GIF89a" + b"\0" * 64, "not a PNG or JPEG image"),
    ({"capacity_expert": "-5"}, None, "Number must be"),
    ({"capacity_expert": "many"}, None, "Not a valid integer"),
    ({"registration_closes_at": "2019-01-01T00:00"}, None, "close after it opens"),
    ({"registration_opens_at": "yesterday"}, None, "Not a valid datetime"),
    ({"ends_on": "2026-12-01"}, None, "end is before the start"),
    ({"timezone": "Mars/Olympus"}, None, "Unknown time zone"),
    ({"contact_email": "not-an-address"}, None, "Invalid email"),
    ({"name_en": ""}, None, "This field is required"),
    ({"invitation_only": ["royalty"]}, None, "not a valid choice"),
])
def test_settings_page_refuses_bad_input_with_a_form_error(app, client, admin, changes, logo,
                                                           message):
    response = post_settings(client, admin, logo=logo, **changes)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert marked_current().venue_en == ""  # nothing saved


def test_settings_page_takes_a_post_without_the_optional_text_fields(app, client, admin):
    required = {"name_en", "starts_on", "ends_on", "timezone"}
    response = post_settings(client, admin, **{k: None for k in SETTINGS if k not in required})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        edition = marked_current()
        assert edition.name_zh == "" and edition.privacy_zh == "" and edition.venue_en == ""


def test_a_fresh_install_saves_its_settings_page_as_shown(app, client, admin):
    """The seeded contact is not the development sender (accreditation@localhost), which the
    page's address check refuses: saving the page as shown works on a fresh install."""
    import re

    with app.app_context():
        assert "localhost" in app.config["MAIL_DEFAULT_SENDER"]
        assert marked_current().contact_email == ""
    page = client.get("/staff/settings").get_data(as_text=True)
    shown = dict(re.findall(r'<input[^>]*name="(name_en|starts_on|ends_on|timezone|'
                            r'contact_email)"[^>]*value="([^"]*)"', page))
    assert set(shown) >= {"name_en", "starts_on", "ends_on", "timezone"}, shown
    response = client.post("/staff/settings", data={"csrf_token": admin, **shown},
                           content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)


def test_settings_page_is_for_admins_only(client, login):
    login("desk")
    assert client.get("/staff/settings").status_code == 403


def test_landing_page_shows_the_edition_face_in_both_languages(app, client, admin):
    assert post_settings(client, admin, logo=png()).status_code == 303
    with app.app_context():
        digest = marked_current().logo_digest
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for text in ("Global Public Safety Cooperation Forum", "全球公共安全合作论坛",
                 "8–10 December 2026 · Lianyungang", "Venue: Lianyungang Convention Centre",
                 "Registration closes on 2099-11-30 23:59 China Standard Time.",
                 "Organised by Forum Secretariat.", 'href="mailto:contact@forum-secretariat.org"',
                 f'src="/logo?v={digest}"'):
        assert text in page, text
    # An invitation-only category is not offered to the public.
    assert "category=government" not in page and "category=expert" in page
    zh = client.get("/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    for text in ("全球公共安全合作论坛", "2026年12月8日至10日 · 连云港", "地点：连云港国际会议中心",
                 "报名截止时间：2099-11-30 23:59 中国标准时间", "主办方：Forum Secretariat"):
        assert text in zh, text

    logo = client.get(f"/logo?v={digest}")
    assert logo.status_code == 200 and logo.mimetype == "image/png"
    assert logo.data.startswith(b"\x89PNG")
    assert "immutable" in logo.headers["Cache-Control"]
    assert "max-age=300" in client.get("/logo").headers["Cache-Control"]
    assert client.get("/logo", headers={"If-None-Match": f'"{digest}"'}).status_code == 304

    privacy = client.get("/privacy", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for text in ("Forum Secretariat, the organiser of the Global Public Safety Cooperation "
                 "Forum", "We never sell your data.", "Until 2027-06-30",
                 "contact@forum-secretariat.org"):
        assert text in privacy, text
    assert "我们绝不出售您的数据。" in client.get(
        "/privacy", headers={"Accept-Language": "zh"}).get_data(as_text=True)


def test_no_logo_no_route(client):
    assert client.get("/logo").status_code == 404
    assert "/logo" not in client.get("/").get_data(as_text=True)


def test_invitation_only_category_is_refused_on_the_public_form(client, edition_settings,
                                                                get_csrf, form_data):
    edition_settings(invitation_only=["government"])
    page = client.get("/register").get_data(as_text=True)
    assert 'value="government"' not in page and 'value="expert"' in page
    response = client.post("/register", data=form_data(get_csrf(), "government"))
    assert response.status_code == 422


def test_registration_not_open_yet(client, edition_settings):
    from datetime import UTC, datetime, timedelta

    edition_settings(registration_opens_at=datetime.now(UTC) + timedelta(days=3))
    page = client.get("/").get_data(as_text=True)
    assert "Registration opens on" in page
    assert 'name="given_name"' not in client.get("/register").get_data(as_text=True)


def image_count(pdf: bytes) -> int:
    page = pdfium.PdfDocument(pdf)[0]
    return sum(1 for obj in page.get_objects(max_depth=4)
               if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)


def test_badges_print_the_edition_logo(app, runner, make_delegate, edition_settings, tmp_path):
    make_delegate(status="approved", given_name="Logoless")
    plain, with_logo = tmp_path / "plain.pdf", tmp_path / "logo.pdf"
    assert runner.invoke(args=["badges", "print", "-o", str(plain)]).exit_code == 0
    edition_settings(logo=png(), logo_mime="image/png", logo_digest="abc")
    assert runner.invoke(args=["badges", "print", "-o", str(with_logo)]).exit_code == 0
    assert image_count(with_logo.read_bytes()) == image_count(plain.read_bytes()) + 1


def test_pending_mail_of_a_past_edition_is_still_delivered(app, runner, client, get_csrf,
                                                          form_data, mail_text):
    assert client.post("/register", data=form_data(get_csrf())).status_code == 303
    created = runner.invoke(args=["editions", "create", "2027", "--name", "Forum 2027",
                                  "--starts", "2027-12-07", "--ends", "2027-12-09"])
    assert created.exit_code == 0, created.output
    assert runner.invoke(args=["editions", "set-current", "2027"]).exit_code == 0
    with app.app_context():
        report = mail.deliver_pending(include_waiting=True)
        assert report.sent == 1
        row = db.session.scalars(sa.select(OutboxMessage).execution_options(
            all_editions=True)).one()
        assert row.status == "sent"
        body = mail_text(row.message)
        # Composed in its own edition: the 2026 forum's name, not the current one's.
        assert "Forum 2027" not in body and "Global Public Safety" in row.subject + body


def test_staff_print_job_prints_the_switched_edition(app, client, login, csrf_from, runner,
                                                     make_delegate, wait_for_job):
    created = runner.invoke(args=["editions", "create", "2027", "--name", "Forum 2027",
                                  "--starts", "2027-12-07", "--ends", "2027-12-09"])
    assert created.exit_code == 0, created.output
    with app.app_context():
        make_delegate(status="approved", given_name="Currentone")
        with edition_scope(require_edition("2027")):
            make_delegate(status="approved", given_name="Otherone")
    login("desk")
    token = csrf_from(client.get("/staff/print").get_data(as_text=True))
    client.post("/staff/edition", data={"csrf_token": token, "edition": "2027"})
    response = client.post("/staff/print", data={"csrf_token": token, "layout": "a6"})
    assert response.status_code == 303
    data = wait_for_job(client, response.headers["Location"])
    assert data["state"] == "done" and data["result"]["count"] == 1
    pdf = client.get(data["download_url"]).data
    text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert "Otherone" in text and "Currentone" not in text
