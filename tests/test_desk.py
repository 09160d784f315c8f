"""The desk: search, filters, counts, accreditation, the delegate record, edits, walk-ins."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from registration.extensions import db
from registration.models import CheckIn, Delegate, Scan, Status
from registration.services.delegate_search import DelegateFilter, counts, paginate
from registration.services.registration import build_delegate
from registration.validation import clean_record

_seq = itertools.count(1)


def make_delegate(*, status: str = "submitted", printed: bool = False, **overrides) -> Delegate:
    """A stored delegate from form-like data (validated by the shared rules)."""
    n = next(_seq)
    data = {
        "category": "government", "honorific": "Dr.", "given_name": "Xiaoming",
        "family_name": "Wang", "native_name": "", "badge_name": "",
        "organisation": "Ministry of Public Security", "position": "Director",
        "country": "CN", "email": f"person{n}@example.org", "phone": "+86 138 0013 8000",
        "ministry": "MPS", **overrides,
    }
    clean, errors = clean_record(data, require_category_fields=False, require_consent=False)
    assert not errors, errors
    delegate = build_delegate(clean, source="self")
    delegate.reference = f"GPS-TEST-{n:04d}"
    delegate.status = status
    if printed:
        delegate.printed_at = datetime.now(UTC)
        delegate.print_count = 1
    delegate.refresh_search_text()
    db.session.add(delegate)
    db.session.commit()
    return delegate


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

def test_search_any_script_accents_email_reference(app):
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


def test_filter_args_round_trip_and_invalid_values_dropped(app):
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


def test_each_filter(app):
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


def test_sorts_and_pagination(app):
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


def test_counts_per_category_and_status(app):
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
