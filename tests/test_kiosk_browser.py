"""The self-service kiosk (/kiosk) end to end in a real Chromium (Playwright, Debian's
/usr/bin/chromium) against a real IPP printer (ippeveprinter, writing each job it receives
to a spool folder):

1. The QR code of a delegate's real e-ticket (downloaded from their manage page), fed to
   the kiosk as a fake camera: the kiosk shows the delegate, "Print my badge" prints, the
   PDF arrives in the spool with a QR code that verifies, the delegate is marked printed by
   the kiosk; scanning it again, and a cancelled delegate's e-ticket, are refused.
2. The typed path (reference and family name on the on-screen keyboard), and the refusals:
   not accredited, unknown, a printer that cannot be reached, a printer that aborts the job.
3. The 30 s idle reset, the touch targets and the English/Chinese switch.

Every refusal says "please see the accreditation desk" in English and in Chinese. Skips with
the reason where Playwright, Chromium or ippeveprinter (with dbus + avahi for its DNS-SD)
is missing.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from registration.extensions import db
from registration.models import AuditEntry, Delegate, PrintJob, Status
from registration.services import badge_signing, kiosk, manage_links, self_service

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--use-fake-ui-for-media-stream",
               "--use-fake-device-for-media-stream"]
KIOSK_SIZE = {"width": 1280, "height": 800}

try:
    import pypdfium2 as pdfium
    import zxingcpp
    from playwright.sync_api import expect, sync_playwright
except ImportError as exc:  # pragma: no cover - depends on the environment
    sync_playwright = None  # type: ignore[assignment]
    MISSING = f"{exc.name} is not installed (dev requirements)"


def _require_browser() -> None:
    if sync_playwright is None:
        pytest.skip(MISSING)
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"Chromium is missing at {CHROMIUM}: apt-get install chromium")


@pytest.fixture
def kiosk_device(app, runner, serve_app, ipp_printer):
    """A kiosk on a running ippeveprinter, issued as the desk would
    (`devices issue --kiosk --printer`), and the app served for the browser:
    (base URL, token, printer)."""
    _require_browser()
    printer = ipp_printer()
    added = runner.invoke(args=["printers", "add", "Kiosk printer", printer.uri,
                                "--layout", "a6"])
    assert added.exit_code == 0, added.output
    issued = runner.invoke(args=["devices", "issue", "Kiosk 1", "--kiosk", "--printer",
                                 "Kiosk printer"])
    assert issued.exit_code == 0, issued.output
    return serve_app(app), issued.output.strip().splitlines()[-1], printer


def _launch(playwright, video: Path | None = None):
    extra = [f"--use-file-for-fake-video-capture={video}"] if video else []
    return playwright.chromium.launch(
        executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
        headless=True, args=[*LAUNCH_ARGS, *extra])


def _open_kiosk(browser, base: str, token: str, *, fake_clock: bool = False,
                **context_options):
    """Open /kiosk and paste the device token on its set-up screen, as staff do once.

    `fake_clock` installs Playwright's clock before the page's script runs: a timer the
    page set earlier stays a real one that the fake clearTimeout cannot clear (the idle
    reset then fired 30 s after set-up whatever the test touched; seen in CI).
    """
    context = browser.new_context(viewport=KIOSK_SIZE, has_touch=True, **context_options)
    page = context.new_page()
    if fake_clock:
        page.clock.install()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Script errors and CSP refusals (a refused request's 4xx is the kiosk's answer, not one).
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and
            "Failed to load resource" not in msg.text else None)
    page.goto(f"{base}/kiosk")
    expect(page.locator("#k-setup")).to_be_visible()
    page.fill("#k-token", token)
    page.click("#k-save")
    # Set up: the welcome screen, unless a camera showing a code has moved the kiosk on to
    # its answer already (a race seen in CI with the fake camera video).
    expect(page.locator("#k-setup")).to_be_hidden()
    expect(page.locator(", ".join(f"#k-{screen}:not([hidden])" for screen in (
        "welcome", "found", "refused", "printing", "done"))).first).to_be_visible()
    return page, errors


def _eticket(app, client, delegate: Delegate) -> bytes:
    """The delegate's e-ticket, downloaded from their manage page as they would."""
    with app.app_context():
        link = manage_links.make_token(db.session.get(Delegate, delegate.id))
    response = client.get(f"/manage/{link}/e-ticket.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return response.data


def _expected_refusal(app, reason: str) -> tuple[str, str]:
    """The refusal's text in English and Chinese, as the kiosk service words it."""
    with app.app_context():
        first, desk = kiosk.both(kiosk.REFUSALS[reason][1]), kiosk.both(kiosk.SEE_DESK)
    return (f"{first['message']} {desk['message']}",
            f"{first['message_zh']}{desk['message_zh']}")


def _assert_refused(page, app, reason: str) -> None:
    expect(page.locator("#k-refused")).to_be_visible(timeout=15000)
    english, chinese = _expected_refusal(app, reason)
    expect(page.locator("#k-refusal-en")).to_have_text(english)
    expect(page.locator("#k-refusal-zh")).to_have_text(chinese)
    with app.app_context():
        desk = kiosk.both(kiosk.SEE_DESK)
    assert english.endswith("Please see the accreditation desk.")
    assert chinese.endswith(desk["message_zh"]) and desk["message_zh"] != desk["message"]


def _qr_codes(pdf: bytes) -> list[str]:
    codes = []
    for page in pdfium.PdfDocument(pdf):
        image = page.render(scale=300 / 72).to_pil().convert("L")
        codes += [r.text for r in zxingcpp.read_barcodes(image)
                  if r.format == zxingcpp.BarcodeFormat.QRCode]
    return codes


def _type_on_keyboard(page, field: str, text: str) -> None:
    """Touch the field, then each key of the on-screen keyboard (no physical keyboard)."""
    page.click(field)
    keys = page.locator("#k-keyboard button")
    for char in text.upper():
        key = page.locator("#k-keyboard button.space") if char == " " \
            else keys.get_by_text(char, exact=True)
        key.click()
    if text:  # and Delete takes the last character back
        page.get_by_role("button", name="Delete 删除").click()
        keys.get_by_text(text[-1].upper(), exact=True).click()


def test_eticket_qr_prints_once_and_is_marked_printed_by_the_kiosk(
        app, client, kiosk_device, make_delegate, qr_camera_video, tmp_path):
    base, token, printer = kiosk_device
    delegate = make_delegate(status=Status.APPROVED, given_name="Xiaoming",
                             family_name="Wang", native_name="王小明")
    video = tmp_path / "eticket.y4m"
    code = qr_camera_video(_eticket(app, client, delegate), video)
    with app.app_context():
        assert badge_signing.verify_code(code).badge_id == delegate.public_id
        full_name = db.session.get(Delegate, delegate.id).full_name
        from registration.i18n import category_label
        category = f"{category_label('government', 'en')} · {category_label('government', 'zh')}"

    with sync_playwright() as p:
        browser = _launch(p, video)
        try:
            page, errors = _open_kiosk(browser, base, token)
            # The camera reads the e-ticket: the delegate, in both scripts, and the category.
            expect(page.locator("#k-found")).to_be_visible(timeout=15000)
            expect(page.locator("#k-name")).to_have_text(f"Dr. {full_name}")
            expect(page.locator("#k-native")).to_have_text("王小明")
            expect(page.locator("#k-category")).to_have_text(category)
            expect(page.locator("#k-print")).to_contain_text("Print my badge")
            expect(page.locator("#k-print")).to_contain_text("打印我的证件")
            assert printer.pdfs() == []  # nothing prints before the delegate asks

            page.click("#k-print")
            expect(page.locator("#k-done")).to_be_visible(timeout=20000)
            expect(page.locator("#k-done h1")).to_contain_text("Please take it from the printer")

            # Once only: back at the welcome screen the camera reads the same e-ticket.
            page.locator("#k-done .k-restart").click()
            _assert_refused(page, app, "already_printed")
            assert errors == []
        finally:
            browser.close()

    [pdf] = printer.pdfs()
    [printed_code] = _qr_codes(pdf.read_bytes())
    with app.app_context():
        stored = db.session.get(Delegate, delegate.id)
        assert stored.printed_at is not None and stored.status == Status.BADGE_PRINTED.value
        assert badge_signing.verify_code(printed_code).badge_id == stored.public_id
        job = db.session.scalars(select(PrintJob)).one()
        assert job.kind == "kiosk" and job.state == "completed" and job.device_id
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "printed"))
        assert entry.actor == f"kiosk:{job.device_id}"


