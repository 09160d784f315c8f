"""Self-registration end to end, through the test client with real CSRF tokens."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from registration.extensions import db
from registration.models import AuditEntry, Delegate

REFERENCE_RE = re.compile(
    r"GPS-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{4}"
)

def count() -> int:
    return db.session.scalar(select(func.count(Delegate.id)))


def only_delegate() -> Delegate:
    db.session.expire_all()
    return db.session.execute(select(Delegate)).scalar_one()


@pytest.mark.parametrize("category", ["government", "expert", "scholar", "ngo"])
def test_each_category_registers_end_to_end(app, client, get_csrf, category, form_data,
                                            category_data):
    page = client.get(f"/register?category={category}")
    assert page.status_code == 200
    # The category from the link is preselected.
    assert re.search(rf'<input checked[^>]*value="{category}"', page.get_data(as_text=True))

    response = client.post("/register", data=form_data(get_csrf(), category))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/register/confirmation")

    confirmation = client.get("/register/confirmation").get_data(as_text=True)
    reference = REFERENCE_RE.search(confirmation).group(0)
    assert "submitted — pending accreditation" in confirmation

    with app.app_context():
        delegate = only_delegate()
        audit = db.session.execute(select(AuditEntry)).scalar_one()
    assert delegate.reference == reference
    assert delegate.category == category
    assert delegate.status == "submitted"
    assert delegate.badge_name == "Xiaoming Wang"
    assert delegate.phone == "+8613800138000"
    assert delegate.consent_at is not None
    assert delegate.created_at.tzinfo is not None
    if category == "government":
        assert delegate.details == {
            "ministry": "Ministry of Public Security",
            "delegation": "CN",
            "head_of_delegation": True,
        }
    elif category == "expert":
        assert delegate.details["expertise"] == ["cybersecurity", "counter_terrorism"]
    elif category == "scholar":
        assert delegate.details["institution"] == "Peking University"
    else:
        assert delegate.details["website"] == "https://redcross.example.org"
    # Other categories' answers are not stored.
    assert set(delegate.details) <= set(category_data[category]) | {"expertise_other"}
    assert (audit.action, audit.delegate_id, audit.actor) == ("registered", delegate.id, "delegate")


def test_public_id_and_reference_are_random(app, client, get_csrf, form_data):
    for i in range(3):
        client.post("/register", data=form_data(get_csrf(), email=f"p{i}@example.org"))
    with app.app_context():
        delegates = db.session.execute(select(Delegate)).scalars().all()
    assert len({d.reference for d in delegates}) == 3
    assert len({d.public_id.version for d in delegates}) == 1
    assert all(d.public_id.version == 4 for d in delegates)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address"),
        ("email", "", "Enter your email address"),
        ("phone", "call me", "Enter the number in international format"),
        ("phone", "12345", "not a valid phone number"),
        ("phone", "+86 123", "not a valid phone number"),
        ("country", "XX", "Choose a country or region from the list"),
        ("category", "astronaut", "Choose your category"),
        ("consent", None, "with your consent"),
        ("organisation", "", "Enter your organisation"),
        ("position", "", "Enter your position"),
        ("honorific", "Lord", "Choose an honorific"),
        ("family_name", "Wang\u202eevil", "control character"),
        ("native_name", "x" * 121, "at most 120 characters"),
        ("ministry", "", "This field is required"),
    ],
)
def test_validation_errors_are_shown_next_to_the_field(app, client, get_csrf, field, value,
                                                       message, form_data):
    data = form_data(get_csrf(), **{"given_name": "Kept Value", field: value})
    response = client.post("/register", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    with app.app_context():
        assert count() == 0
    # The message sits in the field's own error element.
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert match, f"no error next to {field}"
    assert message in html.unescape(match.group(1))
    if field != "given_name":
        assert 'value="Kept Value"' in page  # what the delegate typed is kept


@pytest.mark.parametrize(
    ("category", "field", "overrides"),
    [
        ("expert", "expertise", {"expertise": None}),
        ("expert", "expertise_other", {"expertise": ["other"], "expertise_other": ""}),
        ("scholar", "institution", {"institution": ""}),
        ("ngo", "focus", {"focus": ""}),
        ("ngo", "website", {"website": "not a url"}),
    ],
)
def test_category_field_errors(app, client, get_csrf, category, field, overrides, form_data):
    response = client.post("/register", data=form_data(get_csrf(), category, **overrides))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert count() == 0


def test_post_without_csrf_token_is_refused(app, client, form_data):
    data = form_data("")
    data.pop("csrf_token")
    response = client.post("/register", data=data)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    with app.app_context():
        assert count() == 0


def test_duplicate_email_is_refused_without_revealing_data(app, client, get_csrf, form_data):
    assert client.post("/register", data=form_data(get_csrf())).status_code == 303
    second = client.post(
        "/register",
        data=form_data(
            get_csrf(),
            given_name="Other",
            family_name="Person",
            native_name="",
            organisation="Other Org",
            position="Analyst",
            ministry="Other Ministry",
            phone="+44 7911 123456",
            country="GB",
            email="Wang.Xiaoming@EXAMPLE.cn",
        ),
    )
    page = second.get_data(as_text=True)
    assert second.status_code == 422
    assert "already registered" in page
    # Nothing about the first person: not their organisation, position, phone or reference.
    for private in (
        "Ministry of Public Security",
        "Deputy Director-General",
        "8613800138000",
        "GPS-",
    ):
        assert private not in page
    with app.app_context():
        assert count() == 1


def test_single_name_registers(app, client, get_csrf, form_data):
    response = client.post(
        "/register",
        data=form_data(get_csrf(), given_name="Sukarno", family_name="", native_name=""),
    )
    assert response.status_code == 303
    with app.app_context():
        assert only_delegate().badge_name == "Sukarno"


def test_no_name_at_all_is_refused(client, get_csrf, form_data):
    response = client.post("/register", data=form_data(get_csrf(), given_name="", family_name=""))
    assert response.status_code == 422
    assert 'id="given_name-error"' in response.get_data(as_text=True)


def test_phone_without_country_code_is_read_in_the_delegates_country(app, client, get_csrf,
                                                                     form_data):
    client.post("/register", data=form_data(get_csrf(), phone="138 0013 8000"))
    with app.app_context():
        assert only_delegate().phone == "+8613800138000"


@pytest.mark.parametrize(
    ("given", "family", "native"),
    [
        ("小明", "王", "王小明"),
        ("محمد", "الراشد", "محمد الراشد"),
        ("Мария", "Иванова", "Мария Иванова"),
        ("فاطمه", "کریمی", "فاطمه\u200cکریمی"),  # ZWNJ is part of Persian spelling
        ("A" * 50, "B" * 50, "Ł" * 100),
    ],
)
def test_names_in_any_script_round_trip_exactly(app, client, get_csrf, given, family, native,
                                               form_data):
    response = client.post(
        "/register",
        data=form_data(
            get_csrf(), given_name=f"  {given} ", family_name=family, native_name=native
        ),
    )
    assert response.status_code == 303
    with app.app_context():
        delegate = only_delegate()
    assert (delegate.given_name, delegate.family_name, delegate.native_name) == (
        given,
        family,
        native,
    )
    page = client.get("/register/confirmation").get_data(as_text=True)
    assert native in page


def test_names_are_nfc_normalised(app, client, get_csrf, form_data):
    decomposed = "Nu\u0301n\u0303ez"  # Núñez typed with combining accents
    client.post("/register", data=form_data(get_csrf(), family_name=decomposed))
    with app.app_context():
        family = only_delegate().family_name
    assert family == unicodedata.normalize("NFC", decomposed) == "Núñez"


def test_html_in_a_name_is_stored_as_text_and_shown_escaped(app, client, get_csrf, form_data):
    evil = '<script>alert("x")</script>'
    client.post("/register", data=form_data(get_csrf(), given_name=evil, native_name=""))
    with app.app_context():
        assert only_delegate().given_name == evil
    page = client.get("/register/confirmation").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_closed_registration_says_so_and_accepts_nothing(app, edition_settings, form_data):
    edition_settings(registration_closes_at=datetime.now(UTC) - timedelta(minutes=1))
    client = app.test_client()
    page = client.get("/register")
    assert "Registration is closed" in page.get_data(as_text=True)
    assert 'name="given_name"' not in page.get_data(as_text=True)
    response = client.post("/register", data=form_data("whatever"))
    assert response.status_code in (400, 403)
    with app.app_context():
        assert count() == 0


def test_registration_open_before_the_closing_time(app, edition_settings):
    edition_settings(registration_closes_at=datetime.now(UTC) + timedelta(days=1))
    client = app.test_client()
    assert 'name="given_name"' in client.get("/register").get_data(as_text=True)


def test_full_category_is_refused_others_still_open(app, edition_settings, form_data,
                                                   csrf_from):
    edition_settings(capacities={"government": 1})
    client = app.test_client()

    def post(**kw):
        token = csrf_from(client.get("/register").get_data(as_text=True))
        return client.post("/register", data=form_data(token, **kw))

    assert post().status_code == 303
    second = post(email="second@example.org")
    assert second.status_code == 422
    assert "full" in second.get_data(as_text=True)
    page = client.get("/register").get_data(as_text=True)
    assert "Government official — full" in page
    assert post(category="scholar", email="third@example.org").status_code == 303
    with app.app_context():
        assert count() == 2


def test_landing_page_links_to_the_form(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/register"' in page
    assert 'href="/register?category=ngo"' in page


def test_privacy_notice_is_linked_from_the_form(client):
    page = client.get("/register").get_data(as_text=True)
    assert 'href="/privacy"' in page
    assert client.get("/privacy").status_code == 200


def test_confirmation_without_registration_redirects(client):
    assert client.get("/register/confirmation").status_code == 302


def test_language_switch_does_not_redirect_off_site(client):
    response = client.get("/lang/zh?next=//evil.example/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/lang/xx").status_code == 404


def test_honorific_defaults_to_none(app, client, get_csrf, form_data):
    page = client.get("/register").get_data(as_text=True)
    select = re.search(r'<select [^>]*id="honorific"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.match(r'\s*<option value="">none</option>', select)
    data = form_data(get_csrf())
    data.pop("honorific")
    assert client.post("/register", data=data).status_code == 303
    with app.app_context():
        assert only_delegate().honorific == ""


def test_blank_form_is_served_from_cache_with_each_visitors_own_token(make_app, form_data,
                                                                      csrf_from):
    app = make_app()
    first, second = app.test_client(), app.test_client()
    page_a = first.get("/register?category=ngo").get_data(as_text=True)
    page_b = second.get("/register?category=ngo").get_data(as_text=True)
    token_a, token_b = csrf_from(page_a), csrf_from(page_b)
    assert token_a != token_b
    assert page_a.replace(token_a, "T") == page_b.replace(token_b, "T")
    assert re.search(r'<input checked[^>]*value="ngo"', page_b)
    # The cached page's token works: the second visitor can register with it.
    data = form_data(token_b, "ngo")
    assert second.post("/register", data=data).status_code == 303
    # A variant (another category) is its own page, not the cached one.
    other = first.get("/register?category=expert").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="expert"', other)


def test_the_cached_form_follows_a_change_of_the_editions_settings(app, client, runner):
    """The blank form is cached per edition settings (editions.page_version, itself worked
    out once per cached copy of the edition): a change made meanwhile shows on the next
    visit, not a page drawn for the old settings."""
    before = client.get("/register").get_data(as_text=True)
    assert 'name="document_number"' not in before
    assert client.get("/register").get_data(as_text=True).count('name="document_number"') == 0
    changed = runner.invoke(args=["editions", "settings", "--identity", "all"])
    assert changed.exit_code == 0, changed.output
    after = app.test_client().get("/register").get_data(as_text=True)
    assert 'name="document_number"' in after


def test_a_settings_change_by_another_thread_mid_request_does_not_mislabel_the_cached_form(
        app, monkeypatch):
    """The cached form's key describes the settings the page is drawn with, even when another
    thread renews the process's cached edition while this request is under way."""
    import threading

    from registration import editions
    from registration.fields import CATEGORIES
    from registration.models import Edition
    from registration.public import views
    from registration.services.edition_settings import save_settings

    full_categories = views.full_categories
    changed: list[bool] = []

    def another_thread_changes_the_settings() -> None:
        with app.app_context():
            edition = db.session.scalar(select(Edition).where(Edition.is_current))
            save_settings(edition, {"identity_categories": sorted(CATEGORIES)})
            editions._cached_current()  # that thread's next request fills the cache anew
            db.session.remove()

    def full_categories_meanwhile() -> set[str]:
        if not changed:
            changed.append(True)
            worker = threading.Thread(target=another_thread_changes_the_settings)
            worker.start()
            worker.join()
        return full_categories()

    client = app.test_client()
    client.get("/register")  # the edition is cached: this request's comes from that copy
    monkeypatch.setattr(views, "full_categories", full_categories_meanwhile)
    during = app.test_client().get("/register").get_data(as_text=True)
    assert changed and 'name="document_number"' not in during  # drawn with the old settings
    after = app.test_client().get("/register").get_data(as_text=True)
    assert 'name="document_number"' in after


