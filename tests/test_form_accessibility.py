"""The registration form beyond what axe sees (WCAG 2.2 AA): autocomplete tokens (1.3.5),
hints and errors linked to their field, required fields marked, an error summary that counts
the errors and links to each field, the category group linked to its error; and in Chinese,
honorifics translated and the family name first with a hint. (Focus moving to the summary is
checked in a real browser: tests/test_accessibility_browser.py.)"""

from __future__ import annotations

import re

import pytest

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def tag(page: str, element_id: str) -> str:
    match = re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{element_id}"[^>]*>', page)
    assert match, element_id
    return match.group(0)


@pytest.mark.parametrize(("field", "token"), [
    ("honorific", "honorific-prefix"), ("given_name", "given-name"),
    ("family_name", "family-name"), ("organisation", "organization"),
    ("position", "organization-title"), ("country", "country"), ("email", "email"),
    ("phone", "tel"),
])
def test_autocomplete_tokens(client, field, token):
    page = client.get("/register").get_data(as_text=True)
    assert f'autocomplete="{token}"' in tag(page, field)


def test_email_and_phone_bring_the_right_keyboard(client):
    page = client.get("/register").get_data(as_text=True)
    assert 'type="email"' in tag(page, "email") and 'type="tel"' in tag(page, "phone")


def test_hints_are_linked_and_required_fields_marked(client):
    page = client.get("/register").get_data(as_text=True)
    assert 'aria-describedby="given_name-hint"' in tag(page, "given_name")
    assert 'id="given_name-hint"' in page
    assert 'aria-describedby="phone-hint"' in tag(page, "phone")
    for name in ("given_name", "organisation", "position", "country", "email", "phone",
                 "consent", "ministry", "institution", "focus"):
        element = tag(page, name)
        assert re.search(r"\brequired\b", element) and 'aria-required="true"' in element, name
    for name in ("family_name", "native_name", "badge_name", "dietary_needs", "department"):
        assert "required" not in tag(page, name), name
    assert re.search(r'<label for="email">[^<]*<span class="required-mark" aria-hidden="true">'
                     r"\*</span></label>", page)
    assert re.search(r'<input[^>]*id="category-0"[^>]*required', page)


def test_failed_submit_gets_a_summary_linking_every_error(client, get_csrf, form_data):
    data = form_data(get_csrf(), phone="123", email="nope", category=None)
    response = client.post("/register", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    summary = re.search(r'<div class="notice error-summary" id="error-summary" role="alert" '
                        r'tabindex="-1"[^>]*>(.*?)</div>', page, re.S)
    assert summary, "no error summary"
    assert "3 problems to correct" in summary.group(1)
    links = re.findall(r'<a href="#([\w-]+)">', summary.group(1))
    assert links == ["category-0", "email", "phone"]
    assert '<script src="/static/js/error-summary.js" defer></script>' in page
    # Each field points at its error; the category group too.
    assert 'aria-describedby="phone-hint phone-error"' in tag(page, "phone")
    assert 'aria-invalid="true"' in tag(page, "phone")
    assert 'aria-describedby="email-error"' in tag(page, "email")
    assert re.search(r'<fieldset class="categories has-error" aria-describedby="category-error">',
                     page)
    assert 'id="category-error"' in page


def test_summary_in_chinese_counts_too(client, csrf_from, form_data):
    token = csrf_from(client.get("/register", headers=ZH).get_data(as_text=True))
    page = client.post("/register", headers=ZH,
                       data=form_data(token, email="nope")).get_data(as_text=True)
    assert "有 1 处需要修改" in page


def test_chinese_form_has_family_name_first_with_a_hint_and_translated_honorifics(client):
    page = client.get("/register", headers=ZH).get_data(as_text=True)
    assert page.index('id="family_name"') < page.index('id="given_name"')
    assert 'aria-describedby="family_name-hint"' in tag(page, "family_name")
    assert "中文姓名请先填姓" in page
    for value, label in (("H.E.", "阁下"), ("Dr.", "博士"), ("Prof.", "教授"), ("Mr.", "先生"),
                         ("Ms.", "女士")):
        assert f'<option value="{value}">{label}</option>' in page
    english = client.get("/register").get_data(as_text=True)
    assert english.index('id="given_name"') < english.index('id="family_name"')
    assert '<option value="Dr.">Dr.</option>' in english
