"""The identity fields in a real Chromium: the registration form shows them only for the
categories the edition asks (the page's script), axe-core finds no violation with them shown
and with their errors, in English and Chinese, at phone width without sideways scrolling;
the desk's page with the identity panel too."""

from __future__ import annotations

import re

import pytest
import test_accessibility_browser as shared
from test_accessibility_browser import (  # the shared browser helpers
    WIDTHS,
    _open,
    _sign_in,
    axe_violations,
    horizontal_overflow,
)

pytestmark = pytest.mark.browser
live_server = shared.live_server  # the shared fixtures
browser_page = shared.browser_page

IDENTITY = {"nationality": "FR", "date_of_birth": "1971-03-09", "document_type": "passport",
            "document_number": "E48213907", "document_country": "FR",
            "document_expiry": "2031-06-30"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_register_form_shows_identity_for_the_asked_category(app, live_server, browser_page,
                                                            edition_settings, lang):
    edition_settings(identity_categories=["government"])
    context, page = _open(browser_page, WIDTHS["phone"], lang, live_server)
    page.goto(f"{live_server}/register")
    section = page.locator(".identity-section")
    page.check("input[name=category][value=scholar]")
    assert not section.is_visible()
    assert page.locator("#document_number").is_disabled()  # not sent for a scholar
    page.check("input[name=category][value=government]")
    assert section.is_visible() and page.locator("#document_number").is_enabled()
    problems = [f"identity shown: {v}" for v in axe_violations(page)]

    page.fill("#document_number", "E-48")
    page.fill("#document_expiry", "2026-12-01")
    page.click("form.delegate-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert page.locator("#document_number-error").is_visible()
    assert page.locator("#document_expiry-error").is_visible()
    problems += [f"identity errors: {v}" for v in axe_violations(page)]
    if horizontal_overflow(page) > 0:
        problems.append("identity errors: scrolls sideways at 360 px")
    context.close()
    assert problems == [], "\n".join(problems)


def test_desk_page_with_identity_panel(app, live_server, browser_page, make_delegate,
                                       edition_settings):
    edition_settings(identity_categories=["government"])
    with app.app_context():
        delegate = make_delegate(**IDENTITY)
        url = f"{live_server}/staff/delegates/{delegate.public_id}"
    context, page = _open(browser_page, WIDTHS["phone"], "en", live_server)
    _sign_in(app, page, live_server)
    page.goto(url)
    panel = page.locator("#identity")
    assert "E48213907" in panel.inner_text()  # an admin reads it in clear
    problems = axe_violations(page)
    page.goto(url + "/edit")
    assert re.search("On file: •••907", page.content())
    problems += axe_violations(page)
    context.close()
    assert problems == [], "\n".join(problems)
