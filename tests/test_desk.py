"""The desk: search, filters, counts, accreditation, the delegate record, edits, walk-ins."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from registration.extensions import db
from registration.fields import COMMON_FIELDS
from registration.models import AuditEntry, CheckIn, Delegate, InvalidTransition, Scan, Status
from registration.services import accreditation, audit
from registration.services.delegate_edit import edit_delegate
from registration.services.delegate_search import DelegateFilter, counts, paginate
from registration.signals import delegate_approved, delegate_rejected
from registration.validation import clean_record


def refs(flt: DelegateFilter) -> set[str]:
    return {d.reference for d in db.session.scalars(flt.query())}


def check_in(delegate: Delegate) -> None:
    now = datetime.now(UTC)
    scan = Scan(nonce=f"n{delegate.id}", checkpoint_id="main", delegate_id=delegate.id,
                result="checked_in", scanned_at=now)
    db.session.add(scan)
    db.session.flush()
    db.session.add(CheckIn(delegate_id=delegate.id, checkpoint_id="main", scan_id=scan.id,
                           checked_in_at=now))
    db.session.commit()


# --- search service -------------------------------------------------------------------------

def test_search_any_script_accents_email_reference(app_ctx, make_delegate):
    wang = make_delegate(native_name="王小明", email="wang@example.cn")
    muller = make_delegate(given_name="Jürgen", family_name="Müller", country="DE",
                           organisation="Bundeskriminalamt")
    ivanova = make_delegate(given_name="Maria", family_name="Ivanova", native_name="Мария Иванова",
                            country="RU")
    assert refs(DelegateFilter(q="王")) == {wang.reference}
    assert refs(DelegateFilter(q="muller")) == {muller.reference}
    assert refs(DelegateFilter(q="MÜLLER jurgen")) == {muller.reference}
    assert refs(DelegateFilter(q="иванова")) == {ivanova.reference}
    assert refs(DelegateFilter(q=wang.reference.lower())) == {wang.reference}
    assert refs(DelegateFilter(q="wang@example.cn")) == {wang.reference}
    assert refs(DelegateFilter(q="bundeskriminal")) == {muller.reference}
    # Every word must match; LIKE wildcards typed by the user are literal.
    assert refs(DelegateFilter(q="muller ivanova")) == set()
    assert refs(DelegateFilter(q="%")) == set()
    assert refs(DelegateFilter(q="_")) == set()
    assert len(refs(DelegateFilter())) == 3


def test_filter_args_round_trip_and_invalid_values_dropped(app_ctx):
    flt = DelegateFilter.from_args({"q": "  wang  xiao ", "category": "expert",
                                    "status": "approved", "country": "de", "printed": "no",
                                    "checked_in": "yes", "sort": "country"})
    assert flt == DelegateFilter(q="wang xiao", category="expert", status="approved",
                                 country="DE", printed="no", checked_in="yes", sort="country")
    assert DelegateFilter.from_args(flt.to_args()) == flt
    bad = DelegateFilter.from_args({"category": "spy", "status": "x", "country": "ZZZ",
                                    "printed": "maybe", "sort": "id; drop table"})
    assert bad == DelegateFilter()
    assert bad.to_args() == {}
    assert DelegateFilter(q="a").to_args(page="2") == {"q": "a", "page": "2"}


def test_each_filter(app_ctx, make_delegate):
    gov = make_delegate(category="government", status="approved", printed=True)
    expert = make_delegate(category="expert", country="DE", expertise=["cybersecurity"])
    ngo = make_delegate(category="ngo", country="FR", status="rejected", focus="Relief")
    check_in(gov)
    assert refs(DelegateFilter(category="expert")) == {expert.reference}
    assert refs(DelegateFilter(status="rejected")) == {ngo.reference}
    assert refs(DelegateFilter(country="DE")) == {expert.reference}
    assert refs(DelegateFilter(printed="yes")) == {gov.reference}
    assert refs(DelegateFilter(printed="no")) == {expert.reference, ngo.reference}
    assert refs(DelegateFilter(checked_in="yes")) == {gov.reference}
    assert refs(DelegateFilter(checked_in="no")) == {expert.reference, ngo.reference}
    assert refs(DelegateFilter(category="government", printed="no")) == set()


def test_sorts_and_pagination(app_ctx, make_delegate):
    for name, country in (("Zhou", "CN"), ("Adams", "US"), ("Meyer", "AT")):
        make_delegate(family_name=name, country=country)
    names = [d.family_name for d in db.session.scalars(DelegateFilter(sort="name").query())]
    assert names == ["Adams", "Meyer", "Zhou"]
    names = [d.family_name for d in db.session.scalars(DelegateFilter(sort="country").query())]
    assert names == ["Meyer", "Zhou", "Adams"]
    names = [d.family_name for d in db.session.scalars(DelegateFilter(sort="created").query())]
    assert names == ["Meyer", "Adams", "Zhou"]
    page = paginate(DelegateFilter(), page=2, per_page=2)
    assert (page.page, page.pages, page.total, len(page.items)) == (2, 2, 3, 1)
    assert paginate(DelegateFilter(), page=99, per_page=2).page == 2


def test_counts_per_category_and_status(app_ctx, make_delegate):
    make_delegate(category="government", status="approved")
    make_delegate(category="government", status="submitted")
    make_delegate(category="expert", status="approved", expertise=["cybersecurity"])
    make_delegate(category="ngo", status="rejected", family_name="Other", focus="x")
    c = counts()
    assert c.total == 4
    assert c.by_category == {"government": 2, "expert": 1, "scholar": 0, "ngo": 1}
    assert c.by_status["approved"] == 2 and c.by_status["submitted"] == 1
    assert c.by_status["rejected"] == 1 and c.by_status["checked_in"] == 0
    # Counts follow the search but not the category/status facets.
    c = counts(DelegateFilter(q="wang", category="expert"))
    assert c.total == 3 and c.by_category["government"] == 2
    assert Status.APPROVED.value in c.by_status


# --- through the test client ----------------------------------------------------------------

def record_url(delegate: Delegate) -> str:
    return f"/staff/delegates/{delegate.public_id}"


def audit_entries(delegate: Delegate, action: str | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.delegate_id == delegate.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list(db.session.scalars(stmt.order_by(AuditEntry.id)))


def reload(delegate: Delegate) -> Delegate:
    db.session.expire_all()
    return db.session.get(Delegate, delegate.id)


def test_list_page_search_filters_counts_and_paging(client, login, make_delegate):
    login("desk")
    make_delegate(native_name="王小明")
    make_delegate(given_name="Jürgen", family_name="Müller", country="DE")
    for i in range(51):
        make_delegate(given_name=f"Anon{i:02d}", family_name="Zed", category="scholar",
                      institution="Uni", status="approved")
    html = client.get("/staff/delegates?q=王").get_data(as_text=True)
    assert "王小明" in html and "Müller" not in html and "1 delegate" in html
    html = client.get("/staff/delegates?q=muller").get_data(as_text=True)
    assert "Müller" in html and "王小明" not in html
    # Counts per category and per status at the top, for the whole list.
    html = client.get("/staff/delegates").get_data(as_text=True)
    assert re.search(r'data-count-category="scholar">[^<]*<strong>51</strong>', html)
    assert re.search(r'data-count-status="submitted">[^<]*<strong>2</strong>', html)
    assert "53 delegates" in html and "page 1 of 2" in html
    # Enter in the reason box submits the first button: it must be Reject, never Approve.
    assert html.index('value="reject"') < html.index('value="approve"')
    # The filter is kept in the pager links.
    html = client.get("/staff/delegates?category=scholar&sort=name").get_data(as_text=True)
    assert "category=scholar" in html and "page=2" in html
    page2 = client.get("/staff/delegates?category=scholar&page=2").get_data(as_text=True)
    assert "Anon50" in page2 and "Anon00" not in page2
    # Bad values do not break the page.
    for query in ("?page=abc", "?page=-3", "?status=nope&country=1234&sort=x%27",
                  "?q=" + "x" * 5000, "?printed=maybe&checked_in=1"):
        assert client.get("/staff/delegates" + query).status_code == 200, query
    # Control characters (NUL) are refused before any view (issue 13): 400, not a 500.
    assert client.get("/staff/delegates?printed=maybe&checked_in=%00").status_code == 400


def test_list_shows_needs_reprint_and_checked_in(app, client, login, make_delegate):
    login("desk")
    d = make_delegate(status="badge_printed", printed=True, needs_reprint=True)
    with app.app_context():
        check_in(d)
    html = client.get("/staff/delegates").get_data(as_text=True)
    assert "needs reprint" in html
    html = client.get("/staff/delegates?checked_in=yes").get_data(as_text=True)
    assert d.reference in html
    html = client.get("/staff/delegates?checked_in=no").get_data(as_text=True)
    assert d.reference not in html


def test_record_shows_everything_entered(client, login, make_delegate):
    login("desk")
    d = make_delegate(native_name="王小明", dietary_needs="Halal", accessibility_needs="Ramp",
                      ministry="Ministry of Public Security", head_of_delegation="y")
    html = client.get(record_url(d)).get_data(as_text=True)
    for text in ("王小明", "Halal", "Ramp", "Ministry of Public Security", d.reference,
                 d.email, "+8613800138000", "submitted — pending accreditation"):
        assert text in html, text
    assert "Approve" in html and "Reject" in html
    assert client.get("/staff/delegates/" + str(uuid.uuid4())).status_code == 404
    assert client.get("/staff/delegates/not-a-uuid").status_code == 404
    assert client.get(f"/staff/delegates/{d.id}").status_code == 404


def test_approve_and_reject_single_with_audit_and_signals(app, client, login, get_csrf,
                                                          make_delegate):
    staff = login("desk")
    d = make_delegate()
    approved, rejected = [], []
    on_approve = lambda sender, delegate: approved.append(delegate.id)  # noqa: E731
    on_reject = lambda sender, delegate, reason: rejected.append((delegate.id, reason))  # noqa: E731
    delegate_approved.connect(on_approve)
    delegate_rejected.connect(on_reject)
    try:
        token = get_csrf(record_url(d))
        response = client.post(record_url(d) + "/approve", data={"csrf_token": token})
        assert response.status_code == 303
        with app.app_context():
            assert reload(d).status == "approved" and approved == [d.id]
            entry = audit_entries(d, "status")[-1]
            assert entry.details == {"from": "submitted", "to": "approved"}
            assert entry.staff_id == staff.id and entry.actor == "staff:desk@forum.test"

        # Reject needs a reason.
        response = client.post(record_url(d) + "/reject", data={"csrf_token": token,
                                                                 "reason": "  "})
        with app.app_context():
            assert response.status_code == 422 and reload(d).status == "approved"
        assert "Give a reason" in response.get_data(as_text=True)
        response = client.post(record_url(d) + "/reject",
                               data={"csrf_token": token, "reason": "Not an invited official"})
        assert response.status_code == 303
        with app.app_context():
            assert reload(d).status == "rejected"
            assert rejected == [(d.id, "Not an invited official")]
            entry = audit_entries(d, "status")[-1]
            assert entry.details == {"from": "approved", "to": "rejected",
                                     "reason": "Not an invited official"}
    finally:
        delegate_approved.disconnect(on_approve)
        delegate_rejected.disconnect(on_reject)
    html = client.get(record_url(d)).get_data(as_text=True)
    assert "status accredited → not accredited (reason: Not an invited official)" in html
    assert "<td>desk@forum.test</td>" in html  # who, as the desk reads it


def test_invalid_transitions_refused(app, client, login, get_csrf, make_delegate):
    login("desk")
    d = make_delegate(status="cancelled")
    html = client.get(record_url(d)).get_data(as_text=True)
    assert "/approve" not in html and "/reject" not in html
    token = get_csrf(record_url(d))
    response = client.post(record_url(d) + "/approve", data={"csrf_token": token})
    assert response.status_code == 409
    assert "cannot be approved" in response.get_data(as_text=True)
    printed = make_delegate(status="badge_printed", printed=True)
    response = client.post(record_url(printed) + "/reject",
                           data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 409
    with app.app_context():
        assert reload(d).status == "cancelled" and reload(printed).status == "badge_printed"
        assert audit_entries(d, "status") == [] and audit_entries(printed, "status") == []
        with pytest.raises(InvalidTransition):
            accreditation.approve(reload(d), None)


def test_bulk_approve_and_reject(app, client, login, get_csrf, make_delegate):
    staff = login("desk")
    a, b = make_delegate(), make_delegate()
    done = make_delegate(status="cancelled")
    token = get_csrf("/staff/delegates")
    response = client.post("/staff/delegates/bulk", data={
        "csrf_token": token, "action": "approve", "next": "/staff/delegates?status=submitted",
        "selected": [str(a.public_id), str(b.public_id), str(done.public_id), "junk"]})
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/delegates?status=submitted"
    with app.app_context():
        assert reload(a).status == reload(b).status == "approved"
        assert reload(done).status == "cancelled"
    html = client.get("/staff/delegates").get_data(as_text=True)
    assert "2 delegate(s) approved" in html and "1 left unchanged" in html
    with app.app_context():
        assert len(audit_entries(a, "status")) == 1

    response = client.post("/staff/delegates/bulk", data={
        "csrf_token": token, "action": "reject", "reason": "",
        "selected": [str(a.public_id)]}, follow_redirects=True)
    assert "Give a reason" in response.get_data(as_text=True)
    with app.app_context():
        assert reload(a).status == "approved"
    client.post("/staff/delegates/bulk", data={
        "csrf_token": token, "action": "reject", "reason": "Duplicate registration",
        "selected": [str(a.public_id), str(b.public_id)], "next": "https://evil.example/"})
    with app.app_context():
        assert reload(a).status == reload(b).status == "rejected"
        assert audit_entries(b, "status")[-1].details["reason"] == "Duplicate registration"
        assert audit_entries(b, "status")[-1].staff_id == staff.id
    # Nothing selected / unknown action: a message, no change.
    response = client.post("/staff/delegates/bulk", data={"csrf_token": token,
                                                          "action": "approve"})
    assert response.status_code == 303
    response = client.post("/staff/delegates/bulk", data={
        "csrf_token": token, "action": "delete", "selected": [str(a.public_id)]})
    with app.app_context():
        assert response.status_code == 303 and reload(a).status == "rejected"


def test_service_bulk_functions(app_ctx, login, make_delegate):
    staff = login("desk")
    ids = [make_delegate().id for _ in range(3)]
    result = accreditation.approve_many(ids + ids, staff)
    assert len(result.done) == 3 and not result.skipped
    with pytest.raises(accreditation.ReasonRequired):
        accreditation.reject_many(ids, staff, " ")
    result = accreditation.reject_many(ids, staff, "Event full")
    assert len(result.done) == 3
    assert all(reload(d).status == "rejected" for d in result.done)


def test_edit_audits_changes_and_keeps_email_unique(app, client, login, make_delegate,
                                                    csrf_from):
    login("desk")
    d = make_delegate(family_name="Wang")
    other = make_delegate(email="taken@example.org")
    page = client.get(record_url(d) + "/edit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="Wang"' in html
    token = csrf_from(html)
    data = edit_data(d, csrf_token=token, family_name="Wong", position="Director-General")
    response = client.post(record_url(d) + "/edit", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        d = reload(d)
        assert d.family_name == "Wong" and d.needs_reprint is False
        assert "wong" in d.search_text
        entry = audit_entries(d, "edited")[-1]
        assert entry.details["changes"] == {"family_name": ["Wang", "Wong"],
                                            "position": ["Director", "Director-General"]}
        db.session.refresh(d)  # every column loaded: `d` is read after the context ends
    html = client.get(record_url(d)).get_data(as_text=True)
    assert "edited Family name from Wang to Wong" in html

    # Email taken by another delegate: a clear error, nothing saved.
    response = client.post(record_url(d) + "/edit",
                           data=edit_data(d, csrf_token=token, email="TAKEN@example.org"))
    assert response.status_code == 422
    assert "Another delegate is registered with this email" in response.get_data(as_text=True)
    with app.app_context():
        assert reload(d).email != other.email
    # Validation errors as for the public form.
    response = client.post(record_url(d) + "/edit",
                           data=edit_data(d, csrf_token=token, country="XX", phone="12"))
    assert response.status_code == 422
    # Saving unchanged data writes nothing.
    with app.app_context():
        count = len(audit_entries(d))
    client.post(record_url(d) + "/edit", data=edit_data(d, csrf_token=token))
    with app.app_context():
        assert len(audit_entries(d)) == count


def test_edit_after_printing_flags_reprint(app, client, login, get_csrf, make_delegate):
    login("desk")
    d = make_delegate(status="badge_printed", printed=True, organisation="Old Org")
    token = get_csrf(record_url(d) + "/edit")
    client.post(record_url(d) + "/edit", data=edit_data(d, csrf_token=token,
                                                        dietary_needs="Vegan"))
    with app.app_context():
        assert reload(d).needs_reprint is False  # not on the badge
    client.post(record_url(d) + "/edit", data=edit_data(d, csrf_token=token,
                                                        organisation="New Org"))
    with app.app_context():
        d = reload(d)
        assert d.needs_reprint is True
        entry = audit_entries(d, "edited")[-1]
        assert entry.details["needs_reprint"] is True
        assert entry.details["changes"]["organisation"] == ["Old Org", "New Org"]
    assert "needs reprint" in client.get(record_url(d)).get_data(as_text=True)
    assert "needs reprint" in client.get("/staff/delegates").get_data(as_text=True)


def test_edit_service_category_details(app_ctx, login, make_delegate):
    staff = login("desk")
    d = make_delegate(ministry="MPS")
    clean, errors = clean_record({**edit_data(d), "category": "scholar",
                                  "institution": "Fudan"},
                                 require_category_fields=False, require_consent=False)
    assert not errors
    changes = edit_delegate(d, clean, staff)
    assert changes["category"] == ["government", "scholar"]
    assert changes["institution"] == [None, "Fudan"] and changes["ministry"] == ["MPS", None]
    assert reload(d).details == {"institution": "Fudan", "department": "",
                                 "academic_title": ""}


def test_walk_in_is_approved_at_once(app, client, login, get_csrf):
    staff = login("desk")
    approved = []
    on_approve = lambda sender, delegate: approved.append(delegate.email)  # noqa: E731
    delegate_approved.connect(on_approve)
    try:
        token = get_csrf("/staff/walk-in")
        data = walk_in_data(token)
        response = client.post("/staff/walk-in", data={**data, "consent": ""})
        assert response.status_code == 422  # consent must be confirmed
        response = client.post("/staff/walk-in", data=data)
        assert response.status_code == 303
    finally:
        delegate_approved.disconnect(on_approve)
    with app.app_context():
        d = db.session.scalars(select(Delegate)).one()
        assert response.headers["Location"] == record_url(d) + "#badge"
        assert d.source == "walk_in" and d.status == "approved" and d.consent_at is not None
        assert approved == [d.email]
        actions = [(e.action, e.staff_id) for e in audit_entries(d)]
        assert actions == [("registered", staff.id), ("status", staff.id)]
    # Limits do not apply to the desk, duplicates still do.
    response = client.post("/staff/walk-in", data=data)
    assert response.status_code == 422
    assert "already registered" in response.get_data(as_text=True)


def test_walk_in_ignores_closing_date_and_capacity(app, edition_settings, csrf_from):
    edition_settings(registration_closes_at=datetime(2000, 1, 1, tzinfo=UTC),
                     capacities={"government": 0})
    client = app.test_client()
    with app.app_context():
        from registration.models import StaffUser
        staff = StaffUser(email="d@forum.test", role="desk", active=True, session_version=0,
                          failed_logins=0, password_hash="x")
        db.session.add(staff)
        db.session.commit()
        user_id = staff.get_id()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
    token = csrf_from(client.get("/staff/walk-in").get_data(as_text=True))
    assert client.post("/staff/walk-in", data=walk_in_data(token)).status_code == 303


def test_posts_need_csrf(app, client, login, make_delegate):
    login("admin")
    d = make_delegate()
    for path, data in ((record_url(d) + "/approve", {}),
                       (record_url(d) + "/reject", {"reason": "x"}),
                       (record_url(d) + "/edit", edit_data(d)),
                       ("/staff/delegates/bulk", {"action": "approve",
                                                  "selected": str(d.public_id)}),
                       ("/staff/walk-in", walk_in_data("")),
                       ("/staff/accounts", {"email": "x@forum.org", "password": "p" * 20,
                                            "role": "desk"}),
                       ("/staff/logout", {}), ("/staff/logout-everywhere", {})):
        assert client.post(path, data=data).status_code == 400, path
    with app.app_context():
        assert reload(d).status == "submitted"


def edit_data(delegate: Delegate, **overrides) -> dict:
    data = {name: getattr(delegate, name) for name in COMMON_FIELDS}
    for key, value in (delegate.details or {}).items():
        if isinstance(value, bool):
            if value:
                data[key] = "y"
        else:
            data[key] = value
    data.update(overrides)
    return data


def walk_in_data(token: str) -> dict:
    return {"csrf_token": token, "category": "expert", "honorific": "Ms.",
            "given_name": "Amina", "family_name": "Diallo", "native_name": "",
            "badge_name": "", "organisation": "Interpol", "position": "Analyst",
            "country": "SN", "email": "amina@example.org", "phone": "+221 77 123 45 67",
            "expertise": ["cybersecurity"], "consent": "y"}


def test_trail_describes_every_kind_of_action(app_ctx, login, make_delegate):
    staff = login("desk")
    d = make_delegate()
    audit.record(d, "registered", staff=staff, source="walk_in")
    accreditation.approve(d, staff)
    audit.record(d, "printed", staff=staff, layout="a6", serial=1, print_count=1,
                 status_from="approved", status_to="badge_printed")
    audit.record(d, "reprinted", staff=staff, serial=2, reason="lost", layout="cr80")
    audit.record(d, "checked_in", actor="scanner", status_from="badge_printed",
                 at="2026-12-08T09:00:00+00:00", gate="main", gate_name="Main entrance")
    audit.record(d, "edited", actor="delegate", by="self_service", fields=["phone"])
    db.session.commit()
    trail = accreditation.audit_trail(d)
    lines = [line for item in trail for line in item.lines]
    assert "registered (walk-in at the desk)" in lines
    assert "status submitted — pending accreditation → accredited" in lines
    assert "printed badge, serial 1, layout a6" in lines
    assert "reprinted badge, serial 2, layout cr80 (reason: Lost)" in lines
    # The time in the forum's zone, with its name.
    assert "checked in at Main entrance (2026-12-08 17:00 (GMT+08:00))" in lines
    assert "edited Mobile phone (by the delegate)" in lines
    history = [status for _, status, _, _ in accreditation.status_history(trail)]
    assert history == ["submitted", "approved", "badge_printed", "checked_in"]


def test_history_starts_at_creation_without_registered_entry(app_ctx, login, make_delegate):
    staff = login("desk")
    d = make_delegate()
    accreditation.approve(d, staff)
    history = accreditation.status_history(accreditation.audit_trail(d), d)
    assert [h[1] for h in history] == ["submitted", "approved"]
    assert history[0][0] == d.created_at


def test_record_shows_times_in_the_forums_time_zone(app, client, login):
    from registration.services.registration import build_delegate
    from registration.validation import clean_record

    login("desk")
    clean, _ = clean_record({"category": "ngo", "given_name": "Aisha", "organisation": "NEMA",
                             "position": "Adviser", "country": "NG", "email": "a@example.ng",
                             "phone": "+234 803 123 4567"},
                            require_category_fields=False, require_consent=False)
    delegate = build_delegate(clean, source="import")
    delegate.reference = "GPS-TIME-ZONE"
    delegate.created_at = datetime(2026, 12, 8, 1, 14, tzinfo=UTC)
    with app.app_context():
        db.session.add(delegate)
        db.session.commit()
        public_id = delegate.public_id
    page = client.get(f"/staff/delegates/{public_id}").get_data(as_text=True)
    assert "2026-12-08 09:14 (GMT+08:00)" in page  # 01:14 UTC in Lianyungang


def test_record_shows_expertise_theme_labels(client, login, make_delegate):
    login("desk")
    d = make_delegate(category="expert", expertise=["counter_terrorism", "public_health"])
    html = client.get(record_url(d)).get_data(as_text=True)
    assert "<dd>Counter-terrorism, Public health emergencies</dd>" in html
    assert "counter_terrorism" not in html


def test_record_shows_how_the_record_came_in(client, login, make_delegate):
    login("desk")
    html = client.get(record_url(make_delegate())).get_data(as_text=True)
    assert "Source: registration form" in html
