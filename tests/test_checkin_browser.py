"""The scanner page in a real Chromium (Playwright, Debian's /usr/bin/chromium).

1. A fake camera fed a video of a real badge's QR code checks the delegate in.
2. A handheld USB scanner (keyboard wedge) types a code and Enter with no click.
3. Offline: scan with the network cut, see a provisional answer, reconnect, the queue syncs,
   the server has the check-in and the duplicate made offline is reported.

The app runs in a thread (werkzeug) on 127.0.0.1 against the session's test database.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from registration.extensions import db
from registration.models import CheckIn, Scan
from registration.services.badge_signing import token_for
from registration.services.checkin.scan import check_in

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]
PASSWORD = "correct horse battery staple"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None  # type: ignore[assignment]


def _require_browser() -> None:
    if sync_playwright is None:
        pytest.skip("playwright (Python package) is not installed: pip install playwright")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"Chromium is missing at {CHROMIUM}: apt-get install chromium")


@pytest.fixture
def live_server(app, serve_app) -> str:
    _require_browser()
    return serve_app(app)


@pytest.fixture
def staff_account(app):
    from werkzeug.security import generate_password_hash

    from registration.models import StaffUser

    with app.app_context():
        staff = StaffUser(email="door@forum.test", role="scanner", active=True,
                          password_hash=generate_password_hash(
                              PASSWORD, method=app.config["PASSWORD_HASH_METHOD"]),
                          session_version=0, failed_logins=0)
        db.session.add(staff)
        db.session.commit()
        db.session.refresh(staff)  # readable after the context ends
        return staff


def _wait_until(page, expression: str, timeout: float = 10) -> None:
    """Poll `expression` (it may return a promise) with page.evaluate until it is truthy.
    Not wait_for_function: its polling evaluates the string inside the page, which the
    scanner's CSP (script-src 'self') refuses now and then, making the test flaky."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def _browser(playwright, extra_args: list[str]):
    return playwright.chromium.launch(
        executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
        headless=True,
        args=[*LAUNCH_ARGS, "--use-fake-ui-for-media-stream",
              "--use-fake-device-for-media-stream", *extra_args],
    )


def _sign_in_and_open_scanner(context, base: str, checkpoint: str = "main"):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and
            "Content Security Policy" in msg.text else None)
    page.goto(f"{base}/staff/login?next=/checkin")
    page.fill("input[name=email]", "door@forum.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit], form input[type=submit]")
    page.wait_for_url(f"{base}/checkin")
    page.select_option("#checkpoint-select", checkpoint)
    page.click("#start")
    expect(page.locator("#scan")).to_be_visible()
    # The offline list has arrived (it is also what the offline test relies on).
    expect(page.locator("#snapshot-status")).to_contain_text("delegates", timeout=5000)
    return page, errors


# ----------------------------------------------------------------------------- fake camera


def _badge_pdf(code: str) -> bytes:
    """A real rendered badge carrying `code`."""
    from badges import BadgeData, EventInfo, render_badge

    return render_badge(
        BadgeData(badge_name="Xiaoming Wang", honorific="Dr.", native_name="王小明",
                  organisation="Ministry of Public Security", country="China",
                  category="government", category_label="GOVERNMENT OFFICIAL",
                  qr_payload=code, reference="GPS-TEST-0001"),
        EventInfo(name="Global Public Safety Cooperation Forum", dates="8–10 December 2026"),
        "a6",
    )


def _check_ins(app, delegate_id: int) -> list[CheckIn]:
    with app.app_context():
        return db.session.scalars(select(CheckIn).where(CheckIn.delegate_id == delegate_id)
                                  ).all()


def _scan(app, scan_id: int) -> Scan:
    with app.app_context():
        return db.session.get(Scan, scan_id)


# ----------------------------------------------------------------------------- tests


