"""The self-service kiosk: devices issue --kiosk --printer, the kiosk API against a real IPP
printer (ippeveprinter), each refusal in both languages, and tokens kept to their job."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from sqlalchemy import select

from registration.extensions import db
from registration.models import AuditEntry, Delegate, Status
from registration.services import badge_signing

try:
    import pypdfium2 as pdfium
    import zxingcpp
except ImportError:  # pragma: no cover - dev requirements
    pdfium = zxingcpp = None

needs_qr = pytest.mark.skipif(pdfium is None or zxingcpp is None,
                              reason="pypdfium2 and zxing-cpp are needed to read the PDF's QR")
MM = 72 / 25.4


def qr_codes(pdf: bytes) -> list[str]:
    codes = []
    for page in pdfium.PdfDocument(pdf):
        image = page.render(scale=300 / 72).to_pil().convert("L")
        codes += [r.text for r in zxingcpp.read_barcodes(image)
                  if r.format == zxingcpp.BarcodeFormat.QRCode]
    return codes


def issue(runner, *args: str) -> str:
    result = runner.invoke(args=["devices", "issue", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def kiosk(runner, ipp_printer):
    """A kiosk device on a running printer: (token, printer)."""
    printer = ipp_printer()
    assert runner.invoke(args=["printers", "add", "Kiosk printer", printer.uri,
                               "--layout", "a6"]).exit_code == 0
    return issue(runner, "Kiosk 1", "--kiosk", "--printer", "Kiosk printer"), printer


def call(client, token, path, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is None:
        return client.get(f"/api/v1/kiosk/{path}", headers=headers)
    return client.post(f"/api/v1/kiosk/{path}", json=body, headers=headers)


def follow(client, token, job: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = call(client, token, f"jobs/{job}").get_json()
        if body["status"] != "printing" or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def qr_for(app, delegate) -> str:
    with app.app_context():
        return badge_signing.token_for(db.session.get(Delegate, delegate.id))


def assert_refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"] == code
    assert "accreditation desk" in body["message"]
    assert "注册" in body["message_zh"] or "前往" in body["message_zh"]
    return body


@needs_qr
def test_kiosk_prints_a_badge_once(app, client, kiosk, make_delegate):
    token, printer = kiosk
    delegate = make_delegate(status=Status.APPROVED, native_name="王小明")
    code = qr_for(app, delegate)
    found = call(client, token, "lookup", {"code": code})
    assert found.status_code == 200
    shown = found.get_json()["delegate"]
    assert shown["native_name"] == "王小明" and shown["reference"] == delegate.reference
    assert shown["category_label_zh"]

    response = call(client, token, "print", {"code": code})
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "printing" and isinstance(body["job"], int)
    done = follow(client, token, body["job"])
    assert done["status"] == "printed" and done["message_zh"]
    [pdf] = printer.pdfs()
    doc = pdfium.PdfDocument(pdf.read_bytes())
    assert len(doc) == 1
    width, height = doc[0].get_size()
    assert (round(width / MM), round(height / MM)) == (105, 148)
    [printed_code] = qr_codes(pdf.read_bytes())
    with app.app_context():
        stored = db.session.get(Delegate, delegate.id)
        assert stored.printed_at is not None and stored.status == Status.BADGE_PRINTED.value
        assert badge_signing.verify_code(printed_code).badge_id == stored.public_id
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "printed"))
        assert entry.actor.startswith("kiosk:")

    # Once only: the same delegate again is sent to the desk, and nothing more prints.
    assert_refused(call(client, token, "print", {"code": code}), 409, "already_printed")
    assert_refused(call(client, token, "lookup", {"code": code}), 409, "already_printed")
    assert len(printer.pdfs()) == 1


def test_reference_and_family_name_find_the_delegate(app, client, kiosk, make_delegate):
    token, _printer = kiosk
    delegate = make_delegate(status=Status.APPROVED, family_name="Müller")
    typed = delegate.reference.lower().replace("-", "")
    found = call(client, token, "lookup", {"reference": typed, "family_name": "MULLER"})
    assert found.status_code == 200
    wrong = call(client, token, "lookup", {"reference": typed, "family_name": "Smith"})
    assert_refused(wrong, 404, "not_found")
    response = call(client, token, "print", {"reference": typed, "family_name": "müller"})
    assert response.status_code == 202
    assert follow(client, token, response.get_json()["job"])["status"] == "printed"


def test_each_refusal_prints_nothing(app, client, kiosk, make_delegate):
    token, printer = kiosk
    submitted = make_delegate(status=Status.SUBMITTED)
    body = assert_refused(call(client, token, "print", {"code": qr_for(app, submitted)}),
                          403, "not_accredited")
    assert body["reason"] == "not_accredited"
    cancelled = make_delegate(status=Status.CANCELLED)
    body = assert_refused(call(client, token, "print", {"code": qr_for(app, cancelled)}),
                          403, "not_accredited")
    assert body["reason"] == "cancelled" and "cancelled" in body["message"]
    assert_refused(call(client, token, "print", {"reference": "GPS-ZZZZ-ZZZZ",
                                                 "family_name": "Wang"}), 404, "not_found")
    assert_refused(call(client, token, "print", {"code": "GP1NOTATOKEN"}), 404, "not_found")
    printed = make_delegate(status=Status.BADGE_PRINTED, printed=True)
    assert_refused(call(client, token, "print", {"code": qr_for(app, printed)}), 409,
                   "already_printed")
    bad = call(client, token, "print", {"name": "x"})
    assert bad.status_code == 422 and bad.get_json()["error"] == "missing_field"
    assert printer.pdfs() == []

    # The printer goes away: 503, nothing marked printed.
    ready = make_delegate(status=Status.APPROVED)
    printer.stop()
    body = assert_refused(call(client, token, "print", {"code": qr_for(app, ready)}), 503,
                          "printer_unavailable")
    assert body["detail"] == "unreachable"
    with app.app_context():
        assert db.session.get(Delegate, ready.id).printed_at is None


def test_a_job_the_printer_aborts_is_failed_and_leaves_the_badge_unprinted(
        app, client, runner, ipp_printer, make_delegate):
    jammed = ipp_printer(command="/bin/false")
    runner.invoke(args=["printers", "add", "Jammed", jammed.uri, "--layout", "a6"])
    token = issue(runner, "Kiosk 2", "--kiosk", "--printer", "Jammed")
    delegate = make_delegate(status=Status.APPROVED)
    response = call(client, token, "print", {"code": qr_for(app, delegate)})
    assert response.status_code == 202
    done = follow(client, token, response.get_json()["job"])
    assert done["status"] == "failed" and done["reason"] == "aborted"
    assert "accreditation desk" in done["message"] and done["message_zh"]
    with app.app_context():
        assert db.session.get(Delegate, delegate.id).printed_at is None


def test_tokens_keep_to_their_job(app, client, runner, kiosk, make_delegate):
    kiosk_token, _ = kiosk
    scanner_token = issue(runner, "Door phone")
    delegate = make_delegate(status=Status.APPROVED)
    code = qr_for(app, delegate)
    for path in ("print", "lookup"):
        refused = call(client, scanner_token, path, {"code": code})
        assert refused.status_code == 403 and refused.get_json()["error"] == "not_a_kiosk"
    assert call(client, scanner_token, "jobs/1").status_code == 403
    assert call(client, None, "print", {"code": code}).status_code == 401
    checkin = client.post("/api/v1/checkins", json={"code": code, "checkpoint": "main",
                                                    "nonce": uuid.uuid4().hex},
                          headers={"Authorization": f"Bearer {kiosk_token}"})
    assert checkin.status_code == 403 and checkin.get_json()["error"] == "kiosk_token"
    snapshot = client.get("/api/v1/checkin-snapshot",
                          headers={"Authorization": f"Bearer {kiosk_token}"})
    assert snapshot.status_code == 403
    # Another kiosk's job is not this kiosk's business.
    response = call(client, kiosk_token, "print", {"code": code})
    other = issue(runner, "Kiosk 3", "--kiosk", "--printer", "Kiosk printer")
    assert call(client, other, f"jobs/{response.get_json()['job']}").status_code == 404


def test_devices_issue_kiosk_needs_a_known_printer(runner):
    no_printer = runner.invoke(args=["devices", "issue", "K", "--kiosk"])
    assert no_printer.exit_code == 1 and "--printer" in no_printer.output
    unknown = runner.invoke(args=["devices", "issue", "K", "--kiosk", "--printer", "Nope"])
    assert unknown.exit_code == 1 and "No printer named" in unknown.output
    assert runner.invoke(args=["printers", "add", "P", "ipp://127.0.0.1:9/ipp/print",
                               "--layout", "cr80"]).exit_code == 0
    scanner_printer = runner.invoke(args=["devices", "issue", "K", "--printer", "P"])
    assert scanner_printer.exit_code == 1 and "--kiosk" in scanner_printer.output
    listed = runner.invoke(args=["devices", "issue", "K", "--kiosk", "--printer", "P"])
    assert listed.exit_code == 0
    assert runner.invoke(args=["devices", "issue", "Door"]).exit_code == 0
    lines = runner.invoke(args=["devices", "list"]).output.splitlines()
    assert [line.split("\t")[-1] for line in lines] == ["last seen never",
                                                         "kiosk, printer P"]
    # Its printer removed, the kiosk is listed without one.
    assert runner.invoke(args=["printers", "remove", "P"]).exit_code == 0
    assert "\tkiosk, no printer" in runner.invoke(args=["devices", "list"]).output


def test_kiosk_page_is_bilingual_and_holds_no_data(client):
    page = client.get("/kiosk")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Print my badge" in html and "打印我的证件" in html
    assert "camera=(self)" in page.headers["Permissions-Policy"]


@needs_qr
def test_devices_page_issues_a_kiosk_token_once(app, client, runner, login, get_csrf,
                                               ipp_printer, make_delegate):
    """The admin issues a kiosk on the devices page (kiosk + printer), as `devices issue
    NAME --kiosk --printer P` does: its token, shown once, prints on that printer."""
    printer = ipp_printer()
    assert runner.invoke(args=["printers", "add", "Hall printer", printer.uri,
                               "--layout", "a6"]).exit_code == 0
    login("admin")
    csrf = get_csrf("/staff/devices")
    form = client.get("/staff/devices").get_data(as_text=True)
    assert 'name="kiosk"' in form and ">Hall printer</option>" in form
    with app.app_context():
        from registration.services import printers as printer_service
        printer_id = str(printer_service.find("Hall printer").id)
    # A kiosk without a printer, a scanner with one, an unknown printer: field errors.
    for data, error in (({"kiosk": "y"}, "A kiosk needs its printer."),
                        ({"printer": printer_id}, "A printer is only for a kiosk"),
                        ({"kiosk": "y", "printer": "999999"}, "No such printer.")):
        refused = client.post("/staff/devices", data={"csrf_token": csrf, "name": "Kiosk A",
                                                      **data})
        assert refused.status_code == 422 and error in refused.get_data(as_text=True)
        assert 'id="device-token"' not in refused.get_data(as_text=True)
    page = client.post("/staff/devices", data={"csrf_token": csrf, "name": "Kiosk A",
                                               "kiosk": "y", "printer": printer_id})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    token = re.search(r'<pre class="token" id="device-token">([^<]+)</pre>', html).group(1)
    assert "/kiosk" in html and "Hall printer" in html
    listed = client.get("/staff/devices").get_data(as_text=True)
    assert token not in listed and "kiosk · Hall printer" in listed
    assert "kiosk" in runner.invoke(args=["devices", "list"]).output

    delegate = make_delegate(status=Status.APPROVED)
    response = call(client, token, "print", {"code": qr_for(app, delegate)})
    assert response.status_code == 202
    assert follow(client, token, response.get_json()["job"])["status"] == "printed"
    assert len(printer.pdfs()) == 1
    # A scanner issued on the same page cannot print at the kiosk.
    scanner = client.post("/staff/devices", data={"csrf_token": csrf, "name": "Door 9"})
    scanner_token = re.search(r'id="device-token">([^<]+)<',
                              scanner.get_data(as_text=True)).group(1)
    refused = call(client, scanner_token, "lookup", {"code": qr_for(app, delegate)})
    assert refused.status_code == 403 and refused.get_json()["error"] == "not_a_kiosk"