def _stored_record(delegate: Delegate) -> dict:
    """What a registration stored, without what differs by design between two of them."""
    skip = {"id", "public_id", "reference", "email", "email_key", "created_at", "updated_at",
            "consent_at", "search_text", "manage_token_version"}
    return {c.key: getattr(delegate, c.key) for c in Delegate.__table__.columns
            if c.key not in skip}


@pytest.fixture
def form_builds(monkeypatch) -> list[int]:
    """Counts the registration forms built (one entry each)."""
    from registration.public import forms

    built: list[int] = []
    init = forms.DelegateForm.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(forms.DelegateForm, "__init__", counting_init)
    return built


# What a browser would not send, read as WTForms reads it: any box value but "false" or
# empty ticks it; a multiple choice is every value sent; a field that is not one is ignored.
ODD_VALUES = {"consent": "on", "honorific": "Prof.", "not_a_field": "ignored"}
ODD_BY_CATEGORY = {
    "government": {"head_of_delegation": "yes please", "delegation": "FR"},
    "expert": {"expertise": ["cybersecurity", "other"], "expertise_other": "Drones"},
    "scholar": {"academic_title": "Professor"},
    "ngo": {"website": "example.org"},
}


@pytest.mark.parametrize("category", sorted(ODD_BY_CATEGORY))
def test_a_passing_submission_is_stored_as_the_built_form_would_store_it(
        app, client, get_csrf, form_data, category, form_builds):
    """A submission that passes every check is stored without building the form
    (DelegateForm.passing_submission), with the very values the form's fields would have
    given: a ticked visa-letter box, which this edition does not offer, sends the same
    submission through the built form, and both records are equal."""
    odd = {**ODD_VALUES, **ODD_BY_CATEGORY[category]}
    quick = form_data(get_csrf(), category, email="quick@example.org", **odd)
    form_builds.clear()  # the blank page is built once, then served from its cache
    assert client.post("/register", data=quick).status_code == 303
    assert form_builds == []  # stored without building the form
    slow = form_data(get_csrf(), category, email="built@example.org", visa_letter="y", **odd)
    form_builds.clear()
    assert client.post("/register", data=slow).status_code == 303
    assert form_builds == [1]
    with app.app_context():
        first = db.session.scalar(select(Delegate).where(Delegate.email == "quick@example.org"))
        second = db.session.scalar(select(Delegate).where(Delegate.email == "built@example.org"))
        assert _stored_record(first) == _stored_record(second)
        assert first.honorific == "Prof."
        if category == "government":
            assert first.details["head_of_delegation"] is True
            assert first.details["delegation"] == "FR"
        if category == "expert":
            assert first.details["expertise"] == ["cybersecurity", "other"]


