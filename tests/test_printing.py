"""Badge printing at the desk: single print, preview, reprint (revocation), batch jobs."""

from __future__ import annotations

import io
import math
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from registration.badge_token import BadgeTokenError
from registration.extensions import db
from registration.models import AuditEntry, Delegate, Status
from registration.services import badge_signing, printing
from registration.services.selection import BatchFilter

try:
    import pypdfium2 as pdfium
except ImportError:  # pragma: no cover - dev requirement
    pdfium = None
try:
    import zxingcpp
except ImportError:  # pragma: no cover - dev requirement
    zxingcpp = None

needs_qr = pytest.mark.skipif(pdfium is None or zxingcpp is None,
                              reason="pypdfium2 and zxing-cpp are needed to read the PDF's QR")


def pdf_pages(pdf: bytes) -> int:
    return len(pdfium.PdfDocument(pdf)) if pdfium else pdf.count(b"/Type /Page\n")


def qr_codes(pdf: bytes) -> list[str]:
    codes = []
    doc = pdfium.PdfDocument(pdf)
    for page in doc:
        image = page.render(scale=300 / 72).to_pil().convert("L")
        codes += [r.text for r in zxingcpp.read_barcodes(image)
                  if r.format == zxingcpp.BarcodeFormat.QRCode]
    return codes


def audits(delegate: Delegate, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(
        AuditEntry.delegate_id == delegate.id, AuditEntry.action == action)))


def flashes(client) -> str:
    with client.session_transaction() as session:
        return " ".join(message for _, message in session.get("_flashes", []))


def post_print(client, csrf, delegate, layout="a6"):
    return client.post(f"/staff/delegates/{delegate.public_id}/badge.pdf",
                       data={"csrf_token": csrf, "layout": layout})


def fresh(delegate: Delegate) -> Delegate:
    """The delegate as stored now, in the current app context's session."""
    return db.session.get(Delegate, delegate.id)


@pytest.fixture
def csrf(client, login, csrf_from):
    login("desk")
    page = client.get("/staff/print").get_data(as_text=True)
    return csrf_from(page)


def test_single_print_marks_printed_and_returns_inline_pdf(app, client, csrf, make_delegate):
    delegate = make_delegate(status=Status.APPROVED)
    response = post_print(client, csrf, delegate)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.data.startswith(b"%PDF")
    with app.app_context():
        delegate = fresh(delegate)
        assert delegate.status == Status.BADGE_PRINTED.value
        assert delegate.print_count == 1 and delegate.printed_at is not None
        [entry] = audits(delegate, "printed")
        assert entry.actor == "staff:desk@forum.test" and entry.details["layout"] == "a6"


def test_second_print_without_reason_is_refused(app, client, csrf, make_delegate):
    delegate = make_delegate(status=Status.APPROVED)
    assert post_print(client, csrf, delegate).status_code == 200
    response = post_print(client, csrf, delegate)
    assert response.status_code == 303
    with app.app_context():
        delegate = fresh(delegate)
        assert delegate.print_count == 1 and delegate.badge_serial == 1


def test_preview_does_not_mark_printed(app, client, csrf, make_delegate):
    delegate = make_delegate(status=Status.APPROVED)
    response = client.get(f"/staff/delegates/{delegate.public_id}/badge-preview.pdf?layout=cr80")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    with app.app_context():
        delegate = fresh(delegate)
        assert delegate.status == Status.APPROVED.value and delegate.printed_at is None
        assert not audits(delegate, "printed")
    bad = client.get(f"/staff/delegates/{delegate.public_id}/badge-preview.pdf?layout=a0")
    assert bad.status_code == 400


