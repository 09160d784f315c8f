"""The vetting gate at an offline door, in a real Chromium: the scanner page decides from
its offline list (snapshot) that a delegate accredited but not cleared by vetting is
`not_accredited` with reason `vetting` (and says so), admits a cleared one, and after
reconnecting the server records the same answers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from registration.extensions import db
from registration.models import Scan, StaffUser
from registration.services.badge_signing import token_for

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None  # type: ignore[assignment]


@pytest.fixture
def live_server(app, serve_app) -> str:
    if sync_playwright is None:
        pytest.skip("playwright (Python package) is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    return serve_app(app)


def test_offline_door_refuses_the_uncleared_with_reason_vetting(app, live_server,
                                                                edition_settings,
                                                                make_delegate):
    from werkzeug.security import generate_password_hash

    edition_settings(vetting_required=True)
    with app.app_context():
        db.session.add(StaffUser(email="door@forum.test", role="scanner", active=True,
                                 password_hash=generate_password_hash(
                                     PASSWORD, method=app.config["PASSWORD_HASH_METHOD"]),
                                 session_version=0, failed_logins=0))
        waiting = make_delegate(status="badge_printed", given_name="Waiting")
        cleared = make_delegate(status="badge_printed", given_name="Cleared",
                                vetting_status="cleared")
        codes = [token_for(waiting), token_for(cleared)]
        db.session.commit()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            context = browser.new_context()
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server}/staff/login?next=/checkin")
            page.fill("input[name=email]", "door@forum.test")
            page.fill("input[name=password]", PASSWORD)
            page.click("form button[type=submit], form input[type=submit]")
            page.wait_for_url(f"{live_server}/checkin")
            page.select_option("#checkpoint-select", "main")
            page.click("#start")
            expect(page.locator("#snapshot-status")).to_contain_text("delegates",
                                                                     timeout=5000)
            context.set_offline(True)
            result = page.locator("#result")
            page.keyboard.type(codes[0])
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "not_accredited")
            expect(result).to_have_attribute("data-reason", "vetting")
            expect(result).to_have_attribute("data-offline", "1")
            expect(page.locator("#result-detail")).to_contain_text("Not cleared by vetting")
            expect(page.locator("#result-name")).to_have_text("")  # nothing about them
            page.keyboard.type(codes[1])
            page.keyboard.press("Enter")
            expect(result).to_have_attribute("data-status", "checked_in")
            expect(page.locator("#result-name")).to_contain_text("Cleared")
            context.set_offline(False)
            expect(page.locator("#queue-status")).to_have_attribute("data-count", "0",
                                                                    timeout=15000)
            assert errors == []
        finally:
            browser.close()
    with app.app_context():
        results = db.session.scalars(select(Scan.result).where(Scan.offline.is_(True))
                                     .order_by(Scan.scanned_at)).all()
    assert results == ["not_accredited", "checked_in"]