def test_fake_camera_reads_a_real_badge_and_checks_in(app, live_server, staff_account, tmp_path,
                                                      make_delegate, qr_camera_video):
    with app.app_context():
        delegate = make_delegate(status="badge_printed", native_name="王小明",
                                 public_id=uuid.uuid4())
        code = token_for(delegate)
    video = tmp_path / "badge.y4m"
    assert qr_camera_video(_badge_pdf(code), video) == code
    with sync_playwright() as p:
        browser = _browser(p, [f"--use-file-for-fake-video-capture={video}"])
        try:
            context = browser.new_context()
            page, errors = _sign_in_and_open_scanner(context, live_server)
            result = page.locator("#result")
            expect(result).to_have_attribute("data-status", "checked_in", timeout=15000)
            expect(page.locator("#result-title")).to_have_text("Welcome")
            expect(page.locator("#result-native")).to_have_text("王小明")
            assert result.get_attribute("data-offline") == "0"
            assert errors == []
        finally:
            browser.close()
    rows = _check_ins(app, delegate.id)
    assert [r.checkpoint_id for r in rows] == ["main"]
    scan = _scan(app, rows[0].scan_id)
    assert scan.staff_id == staff_account.id and not scan.offline


def test_usb_scanner_types_code_and_enter(app, live_server, staff_account, make_delegate):
    with app.app_context():
        delegate = make_delegate(status="badge_printed")
        code = token_for(delegate)
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            page, errors = _sign_in_and_open_scanner(browser.new_context(), live_server)
            # No click: the input already has focus, as a keyboard-wedge scanner needs.
            assert page.evaluate("document.activeElement.id") == "code-input"
            page.keyboard.type(code)
            page.keyboard.press("Enter")
            result = page.locator("#result")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(page.locator("#result-name")).to_contain_text(delegate.given_name)
            assert page.evaluate("document.activeElement.id") == "code-input"
            # Next scan straight away: an invalid code answers red.
            page.keyboard.type("NOT-A-BADGE")
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "invalid")
            expect(page.locator("#result-title")).to_have_text("Invalid code")
            assert "result-bad" in result.get_attribute("class")
            # A second device's scan (another page) of the same badge: already.
            other, _ = _sign_in_and_open_scanner(browser.new_context(), live_server)
            other.keyboard.type(code)
            other.keyboard.press("Enter")
            expect(other.locator("#result")).to_have_attribute("data-status",
                                                               "already_checked_in")
            expect(other.locator("#result-title")).to_contain_text(
                "Already checked in at")
            expect(other.locator("#result-title")).to_contain_text("Main entrance")
            assert errors == []
        finally:
            browser.close()
    assert len(_check_ins(app, delegate.id)) == 1


def test_offline_scans_are_provisional_then_synced(app, live_server, staff_account,
                                                   make_delegate):
    with app.app_context():
        arriving = make_delegate(status="badge_printed", given_name="Offline")
        seen_elsewhere = make_delegate(status="badge_printed", given_name="Twice")
        revoked = make_delegate(status="badge_printed", given_name="Reprinted")
        old_code = token_for(revoked)
        revoked.badge_serial = 2
        db.session.commit()
        arriving_code, seen_elsewhere_code = token_for(arriving), token_for(seen_elsewhere)
        arriving_id, seen_elsewhere_id = arriving.id, seen_elsewhere.id
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context()
            page, errors = _sign_in_and_open_scanner(context, live_server)
            # Meanwhile another door checks `seen_elsewhere` in (this page cannot know).
            with app.app_context():
                check_in(seen_elsewhere_code, "main", uuid.uuid4().hex)
            context.set_offline(True)
            result = page.locator("#result")
            for code, expected in ((arriving_code, "checked_in"),
                                   (seen_elsewhere_code, "checked_in"),
                                   (old_code, "revoked")):
                page.keyboard.type(code)
                page.keyboard.press("Enter")
                expect(result).to_have_attribute("data-status", expected)
                expect(result).to_have_attribute("data-offline", "1")
                if expected == "checked_in":
                    # Names from the offline list, in words: "Government official · China".
                    expect(page.locator("#result-meta")).to_have_text(
                        "Government official · China")
            expect(page.locator("#result-offline")).to_be_visible()
            expect(page.locator("#result-name")).to_contain_text("Reprinted")
            expect(page.locator("#queue-status")).to_have_attribute("data-count", "3")
            expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
            # A forged code is refused offline too (signature checked locally).
            forged = arriving_code
            forged = forged[:60] + ("B" if forged[60] == "A" else "A") + forged[61:]
            page.keyboard.type(forged)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "invalid")
            assert _check_ins(app, arriving_id) == []

            context.set_offline(False)
            expect(page.locator("#queue-status")).to_have_attribute("data-count", "0",
                                                                    timeout=15000)
            report = page.locator("#sync-report")
            expect(report).to_be_visible()
            expect(page.locator("#sync-summary")).to_contain_text("4")
            expect(page.locator("#sync-duplicates .sync-dup")).to_contain_text("Twice")
            expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
            assert errors == []
        finally:
            browser.close()
    rows = _check_ins(app, arriving_id)
    assert len(rows) == 1
    scan = _scan(app, rows[0].scan_id)
    assert scan.offline and scan.result == "checked_in"
    assert len(_check_ins(app, seen_elsewhere_id)) == 1
    with app.app_context():
        results = db.session.scalars(select(Scan.result).where(Scan.offline.is_(True))
                                     .order_by(Scan.scanned_at)).all()
    assert results == ["checked_in", "already_checked_in", "revoked", "invalid"]


