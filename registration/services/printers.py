"""Badge printers: the registry (add, list, remove), their live state, and print jobs.

A job is sent to the printer at once (the badge rendered with the printer's layout, its
media, no scaling) and recorded in `print_job`. A badge counts as printed only when the
printer reports the job completed: `refresh` asks the printer and, on completion, records
the print (or reprint) exactly as the desk's PDF route does. A job the printer aborts,
cancels or never receives is FAILED with the reason, and its badges stay unprinted.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, select, update

import badges

from ..extensions import db
from ..i18n import plain
from ..models import Delegate, Printer, PrintJob, PrintJobKind, PrintJobState, StaffUser
from ..models.types import utcnow
from . import admission, audit, ipp, printing
from .printing import PrintRefused

log = logging.getLogger(__name__)

PRINTER_LAYOUTS = ("a6", "cr80", "a4-4up")

# Why a job failed or cannot start, as the desk and the kiosk read it.
FAILURE_MESSAGES: dict[str, Any] = {
    "unreachable": _l("The printer cannot be reached (switched off, unplugged or offline)."),
    "stopped": _l("The printer is stopped (%(reasons)s)."),
    "rejected": _l("The printer rejected the document."),
    "aborted": _l("The printer gave up on the job (%(reasons)s)."),
    "canceled": _l("The job was cancelled at the printer."),
    "error": _l("The printer answered with an error."),
}

# Printer state reasons as the printers page names them.
REASON_LABELS: dict[str, Any] = {
    "media-empty": _l("media empty"),
    "media-needed": _l("media needed"),
    "media-jam": _l("media jam"),
    "door-open": _l("door open"),
    "cover-open": _l("cover open"),
    "offline": _l("offline"),
    "paused": _l("paused"),
    "toner-empty": _l("toner empty"),
    "marker-supply-empty": _l("ribbon or ink empty"),
    "unreachable": _l("unreachable"),
}
STATE_LABELS: dict[str, Any] = {
    "idle": _l("idle"),
    "processing": _l("printing"),
    "stopped": _l("stopped"),
    "unreachable": _l("unreachable"),
    "unknown": _l("unknown"),
}


class PrinterError(ValueError):
    """A printer operation that cannot be done; `code` is stable for callers."""

    def __init__(self, code: str, message: object) -> None:
        self.code = code
        self.message = plain(message)
        super().__init__(self.message)


def reason_text(reasons: list[str]) -> str:
    """Printer-state or job-state reasons, named for people (strip the -error/-warning)."""
    words = []
    for reason in reasons:
        key = reason.rsplit("-", 1)[0] if reason.endswith(("-error", "-warning",
                                                           "-report")) else reason
        words.append(plain(REASON_LABELS.get(key, key.replace("-", " "))))
    return ", ".join(words)


def failure_message(code: str, reasons: list[str] | None = None) -> str:
    message = FAILURE_MESSAGES.get(code, FAILURE_MESSAGES["error"])
    return plain(message) % {"reasons": reason_text(reasons or []) or plain(_l("no reason"))}


# ---------------------------------------------------------------------- the registry

def list_printers() -> list[Printer]:
    return list(db.session.scalars(select(Printer).order_by(Printer.name)))


def find(name: str) -> Printer | None:
    return db.session.scalar(select(Printer).where(Printer.name == (name or "").strip()))


def get(printer_id: int | None) -> Printer | None:
    if printer_id is None:
        return None
    return db.session.scalar(select(Printer).where(Printer.id == printer_id))


def add(name: str, uri: str, layout: str, *, staff: StaffUser | None = None) -> Printer:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise PrinterError("invalid_name", _l("A printer name of 1 to 100 characters is "
                                              "required."))
    try:
        uri = ipp.check_uri(uri)
    except ValueError:
        raise PrinterError("invalid_uri", _l("The printer address must be an ipp:// or "
                                             "ipps:// URI, e.g. "
                                             "ipp://printer.local:631/ipp/print.")) from None
    if layout not in PRINTER_LAYOUTS:
        raise PrinterError("invalid_layout", _l("Choose a layout: %(known)s.",
                                                known=", ".join(PRINTER_LAYOUTS)))
    if find(name) is not None:
        raise PrinterError("name_taken", _l("A printer named %(name)s already exists.",
                                            name=name))
    printer = Printer(name=name, uri=uri, layout=layout)
    db.session.add(printer)
    db.session.flush()
    audit.record(None, "printer_added", staff=staff, printer=name, uri=uri, layout=layout)
    db.session.commit()
    return printer


def remove(name: str, *, staff: StaffUser | None = None) -> None:
    printer = find(name)
    if printer is None:
        raise PrinterError("unknown_printer", _l("No printer named %(name)s.", name=name))
    audit.record(None, "printer_removed", staff=staff, printer=printer.name)
    db.session.delete(printer)
    db.session.commit()


def ipp_timeout() -> float:
    """Seconds one IPP request may take (IPP_TIMEOUT_SECONDS)."""
    return float(current_app.config.get("IPP_TIMEOUT_SECONDS") or ipp.DEFAULT_TIMEOUT)


def status(printer: Printer) -> ipp.PrinterStatus:
    return ipp.printer_status(printer.uri, ipp_timeout())


def status_row(printer: Printer) -> dict[str, Any]:
    """A printer and its live state as the printers page shows it (JSON)."""
    st = status(printer)
    return {"id": printer.id, "name": printer.name, "uri": printer.uri,
            "layout": printer.layout, "state": st.state,
            "state_label": plain(STATE_LABELS.get(st.state, st.state)),
            "reasons": st.reasons, "reasons_label": reason_text(st.reasons),
            "ready": st.ready}


# ---------------------------------------------------------------------- sending jobs

def ensure_ready(printer: Printer) -> None:
    st = status(printer)
    if not st.reachable:
        raise PrinterError("unreachable", failure_message("unreachable"))
    if not st.ready:
        raise PrinterError("stopped", failure_message("stopped", st.reasons))


def send_pdf(printer: Printer, pdf: bytes, job: PrintJob, job_name: str) -> PrintJob:
    """Print-Job to the printer; the job row (committed) says sent or failed and why."""
    try:
        job.ipp_job_id = ipp.print_pdf(printer.uri, pdf, layout=job.layout,
                                       job_name=job_name, timeout=ipp_timeout())
    except ipp.IppFailure as exc:
        job.state = PrintJobState.FAILED.value
        job.reason = exc.code
    job.updated_at = utcnow()
    db.session.add(job)
    db.session.commit()
    return job


def send_badge(delegate: Delegate, printer: Printer, *, kind: PrintJobKind,
               staff: StaffUser | None = None, device_id: int | None = None,
               reason: str = "", reason_text: str = "") -> PrintJob:
    """Print (or reprint) `delegate`'s badge on `printer`. PrintRefused when the badge must
    not print; PrinterError when the printer is unreachable or stopped before sending.
    The badge is recorded printed later, by `refresh`, when the printer says completed."""
    details: dict[str, Any] = {}
    if kind == PrintJobKind.REPRINT:
        reason, reason_text = printing.check_reprint(delegate, reason, reason_text)
        details = {"reason": reason, "reason_text": reason_text,
                   "serial": delegate.badge_serial + 1}
    else:
        printing.check_first_print(delegate)
    ensure_ready(printer)
    with printing.drawn_with_serial(delegate, details.get("serial", delegate.badge_serial)):
        pdf = badges.render_badge(printing.badge_data(delegate), printing.event_info(),
                                  printer.layout)
    job = PrintJob(printer_id=printer.id, kind=kind.value, delegate_ids=[delegate.id],
                   layout=printer.layout, details=details,
                   staff_id=staff.id if staff is not None else None, device_id=device_id)
    return send_pdf(printer, pdf, job, f"badge {delegate.reference}")


def test_print(printer: Printer) -> PrintJob:
    """A sample badge (no delegate) to check the printer, its media and its alignment."""
    ensure_ready(printer)
    data = badges.BadgeData(
        badge_name="", given_name="Test", family_name="BADGE", honorific="",
        native_name="测试", organisation="Printer check", position="",
        country="", category=badges.TEST_CATEGORY, category_label="TEST", category_label_zh="测试",
        qr_payload="TEST", reference="TEST-0000", photo=None)
    pdf = badges.render_badge(data, printing.event_info(), printer.layout)
    job = PrintJob(printer_id=printer.id, kind=PrintJobKind.TEST.value, delegate_ids=[],
                   layout=printer.layout, details={})
    return send_pdf(printer, pdf, job, "test badge")


def resend(job: PrintJob, *, staff: StaffUser | None = None) -> PrintJob:
    """Try a failed single-badge job again (a new job on the same printer)."""
    printer = get(job.printer_id)
    if printer is None:
        raise PrinterError("unknown_printer", _l("That printer has been removed."))
    delegate = db.session.get(Delegate, job.delegate_ids[0]) if job.delegate_ids else None
    if delegate is None:
        return test_print(printer)
    return send_badge(delegate, printer, kind=PrintJobKind(job.kind), staff=staff,
                      device_id=job.device_id, reason=job.details.get("reason", ""),
                      reason_text=job.details.get("reason_text", ""))


# ---------------------------------------------------------------------- following jobs

def get_job(job_id: int) -> PrintJob | None:
    return db.session.scalar(select(PrintJob).where(PrintJob.id == job_id))


def refresh(job: PrintJob, timeout: float | None = None) -> PrintJob:
    """Ask the printer about a sent job; on completion record its badges printed."""
    if job.state != PrintJobState.SENT.value or job.ipp_job_id is None:
        return job
    printer = get(job.printer_id)
    if printer is None:
        return _fail(job, "error")
    try:
        st = ipp.job_status(printer.uri, job.ipp_job_id, timeout or ipp_timeout())
    except ipp.IppFailure as exc:
        job.reason = exc.code  # still sent: the printer may come back
        db.session.commit()
        return job
    if st.state == "completed":
        _complete(job)
    elif st.state in {"aborted", "canceled"}:
        _fail(job, st.state, st.reasons)
    else:
        job.reason = "stopped" if st.state == "stopped" else ""
        job.details = {**job.details, "printer_reasons": st.reasons}
        db.session.commit()
    return job


# A job the printer has not finished after this long is no longer asked about by the sweep
# (printers forget old jobs); the desk still sees it as printing and can try again.
FOLLOW_FOR = timedelta(hours=24)
# The sweep asks each printer with a short deadline: a printer switched off must not hold
# the task for IPP_TIMEOUT_SECONDS on every run.
SWEEP_IPP_TIMEOUT = 3.0


def follow_unfinished(now: datetime | None = None) -> dict[str, int]:
    """Ask the printers about every job still sent (any edition): the sweep behind the pages
    that follow jobs, so a badge that came out is recorded printed although nobody kept its
    page open (a kiosk that lost the network, a desk tab closed mid-job). A printer that
    does not answer is asked about one job only per run. Returns counts by outcome."""
    from ..editions import ALL_EDITIONS, edition_scope_id

    since = (now or utcnow()) - FOLLOW_FOR
    jobs = list(db.session.scalars(
        select(PrintJob).where(PrintJob.state == PrintJobState.SENT.value,
                               PrintJob.ipp_job_id.is_not(None), PrintJob.created_at > since)
        .order_by(PrintJob.id).execution_options(**ALL_EDITIONS)))
    counts = {"completed": 0, "failed": 0, "waiting": 0}
    silent: set[int] = set()
    for job in jobs:
        if job.printer_id in silent:
            counts["waiting"] += 1
            continue
        try:
            with edition_scope_id(job.edition_id):  # the job's badges are of its edition
                refresh(job, timeout=min(ipp_timeout(), SWEEP_IPP_TIMEOUT))
        except Exception:  # one job's trouble must not stop the others
            log.exception("print job %s could not be followed", job.id)
            db.session.rollback()
            counts["waiting"] += 1
            continue
        if job.state == PrintJobState.COMPLETED.value:
            counts["completed"] += 1
        elif job.state == PrintJobState.FAILED.value:
            counts["failed"] += 1
        else:
            counts["waiting"] += 1
            if job.reason == "unreachable":
                silent.add(job.printer_id)
    return counts


def wait(job: PrintJob, timeout: float = 60.0, interval: float = 0.1) -> PrintJob:
    """Follow a job until the printer finishes it (CLI, kiosk tests, bench)."""
    deadline = time.monotonic() + timeout
    while job.state == PrintJobState.SENT.value and time.monotonic() < deadline:
        refresh(job)
        if job.state == PrintJobState.SENT.value:
            time.sleep(interval)
    return job


def _fail(job: PrintJob, code: str, reasons: list[str] | None = None) -> PrintJob:
    job.state = PrintJobState.FAILED.value
    job.reason = code
    job.details = {**job.details, "printer_reasons": reasons or []}
    job.updated_at = utcnow()
    db.session.commit()
    return job


def _complete(job: PrintJob) -> None:
    from .print_batches import mark_chunk_printed

    # Claim the job first (one conditional UPDATE): whoever follows it too — the desk's
    # page, the batch thread — finds it completed and records nothing twice.
    claimed = cast(CursorResult, db.session.execute(
        update(PrintJob).where(PrintJob.id == job.id,
                               PrintJob.state == PrintJobState.SENT.value)
        .values(state=PrintJobState.COMPLETED.value, updated_at=utcnow()),
        execution_options={"synchronize_session": False})).rowcount
    if not claimed:
        db.session.rollback()
        db.session.refresh(job)
        return
    staff = db.session.get(StaffUser, job.staff_id) if job.staff_id else None
    actor = f"kiosk:{job.device_id}" if job.kind == PrintJobKind.KIOSK.value else "system"
    try:
        if job.kind == PrintJobKind.BATCH.value:
            mark_chunk_printed(job, staff)
        elif job.kind != PrintJobKind.TEST.value:
            delegate = db.session.get(Delegate, job.delegate_ids[0], with_for_update=True)
            if delegate is not None and not admission.may_print(delegate):
                # Cancelled, rejected or no longer cleared while the badge printed: the paper
                # exists, the record does not change (as for a batch chunk).
                audit.record(delegate, "print_discarded", actor=audit.actor_label(staff, actor),
                             staff=staff,
                             layout=job.layout, printer=job.printer_id, print_job=job.id,
                             why=f"the delegate is now {delegate.status}")
            elif delegate is not None:
                where = {"printer": job.printer_id, "print_job": job.id}
                if job.kind == PrintJobKind.REPRINT.value:
                    printing.apply_reprint(delegate, staff, audit.actor_label(staff, actor),
                                           job.details.get("reason", ""),
                                           job.details.get("reason_text", ""), job.layout,
                                           int(job.details["serial"]), **where)
                else:
                    printing.mark_printed(delegate, staff, actor, job.layout, **where)
        job.state = PrintJobState.COMPLETED.value
        job.reason = ""
        job.completed_at = job.updated_at = utcnow()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def job_json(job: PrintJob) -> dict[str, Any]:
    """A job as the desk, the kiosk and the API follow it."""
    reasons = list(job.details.get("printer_reasons") or [])
    message = failure_message(job.reason, reasons) if job.reason else ""
    return {"job": job.id, "state": job.state, "printer": job.printer_id,
            "reason": job.reason or None, "message": message,
            "delegates": len(job.delegate_ids)}


__all__ = ["PRINTER_LAYOUTS", "PrintRefused", "PrinterError"]