def test_only_accredited_delegates_are_printed(app, client, csrf, make_delegate):
    delegate = make_delegate(status=Status.SUBMITTED)
    response = post_print(client, csrf, delegate)
    assert response.status_code == 303
    assert "Only accredited delegates" in flashes(client)
    with app.app_context():
        delegate = fresh(delegate)
        assert delegate.status == Status.SUBMITTED.value and delegate.print_count == 0
        assert not audits(delegate, "printed")
    preview = client.get(f"/staff/delegates/{delegate.public_id}/badge-preview.pdf")
    assert preview.status_code == 409


def test_print_panel_partial_renders(app, client, csrf, make_delegate):
    delegate = make_delegate(status=Status.APPROVED)
    from flask import render_template

    with app.test_request_context():
        html = render_template("staff/_print_panel.html", delegate=delegate,
                               badge_reprint_reasons=printing.REPRINT_REASONS)
    assert "Print badge" in html and "badge.pdf" in html
    post_print(client, csrf, delegate)
    with app.test_request_context():
        html = render_template("staff/_print_panel.html", delegate=fresh(delegate),
                               badge_reprint_reasons=printing.REPRINT_REASONS)
    assert "Reprint badge" in html and "will stop working" in html


@needs_qr
def test_reprint_revokes_the_old_qr_code(app, client, csrf, make_delegate):
    delegate = make_delegate(status=Status.APPROVED)
    first = post_print(client, csrf, delegate)
    [old_token] = qr_codes(first.data)
    with app.app_context():
        assert badge_signing.verify_code(old_token).serial == 1

    response = client.post(f"/staff/delegates/{delegate.public_id}/reprint",
                           data={"csrf_token": csrf, "reason": "lost", "layout": "a6"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    [new_token] = qr_codes(response.data)
    with app.app_context():
        delegate = fresh(delegate)
        assert delegate.badge_serial == 2 and delegate.print_count == 2
        assert delegate.status == Status.BADGE_PRINTED.value
        assert badge_signing.verify_code(new_token).serial == 2
        with pytest.raises(BadgeTokenError) as exc:
            badge_signing.verify_code(old_token)
        assert exc.value.reason == "revoked"
        [entry] = audits(delegate, "reprinted")
        assert entry.details["reason"] == "lost"
        assert (entry.details["old_serial"], entry.details["new_serial"]) == (1, 2)
    assert "previous QR code (serial 1) no longer admits" in flashes(client)


def test_reprint_needs_a_reason_and_sends_the_signal(app, client, csrf, make_delegate):
    from registration.signals import badge_reprinted

    delegate = make_delegate(status=Status.APPROVED)
    post_print(client, csrf, delegate)
    for data in ({}, {"reason": "bored"}, {"reason": "other", "reason_text": "  "}):
        response = client.post(f"/staff/delegates/{delegate.public_id}/reprint",
                               data={"csrf_token": csrf, **data})
        assert response.status_code == 303
        with app.app_context():
            delegate = fresh(delegate)
            assert delegate.badge_serial == 1
    received = []

    def receiver(sender, delegate, reason):
        received.append((delegate.reference, reason))

    with badge_reprinted.connected_to(receiver, app):
        response = client.post(f"/staff/delegates/{delegate.public_id}/reprint",
                               data={"csrf_token": csrf, "reason": "other",
                                     "reason_text": "Coffee spilt"})
    assert response.status_code == 200
    assert received == [(delegate.reference, "Coffee spilt")]


def test_checked_in_delegate_reprint_keeps_status(app_ctx, login, make_delegate):
    staff = login("desk")
    delegate = make_delegate(status=Status.CHECKED_IN)
    printing.print_badge(delegate, staff, "cr80")
    assert delegate.status == Status.CHECKED_IN.value
    printing.reprint_badge(delegate, staff, "damaged", "a6")
    assert delegate.status == Status.CHECKED_IN.value and delegate.badge_serial == 2


def test_reprint_before_first_print_is_refused(app_ctx, login, make_delegate):
    staff = login("desk")
    delegate = make_delegate(status=Status.APPROVED)
    with pytest.raises(printing.PrintRefused):
        printing.reprint_badge(delegate, staff, "lost")
    assert delegate.badge_serial == 1


def test_batch_print_job_prints_the_selection(app, client, csrf, make_delegate, wait_for_job):
    with app.app_context():
        for n in range(7):
            make_delegate("government" if n < 5 else "expert", Status.APPROVED, commit=False)
        make_delegate(status=Status.SUBMITTED)  # not accredited: never printed
    page = client.get("/staff/print?category=government")
    assert "5 badges will be printed" in page.get_data(as_text=True)

    response = client.post("/staff/print", data={
        "csrf_token": csrf, "category": "government", "layout": "a4-4up", "unprinted": "1",
        "order": "family_name"})
    assert response.status_code == 303
    job_url = response.headers["Location"]
    assert client.get(job_url).status_code == 200
    data = wait_for_job(client, job_url)
    assert data["state"] == "done", data["message"]
    assert data["done"] == 5 and data["percent"] == 100
    assert data["result"]["count"] == 5
    pdf = client.get(data["download_url"])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf_pages(pdf.data) == math.ceil(5 / 4)
    with app.app_context():
        printed = db.session.scalars(select(Delegate).where(Delegate.printed_at.is_not(None))
                                     ).all()
        assert sorted(d.category for d in printed) == ["government"] * 5
        assert all(d.status == Status.BADGE_PRINTED.value for d in printed)
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "printed")) == 5

    # The same selection again, "only not yet printed": nothing left to print.
    again = client.post("/staff/print", data={"csrf_token": csrf, "category": "government",
                                              "layout": "a4-4up", "unprinted": "1"})
    assert again.status_code == 400
    assert "No accredited delegate" in again.get_data(as_text=True)