NO_WEBCRYPTO_ED25519 = """
(() => {
  const original = crypto.subtle.importKey.bind(crypto.subtle);
  crypto.subtle.importKey = (format, key, algorithm, ...rest) => {
    const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
    if (name === "Ed25519") return Promise.reject(new DOMException("no", "NotSupportedError"));
    return original(format, key, algorithm, ...rest);
  };
})();
"""


def test_offline_verification_falls_back_to_tweetnacl(app, live_server, staff_account,
                                                      make_delegate):
    """A browser without WebCrypto Ed25519 (Chromium < 137) verifies with vendored tweetnacl."""
    with app.app_context():
        good = token_for(make_delegate(status="badge_printed"))
    forged = good[:70] + ("C" if good[70] != "C" else "D") + good[71:]
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context()
            context.add_init_script(NO_WEBCRYPTO_ED25519)
            page, errors = _sign_in_and_open_scanner(context, live_server)
            _wait_until(page, "typeof window.nacl !== 'undefined'")
            context.set_offline(True)
            result = page.locator("#result")
            page.keyboard.type(forged)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "invalid")
            page.keyboard.type(good)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(result).to_have_attribute("data-offline", "1")
            expect(page.locator("#result-detail")).to_have_text("")  # signature was checked
            assert errors == []
        finally:
            browser.close()


def test_signing_out_forgets_the_offline_list_but_keeps_unsynced_scans(live_server,
                                                                      staff_account,
                                                                      make_delegate):
    make_delegate(status="badge_printed", given_name="Listed")
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context()
            page, errors = _sign_in_and_open_scanner(context, live_server)
            assert page.evaluate("localStorage.getItem('checkin.snapshot')")
            page.evaluate("localStorage.setItem('checkin.queue', '[{\"nonce\": \"kept\"}]')")
            page.locator("form.sign-out button").first.click()
            page.wait_for_url("**/staff/login**")
            assert page.evaluate("localStorage.getItem('checkin.snapshot')") is None
            assert "kept" in page.evaluate("localStorage.getItem('checkin.queue')")
            assert errors == []
        finally:
            browser.close()


# ----------------------------------------------------------------------------- typed codes


def _jpeg() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (300, 400), (200, 160, 120)).save(out, "JPEG")
    return out.getvalue()


def _scans_of(app, delegate_id: int) -> list[tuple[str, str, bool]]:
    with app.app_context():
        return [(s.result, s.method, s.offline) for s in db.session.scalars(
            select(Scan).where(Scan.delegate_id == delegate_id).order_by(Scan.id))]