def test_a_cancelled_delegates_eticket_is_refused(app, client, kiosk_device, make_delegate,
                                                  qr_camera_video, tmp_path):
    base, token, printer = kiosk_device
    delegate = make_delegate(status=Status.APPROVED)
    video = tmp_path / "cancelled.y4m"
    qr_camera_video(_eticket(app, client, delegate), video)  # taken while still accredited
    with app.app_context():
        self_service.cancel(db.session.get(Delegate, delegate.id))
    with sync_playwright() as p:
        browser = _launch(p, video)
        try:
            page, errors = _open_kiosk(browser, base, token)
            _assert_refused(page, app, "cancelled")
            expect(page.locator("#k-found")).to_be_hidden()
            assert errors == []
        finally:
            browser.close()
    assert printer.pdfs() == []


def test_typed_reference_prints_and_each_refusal_sends_to_the_desk(
        app, runner, kiosk_device, ipp_printer, make_delegate):
    base, token, printer = kiosk_device
    accredited = make_delegate(status=Status.APPROVED, family_name="Müller")
    submitted = make_delegate(status=Status.SUBMITTED, family_name="Okafor")
    later = make_delegate(status=Status.APPROVED, family_name="Lee")
    jammed_for = make_delegate(status=Status.APPROVED, family_name="Kim")
    jammed = ipp_printer(command="/bin/false")  # aborts every job
    assert runner.invoke(args=["printers", "add", "Jammed", jammed.uri,
                               "--layout", "a6"]).exit_code == 0
    jammed_token = runner.invoke(args=["devices", "issue", "Kiosk 2", "--kiosk", "--printer",
                                       "Jammed"]).output.strip().splitlines()[-1]

    def find(page, reference: str, family: str) -> None:
        page.click("#k-type")
        expect(page.locator("#k-typing")).to_be_visible()
        _type_on_keyboard(page, "#k-reference", reference)
        _type_on_keyboard(page, "#k-family", family)
        expect(page.locator("#k-reference")).to_have_value(reference.upper())
        page.click("#k-find")

    def restart(page) -> None:
        page.locator("#k-refused .k-restart").click()
        expect(page.locator("#k-welcome")).to_be_visible()

    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page, errors = _open_kiosk(browser, base, token)
            # "Müller" typed as MULLER on the keyboard's plain letters.
            find(page, accredited.reference, "MULLER")
            expect(page.locator("#k-found")).to_be_visible()
            expect(page.locator("#k-name")).to_contain_text("Müller")
            page.click("#k-print")
            expect(page.locator("#k-done")).to_be_visible(timeout=20000)
            page.locator("#k-done .k-restart").click()

            find(page, submitted.reference, "OKAFOR")
            _assert_refused(page, app, "not_accredited")
            restart(page)
            find(page, accredited.reference, "SMITH")  # the wrong family name
            _assert_refused(page, app, "not_found")
            restart(page)
            find(page, accredited.reference, "MULLER")  # printed a minute ago
            _assert_refused(page, app, "already_printed")
            restart(page)

            # The printer goes away: the delegate is found, the print is refused.
            printer.stop()
            find(page, later.reference, "LEE")
            expect(page.locator("#k-found")).to_be_visible()
            page.click("#k-print")
            _assert_refused(page, app, "printer_unavailable")

            # A printer that takes the job and aborts it: the job's failure, both languages.
            jammed_page, jammed_errors = _open_kiosk(browser, base, jammed_token)
            find(jammed_page, jammed_for.reference, "KIM")
            jammed_page.click("#k-print")
            expect(jammed_page.locator("#k-refused")).to_be_visible(timeout=20000)
            expect(jammed_page.locator("#k-refusal-en")).to_contain_text(
                "Please see the accreditation desk.")
            with app.app_context():
                see_desk = kiosk.both(kiosk.SEE_DESK)["message_zh"]
            expect(jammed_page.locator("#k-refusal-zh")).to_contain_text(see_desk)
            assert errors == [] and jammed_errors == []
        finally:
            browser.close()
    assert len(printer.pdfs()) == 1
    with app.app_context():
        printed = {d.family_name: d.printed_at is not None
                   for d in db.session.scalars(select(Delegate))}
    assert printed == {"Müller": True, "Okafor": False, "Lee": False, "Kim": False}