def test_a_date_the_form_would_refuse_is_refused_without_the_form_too(client, get_csrf,
                                                                     form_data, form_builds):
    """A value sent to a field that parses it (the visa dates: a browser without a date
    picker sends what was typed) is the built form's to read, even with the box unticked:
    the form refuses a date it cannot read, so nothing passes without it."""
    data = form_data(get_csrf(), visa_stay_from="12/06/2026")
    form_builds.clear()
    response = client.post("/register", data=data)
    assert response.status_code == 422
    assert form_builds == [1]


def test_a_refused_passing_submission_shows_the_form_with_the_reason(app, client, get_csrf,
                                                                    form_data, form_builds):
    """A submission that passed without the form but is refused when stored (the address is
    registered already) gets the form built, filled in, with the reason at the address."""
    assert client.post("/register", data=form_data(get_csrf())).status_code == 303
    token = get_csrf()
    form_builds.clear()
    again = client.post("/register", data=form_data(token, given_name="Second"))
    page = again.get_data(as_text=True)
    assert again.status_code == 422
    assert form_builds == [1]  # built for the page only
    assert "already registered" in page
    assert re.search(r'<input[^>]*id="given_name"[^>]*value="Second"', page)
    with app.app_context():
        assert db.session.scalar(select(func.count(Delegate.id))) == 1