def _screenshot(page, name: str) -> None:
    """With SCREENS_DIR set (e.g. docs/screens), keep a picture of the page for review."""
    folder = os.environ.get("SCREENS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def _type_code(page, code: str) -> None:
    page.click("#type-code")
    assert page.get_attribute("#code-input", "inputmode") == "text"  # the phone keyboard
    assert page.evaluate("document.activeElement.id") == "code-input"
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_typed_reference_needs_an_identity_check_online(app, live_server, staff_account,
                                                       make_delegate):
    from registration.models import DelegatePhoto

    with app.app_context():
        admitted = make_delegate(status="badge_printed", given_name="Typed",
                                 native_name="王小明", country="FR")
        db.session.add(DelegatePhoto(delegate_id=admitted.id, jpeg=_jpeg()))
        refused = make_delegate(status="badge_printed", given_name="Impostor")
        db.session.commit()
        admitted_id, refused_id = admitted.id, refused.id
        admitted_ref, refused_ref = admitted.reference, refused.reference
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            page, errors = _sign_in_and_open_scanner(browser.new_context(), live_server)
            assert page.get_attribute("#code-input", "inputmode") == "none"  # USB scanner
            # As printed under the QR, typed in lower case with spaces: a question, no entry.
            _type_code(page, admitted_ref.lower().replace("-", " "))
            confirm = page.locator("#confirm")
            expect(confirm).to_be_visible()
            expect(page.locator("#result")).to_be_hidden()
            expect(page.locator("#confirm-name")).to_contain_text("Typed")
            expect(page.locator("#confirm-native")).to_have_text("王小明")
            expect(page.locator("#confirm-category")).to_have_text("Government official")
            expect(page.locator("#confirm-organisation")).to_have_text(
                "Ministry of Public Security")
            expect(page.locator("#confirm-country")).to_have_text("France")
            photo = page.locator("#confirm-photo")
            expect(photo).to_be_visible()
            _wait_until(page, "document.getElementById('confirm-photo').naturalWidth === 300")
            assert photo.bounding_box()["height"] >= 200  # large enough to compare a face
            _screenshot(page, "scanner-confirm-identity-desktop-en")
            for button in ("#confirm-admit", "#confirm-refuse"):  # no scrolling to answer
                box = page.locator(button).bounding_box()
                assert box["y"] + box["height"] <= page.viewport_size["height"], button
            assert confirm.get_attribute("data-offline") == "0"
            assert _check_ins(app, admitted_id) == []
            assert _scans_of(app, admitted_id) == []
            page.click("#confirm-admit")
            result = page.locator("#result")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(page.locator("#result-mark")).to_have_text("✓")
            assert page.get_attribute("#code-input", "inputmode") == "none"  # back to USB
            assert _scans_of(app, admitted_id) == [("checked_in", "manual", False)]
            assert len(_check_ins(app, admitted_id)) == 1

            # Refuse: recorded as a refused scan, red with a cross.
            _type_code(page, refused_ref)
            expect(confirm).to_be_visible()
            expect(page.locator("#confirm-photo")).to_be_hidden()
            expect(page.locator("#confirm-no-photo")).to_be_visible()
            page.click("#confirm-refuse")
            expect(result).to_have_attribute("data-status", "refused")
            expect(page.locator("#result-title")).to_have_text("Refused")
            _screenshot(page, "scanner-refused-desktop-en")
            expect(page.locator("#result-mark")).to_have_text("✕")
            assert "result-bad" in result.get_attribute("class")
            assert errors == []
        finally:
            browser.close()
    assert _scans_of(app, refused_id) == [("refused", "manual", False)]
    assert _check_ins(app, refused_id) == []


def test_repeated_code_shows_the_previous_answer_again(app, live_server, staff_account,
                                                      make_delegate):
    with app.app_context():
        delegate = make_delegate(status="badge_printed", given_name="Twice")
        code = token_for(delegate)
    # A window no loaded CI machine can overrun between the two scans (4 s in production).
    app.config["CHECKIN_REPEAT_SECONDS"] = 60
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            page, errors = _sign_in_and_open_scanner(browser.new_context(), live_server)
            result = page.locator("#result")
            page.keyboard.type(code)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "checked_in")
            assert result.get_attribute("data-repeat") == "0"
            expect(page.locator("#result-repeat")).to_be_hidden()
            page.click("#result")  # staff dismissed it; the same badge is scanned again
            expect(result).to_be_hidden()
            page.keyboard.type(code)
            page.keyboard.press("Enter")
            # Within the de-duplication window: not sent again, but the answer is back.
            expect(result).to_be_visible()
            expect(result).to_have_attribute("data-repeat", "1")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(page.locator("#result-repeat")).to_be_visible()
            expect(page.locator("#result-name")).to_contain_text("Twice")
            expect(page.locator("#result-mark")).to_have_text("✓")
            assert errors == []
        finally:
            browser.close()
    assert _scans_of(app, delegate.id) == [("checked_in", "qr", False)]


