"""Desk routes for badges: preview, first print, reprint, batch print (a job: staff/jobs.py)."""

from __future__ import annotations

import uuid

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import tasks
from ..auth import roles_required
from ..fields import CATEGORIES
from ..models import STATUS_LABELS, Role
from ..services import job_work, jobs, printing
from ..services.admission import nothing_to_print
from ..services.delegate_search import DelegateFilter
from ..services.printing import PrintRefused
from . import bp
from .delegates import delegate_or_404, record_url

LAYOUT_LABELS = {
    "a4-4up": _l("A4 sheets, four badges each (crop marks)"),
    "cr80": _l("CR80 cards (PVC card printer)"),
    "a6": _l("A6, one badge per page"),
}


def pdf_response(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _layout(default: str = "a6") -> str:
    return (request.values.get("layout") or default).strip()


@bp.get("/delegates/<uuid:public_id>/badge-preview.pdf")
@roles_required(Role.DESK)
def badge_preview(public_id: uuid.UUID):
    """The badge as it would print now; does not mark it printed."""
    delegate = delegate_or_404(public_id)
    layout = _layout()
    if layout not in printing.LAYOUT_KEYS:
        abort(400, _("Unknown badge layout."))
    try:
        pdf = printing.preview_badge(delegate, layout)
    except PrintRefused as exc:
        abort(409, exc.message)
    return pdf_response(pdf, f"badge-{delegate.reference}-preview.pdf")


@bp.post("/delegates/<uuid:public_id>/badge.pdf")
@roles_required(Role.DESK)
def badge_print(public_id: uuid.UUID):
    """First print: marks the badge printed and answers with the PDF (opened in a new tab)."""
    delegate = delegate_or_404(public_id)
    try:
        pdf = printing.print_badge(delegate, current_user, _layout())
    except PrintRefused as exc:
        flash(exc.message, "error")
        return redirect(record_url(delegate), 303)
    return pdf_response(pdf, f"badge-{delegate.reference}.pdf")


@bp.post("/delegates/<uuid:public_id>/reprint")
@roles_required(Role.DESK)
def badge_reprint(public_id: uuid.UUID):
    """Replacement badge with a new serial; the previous QR code stops admitting."""
    delegate = delegate_or_404(public_id)
    old_serial = delegate.badge_serial
    try:
        pdf = printing.reprint_badge(delegate, current_user, request.form.get("reason", ""),
                                     _layout(), reason_text=request.form.get("reason_text", ""))
    except PrintRefused as exc:
        flash(exc.message, "error")
        return redirect(record_url(delegate), 303)
    flash(_("Badge reprinted; the previous QR code (serial %(n)d) no longer admits.",
            n=old_serial), "success")
    return pdf_response(pdf, f"badge-{delegate.reference}-{delegate.badge_serial}.pdf")


@bp.route("/print", methods=["GET", "POST"])
@roles_required(Role.DESK)
def print_batch():
    """Batch print of the delegates-list selection, run as a job with a progress page."""
    source = request.form if request.method == "POST" else request.args
    selection = DelegateFilter.from_args(source)
    layout = source.get("layout", "a4-4up")
    order = source.get("order", "category")
    # The "only not yet printed" box is ticked unless the form was sent without it.
    unprinted = source.get("unprinted") == "1" or (request.method == "GET"
                                                    and "layout" not in source)
    errors = []
    if layout not in printing.BATCH_LAYOUTS:
        errors.append(_("Choose a layout from the list."))
        layout = "a4-4up"
    if order not in printing.SORTS:
        errors.append(_("Choose an order from the list."))
        order = "category"
    total = len(printing.batch_ids(selection, sort=order, unprinted=unprinted))

    if request.method == "POST" and not errors:
        if total == 0:
            errors.append(nothing_to_print(selection, unprinted=unprinted))
        else:
            job = jobs.create(jobs.JobKind.PRINT, current_user, total=total,
                              params=job_work.print_params(selection, layout, order, unprinted))
            tasks.send_job(job.id)
            return redirect(url_for("staff.job", job_id=job.id), 303)

    return render_template(
        "staff/print_batch.html", selection=selection, layout=layout, order=order,
        unprinted=unprinted, total=total, errors=errors,
        layouts=printing.BATCH_LAYOUTS, sorts=printing.SORTS, categories=CATEGORIES,
        status_labels={s.value: label for s, label in STATUS_LABELS.items()},
        layout_labels=LAYOUT_LABELS,
    ), (400 if errors and request.method == "POST" else 200)