def _touch_targets_too_small(page, screen: str) -> list:
    """Buttons of `screen` (and the language switch) under 64 x 56 px, measured once the
    screen is shown (a screen still switching has buttons of size 0)."""
    expect(page.locator(screen)).to_be_visible()
    expect(page.locator(f"{screen} button").last).to_be_visible()
    return page.evaluate("""(screen) => [...document.querySelectorAll(
        screen + ' button, .lang-switch button')].map(b => {
            const r = b.getBoundingClientRect();
            return [b.textContent.trim(), r.width, r.height]; })
        .filter(([, w, h]) => w < 64 || h < 56)""", screen)


def test_the_welcome_screen_does_not_move_when_the_camera_starts(kiosk_device):
    """The picture arriving must not move "No QR code?" under a finger: a tap meant for it
    would land beside it (the video box had the shape of whatever it showed)."""
    base, token, _printer = kiosk_device
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page, errors = _open_kiosk(browser, base, token)
            before = page.locator("#k-type").bounding_box()
            deadline = time.monotonic() + 15  # the page's CSP forbids wait_for_function
            while not page.evaluate("document.getElementById('k-video').videoWidth > 0"):
                assert time.monotonic() < deadline, "the fake camera never started"
                page.wait_for_timeout(50)
            page.wait_for_timeout(300)  # a frame or two laid out
            assert page.locator("#k-type").bounding_box() == before
            assert errors == []
        finally:
            browser.close()


