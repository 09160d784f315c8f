"""Screenshots of the delegate-facing pages, phone (360 px) and desktop (1280 px), English and
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


def main() -> None:
    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from registration import create_app
    from registration.extensions import db
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
                    context.close()
            browser.close()
    finally:
        server.shutdown()
    for path in written:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
