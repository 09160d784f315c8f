"""Fuzzing (issue 13): schemathesis against /api/v1/openapi.json with a device token, and
hypothesis over every public and staff form found on the pages. Zero 5xx, zero responses
outside the documented schema. Small budget (FORM_EXAMPLES per form, API_EXAMPLES per API
operation) so the file stays well under a minute; run on SQLite and PostgreSQL like the rest
(TEST_DATABASE_URL)."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from registration.services import devices as device_svc
from registration.services import manage_links
from registration.services.badge_signing import token_for

API_EXAMPLES = 60
FORM_EXAMPLES = 12


def budget(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
# POST forms that would end the fuzzing session or start batch PDF jobs; their inputs are
# the same kinds of field as elsewhere (the print filters, a GET form, are fuzzed).
SKIP_ACTIONS = re.compile(r"/logout|/print|/reprint|/disable$|/erase$")


class _Forms(HTMLParser):
    """Every form on a page: action, method, enctype and fields (name → known values)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.forms: list[dict[str, Any]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action") or self.url,
                               "method": a.get("method", "get").lower(),
                               "multipart": "multipart" in a.get("enctype", ""),
                               "fields": {}, "files": set()})
        elif not self.forms:
            return
        elif tag in ("input", "textarea", "select") and a.get("name"):
            fields = self.forms[-1]["fields"]
            if a.get("type") == "file":
                self.forms[-1]["files"].add(a["name"])
                return
            fields.setdefault(a["name"], [])
            if a.get("value"):
                fields[a["name"]].append(a["value"])
            self._select = a["name"] if tag == "select" else None
        elif tag == "option" and self._select and a.get("value"):
            self.forms[-1]["fields"][self._select].append(a["value"])


def forms_on(client, url: str) -> list[dict[str, Any]]:
    parser = _Forms(url)
    parser.feed(client.get(url).get_data(as_text=True))
    return [f for f in parser.forms
            if f["method"] == "get" or not SKIP_ACTIONS.search(f["action"])]


def value_for(known: list[str]) -> st.SearchStrategy[str]:
    text = st.text(max_size=40)  # any code point but surrogates: NUL, controls, RTL, CJK
    return st.one_of(st.sampled_from(known), text) if known else text


def fuzz_form(client, form: dict[str, Any], csrf: str) -> None:
    fields = {name: value_for(known) for name, known in form["fields"].items()
              if name != "csrf_token"}

    @budget(FORM_EXAMPLES)
    @given(data=st.fixed_dictionaries(fields), blob=st.binary(max_size=64))
    def run(data: dict[str, str], blob: bytes) -> None:
        if form["method"] == "get":
            response = client.get(form["action"], query_string=data)
        else:
            body: dict[str, Any] = {**data, "csrf_token": csrf}
            for name in form["files"]:
                body[name] = (io.BytesIO(blob), "upload.csv")
            response = client.post(form["action"], data=body)
        assert response.status_code < 500, (form["action"], data, response.status_code)

    run()


@pytest.fixture
def seeded(app, make_delegate) -> dict[str, str]:
    with app.app_context():
        delegate = make_delegate(status="approved", email="fuzz@example.org")
        return {"device": device_svc.issue("Fuzz door")[1], "code": token_for(delegate),
                "public_id": str(delegate.public_id),
                "manage": manage_links.make_token(delegate)}


def test_api_conforms_to_its_openapi_document(app, seeded):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {seeded['device']}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /api/v1/checkins",
                                               "GET /api/v1/checkin-snapshot"}
    for operation in operations:

        @budget(API_EXAMPLES)
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        run()


def test_public_forms_never_fail(app, client, seeded, csrf_from):
    pages = ["/register", "/manage/", f"/manage/{seeded['manage']}/edit",
             f"/manage/{seeded['manage']}/photo", f"/manage/{seeded['manage']}/cancel"]
    for page in pages:
        csrf = csrf_from(client.get("/register").get_data(as_text=True))
        found = forms_on(client, page)
        assert found, page
        for form in found:
            fuzz_form(client, form, csrf)


def test_staff_forms_never_fail(app, client, login, seeded, csrf_from):
    login("admin", email="fuzz-admin@forum.org")
    pages = ["/staff/delegates", f"/staff/delegates/{seeded['public_id']}",
             f"/staff/delegates/{seeded['public_id']}/edit", "/staff/walk-in",
             "/staff/import", "/staff/print", "/staff/accounts", "/staff/password",
             "/staff/devices", "/staff/checkpoints"]
    for page in pages:
        csrf = csrf_from(client.get("/staff/accounts").get_data(as_text=True))
        found = forms_on(client, page)
        assert found, page
        for form in found:
            fuzz_form(client, form, csrf)
    assert client.get("/staff/delegates").status_code == 200  # still signed in


def test_staff_login_form_never_fails(client, csrf_from):
    csrf = csrf_from(client.get("/staff/login").get_data(as_text=True))
    for form in forms_on(client, "/staff/login"):
        fuzz_form(client, form, csrf)
