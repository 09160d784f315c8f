"""Screenshots of the delegate-facing pages and the door scanner's typed-code flow (the
identity check, then the admitted result), phone (360 px) and desktop (1280 px), English and
Chinese, into docs/screens/. Not a test: run it after changing how these pages look.

    .venv/bin/python docs/screens/take.py

Needs Playwright (dev requirements) and Chromium at /usr/bin/chromium. Uses a throw-away
SQLite database and serves the app on a free local port.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent
WIDTHS = {"phone": 360, "desktop": 1280}
DOOR_PASSWORD = "screens door password"  # noqa: S105 - a throw-away account in a throw-away database


def main() -> None:
    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright
    from werkzeug.security import generate_password_hash
    from werkzeug.serving import make_server

    from registration import create_app
    from registration.extensions import db
    from registration.models import StaffUser
    from registration.services import manage_links
    from registration.services.registration import build_delegate
    from registration.validation import clean_record

    tmp = Path(tempfile.mkdtemp(prefix="screens-"))
    app = create_app({"APP_ENV": "testing", "TESTING": True, "SECRET_KEY": "screens",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'db.sqlite3'}",
                      "INSTANCE_DIR": str(tmp), "REGISTRATION_CLOSES_AT": None,
                      "MAIL_BACKGROUND": False})
    with app.app_context():
        upgrade()
        clean, errors = clean_record({
            "category": "expert", "honorific": "Dr.", "given_name": "Maximilian Friedrich",
            "family_name": "von Hohenzollern-Sigmaringen", "native_name": "",
            "organisation": "International Criminal Police Organization (INTERPOL)",
            "position": "Senior Specialist, Cybercrime Directorate", "country": "DE",
            "email": "maximilian.von.hohenzollern@example.org", "phone": "+49 151 23456789",
            "expertise": "cybersecurity"}, require_consent=False)
        if errors:
            raise SystemExit(f"sample delegate refused: {errors}")
        delegate = build_delegate(clean, source="self")
        delegate.reference = "GPS-Y8ZG-CY7J"
        delegate.status = "approved"
        delegate.refresh_search_text()
        db.session.add(delegate)
        door = StaffUser(email="door@forum.test", role="scanner", active=True,
                         password_hash=generate_password_hash(DOOR_PASSWORD),
                         session_version=0, failed_logins=0)
        db.session.add(door)
        db.session.commit()
        manage = f"/manage/{manage_links.make_token(delegate)}"

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    pages = {"landing": "/", "register": "/register", "manage": manage}
    written = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu"])
            for lang in ("en", "zh"):
                for kind, width in WIDTHS.items():
                    context = browser.new_context(viewport={"width": width, "height": 800},
                                                  is_mobile=width < 600, device_scale_factor=1)
                    page = context.new_page()
                    page.goto(f"{base}/lang/{lang}?next=/")
                    for name, path in pages.items():
                        page.goto(base + path)
                        target = OUT / f"{name}-{kind}-{lang}.png"
                        page.screenshot(path=str(target), full_page=True)
                        written.append(target)
                    written += _scanner(page, base, kind, lang)
                    context.close()
            browser.close()
    finally:
        server.shutdown()
    for path in written:
        print(path.relative_to(ROOT))


def _scanner(page, base: str, kind: str, lang: str) -> list[Path]:
    """The door's typed-code flow: sign in as a scanner, type the reference printed under
    the QR code, the identity check (photo, names), then Confirm and admit."""
    page.goto(f"{base}/staff/login?next=/checkin")
    page.fill("input[name=email]", "door@forum.test")
    page.fill("input[name=password]", DOOR_PASSWORD)
    page.click("form button[type=submit], form input[type=submit]")
    page.wait_for_url(f"{base}/checkin")
    page.select_option("#checkpoint-select", "main")
    page.click("#start")
    page.wait_for_selector("#scan", state="visible")
    page.click("#type-code")
    page.keyboard.type("gps y8zg cy7j")
    page.keyboard.press("Enter")
    page.wait_for_selector("#confirm", state="visible")
    confirm = OUT / f"scanner-typed-code-confirm-{kind}-{lang}.png"
    page.screenshot(path=str(confirm))
    page.click("#confirm-admit")
    page.wait_for_selector("#result[data-status]", state="visible")
    admitted = OUT / f"scanner-typed-code-admitted-{kind}-{lang}.png"
    page.screenshot(path=str(admitted))
    return [confirm, admitted]


if __name__ == "__main__":
    main()