def test_language_switch_and_touch_targets(app, kiosk_device, make_delegate):
    base, token, _printer = kiosk_device
    delegate = make_delegate(status=Status.APPROVED, family_name="Silva")
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page, errors = _open_kiosk(browser, base, token)
            # The switch: Chinese leads (and is the page's language), English follows.
            page.click(".lang-switch button[data-lang=zh]")
            assert page.evaluate("document.documentElement.lang") == "zh"
            expect(page.locator(".lang-switch button[data-lang=zh]")).to_have_attribute(
                "aria-pressed", "true")
            heading = page.locator("#k-welcome h1")
            en_box = heading.locator("span[lang=en]").bounding_box()
            zh_box = heading.locator("span[lang=zh]").bounding_box()
            assert zh_box["y"] < en_box["y"] and zh_box["height"] > en_box["height"]
            page.click(".lang-switch button[data-lang=en]")
            en_box = heading.locator("span[lang=en]").bounding_box()
            zh_box = heading.locator("span[lang=zh]").bounding_box()
            assert en_box["y"] < zh_box["y"]
            # Large touch targets: every button on each screen, the keyboard's keys too.
            assert _touch_targets_too_small(page, "#k-welcome") == []
            page.click("#k-type")
            assert _touch_targets_too_small(page, "#k-typing") == []
            _type_on_keyboard(page, "#k-reference", delegate.reference)
            _type_on_keyboard(page, "#k-family", "SILVA")
            page.click("#k-find")
            assert _touch_targets_too_small(page, "#k-found") == []
            assert errors == []
        finally:
            browser.close()


def test_idle_reset_to_the_welcome_screen(app, kiosk_device, make_delegate):
    base, token, _printer = kiosk_device
    delegate = make_delegate(status=Status.APPROVED, family_name="Silva")
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page, errors = _open_kiosk(browser, base, token, fake_clock=True)
            page.click(".lang-switch button[data-lang=zh]")
            page.click("#k-type")
            _type_on_keyboard(page, "#k-reference", delegate.reference)
            page.click("#k-find")  # no family name: refused, "see the desk"
            # 29 s without a touch: still there; 30 s: back to the welcome screen, in English,
            # with nothing of the last person left on it.
            expect(page.locator("#k-refused")).to_be_visible()
            # Stop the page's clock (a loaded machine's slowness must not count), touch once.
            now = page.evaluate("Date.now()") / 1000
            page.clock.pause_at(datetime.fromtimestamp(now + 1, UTC))
            page.locator("#k-refused h1").click()
            page.clock.fast_forward(29_000)
            expect(page.locator("#k-refused")).to_be_visible()
            page.clock.fast_forward(1_500)
            expect(page.locator("#k-welcome")).to_be_visible()
            assert page.evaluate("document.documentElement.lang") == "en"
            assert page.input_value("#k-reference") == ""
            # The set-up is not lost: the kiosk's token stays in the browser.
            page.reload()
            expect(page.locator("#k-welcome")).to_be_visible()
            assert errors == []
        finally:
            browser.close()