def test_batch_print_order_and_bounded_chunks(app_ctx, login, monkeypatch, make_delegate):
    staff = login("desk")
    monkeypatch.setattr(printing, "CHUNK", 3)
    for family, category in [("Zhou", "expert"), ("Abe", "ngo"), ("Müller", "expert"),
                             ("Li", "government"), ("Brown", "scholar")]:
        make_delegate(category, Status.APPROVED, family_name=family, commit=False)
    db.session.commit()
    selection = BatchFilter()
    ids = printing.batch_ids(selection, sort="category")
    families = [db.session.get(Delegate, i).family_name for i in ids]
    assert families == ["Müller", "Zhou", "Li", "Abe", "Brown"]
    seen = []
    pdf, count = printing.render_to_bytes(selection, staff, "cr80",
                                          progress=lambda d, t: seen.append((d, t)))
    assert count == 5 and pdf_pages(pdf) == 5 and seen[-1] == (5, 5)
    assert db.session.scalar(select(func.count(Delegate.id)).where(
        Delegate.status == Status.BADGE_PRINTED.value)) == 5


def test_failed_render_marks_nothing(app_ctx, login, monkeypatch, make_delegate):
    staff = login("desk")
    make_delegate(status=Status.APPROVED)

    def boom(*args, **kwargs):
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(printing.badges, "render_badges", boom)
    with pytest.raises(RuntimeError):
        printing.print_batch(BatchFilter(), staff, "a4-4up", io.BytesIO())
    assert db.session.scalar(select(func.count(Delegate.id)).where(
        Delegate.printed_at.is_not(None))) == 0


def test_job_files_are_desk_only_and_ids_checked(client, login, app):
    from registration.services import jobs

    with app.app_context():
        job_id = jobs.create(jobs.JobKind.PRINT, None, total=3).id
    job = SimpleNamespace(id=job_id)
    assert client.get(f"/staff/jobs/{job.id}.json").status_code == 302
    login("scanner")
    for suffix in (".json", "", "/output"):
        assert client.get(f"/staff/jobs/{job.id}{suffix}").status_code == 403
    login("admin", email="admin@forum.test")
    data = client.get(f"/staff/jobs/{job.id}.json").get_json()
    assert data["state"] == "queued" and data["total"] == 3 and data["percent"] == 0
    assert client.get("/staff/jobs/..%2Fsecret_key.json").status_code == 404
    assert client.get("/staff/jobs/nope.json").status_code == 404
    assert client.get(f"/staff/jobs/{job.id}/output").status_code == 404