def test_typed_reference_offline_is_checked_against_the_list_then_synced(
        app, live_server, staff_account, make_delegate):
    with app.app_context():
        arriving = make_delegate(status="badge_printed", given_name="Manual", country="FR")
        refused = make_delegate(status="badge_printed", given_name="Doubtful")
        pending = make_delegate(status="submitted", given_name="Pending")
        ids = arriving.id, refused.id, pending.id
        refs = arriving.reference, refused.reference, pending.reference
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context()
            page, errors = _sign_in_and_open_scanner(context, live_server)
            context.set_offline(True)
            result, confirm = page.locator("#result"), page.locator("#confirm")
            _type_code(page, refs[0].replace("-", ""))
            expect(confirm).to_be_visible()
            expect(confirm).to_have_attribute("data-offline", "1")
            expect(page.locator("#confirm-offline")).to_be_visible()
            expect(page.locator("#confirm-name")).to_contain_text("Manual")
            expect(page.locator("#confirm-country")).to_have_text("France")
            page.click("#confirm-admit")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(result).to_have_attribute("data-offline", "1")
            expect(page.locator("#queue-status")).to_have_attribute("data-count", "1")
            _type_code(page, refs[1])
            expect(confirm).to_be_visible()
            page.click("#confirm-refuse")
            expect(result).to_have_attribute("data-status", "refused")
            expect(result).to_have_attribute("data-offline", "1")
            # Not accredited: not findable by a code anyone can read off a badge.
            _type_code(page, refs[2])
            expect(result).to_have_attribute("data-status", "invalid")
            expect(confirm).to_be_hidden()
            expect(page.locator("#queue-status")).to_have_attribute("data-count", "2")
            assert _check_ins(app, ids[0]) == []

            context.set_offline(False)
            expect(page.locator("#queue-status")).to_have_attribute("data-count", "0",
                                                                    timeout=15000)
            expect(page.locator("#sync-summary")).to_contain_text("2")
            assert errors == []
        finally:
            browser.close()
    assert _scans_of(app, ids[0]) == [("checked_in", "manual", True)]
    assert len(_check_ins(app, ids[0])) == 1
    assert _scans_of(app, ids[1]) == [("refused", "manual", True)]
    assert _scans_of(app, ids[2]) == []


def test_service_worker_reopens_the_scanner_without_network(app, live_server, staff_account,
                                                            make_delegate):
    with app.app_context():
        badge = make_delegate(status="badge_printed", given_name="Reloaded")
        typed = make_delegate(status="badge_printed", given_name="Keyed")
        code, ids, ref = token_for(badge), (badge.id, typed.id), typed.reference
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context()
            page, errors = _sign_in_and_open_scanner(context, live_server)
            # Installed, in control, and holding the page and the list.
            _wait_until(page, "navigator.serviceWorker.controller !== null")
            _wait_until(page,
                        "caches.open('checkin-private-v1').then(c => Promise.all("
                        "['/checkin', '/api/v1/checkin-snapshot'].map(u => c.match(u))))"
                        ".then(hits => hits.every(Boolean))")
            context.set_offline(True)
            page.reload()
            # The page came from the service worker: the remembered checkpoint, the list.
            expect(page.locator("#scan")).to_be_visible()
            expect(page.locator("#checkpoint-name")).to_have_text("Main entrance")
            expect(page.locator("#snapshot-status")).to_contain_text("delegates")
            result = page.locator("#result")
            page.keyboard.type(code)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(result).to_have_attribute("data-offline", "1")
            expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
            _type_code(page, ref)
            expect(page.locator("#confirm")).to_be_visible()
            page.click("#confirm-admit")
            expect(page.locator("#queue-status")).to_have_attribute("data-count", "2")
            assert _check_ins(app, ids[0]) == []

            context.set_offline(False)
            expect(page.locator("#queue-status")).to_have_attribute("data-count", "0",
                                                                    timeout=15000)
            expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
            assert errors == []
        finally:
            browser.close()
    assert _scans_of(app, ids[0]) == [("checked_in", "qr", True)]
    assert _scans_of(app, ids[1]) == [("checked_in", "manual", True)]


