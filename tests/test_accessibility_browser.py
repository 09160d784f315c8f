"""axe-core in a real Chromium on every public page, the manage pages and the main staff
pages, in English and Chinese, at desktop (1280 px) and phone (360 px) width: no violation.
At 360 px the pages a delegate sees must not scroll sideways, and after a failed submit the
focus lands on the error summary.

axe-core is a test-only npm package (package.json; `make test` runs `npm ci`). The scanner
page (/checkin) is tested with the scanner (tests/test_checkin_browser.py).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from registration.extensions import db
from registration.models import Delegate, StaffUser
from registration.services import delegations as delegation_service
from registration.services import manage_links

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]
PASSWORD = "correct horse battery staple"
WIDTHS = {"desktop": 1280, "phone": 360}

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None  # type: ignore[assignment]


def _require_tools() -> None:
    if sync_playwright is None:
        pytest.skip("playwright (Python package) is not installed: pip install playwright")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"Chromium is missing at {CHROMIUM}: apt-get install chromium")
    if not AXE.exists():
        pytest.skip(f"{AXE.relative_to(ROOT)} is missing: run `npm ci` at the repository root "
                    "(make test does)")


@pytest.fixture
def live_server(app, serve_app) -> str:
    _require_tools()
    return serve_app(app)


@pytest.fixture
def browser_page(live_server) -> Iterator:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(browser, width: int, lang: str, base: str):
    context = browser.new_context(viewport={"width": width, "height": 800},
                                  device_scale_factor=1, is_mobile=width < 600,
                                  has_touch=width < 600, locale="zh-CN" if lang == "zh" else "en")
    page = context.new_page()
    page.goto(f"{base}/lang/{lang}?next=/")
    return context, page


def axe_violations(page) -> list[str]:
    # Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays on.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' +
                                         (n.failureSummary || '').split('\\n')[1])}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {json.dumps(v['nodes'])}"
            for v in result]


def horizontal_overflow(page) -> int:
    """How many pixels the page is wider than the phone's 360 px (a phone browser widens its
    layout viewport to the content, so window.innerWidth cannot tell)."""
    return page.evaluate("() => document.scrollingElement.scrollWidth") - WIDTHS["phone"]


def _audit(page, url: str, *, phone: bool, no_sideways: bool) -> list[str]:
    page.goto(url)
    problems = [f"{url}: {v}" for v in axe_violations(page)]
    if phone and no_sideways:
        extra = horizontal_overflow(page)
        if extra > 0:
            problems.append(f"{url}: scrolls sideways by {extra} px at 360 px")
    return problems


@pytest.fixture
def delegate(app, make_delegate) -> tuple[Delegate, str]:
    with app.app_context():
        d = make_delegate("expert", status="approved", given_name="Maximilian Friedrich",
                          family_name="von Hohenzollern-Sigmaringen",
                          organisation="International Criminal Police Organization (INTERPOL)",
                          position="Senior Specialist, Cybercrime Directorate",
                          email="maximilian.von.hohenzollern@example.org", country="DE",
                          phone="+49 151 23456789", expertise="cybersecurity")
        d = db.session.get(Delegate, d.id)
        return d, f"/manage/{manage_links.make_token(d)}"


def _register(page, base: str) -> None:
    """Register through the page's own form (so the confirmation page has its session)."""
    page.goto(f"{base}/register")
    page.check("#category-1")
    page.fill("#given_name", "Aigerim")
    page.fill("#family_name", "Nurlanovna-Abdrakhmanova")
    page.fill("#organisation", "Ministry of Emergency Situations of the Republic of Kazakhstan")
    page.fill("#position", "Head of International Cooperation Department")
    page.select_option("#country", "KZ")
    page.fill("#email", "aigerim.nurlanovna-abdrakhmanova@emergency.example.kz")
    page.fill("#phone", "+7 701 234 5678")
    page.check("input[name=expertise][value=disaster_response]")
    page.check("#consent")
    page.click("form.delegate-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/register/confirmation$"))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_public_and_manage_pages(app, live_server, browser_page, delegate, lang, width):
    _d, manage = delegate
    phone = width == "phone"
    context, page = _open(browser_page, WIDTHS[width], lang, live_server)
    problems: list[str] = []
    for path in ("/", "/register", "/privacy", "/manage/", "/no-such-page",
                 "/manage/not-a-valid-link", manage, f"{manage}/edit", f"{manage}/photo",
                 f"{manage}/cancel", f"{manage}/erase"):
        problems += _audit(page, live_server + path, phone=phone, no_sideways=True)

    # A failed submit: the focus moves to the summary, which axe checks too.
    page.goto(f"{live_server}/register")
    page.click("form.delegate-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert page.evaluate("() => document.activeElement.id") == "error-summary"
    page.click("#error-summary a[href='#email']")
    assert page.evaluate("() => document.activeElement.id") == "email"
    problems += [f"/register (errors): {v}" for v in axe_violations(page)]
    if phone and horizontal_overflow(page) > 0:
        problems.append("/register (errors): scrolls sideways at 360 px")

    # The vetting service asks for more information: the question box on the manage page.
    from registration.services import vetting

    with app.app_context():
        vetting.decide(db.session.get(Delegate, _d.id), "more_info",
                       "Please confirm your employer since 2020.", None, actor="cli")
    problems += _audit(page, live_server + manage, phone=phone, no_sideways=True)

    _register(page, live_server)
    problems += _audit(page, f"{live_server}/register/confirmation", phone=phone,
                       no_sideways=True)
    context.close()
    assert problems == [], "\n".join(problems)


def _sign_in(app, page, base: str) -> None:
    with app.app_context():
        db.session.add(StaffUser(email="admin@forum.test", role="admin", active=True,
                                 password_hash=generate_password_hash(
                                     PASSWORD, method=app.config["PASSWORD_HASH_METHOD"]),
                                 session_version=0, failed_logins=0))
        db.session.commit()
    page.goto(f"{base}/staff/login")
    page.fill("input[name=email]", "admin@forum.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/delegates$"))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_staff_pages(app, live_server, browser_page, delegate, make_delegate, lang, width):
    phone = width == "phone"
    with app.app_context():
        for i, (given, family) in enumerate([("Ola", "Øvergaard"), ("Suharto", ""),
                                             ("Wei", "Li")]):
            make_delegate(["government", "scholar", "ngo"][i], given_name=given,
                          family_name=family, status=["submitted", "badge_printed",
                                                      "rejected"][i],
                          printed=i == 1, ministry="MPS", institution="PKU", focus="Relief")
        public_id = db.session.scalars(select(Delegate.public_id)).first()
        unodc, _focals = delegation_service.create(
            "UNODC", "AT", kind="organisation", focal_emails=["liaison@unodc.example.org"],
            quotas={"government": 2})
        olga = make_delegate("government", given_name="Olga", ministry="UNODC",
                             delegation_id=unodc.id)
        substitute = f"/staff/delegations/{unodc.id}/substitute/{olga.public_id}"
    context, page = _open(browser_page, WIDTHS[width], lang, live_server)
    problems = _audit(page, f"{live_server}/staff/login", phone=phone, no_sideways=True)
    _sign_in(app, page, live_server)
    for path in ("/staff/delegates", f"/staff/delegates/{public_id}",
                 f"/staff/delegates/{public_id}/edit", "/staff/walk-in", "/staff/import",
                 "/staff/export", "/staff/print", "/staff/dashboard", "/staff/accounts",
                 "/staff/devices", "/staff/checkpoints", substitute, "/staff/vetting",
                 f"/staff/vetting/{public_id}"):
        problems += _audit(page, live_server + path, phone=phone, no_sideways=False)
    # The delegations page with its delegates' table open.
    page.goto(f"{live_server}/staff/delegations")
    page.click("details.delegation-members summary")
    problems += [f"/staff/delegations: {v}" for v in axe_violations(page)]
    if phone:
        # The delegates table scrolls inside its own box, not the page.
        page.goto(f"{live_server}/staff/delegates")
        assert horizontal_overflow(page) <= 0, "the staff list widens the page"
        assert page.evaluate("""() => { const box = document.querySelector('.table-scroll');
            return box && getComputedStyle(box).overflowX === 'auto'; }""")
    # The print page's selects show their longest option whole (no clipped labels).
    page.goto(f"{live_server}/staff/print")
    clipped = page.evaluate("""() => [...document.querySelectorAll('form select')].map(s => {
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = getComputedStyle(s).font;
        const need = Math.max(...[...s.options].map(o => ctx.measureText(o.text).width));
        return [s.id, Math.ceil(need), s.clientWidth];
    }).filter(([id, need, width]) => need + 24 > width)""")
    assert clipped == [], clipped
    if lang == "zh":
        # Column headers keep each word on one line (no one-character-per-line columns).
        page.goto(f"{live_server}/staff/delegates")
        heights = page.evaluate("""() => [...document.querySelectorAll('table.delegates th')]
            .map(th => th.getBoundingClientRect().height)""")
        assert max(heights) < 2.2 * min(heights), heights
    context.close()
    assert problems == [], "\n".join(problems)
