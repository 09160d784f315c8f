"""What the desk's background jobs do, one function per JobKind, run by the tasks
(registration/tasks/) through `jobs.execute`: the work and the job's end in one
transaction (see services/jobs.py)."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models.job import JobKind
from ..models.types import utcnow
from . import delegate_import, jobs, printing
from .delegate_import import ImportReport
from .delegate_search import DelegateFilter


def print_params(selection: DelegateFilter, layout: str, order: str,
                 unprinted: bool) -> dict[str, Any]:
    return {"selection": selection.to_args(), "layout": layout, "order": order,
            "unprinted": unprinted}


def run_print(run: jobs.Run) -> None:
    """Render the selection's badges chunk by chunk into the job's stored output, then mark
    them printed in the transaction that records the finished output."""
    staff, actor = jobs.actor(run)
    params = run.params
    layout = params["layout"]
    selection = DelegateFilter.from_args(params.get("selection") or {})
    out = run.open_output()
    name = f"badges-{utcnow():%Y-%m-%d}-{run.job_id[:6]}.pdf"

    def finish(count: int) -> None:
        run.finish({"count": count, "layout": layout}, output_name=name,
                   output_type="application/pdf")

    printing.print_batch(selection, staff, layout, out,  # type: ignore[arg-type]
                         progress=lambda d, t: run(d, t), sort=params.get("order", "category"),
                         unprinted=bool(params.get("unprinted")), actor=actor,
                         before_commit=finish)


def import_params(filename: str, approve: bool) -> dict[str, Any]:
    return {"filename": filename, "approve": approve}


def run_import(run: jobs.Run) -> None:
    """Import the job's stored file: all rows or none; the job ends in the same
    transaction as the rows it imported."""
    staff, actor = jobs.actor(run)
    params = run.params
    data = run.read_input()
    ended: list[bool] = []

    def finish(report: ImportReport) -> None:
        run.finish(report.to_dict(), report.summary())
        ended.append(True)

    report = delegate_import.import_file(data, params["filename"], staff,
                                         approve=bool(params.get("approve")), actor=actor,
                                         progress=run, before_commit=finish)
    if not ended or report.file_error:  # nothing imported: the job ends with the report
        run.finish(report.to_dict(), report.summary())
        db.session.commit()


def printer_params(selection: Any, printer_id: int, order: str,
                   unprinted: bool) -> dict[str, Any]:
    return {"selection": selection.to_args(), "printer_id": printer_id, "order": order,
            "unprinted": unprinted}


def run_printer(run: jobs.Run) -> None:
    """Render the selection chunk by chunk and send each chunk to the printer as it is ready;
    each chunk's badges are marked printed when the printer reports it completed
    (services/print_batches). A run taken over after a crash sends only what is still
    unprinted: the job asks for unprinted badges on retries."""
    from . import print_batches
    from . import printers as printer_service

    staff, actor = jobs.actor(run)
    params = run.params
    target = printer_service.get(int(params["printer_id"]))
    if target is None:
        raise printer_service.PrinterError("unknown_printer", "That printer has been removed.")
    selection = DelegateFilter.from_args(params.get("selection") or {})
    sent = print_batches.send_batch(
        selection, target, staff, batch=run.job_id, sort=params.get("order", "category"),
        unprinted=bool(params.get("unprinted")) or run.attempt > 1, actor=actor,
        progress=lambda d, t: run(d, t))
    print_batches.wait_all(sent)
    run.finish(print_batches.progress_json(run.job_id))
    db.session.commit()


WORK = {JobKind.PRINT.value: run_print, JobKind.IMPORT.value: run_import,
        JobKind.PRINTER.value: run_printer}


def run_job(job_id: str) -> str:
    """Run (or skip, see jobs.claim) job `job_id`; returns the outcome."""
    job = jobs.load(job_id)
    if job is None:
        return "skipped"
    return jobs.execute(job_id, WORK[job.kind])
