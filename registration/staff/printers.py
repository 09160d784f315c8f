"""Printers at the venue: the admin's printers page (live state), each desk's chosen
printer (a cookie on that browser), "Print on <printer>" and the job page that follows it."""

from __future__ import annotations

import uuid

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .. import tasks
from ..auth import roles_required
from ..extensions import db
from ..models import Delegate, Printer, PrintJob, PrintJobKind, Role
from ..models.printer import PRINT_JOB_STATE_LABELS, PrintJobState
from ..services import job_work, jobs, print_batches, printing
from ..services import printers as printer_service
from ..services.admission import nothing_to_print
from ..services.printing import PrintRefused
from ..services.selection import filter_from_args
from . import bp
from .delegates import delegate_or_404, record_url

DESK_PRINTER_COOKIE = "desk_printer"
LAYOUT_CHOICES = [SelectChoice("a6", _l("A6, one badge per page")),
                  SelectChoice("cr80", _l("CR80 card")),
                  SelectChoice("a4-4up", _l("A4 sheets, four badges each"))]


class AddPrinterForm(FlaskForm):
    name = StringField(_l("Printer name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("e.g. Desk 1 card printer"))
    uri = StringField(_l("IPP address"), validators=[DataRequired(), Length(max=300)],
                      description=_l("ipp://printer.local:631/ipp/print, or a CUPS queue "
                                     "ipp://cups-host:631/printers/badge1"))
    layout = SelectField(_l("Layout"), choices=LAYOUT_CHOICES)


class PlainForm(FlaskForm):
    """Only the CSRF token: the object is in the URL."""


def desk_printer() -> Printer | None:
    """The printer this browser's desk chose, if it still exists."""
    raw = request.cookies.get(DESK_PRINTER_COOKIE, "")
    return printer_service.get(int(raw)) if raw.isdigit() and len(raw) < 10 else None


@bp.app_context_processor
def _desk_printer_context() -> dict:
    def chosen() -> Printer | None:
        return desk_printer() if current_user.is_authenticated else None

    return {"desk_printer": chosen, "all_printers": printer_service.list_printers}


@bp.route("/printers", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def printers() -> ResponseReturnValue:
    form = AddPrinterForm()
    if form.validate_on_submit():
        try:
            printer = printer_service.add(form.name.data, form.uri.data, form.layout.data,
                                          staff=current_user)
        except printer_service.PrinterError as exc:
            field = {"invalid_uri": form.uri, "invalid_layout": form.layout}.get(exc.code,
                                                                                 form.name)
            field.errors = [*field.errors, exc.message]
        else:
            flash(_("Printer %(name)s added.", name=printer.name), "success")
            return redirect(url_for("staff.printers"), 303)
    response = current_app.make_response(render_template(
        "staff/printers.html", form=form, plain_form=PlainForm(),
        printers=printer_service.list_printers()))
    if form.errors:
        response.status_code = 422
    return response


@bp.get("/printers/status.json")
@roles_required(Role.DESK)
def printers_status() -> ResponseReturnValue:
    """Each printer's state and reasons as it reports them now (the page polls this)."""
    return jsonify({"printers": [printer_service.status_row(p)
                                 for p in printer_service.list_printers()]})


@bp.post("/printers/<int(max=2147483647):printer_id>/remove")
@roles_required(Role.ADMIN)
def remove_printer(printer_id: int) -> ResponseReturnValue:
    if not PlainForm().validate_on_submit():
        abort(400)
    printer = printer_service.get(printer_id) or abort(404)
    printer_service.remove(printer.name, staff=current_user)
    flash(_("Printer %(name)s removed.", name=printer.name), "success")
    return redirect(url_for("staff.printers"), 303)


@bp.post("/printers/<int(max=2147483647):printer_id>/test")
@roles_required(Role.ADMIN)
def test_printer(printer_id: int) -> ResponseReturnValue:
    if not PlainForm().validate_on_submit():
        abort(400)
    printer = printer_service.get(printer_id) or abort(404)
    try:
        job = printer_service.test_print(printer)
    except printer_service.PrinterError as exc:
        flash(exc.message, "error")
        return redirect(url_for("staff.printers"), 303)
    return redirect(url_for("staff.print_job", job_id=job.id), 303)


@bp.post("/printers/choose")
@roles_required(Role.DESK)
def choose_printer() -> ResponseReturnValue:
    """This desk's printer, remembered by this browser for a year (empty: none)."""
    if not PlainForm().validate_on_submit():
        abort(400)
    raw = request.form.get("printer", "")
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("staff.delegates")
    response = redirect(target, 303)
    printer = printer_service.get(int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if printer is None:
        response.delete_cookie(DESK_PRINTER_COOKIE)
    else:
        response.set_cookie(DESK_PRINTER_COOKIE, str(printer.id), max_age=365 * 86400,
                            httponly=True, samesite="Lax",
                            secure=request.is_secure)
    return response


@bp.post("/delegates/<uuid:public_id>/print-on-printer")
@roles_required(Role.DESK)
def badge_print_on_printer(public_id: uuid.UUID) -> ResponseReturnValue:
    """Send the badge (first print or reprint) to this desk's printer; follow the job."""
    delegate = delegate_or_404(public_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    printer = desk_printer()
    if printer is None:
        flash(_("Choose this desk's printer first."), "error")
        return redirect(record_url(delegate), 303)
    kind = PrintJobKind.REPRINT if request.form.get("kind") == "reprint" else PrintJobKind.PRINT
    try:
        job = printer_service.send_badge(
            delegate, printer, kind=kind, staff=current_user,
            reason=request.form.get("reason", ""),
            reason_text=request.form.get("reason_text", ""))
    except (PrintRefused, printer_service.PrinterError) as exc:
        flash(exc.message, "error")
        return redirect(record_url(delegate), 303)
    return redirect(url_for("staff.print_job", job_id=job.id), 303)


def _job_or_404(job_id: int) -> PrintJob:
    job = printer_service.get_job(job_id)
    if job is None:
        abort(404)
    return job


@bp.get("/print-jobs/<int(max=2147483647):job_id>")
@roles_required(Role.DESK)
def print_job(job_id: int) -> ResponseReturnValue:
    job = printer_service.refresh(_job_or_404(job_id))
    delegate = db.session.get(Delegate, job.delegate_ids[0]) if job.delegate_ids else None
    return render_template("staff/print_job.html", job=job, info=printer_service.job_json(job),
                           printer=printer_service.get(job.printer_id), delegate=delegate,
                           state_label=PRINT_JOB_STATE_LABELS[PrintJobState(job.state)],
                           plain_form=PlainForm())


@bp.get("/print-jobs/<int(max=2147483647):job_id>.json")
@roles_required(Role.DESK)
def print_job_json(job_id: int) -> ResponseReturnValue:
    job = printer_service.refresh(_job_or_404(job_id))
    info = printer_service.job_json(job)
    info["state_label"] = str(PRINT_JOB_STATE_LABELS[PrintJobState(job.state)])
    return jsonify(info)


@bp.post("/print-jobs/<int(max=2147483647):job_id>/retry")
@roles_required(Role.DESK)
def retry_print_job(job_id: int) -> ResponseReturnValue:
    """Try a failed job again on the same printer."""
    job = _job_or_404(job_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    if job.state != PrintJobState.FAILED.value:
        abort(409, _("Only a failed job can be tried again."))
    try:
        new = printer_service.resend(job, staff=current_user)
    except (PrintRefused, printer_service.PrinterError) as exc:
        flash(exc.message, "error")
        return redirect(url_for("staff.print_job", job_id=job.id), 303)
    return redirect(url_for("staff.print_job", job_id=new.id), 303)


@bp.post("/print/on-printer")
@roles_required(Role.DESK)
def print_batch_on_printer() -> ResponseReturnValue:
    """The batch-print selection, sent to this desk's printer in chunks, as a job."""
    if not PlainForm().validate_on_submit():
        abort(400)
    printer = desk_printer()
    if printer is None:
        flash(_("Choose this desk's printer first."), "error")
        return redirect(url_for("staff.print_batch"), 303)
    selection = filter_from_args(request.form)
    order = request.form.get("order", "category")
    if order not in printing.SORTS:
        order = "category"
    unprinted = request.form.get("unprinted") == "1"
    total = len(printing.batch_ids(selection, sort=order, unprinted=unprinted))
    if total == 0:
        flash(nothing_to_print(selection, unprinted=unprinted), "error")
        return redirect(url_for("staff.print_batch"), 303)
    try:
        printer_service.ensure_ready(printer)
    except printer_service.PrinterError as exc:
        flash(exc.message, "error")
        return redirect(url_for("staff.print_batch"), 303)
    job = jobs.create(jobs.JobKind.PRINTER, current_user, total=total,
                      params=job_work.printer_params(selection, printer.id, order, unprinted))
    tasks.send_job(job.id)
    return redirect(url_for("staff.print_batch_progress", job_id=job.id), 303)


def _batch_job(job_id: str) -> jobs.Job:
    job = jobs.load(job_id)
    if job is None or job.kind != "printer":
        abort(404)
    return job


@bp.get("/print-batches/<job_id>")
@roles_required(Role.DESK)
def print_batch_progress(job_id: str) -> ResponseReturnValue:
    job = _batch_job(job_id)
    return render_template("staff/print_batch_progress.html", job=job,
                           printing=print_batches.progress_json(job.id))


@bp.get("/print-batches/<job_id>.json")
@roles_required(Role.DESK)
def print_batch_progress_json(job_id: str) -> ResponseReturnValue:
    """Rendering progress (the job) and printing progress (the printer's chunks)."""
    job = _batch_job(job_id)
    return jsonify({"state": job.state, "state_label": job.state_enum.label,
                    "total": job.total, "rendered": job.done, "error": job.message,
                    **print_batches.progress_json(job.id)})
