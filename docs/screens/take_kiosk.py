"""Screenshots of the self-service kiosk (/kiosk): welcome, typing, delegate found, printing,
done and refused, with English leading and with Chinese leading (the kiosk's switch), at
kiosk size (1280 x 800) and on a 360 px phone, into docs/screens/kiosk-*.png. Not a test:
run it after changing how the kiosk looks.

    .venv/bin/python docs/screens/take_kiosk.py

Needs Playwright (dev requirements), Chromium at /usr/bin/chromium and ippeveprinter
(Debian cups-ipp-utils) with DNS-SD: where `avahi-daemon --check` fails, start
`mkdir -p /run/dbus; dbus-daemon --system --fork; avahi-daemon -D` first. Uses a throw-away
SQLite database, serves the app on a free local port and prints to a throw-away
ippeveprinter that takes three seconds per badge (so the printing screen can be seen).
"""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent
SIZES = {"kiosk": (1280, 800), "phone": (360, 800)}
CHROMIUM = "/usr/bin/chromium"
IPPEVEPRINTER = "/usr/sbin/ippeveprinter"  # Debian cups-ipp-utils


def _printer(tmp: Path) -> tuple[subprocess.Popen, str]:
    """An ippeveprinter that spends three seconds on each job, then completes it."""
    slow = tmp / "slow-printer.sh"
    slow.write_text("#!/bin/sh\nsleep 3\n")
    slow.chmod(0o755)
    spool = tmp / "spool"
    spool.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - fixed arguments: this script's own paths
        [IPPEVEPRINTER, "-a", str(ROOT / "docs/ippeveprinter-badges.conf"), "-c", str(slow),
         "-k", "-d", str(spool), "-p", str(port), "Kiosk printer"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("ippeveprinter did not start (DNS-SD: see this script's help):\n"
                             + process.stdout.read().decode(errors="replace")[:500])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"ipp://127.0.0.1:{port}/ipp/print"
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("ippeveprinter did not start listening")


def _portrait() -> bytes:
    """A plain drawn head-and-shoulders silhouette standing in for a delegate's photo."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 800), (214, 222, 232))
    draw = ImageDraw.Draw(image)
    draw.ellipse((190, 150, 410, 400), fill=(120, 132, 150))
    draw.ellipse((80, 430, 520, 900), fill=(120, 132, 150))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def main() -> None:
    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from registration import create_app
    from registration.extensions import db
    from registration.services import devices, photos
    from registration.services import printers as printer_service
    from registration.services.registration import build_delegate
    from registration.validation import clean_record

    tmp = Path(tempfile.mkdtemp(prefix="kiosk-screens-"))
    ippeve, uri = _printer(tmp)
    app = create_app({"APP_ENV": "testing", "TESTING": True, "SECRET_KEY": "screens",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'db.sqlite3'}",
                      "INSTANCE_DIR": str(tmp), "REGISTRATION_CLOSES_AT": None,
                      "MAIL_BACKGROUND": False})
    references = []
    with app.app_context():
        upgrade()
        printer = printer_service.add("Kiosk printer", uri, "a6")
        _device, token = devices.issue("Hall kiosk", kiosk=True, printer_id=printer.id)
        # One delegate per screenshot run (each prints once); the last one is not accredited.
        for n in range(len(SIZES) * 2 + 1):
            clean, errors = clean_record({
                "category": "government", "honorific": "Dr.", "given_name": "Xiaoming",
                "family_name": "Wang", "native_name": "王小明",
                "organisation": "Ministry of Public Security", "position": "Director",
                "country": "CN", "email": f"xiaoming.wang{n}@example.org",
                "phone": "+86 138 0013 8000", "ministry": "MPS"}, require_consent=False)
            if errors:
                raise SystemExit(f"sample delegate refused: {errors}")
            delegate = build_delegate(clean, source="self")
            delegate.reference = f"GPS-KSK{n}-2026"
            delegate.status = "approved" if n < len(SIZES) * 2 else "submitted"
            delegate.refresh_search_text()
            db.session.add(delegate)
            db.session.flush()
            photos.set_photo(delegate, photos.process_photo(_portrait()), None)
            references.append(delegate.reference)
        db.session.commit()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    written: list[Path] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                      "--use-fake-device-for-media-stream"])
            runs = [(kind, lang) for kind in SIZES for lang in ("en", "zh")]
            for (kind, lang), reference in zip(runs, references, strict=False):
                width, height = SIZES[kind]
                context = browser.new_context(viewport={"width": width, "height": height},
                                              device_scale_factor=1, has_touch=True,
                                              is_mobile=kind == "phone")
                page = context.new_page()
                page.goto(f"{base}/kiosk")
                page.fill("#k-token", token)
                page.click("#k-save")
                written += _screens(page, kind, lang, reference, references[-1])
                context.close()
            browser.close()
    finally:
        server.shutdown()
        ippeve.terminate()
    for path in written:
        print(path.relative_to(ROOT))


def _until(page, predicate: str, timeout: float = 15) -> None:
    """Poll `predicate` with page.evaluate (wait_for_function's polling evaluates strings in
    the page, which the kiosk's CSP, script-src 'self', may refuse)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {predicate}")
        time.sleep(0.05)


def _screens(page, kind: str, lang: str, reference: str, not_accredited: str) -> list[Path]:
    def shot(name: str) -> Path:
        target = OUT / f"kiosk-{name}-{kind}-{lang}.png"
        page.screenshot(path=str(target))
        return target

    def find(ref: str, family: str) -> None:
        page.click("#k-type")
        page.wait_for_selector("#k-typing", state="visible")
        page.fill("#k-reference", ref)
        page.fill("#k-family", family)

    page.click(f".lang-switch button[data-lang={lang}]")
    page.wait_for_selector("#k-welcome", state="visible")
    _until(page, "() => document.getElementById('k-video').readyState >= 2")
    shots = [shot("welcome")]
    find(reference, "Wang")
    shots.append(shot("typing"))
    page.click("#k-find")
    page.wait_for_selector("#k-found", state="visible")
    _until(page, "() => document.getElementById('k-photo').complete")
    shots.append(shot("found"))
    page.click("#k-print")
    page.wait_for_selector("#k-printing", state="visible")
    shots.append(shot("printing"))
    page.wait_for_selector("#k-done", state="visible", timeout=30000)
    shots.append(shot("done"))
    page.click("#k-done .k-restart")
    page.click(f".lang-switch button[data-lang={lang}]")
    find(not_accredited, "Wang")
    page.click("#k-find")
    page.wait_for_selector("#k-refused", state="visible")
    shots.append(shot("refused"))
    return shots


if __name__ == "__main__":
    main()
