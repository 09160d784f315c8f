"""Batch printing to a printer: the batch is rendered and sent in chunks (one IPP job each),
so the first badges come out while the rest render. Each chunk's badges are recorded
printed when the printer reports that chunk completed; a chunk drawn from a record that
changed since (a reprint elsewhere: another serial) is not marked, and is flagged for the
desk instead."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

import badges

from ..extensions import db
from ..models import Delegate, Printer, PrintJob, PrintJobKind, PrintJobState, StaffUser
from ..models.status import ACCREDITED_VALUES
from . import audit, printing
from . import printers as printer_service
from .admission import may_print
from .selection import SelectionFilter

CHUNK = 24  # badges per IPP job: six A4 sheets of four, or 24 cards


def send_batch(selection: SelectionFilter, printer: Printer, staff: StaffUser | None, *,
               batch: str, sort: str = "category", unprinted: bool = False,
               actor: str = "system", chunk: int = CHUNK,
               progress: Callable[[int, int], None] | None = None) -> list[PrintJob]:
    """Render the selection chunk by chunk and send each chunk to `printer` as it is ready.
    Stops at the first chunk the printer does not take (the job says why). PrinterError
    when the printer is unreachable or stopped before anything is sent."""
    printer_service.ensure_ready(printer)
    ids = printing.batch_ids(selection, sort=sort, unprinted=unprinted)
    total, rendered = len(ids), 0
    lang, event = printing.badge_language(), printing.event_info()
    sent: list[PrintJob] = []
    if progress is not None:
        progress(0, total)
    for start in range(0, total, chunk):
        part = ids[start:start + chunk]
        rows = db.session.scalars(select(Delegate).where(Delegate.id.in_(part))
                                  .options(selectinload(Delegate.photo))).all()
        by_id = {d.id: d for d in rows}
        drawn = [by_id[i] for i in part if i in by_id]
        out = io.BytesIO()
        badges.render_badges((printing.badge_data(d, lang) for d in drawn), event,
                             printer.layout, out)
        job = PrintJob(printer_id=printer.id, kind=PrintJobKind.BATCH.value,
                       delegate_ids=[d.id for d in drawn], batch=batch, layout=printer.layout,
                       details={"serials": {str(d.id): d.badge_serial for d in drawn},
                                "total": total, "actor": actor},
                       staff_id=staff.id if staff is not None else None)
        job = printer_service.send_pdf(printer, out.getvalue(), job,
                                       f"badges {start + 1}-{start + len(drawn)} of {total}")
        sent.append(job)
        rendered += len(drawn)
        if progress is not None:
            progress(rendered, total)
        if job.state == PrintJobState.FAILED.value:
            break
    return sent


def wait_all(jobs: Sequence[PrintJob], timeout: float = 600.0,
             progress: Callable[[int], None] | None = None) -> list[PrintJob]:
    """Follow every chunk until the printer finishes it; `progress(badges printed)`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in jobs:
            printer_service.refresh(job)
        if progress is not None:
            progress(sum(len(j.delegate_ids) for j in jobs
                         if j.state == PrintJobState.COMPLETED.value))
        if all(j.state != PrintJobState.SENT.value for j in jobs):
            break
        time.sleep(0.1)
    return list(jobs)


def mark_chunk_printed(job: PrintJob, staff: StaffUser | None) -> None:
    """A completed chunk: its badges are printed, unless the record changed since drawn."""
    serials: dict[str, int] = job.details.get("serials", {})
    actor = audit.actor_label(staff, job.details.get("actor", "system"))
    for delegate in db.session.scalars(select(Delegate).where(
            Delegate.id.in_(job.delegate_ids)).with_for_update()):
        if may_print(delegate) and serials.get(str(delegate.id)) == delegate.badge_serial:
            printing.mark_printed(delegate, staff, actor, job.layout, batch=job.batch,
                                  printer=job.printer_id, print_job=job.id)
        else:
            delegate.needs_reprint = delegate.status in ACCREDITED_VALUES
            audit.record(delegate, "print_discarded", actor=actor, staff=staff,
                         layout=job.layout, batch=job.batch,
                         why="changed while the batch was printing")


def progress_json(batch: str) -> dict[str, Any]:
    """Printing progress of a batch: badges sent, printed, failed, and why."""
    jobs = list(db.session.scalars(select(PrintJob).where(PrintJob.batch == batch)
                                   .order_by(PrintJob.id)))
    def count(state: PrintJobState) -> int:
        return sum(len(j.delegate_ids) for j in jobs if j.state == state.value)

    failed = [j for j in jobs if j.state == PrintJobState.FAILED.value]
    return {"sent": sum(len(j.delegate_ids) for j in jobs),
            "printed": count(PrintJobState.COMPLETED), "failed": count(PrintJobState.FAILED),
            "chunks": len(jobs),
            "message": printer_service.job_json(failed[0])["message"] if failed else ""}
