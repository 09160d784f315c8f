"""Visa invitation letters: the question on the registration form, the desk's queue (issue,
refuse, withdraw), the PDF in English and Chinese decoded back (text and QR code), the
verification page (genuine, tampered, withdrawn, forged), the manage page, the letterhead
settings, the batch CLI, and the passport number never in clear in the table."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from registration import visa_token
from registration.editions import marked_current
from registration.extensions import db
from registration.models import AuditEntry, Delegate, DelegateIdentity, VisaLetter
from registration.services import delegations, manage_links
from registration.services.badge_signing import token_for

zxingcpp = pytest.importorskip("zxingcpp")

PASSPORT = "751234567"
LETTERHEAD = {
    "letter_organiser_en": "Forum Secretariat", "letter_organiser_zh": "论坛秘书处",
    "letter_address_en": "1 Harbour Road, Lianyungang", "letter_address_zh": "连云港海港路1号",
    "letter_signatory_en": "Li Wei", "letter_signatory_zh": "李伟",
    "letter_signatory_title_en": "Secretary-General", "letter_signatory_title_zh": "秘书长",
}


@pytest.fixture
def visa_edition(edition_settings):
    edition_settings(identity_categories=["government", "expert"], **LETTERHEAD)


def with_identity(app, public_id, nationality="RU", number=PASSPORT) -> None:
    with app.app_context():
        delegate = db.session.scalars(sa.select(Delegate).where(
            Delegate.public_id == public_id)).one()
        delegate.identity = DelegateIdentity(
            nationality=nationality, date_of_birth="1980-02-03", document_type="passport",
            document_number=number, document_country=nationality,
            document_expiry="2031-05-01")
        db.session.commit()


def letters(app) -> list[VisaLetter]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(VisaLetter).order_by(VisaLetter.id)))
        for row in rows:
            db.session.refresh(row)
        return rows


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def pdf_qr_codes(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "qr.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")],
                   check=True, capture_output=True)
    codes = []
    for page in sorted(tmp_path.glob("page*.png")):
        found = [r.text for r in zxingcpp.read_barcodes(Image.open(page))
                 if r.format == zxingcpp.BarcodeFormat.QRCode]
        assert len(found) == 1, page
        codes += found
    return codes


def register_with_visa(client, get_csrf, form_data, **overrides):
    values = {"country": "RU", "email": "maria@example.ru", "given_name": "Maria",
              "family_name": "Ivanova", "native_name": "Мария Иванова", "visa_letter": "y",
              "visa_stay_from": "2026-12-06", "visa_stay_to": "2026-12-12",
              # Identity data, as the edition asks for it (visa_edition).
              "nationality": "RU", "date_of_birth": "1980-02-03", "document_type": "passport",
              "document_number": PASSPORT, "document_country": "RU",
              "document_expiry": "2031-05-01", **overrides}
    data = form_data(get_csrf(), **values)
    return client.post("/register", data=data)


def issue_one(app, client, login, csrf_from, get_csrf, form_data) -> VisaLetter:
    response = register_with_visa(client, get_csrf, form_data)
    assert response.status_code == 303, response.get_data(as_text=True)
    [letter] = letters(app)
    with app.app_context():
        public_id = db.session.get(Delegate, letter.delegate_id).public_id
    with_identity(app, public_id)
    login("desk")
    token = csrf_from(client.get("/staff/visa-letters").get_data(as_text=True))
    response = client.post(f"/staff/visa-letters/{letter.id}/approve",
                           data={"csrf_token": token})
    assert response.status_code == 303
    return letters(app)[0]


def test_registration_form_asks_and_files_a_request(app, client, get_csrf, form_data,
                                                    visa_edition):
    page = client.get("/register").get_data(as_text=True)
    assert "visa invitation letter" in page and 'name="visa_stay_from"' in page
    response = register_with_visa(client, get_csrf, form_data)
    assert response.status_code == 303
    [letter] = letters(app)
    assert letter.state == "requested"
    assert re.fullmatch(r"VL-2026-\d{5}", letter.reference)
    assert (str(letter.stay_from), str(letter.stay_to)) == ("2026-12-06", "2026-12-12")
    assert "Forum" in letter.purpose


def test_no_question_where_identity_is_not_asked(client):
    assert 'name="visa_stay_from"' not in client.get("/register").get_data(as_text=True)


@pytest.mark.parametrize(("stay_from", "stay_to", "message"), [
    ("2026-12-12", "2026-12-06", "departure date is before the arrival"),
    ("2027-01-05", "2027-01-09", "at least one day of the forum"),
    ("", "", "Give the dates of your intended stay"),
    ("2026-09-01", "2026-12-10", "at most 90 days"),
])
def test_bad_dates_of_stay_are_a_form_error(app, client, get_csrf, form_data, visa_edition,
                                            stay_from, stay_to, message):
    response = register_with_visa(client, get_csrf, form_data, visa_stay_from=stay_from,
                                  visa_stay_to=stay_to)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert letters(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Delegate.id))) == 0


def test_issued_letter_pdf_text_qr_and_verification_page(app, client, login, csrf_from,
                                                         get_csrf, form_data, visa_edition,
                                                         tmp_path):
    letter = issue_one(app, client, login, csrf_from, get_csrf, form_data)
    assert letter.state == "approved" and letter.issued_by == "staff:desk@forum.test"
    response = client.get(f"/staff/visa-letters/{letter.id}/letter.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.data
    text = pdf_text(pdf, tmp_path)
    for expected in ("Invitation letter", "Maria Ivanova", "Мария Иванова", "Russia",
                     "3 February 1980", PASSPORT, "6 December 2026 – 12 December 2026",
                     letter.reference, "Li Wei", "Secretary-General", "Forum Secretariat",
                     "邀请函", "论坛秘书处", "俄罗斯", "1980年2月3日", "李伟", "秘书长",
                     "2026年12月6日至2026年12月12日"):
        assert expected in text, expected
    codes = pdf_qr_codes(pdf, tmp_path)
    assert len(codes) == 2 and codes[0] == codes[1]  # one per page (English, Chinese)
    url = codes[0]
    path = url[url.index("/verify/"):]
    assert url.startswith("http") and path.startswith("/verify/VL1")
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Genuine and valid" in html and "真实有效" in html
    assert "Maria Ivanova" in html and "567" in html and PASSPORT not in html
    # Nothing more about the holder to whoever holds a copy: no nationality, no travel dates.
    for private in ("Russia", "2026-12-06", "2026-12-12", "Nationality", "1980-02-03"):
        assert private not in html, private
    assert page.headers["Cache-Control"] == "no-store"
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"visa_letter_requested", "visa_letter_issued"} <= actions


def test_tampered_and_forged_tokens_are_not_genuine(app, client, login, csrf_from, get_csrf,
                                                    form_data, visa_edition):
    letter = issue_one(app, client, login, csrf_from, get_csrf, form_data)
    with app.app_context():
        good = visa_token.issue(__import__("registration.services.badge_signing",
                                           fromlist=["x"]).signing_key(),
                                letter.public_id, letter.edition_id)
        delegate = db.session.get(Delegate, letter.delegate_id)
        badge = token_for(delegate)
    assert "Genuine and valid" in client.get(f"/verify/{good}").get_data(as_text=True)
    # One character of the signature changed.
    i = len(good) - 10
    tampered = good[:i] + ("A" if good[i] != "A" else "B") + good[i + 1:]
    # Signed by a key that is not ours.
    forged = visa_token.issue(Ed25519PrivateKey.generate(), letter.public_id,
                              letter.edition_id)
    for token in (tampered, forged, badge, "nonsense", good.lower()):
        response = client.get(f"/verify/{token}")
        html = response.get_data(as_text=True)
        assert response.status_code == 404, token
        assert "Not genuine" in html and "无效" in html
        assert "Maria" not in html


def test_withdrawn_letter_says_so(app, client, login, csrf_from, get_csrf, form_data,
                                  visa_edition):
    letter = issue_one(app, client, login, csrf_from, get_csrf, form_data)
    token = csrf_from(client.get("/staff/visa-letters").get_data(as_text=True))
    refused = client.post(f"/staff/visa-letters/{letter.id}/withdraw",
                          data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 422
    assert "Give a reason for the withdrawal" in refused.get_data(as_text=True)
    response = client.post(f"/staff/visa-letters/{letter.id}/withdraw",
                           data={"csrf_token": token, "reason": "Delegate cancelled"})
    assert response.status_code == 303
    with app.app_context():
        from registration.services.visa_letters import verify_url

        url = verify_url(db.session.get(VisaLetter, letter.id))
    html = client.get(url[url.index("/verify/"):]).get_data(as_text=True)
    assert "Withdrawn" in html and "已撤销" in html and "Genuine and valid" not in html
    assert client.get(f"/staff/visa-letters/{letter.id}/letter.pdf").status_code == 404


def test_refusal_needs_a_reason_and_is_shown_on_the_manage_page(app, client, login, csrf_from,
                                                                get_csrf, form_data,
                                                                visa_edition):
    assert register_with_visa(client, get_csrf, form_data).status_code == 303
    [letter] = letters(app)
    login("vetting")
    token = csrf_from(client.get("/staff/visa-letters").get_data(as_text=True))
    assert client.post(f"/staff/visa-letters/{letter.id}/refuse",
                       data={"csrf_token": token}).status_code == 422
    assert client.post(f"/staff/visa-letters/{letter.id}/refuse",
                       data={"csrf_token": token, "reason": "Not a delegate"}
                       ).status_code == 303
    assert letters(app)[0].state == "refused"
    with app.app_context():
        link = manage_links.make_token(db.session.get(Delegate, letter.delegate_id))
    page = client.get(f"/manage/{link}").get_data(as_text=True)
    assert "was refused: Not a delegate" in page


def test_approval_needs_identity_data_and_refuses_chinese_nationals(app, client, login,
                                                                    csrf_from, get_csrf,
                                                                    form_data, visa_edition):
    assert register_with_visa(client, get_csrf, form_data).status_code == 303
    [letter] = letters(app)
    with app.app_context():  # the identity data purged (or never given, as by an import)
        delegate = db.session.get(Delegate, letter.delegate_id)
        public_id = delegate.public_id
        delegate.identity = None
        db.session.commit()
    login("desk")
    token = csrf_from(client.get("/staff/visa-letters").get_data(as_text=True))
    response = client.post(f"/staff/visa-letters/{letter.id}/approve",
                           data={"csrf_token": token})
    assert response.status_code == 422
    assert "add the identity data first" in response.get_data(as_text=True)
    with_identity(app, public_id, nationality="CN", number="E12345678")
    response = client.post(f"/staff/visa-letters/{letter.id}/approve",
                           data={"csrf_token": token})
    assert response.status_code == 422
    assert "Chinese nationals do not need" in response.get_data(as_text=True)
    assert letters(app)[0].state == "requested"


def test_manage_page_request_and_download(app, client, make_delegate, visa_edition, csrf_from,
                                          login, tmp_path):
    delegate = make_delegate(country="DE", email="anna@example.de", given_name="Anna",
                             family_name="Schmidt")
    with_identity(app, delegate.public_id, nationality="DE", number="C01X00T47")
    with app.app_context():
        link = manage_links.make_token(db.session.get(Delegate, delegate.id))
    page = client.get(f"/manage/{link}").get_data(as_text=True)
    assert "Ask for an invitation letter" in page
    token = csrf_from(page)
    bad = client.post(f"/manage/{link}/visa-letter",
                      data={"csrf_token": token, "visa_letter": "y",
                            "visa_stay_from": "2026-12-20", "visa_stay_to": "2026-12-10"})
    assert bad.status_code == 422 and "before the arrival date" in bad.get_data(as_text=True)
    ok = client.post(f"/manage/{link}/visa-letter",
                     data={"csrf_token": token, "visa_letter": "y",
                           "visa_stay_from": "2026-12-07", "visa_stay_to": "2026-12-11"})
    assert ok.status_code == 303
    [letter] = letters(app)
    assert client.get(f"/manage/{link}/visa-letter.pdf").status_code == 404  # not issued
    assert "Ask for an invitation letter" not in client.get(f"/manage/{link}").get_data(
        as_text=True)  # one open request at a time
    login("admin")
    staff_token = csrf_from(client.get("/staff/visa-letters").get_data(as_text=True))
    queue = client.get("/staff/visa-letters").get_data(as_text=True)
    assert "C01X00T47" in queue  # an admin sees the number in full
    assert client.post(f"/staff/visa-letters/{letter.id}/approve",
                       data={"csrf_token": staff_token}).status_code == 303
    response = client.get(f"/manage/{link}/visa-letter.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data, tmp_path)
    assert "Anna Schmidt" in text and "C01X00T47" in text and "Germany" in text


def test_desk_sees_the_passport_number_and_birth_date_masked(app, client, make_delegate,
                                                            visa_edition, login):
    delegate = make_delegate(country="DE")
    with_identity(app, delegate.public_id, nationality="DE", number="C01X00T47")
    with app.app_context():
        from registration.services import visa_letters

        edition = marked_current()
        visa_letters.request_letter(db.session.get(Delegate, delegate.id), edition.starts_on,
                                    edition.ends_on)
    login("desk")
    queue = client.get("/staff/visa-letters").get_data(as_text=True)
    assert "C01X00T47" not in queue and "T47" in queue
    assert "1980-02-03" not in queue and "•••-03" in queue.replace("&#8226;", "•")
    login("vetting")  # the vetting role reads both in full, as on the delegate page
    queue = client.get("/staff/visa-letters").get_data(as_text=True)
    assert "C01X00T47" in queue and "1980-02-03" in queue


def test_cli_writes_a_batch_per_delegation(app, runner, make_delegate, visa_edition, login,
                                           tmp_path):
    pdfium = pytest.importorskip("pypdfium2")

    from registration.models import StaffUser
    from registration.services import visa_letters

    with app.app_context():
        atlantis, _ = delegations.create("Atlantis", "FR", focal_emails=["fp@atl.example"],
                                         quotas={"government": 5})
        atlantis_id = atlantis.id
    ids = []
    for n, delegation_id in enumerate((atlantis_id, atlantis_id, None)):
        d = make_delegate(country="FR", email=f"p{n}@example.fr", delegation_id=delegation_id)
        with_identity(app, d.public_id, nationality="FR", number=f"18AB{n}2345")
        ids.append(d.id)
    with app.app_context():
        staff = StaffUser(email="desk@x.test", role="desk", password_hash="x")
        db.session.add(staff)
        edition = marked_current()
        for delegate_id in ids:
            letter = visa_letters.request_letter(db.session.get(Delegate, delegate_id),
                                                 edition.starts_on, edition.ends_on)
            visa_letters.approve(letter, staff)
    out = tmp_path / "atlantis.pdf"
    result = runner.invoke(args=["visa", "letters", "--delegation", "Atlantis", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 visa letters written" in result.output
    assert len(pdfium.PdfDocument(str(out))) == 4  # English and Chinese page each
    text = pdf_text(out.read_bytes(), tmp_path)
    assert "18AB02345" in text and "18AB12345" in text and "18AB22345" not in text
    result = runner.invoke(args=["visa", "letters", "-o", str(tmp_path / "all.pdf")])
    assert result.exit_code == 0 and "3 visa letters written" in result.output
    result = runner.invoke(args=["visa", "letters", "--delegation", "Nowhere", "-o",
                                 str(tmp_path / "x.pdf")])
    assert result.exit_code == 1 and "No delegation 'Nowhere'" in result.output


def test_passport_number_and_birth_date_not_in_clear_in_the_table(app, client, login,
                                                                   csrf_from, get_csrf,
                                                                   form_data, visa_edition):
    issue_one(app, client, login, csrf_from, get_csrf, form_data)
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM visa_letter")).all()
    raw = repr(rows)
    assert rows and PASSPORT not in raw and "1980-02-03" not in raw


def test_letterhead_settings_are_saved_from_the_settings_page(app, client, login, csrf_from):
    login("admin")
    token = csrf_from(client.get("/staff/settings").get_data(as_text=True))
    signature = io.BytesIO()
    Image.new("RGBA", (300, 100), (20, 20, 120, 255)).save(signature, "PNG")
    signature.seek(0)
    settings = {"name_en": "Global Public Safety Cooperation Forum", "starts_on": "2026-12-08",
                "ends_on": "2026-12-10", "timezone": "Asia/Shanghai", "name_zh": "",
                "venue_en": "", "venue_zh": "", "city_en": "", "city_zh": "",
                "organiser_name": "", "contact_email": "", "privacy_en": "", "privacy_zh": ""}
    data = {"csrf_token": token, **settings, **LETTERHEAD,
            "letter_signature": (signature, "signature.png")}
    response = client.post("/staff/settings", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        edition = marked_current()
        assert edition.letter_signatory_zh == "李伟"
        assert edition.letter_signature.startswith(b"\x89PNG")
    page = client.get("/staff/settings").get_data(as_text=True)
    assert "Remove the signature image" in page and 'value="Secretary-General"' in page
    bad = {**data, "letter_signature": (io.BytesIO(b"not an image"), "s.png"),
           "csrf_token": token}
    assert client.post("/staff/settings", data=bad,
                       content_type="multipart/form-data").status_code == 422


def test_no_letter_without_a_letterhead(app, client, runner, login, csrf_from, get_csrf,
                                        form_data, edition_settings, tmp_path):
    edition_settings(identity_categories=["government", "expert"], organiser_name="")
    assert register_with_visa(client, get_csrf, form_data).status_code == 303
    [letter] = letters(app)
    login("desk")
    token = csrf_from(client.get("/staff/visa-letters").get_data(as_text=True))
    response = client.post(f"/staff/visa-letters/{letter.id}/approve",
                           data={"csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert ("The letterhead is missing: organiser, signatory&#39;s name, signatory&#39;s title. "
            "Set it on /staff/settings, under “Visa invitation letters”") in html
    assert letters(app)[0].state == "requested"
    # The English letterhead is enough: the Chinese page names the forum's committee in
    # Chinese, never the English organiser.
    edition_settings(letter_organiser_en="Forum Secretariat", letter_signatory_en="Li Wei",
                     letter_signatory_title_en="Secretary-General")
    assert client.post(f"/staff/visa-letters/{letter.id}/approve",
                       data={"csrf_token": token}).status_code == 303
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(client.get(f"/staff/visa-letters/{letter.id}/letter.pdf").data)
    chinese = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(pdf), "-"],
                             capture_output=True, text=True, check=True).stdout
    assert "Forum Secretariat" not in chinese and "全球公共安全合作论坛组委会谨邀请" in chinese
    assert "Li Wei" in chinese  # no Chinese name given: the signatory's own
    # A letterhead emptied after issuing: the batch refuses to print letters without it.
    edition_settings(letter_signatory_title_en="")
    result = runner.invoke(args=["visa", "letters", "-o", str(tmp_path / "all.pdf")])
    assert result.exit_code == 1
    assert "The letterhead is missing: signatory's title." in result.output
    assert not (tmp_path / "all.pdf").exists()


def test_chinese_letter_lines_follow_the_line_breaking_rules():
    """A full stop or closing bracket never starts a line and an opening bracket never ends
    one: the character beside it moves with it."""
    from badges.letter import line_width, wrap

    size = 11
    width = line_width("中" * 10, size)
    lines = wrap("中" * 10 + "。" + "文" * 3, size, width)
    assert len(lines) == 2 and not any(line.startswith("。") for line in lines), lines
    assert "".join(lines) == "中" * 10 + "。" + "文" * 3  # nothing lost
    lines = wrap("中" * 9 + "《文件》", size, width)
    assert not any(line.endswith("《") for line in lines), lines


# --- a holder who may no longer come loses the letter ---------------------------------------

def issued_letter(app, make_delegate, n: int = 0, **fields) -> tuple[Delegate, int]:
    """A delegate (German, with identity data) and the id of the letter issued to them."""
    from registration.models import StaffUser
    from registration.services import visa_letters

    delegate = make_delegate(**{"country": "DE", "email": f"holder{n}@example.de",
                                "given_name": f"Holder{n}", "family_name": "Schmidt",
                                **fields})
    with_identity(app, delegate.public_id, nationality="DE", number=f"C01X{n}0T47")
    with app.app_context():
        staff = db.session.scalar(sa.select(StaffUser).where(
            StaffUser.email == "issuer@forum.test"))
        if staff is None:
            staff = StaffUser(email="issuer@forum.test", role="desk", password_hash="x")
            db.session.add(staff)
            db.session.commit()
        edition = marked_current()
        letter = visa_letters.request_letter(db.session.get(Delegate, delegate.id),
                                             edition.starts_on, edition.ends_on)
        visa_letters.approve(letter, staff)
        assert letter.state == "approved"
        return delegate, letter.id


def verify_page(app, client, letter_id: int) -> str:
    from registration.services.visa_letters import verify_url

    with app.app_context():
        url = verify_url(db.session.get(VisaLetter, letter_id))
    return client.get(url[url.index("/verify/"):]).get_data(as_text=True)


def assert_withdrawn(app, client, letter_id: int, reason: str, actor: str) -> None:
    """Withdrawn with `reason`, audited by `actor`, and so said on its verification page."""
    with app.app_context():
        letter = db.session.get(VisaLetter, letter_id)
        assert (letter.state, letter.withdrawn_reason) == ("withdrawn", reason)
        entry = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.delegate_id == letter.delegate_id,
            AuditEntry.action == "visa_letter_withdrawn")).one()
        assert entry.actor == actor and entry.details["reference"] == letter.reference
    html = verify_page(app, client, letter_id)
    assert "Withdrawn" in html and "已撤销" in html and "Genuine and valid" not in html


def manage_link(app, delegate: Delegate) -> str:
    with app.app_context():
        return "/manage/" + manage_links.make_token(db.session.get(Delegate, delegate.id))


def test_erasure_withdraws_the_letter_and_clears_the_holder(app, client, runner, csrf_from,
                                                            make_delegate, visa_edition,
                                                            tmp_path):
    erased, letter_id = issued_letter(app, make_delegate, 1)
    _other, other_id = issued_letter(app, make_delegate, 2)
    assert "Holder1 Schmidt" in verify_page(app, client, letter_id)
    link = manage_link(app, erased)
    token = csrf_from(client.get(f"{link}/erase").get_data(as_text=True))
    response = client.post(f"{link}/erase", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 303
    html = verify_page(app, client, letter_id)
    assert "Withdrawn" in html and "已撤销" in html and "Genuine and valid" not in html
    for private in ("Holder1", "Schmidt", "T47", "Passport number"):
        assert private not in html, private
    with app.app_context():
        row = db.session.execute(sa.text(
            "SELECT state, withdrawn_reason, holder_name, holder_native_name, "
            "holder_nationality, holder_date_of_birth, holder_document_number "
            "FROM visa_letter WHERE id = :id"), {"id": letter_id}).one()
        other = db.session.get(VisaLetter, other_id)
        assert other.state == "approved" and other.holder_name == "Holder2 Schmidt"
    assert tuple(row) == ("withdrawn", "the registration was erased", "", "", "", None, None)
    # The batch prints the other letter only.
    out = tmp_path / "all.pdf"
    result = runner.invoke(args=["visa", "letters", "-o", str(out)])
    assert result.exit_code == 0 and "1 visa letter written" in result.output, result.output
    text = pdf_text(out.read_bytes(), tmp_path)
    assert "Holder2" in text and "C01X20T47" in text and "C01X10T47" not in text


def test_vetting_rejection_on_the_page_withdraws_the_letter(app, client, login, csrf_from,
                                                            make_delegate, edition_settings,
                                                            visa_edition):
    edition_settings(vetting_required=True)
    delegate, letter_id = issued_letter(app, make_delegate, status="approved")
    link = manage_link(app, delegate)
    assert "Download my visa invitation letter" in client.get(link).get_data(as_text=True)
    login("vetting", email="officer@vetting.test")
    path = f"/staff/vetting/{delegate.public_id}"
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    done = client.post(path, data={"csrf_token": csrf, "decision": "rejected",
                                   "note": "Listed"})
    assert done.status_code == 303
    assert_withdrawn(app, client, letter_id, "the registration was not cleared by vetting",
                     "staff:officer@vetting.test")
    client.post("/staff/logout", data={"csrf_token": csrf})
    page = client.get(link).get_data(as_text=True)
    assert "Download my visa invitation letter" not in page
    assert "was withdrawn: the registration was not cleared by vetting" in page
    assert "Ask for an invitation letter" not in page  # no new request either
    assert client.get(f"{link}/visa-letter.pdf").status_code == 404


def test_vetting_rejection_by_import_withdraws_the_letter(app, runner, client, make_delegate,
                                                          edition_settings, visa_edition,
                                                          tmp_path):
    edition_settings(vetting_required=True)
    rejected, rejected_letter = issued_letter(app, make_delegate, 1, vetting_status="pending")
    cleared, cleared_letter = issued_letter(app, make_delegate, 2, vetting_status="pending")
    results = tmp_path / "results.csv"
    results.write_text(f"reference,decision,note\n{rejected.reference},rejected,listed\n"
                       f"{cleared.reference},cleared,\n", encoding="utf-8")
    result = runner.invoke(args=["vetting", "import", str(results)])
    assert result.exit_code == 0, result.output
    assert_withdrawn(app, client, rejected_letter,
                     "the registration was not cleared by vetting", "system")
    assert "Genuine and valid" in verify_page(app, client, cleared_letter)


def test_desk_rejection_withdraws_the_letter(app, client, login, csrf_from, make_delegate,
                                             visa_edition):
    delegate, letter_id = issued_letter(app, make_delegate, status="approved")
    login("desk")
    path = f"/staff/delegates/{delegate.public_id}"
    token = csrf_from(client.get(path).get_data(as_text=True))
    response = client.post(f"{path}/reject", data={"csrf_token": token,
                                                   "reason": "Not an invited official"})
    assert response.status_code == 303
    assert_withdrawn(app, client, letter_id, "the registration was not accredited",
                     "staff:desk@forum.test")


def test_cancellation_withdraws_the_letter(app, client, csrf_from, make_delegate,
                                           visa_edition):
    delegate, letter_id = issued_letter(app, make_delegate)
    link = manage_link(app, delegate)
    token = csrf_from(client.get(f"{link}/cancel").get_data(as_text=True))
    response = client.post(f"{link}/cancel", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 303
    assert_withdrawn(app, client, letter_id, "the registration was cancelled", "system")
    page = client.get(link).get_data(as_text=True)
    assert "Download my visa invitation letter" not in page
    assert "was withdrawn: the registration was cancelled" in page
    # Stored in English, shown in the reader's language.
    client.get("/lang/zh")
    assert "该注册已取消" in client.get(link).get_data(as_text=True)


def test_substitution_withdraws_the_letter(app, client, login, csrf_from, form_data,
                                           make_delegate, visa_edition):
    with app.app_context():
        france, _ = delegations.create("France", "FR", focal_emails=["fp@mfa.example.fr"],
                                       quotas={"government": 5})
        france_id = france.id
    delegate, letter_id = issued_letter(app, make_delegate, delegation_id=france_id)
    login("desk")
    url = f"/staff/delegations/{france_id}/substitute/{delegate.public_id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    data = form_data(token, "government", given_name="Denise", family_name="Martin",
                     email="denise@mfa.example.fr", country="FR", delegation="FR",
                     head_of_delegation=None)
    response = client.post(url, data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert_withdrawn(app, client, letter_id, "the holder was replaced in the delegation",
                     "staff:desk@forum.test")


def test_no_letter_for_a_holder_vetting_rejected(app, client, login, csrf_from,
                                                 make_delegate, visa_edition):
    from registration.services import visa_letters

    delegate = make_delegate(country="DE")
    with_identity(app, delegate.public_id, nationality="DE", number="C01X00T47")
    with app.app_context():
        edition = marked_current()
        letter = visa_letters.request_letter(db.session.get(Delegate, delegate.id),
                                             edition.starts_on, edition.ends_on)
        letter_id = letter.id
        # Rejected by vetting while the request waits (set here as a record from before
        # rejections withdrew requests would be).
        db.session.get(Delegate, delegate.id).vetting_status = "rejected"
        db.session.commit()
    message = "No invitation letter can be issued: this registration was not cleared by vetting."
    login("desk")
    token = csrf_from(client.get("/staff/visa-letters").get_data(as_text=True))
    response = client.post(f"/staff/visa-letters/{letter_id}/approve",
                           data={"csrf_token": token})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        letter = db.session.get(VisaLetter, letter_id)
        with pytest.raises(visa_letters.VisaLetterError, match=message):
            visa_letters.approve(letter, None)
        db.session.rollback()
        assert db.session.get(VisaLetter, letter_id).state == "requested"
        for status, said in (("rejected", "was not accredited"), ("cancelled", "is cancelled")):
            d = db.session.get(Delegate, delegate.id)
            d.vetting_status, d.status = "cleared", status
            db.session.commit()
            with pytest.raises(visa_letters.VisaLetterError, match=said):
                visa_letters.approve(db.session.get(VisaLetter, letter_id), None)
            db.session.rollback()