def test_identity_data_passes_without_the_form_as_with_it(app, client, get_csrf, form_data,
                                                         edition_settings, form_builds):
    """Where the edition asks for identity data, a passing submission stores the same
    identity without the form as with it (the second one asks for a visa letter, which
    this edition offers: its dates are the form's to read)."""
    from registration.services.identity import export_values

    edition_settings(identity_categories=["government", "expert", "scholar", "ngo"])
    identity = {"nationality": "RU", "date_of_birth": "1980-02-03",
                "document_type": "passport", "document_number": "K4711Z093",
                "document_country": "RU", "document_expiry": "2031-05-01", "country": "RU",
                "phone": "+7 912 345 67 89"}
    token = get_csrf()
    form_builds.clear()
    assert client.post("/register", data=form_data(
        token, "scholar", email="quick@example.org", **identity)).status_code == 303
    assert form_builds == []
    assert client.post("/register", data=form_data(
        get_csrf(), "scholar", email="built@example.org", visa_letter="y",
        visa_stay_from="2026-12-06", visa_stay_to="2026-12-12", **identity)).status_code == 303
    missing = client.post("/register", data=form_data(
        get_csrf(), "scholar", email="none@example.org",
        **{**identity, "document_number": ""}))
    assert missing.status_code == 422  # all of it is required on the public form
    with app.app_context():
        first = db.session.scalar(select(Delegate).where(Delegate.email == "quick@example.org"))
        second = db.session.scalar(select(Delegate).where(Delegate.email == "built@example.org"))
        assert _stored_record(first) == _stored_record(second)
        assert export_values(first.identity, reveal=True) == export_values(
            second.identity, reveal=True)
        assert export_values(first.identity, reveal=True)["document_number"] == "K4711Z093"
