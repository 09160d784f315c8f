"""Desk routes for background jobs (batch prints, big imports): progress page and JSON,
the output streamed from the database chunk by chunk, and "start again"."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from .. import tasks
from ..auth import roles_required
from ..models import Job, JobState, Role
from ..services import jobs
from ..services.job_storage import storage
from . import bp


def _job_or_404(job_id: str) -> Job:
    job = jobs.load(job_id)
    if job is None:
        abort(404)
    return job


@bp.get("/jobs/<job_id>")
@roles_required(Role.DESK)
def job(job_id: str):
    job = _job_or_404(job_id)
    if job.kind == jobs.JobKind.IMPORT and job.state == JobState.DONE:
        return render_template("staff/import.html", job=job, report=job.result,
                               JobState=JobState)
    return render_template("staff/job.html", job=job, JobState=JobState,
                           message=jobs.status_message(
                               job, embedded=not tasks.broker_url(current_app)))


@bp.get("/jobs/<job_id>.json")
@roles_required(Role.DESK)
def job_status(job_id: str):
    job = _job_or_404(job_id)
    data = jobs.public(job)
    data["state_label"] = job.state_enum.label  # in the desk's language
    data["message"] = jobs.status_message(job, embedded=not tasks.broker_url(current_app),
                                          alone=data["unattended"])
    if job.state == JobState.DONE and job.has_output:
        data["download_url"] = url_for("staff.job_output", job_id=job.id)
    if job.state == JobState.FAILED and job.restarted_as is None:
        data["restart_url"] = url_for("staff.job_restart", job_id=job.id)
    elif job.restarted_as is not None:
        data["restarted_url"] = url_for("staff.job", job_id=job.restarted_as)
    return jsonify(data)


@bp.get("/jobs/<job_id>/output")
@roles_required(Role.DESK)
def job_output(job_id: str):
    """The job's PDF, streamed from the database one chunk at a time."""
    job = _job_or_404(job_id)
    if job.state != JobState.DONE or job.output_attempt is None:
        abort(404)
    chunks = storage().read(job.id, job.output_attempt)
    response = Response(chunks, mimetype=job.output_type or "application/octet-stream")
    if job.output_size is not None:
        response.headers["Content-Length"] = str(job.output_size)
    response.headers["Content-Disposition"] = f'inline; filename="{job.output_name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/jobs/<job_id>/restart")
@roles_required(Role.DESK)
def job_restart(job_id: str):
    """Start a failed job again (same selection, or the same uploaded file)."""
    job = _job_or_404(job_id)
    if job.state != JobState.FAILED:
        abort(409)
    try:
        again, started = jobs.restart(job, current_user)
    except jobs.JobNotRestartable:
        abort(409)
    if started:
        tasks.send_job(again.id)
    else:
        flash(_("This job was started again already: here it is."))
    return redirect(url_for("staff.job", job_id=again.id), 303)