def test_scanner_on_a_phone_kiosk_header_and_touch_targets(app, live_server, staff_account):
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context(viewport={"width": 360, "height": 740},
                                          has_touch=True, is_mobile=True)
            page, errors = _sign_in_and_open_scanner(context, live_server)
            assert page.locator(".staff-nav").count() == 0  # no desk menu at the door
            _screenshot(page, "scanner-phone-en")
            header = page.locator(".site-header").bounding_box()
            assert header["height"] <= 110, header
            expect(page.locator("#checkpoint-name")).to_have_text("Main entrance")
            small = page.evaluate("""() => [...document.querySelectorAll(
                'a[href], button, input:not([type=hidden]), select')]
                .filter(el => el.offsetParent !== null)
                .map(el => [el.id || el.textContent.trim(), el.getBoundingClientRect()])
                .filter(([, r]) => r.width < 44 || r.height < 44)
                .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)
            """)
            assert small == []
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            assert errors == []
        finally:
            browser.close()


def test_offline_scanner_refuses_a_badge_of_another_edition(app, runner, live_server,
                                                            staff_account, make_delegate):
    from registration.editions import edition_scope, require_edition

    created = runner.invoke(args=["editions", "create", "2027", "--name", "Forum 2027",
                                  "--starts", "2027-12-07", "--ends", "2027-12-09"])
    assert created.exit_code == 0, created.output
    with app.app_context():
        here = token_for(make_delegate(status="badge_printed"))
        with edition_scope(require_edition("2027")):
            elsewhere = token_for(make_delegate(status="badge_printed"))
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context()
            page, errors = _sign_in_and_open_scanner(context, live_server)
            context.set_offline(True)
            result = page.locator("#result")
            page.keyboard.type(elsewhere)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "invalid")
            expect(result).to_have_attribute("data-reason", "other_edition")
            expect(page.locator("#result-detail")).to_contain_text("another edition")
            page.keyboard.type(here)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(result).to_have_attribute("data-offline", "1")
            assert errors == []
        finally:
            browser.close()


# ----------------------------------------------------------------------------- photos offline


def _store_face_photo(delegate) -> None:
    from registration.services import photos

    face = (Path(__file__).parent / "data" / "face.jpg").read_bytes()
    photos.set_photo(delegate, photos.process_photo(face), None)