def test_unknown_delegate_is_404(client, csrf):
    assert client.get(f"/staff/delegates/{uuid.uuid4()}/badge-preview.pdf").status_code == 404


def test_delegate_page_shows_the_print_and_photo_panels(client, csrf, make_delegate):
    delegate = make_delegate(status=Status.APPROVED)
    page = client.get(f"/staff/delegates/{delegate.public_id}")
    if page.status_code == 404:
        pytest.skip("the desk's delegate page is not there")
    html = page.get_data(as_text=True)
    assert "Print badge" in html and "webcam.js" in html and "progress.js" in html
    post_print(client, csrf, delegate)
    html = client.get(f"/staff/delegates/{delegate.public_id}").get_data(as_text=True)
    assert "Reprint badge" in html and "(serial 1) will stop working" in html


def test_two_batches_of_the_same_badges_at_once_are_both_marked_printed(
        app_ctx, login, monkeypatch, make_delegate):
    """Two desks print the same selection at the same time: the second batch finishes while
    the first is rendering. Both PDFs show the records as they are: every badge is printed
    twice, and none is flagged for a reprint or discarded (the other batch's marks changed
    printed_at and updated_at, not what is drawn)."""
    staff = login("desk")
    first, second = make_delegate(status=Status.APPROVED), make_delegate(status=Status.APPROVED)
    render = printing.badges.render_badges
    other: list[int] = []

    def render_while_another_batch_prints(stream, *args, **kwargs):
        drawn = list(stream)
        if not other:  # the other desk's batch, from start to finish, meanwhile
            other.append(0)
            other[0] = printing.render_to_bytes(BatchFilter(), staff, "a6")[1]
        return render(iter(drawn), *args, **kwargs)

    monkeypatch.setattr(printing.badges, "render_badges", render_while_another_batch_prints)
    _pdf, count = printing.render_to_bytes(BatchFilter(), staff, "a6")
    assert (count, other) == (2, [2])
    db.session.expire_all()
    for delegate_id in (first.id, second.id):
        stored = db.session.get(Delegate, delegate_id)
        assert (stored.print_count, stored.needs_reprint, stored.status) == (
            2, False, Status.BADGE_PRINTED.value)
    assert db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "print_discarded")).all() == []
    assert len(db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "printed")).all()) == 4


def test_badge_changed_during_a_batch_is_not_marked_printed(app_ctx, login, monkeypatch,
                                                            make_delegate):
    staff = login("desk")
    first, second = make_delegate(status=Status.APPROVED), make_delegate(status=Status.APPROVED)
    render = printing.badges.render_badges

    def render_then_edit(stream, *args, **kwargs):
        drawn = list(stream)  # every badge drawn from the records as they were
        # Meanwhile the delegate corrects a name (another request, committed).
        db.session.execute(update(Delegate).where(Delegate.id == first.id).values(
            badge_name="Corrected Name", updated_at=datetime.now(UTC)))
        return render(iter(drawn), *args, **kwargs)

    monkeypatch.setattr(printing.badges, "render_badges", render_then_edit)
    _pdf, count = printing.render_to_bytes(BatchFilter(), staff, "a6")
    assert count == 2
    db.session.expire_all()
    first, second = db.session.get(Delegate, first.id), db.session.get(Delegate, second.id)
    assert first.printed_at is None and first.needs_reprint is True
    assert first.status == Status.APPROVED.value
    assert second.printed_at is not None and second.status == Status.BADGE_PRINTED.value
    discarded = db.session.scalars(select(AuditEntry.delegate_id).where(
        AuditEntry.action == "print_discarded")).all()
    assert discarded == [first.id]
