"""Desk routes for importing delegates (CSV/XLSX, all or nothing) and exporting the list."""

from __future__ import annotations

import tempfile

from flask import redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import tasks
from ..auth import may_see_identity, roles_required
from ..models import Role
from ..services import (
    delegate_export,
    delegate_import,
    delegate_search,
    job_work,
    jobs,
)
from ..services.delegate_import import ImportFileError, ImportReport
from ..services.selection import filter_from_args
from . import bp

# Files with more rows than this are imported by a background job with a progress page.
# Accrediting at once queues each delegate's approval e-mail (with its e-ticket PDF), about
# 30 ms a delegate, so such imports go to a job sooner.
SYNC_ROWS = 300
SYNC_ROWS_APPROVE = 50
MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.DESK)
def import_delegates():
    if request.method == "GET":
        return render_template("staff/import.html", report=None, job=None)
    upload = request.files.get("file")
    approve = request.form.get("approve") == "1"
    if upload is None or not upload.filename:
        report = ImportReport(file_error=_("Choose a CSV or XLSX file to import."))
        return render_template("staff/import.html", report=report.to_dict(), job=None), 400
    data = upload.stream.read(delegate_import.MAX_FILE_BYTES + 1)
    try:
        columns, rows = delegate_import.read_table(data, upload.filename)
    except ImportFileError as exc:
        report = ImportReport(file_error=exc.message, approved=approve)
        return render_template("staff/import.html", report=report.to_dict(), job=None), 400

    if len(rows) > (SYNC_ROWS_APPROVE if approve else SYNC_ROWS):
        job = jobs.create(jobs.JobKind.IMPORT, current_user, total=len(rows),
                          params=job_work.import_params(upload.filename, approve),
                          input_data=data)
        tasks.send_job(job.id)
        return redirect(url_for("staff.job", job_id=job.id), 303)

    report = delegate_import.import_rows(columns, rows, current_user, approve=approve)
    return render_template("staff/import.html", report=report.to_dict(), job=None), (
        200 if report.ok else 422)


@bp.get("/export")
@roles_required(Role.DESK)
def export_page():
    """Choose CSV or XLSX for the delegates-list filter given in the query string."""
    selection = delegate_search.DelegateFilter.from_args(request.args)
    return render_template("staff/import.html", report=None, job=None,
                           export_args=selection.to_args(), export_total=selection.count())


@bp.get("/export.<any(csv, xlsx):fmt>")
@roles_required(Role.DESK)
def export_delegates(fmt: str):
    """The delegates list as CSV or XLSX, honouring the list's filter arguments."""
    selection = filter_from_args(request.args)
    # send_file streams it and closes it when the response is done.
    out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
    reveal = may_see_identity(current_user)
    count = delegate_export.export(selection, fmt, out, reveal_identity=reveal)
    delegate_export.record_export(current_user, fmt, count,
                                  {**request.args.to_dict(), "identity_in_clear": reveal})
    out.seek(0)
    response = send_file(out, mimetype=MIMETYPES[fmt], as_attachment=True,
                         download_name=delegate_export.export_filename(fmt), max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