def test_photos_are_kept_on_the_device_and_shown_offline(app, live_server, staff_account,
                                                         make_delegate):
    """The door compares faces without network: the snapshot's thumbnails (≤ 8 KB) are
    kept in Cache Storage; offline the result shows the photo large beside the answer, and
    the typed-code check shows the photo first."""
    with app.app_context():
        online = make_delegate(status="badge_printed", given_name="Online")
        scanned = make_delegate(status="badge_printed", given_name="Scanned")
        typed = make_delegate(status="badge_printed", given_name="Typed")
        bare = make_delegate(status="badge_printed", given_name="Bare")
        for d in (online, scanned, typed):
            _store_face_photo(d)
        online_code, scanned_code = token_for(online), token_for(scanned)
        typed_ref, bare_ref = typed.reference, bare.reference
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context(viewport={"width": 360, "height": 740})
            page, errors = _sign_in_and_open_scanner(context, live_server)
            expect(page.locator("#scanner")).to_have_attribute("data-photos-cached", "3",
                                                               timeout=10000)
            sizes = page.evaluate("""async () => {
                const cache = await caches.open("checkin-photos-v1");
                const out = [];
                for (const req of await cache.keys()) {
                    out.push((await (await cache.match(req)).arrayBuffer()).byteLength);
                }
                return out;
            }""")
            assert len(sizes) == 3 and all(0 < n <= 8 * 1024 for n in sizes), sizes

            # Online: the server's photo, large on a 360 px phone, the name still in view.
            result, photo = page.locator("#result"), page.locator("#result-photo")
            page.keyboard.type(online_code)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(photo).to_be_visible()
            expect(photo).to_have_attribute("data-source", "server")
            _wait_until(page, "document.getElementById('result-photo').naturalWidth > 0")
            box = photo.bounding_box()
            assert box["width"] >= 150 and box["height"] >= 200, box
            name_box = page.locator("#result-name").bounding_box()
            assert name_box["y"] + name_box["height"] <= 740
            page.click("#result")

            context.set_offline(True)
            page.keyboard.type(scanned_code)
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(result).to_have_attribute("data-offline", "1")
            expect(photo).to_have_attribute("data-source", "offline")
            expect(photo).to_be_visible()
            assert photo.get_attribute("src").startswith("blob:")
            _wait_until(page, "document.getElementById('result-photo').naturalWidth > 0")
            assert photo.bounding_box()["width"] >= 150
            _screenshot(page, "scanner-offline-photo-phone-en")
            page.click("#result")

            # A typed code offline: the photo first, then the question.
            _type_code(page, typed_ref)
            confirm, cphoto = page.locator("#confirm"), page.locator("#confirm-photo")
            expect(confirm).to_have_attribute("data-offline", "1")
            expect(cphoto).to_have_attribute("data-source", "offline")
            expect(cphoto).to_be_visible()
            expect(page.locator("#confirm-no-photo")).to_be_hidden()
            _wait_until(page, "document.getElementById('confirm-photo').naturalWidth > 0")
            assert page.evaluate("""() => {
                const photo = document.getElementById("confirm-photo");
                const title = document.getElementById("confirm-title");
                return !!(photo.compareDocumentPosition(title) & Node.DOCUMENT_POSITION_FOLLOWING);
            }""")
            assert cphoto.bounding_box()["y"] < page.locator("#confirm-title").bounding_box()["y"]
            _screenshot(page, "scanner-offline-confirm-phone-en")
            page.click("#confirm-cancel")
            # Without a photo on file: said so, ask for an ID.
            _type_code(page, bare_ref)
            expect(confirm).to_be_visible()
            expect(page.locator("#confirm-no-photo")).to_be_visible()
            expect(cphoto).to_be_hidden()
            page.click("#confirm-cancel")
            assert errors == []
        finally:
            browser.close()


def test_signing_out_deletes_the_kept_photos(app, live_server, staff_account, make_delegate):
    with app.app_context():
        _store_face_photo(make_delegate(status="badge_printed"))
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            page, errors = _sign_in_and_open_scanner(browser.new_context(), live_server)
            expect(page.locator("#scanner")).to_have_attribute("data-photos-cached", "1",
                                                               timeout=10000)
            assert page.evaluate("caches.has('checkin-photos-v1')")
            page.locator("form.sign-out button").first.click()
            page.wait_for_url("**/staff/login**")
            assert page.evaluate("caches.has('checkin-photos-v1')") is False
            assert errors == []
        finally:
            browser.close()


def test_scanner_names_an_organisation_delegation_online_and_offline(
        app, runner, live_server, staff_account, make_delegate):
    """An international organisation's delegate: the door shows the organisation's name,
    from the server's answer and, with the network cut, from the offline list."""
    from registration.models import Delegation

    created = runner.invoke(args=["delegations", "create", "UNODC", "--country", "AT",
                                  "--kind", "organisation", "--focal-point",
                                  "liaison@unodc.example.org", "--quota", "government=2"])
    assert created.exit_code == 0, created.output
    with app.app_context():
        unodc = db.session.scalars(select(Delegation.id)).one()
        online = make_delegate(status="badge_printed", given_name="Olga", country="FR",
                               delegation_id=unodc)
        offline = make_delegate(status="badge_printed", given_name="Ivan", country="FR",
                                delegation_id=unodc)
        codes = token_for(online), token_for(offline)
    with sync_playwright() as p:
        browser = _browser(p, [])
        try:
            context = browser.new_context()
            page, errors = _sign_in_and_open_scanner(context, live_server)
            result, meta = page.locator("#result"), page.locator("#result-meta")
            for code, cut in zip(codes, (False, True), strict=True):
                context.set_offline(cut)
                page.keyboard.type(code)
                page.keyboard.press("Enter")
                expect(result).to_have_attribute("data-status", "checked_in")
                expect(result).to_have_attribute("data-offline", "1" if cut else "0")
                expect(meta).to_have_text("Government official · UNODC · France")
            context.set_offline(False)
            assert errors == []
        finally:
            browser.close()
