"""The tasks. Each is a thin wrapper around a service and safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from ..models.job import JobKind

log = logging.getLogger(__name__)

PRINT_BADGES = "registration.print_badges"
IMPORT_DELEGATES = "registration.import_delegates"
DELIVER_MAIL = "registration.deliver_mail"
SWEEP_JOBS = "registration.sweep_jobs"
PRUNE_JOBS = "registration.prune_jobs"
PURGE_EXPIRED = "registration.purge_expired_editions"
PRINT_ON_PRINTER = "registration.print_on_printer"
PURGE_IDENTITY = "registration.purge_expired_identity"
FOLLOW_PRINT_JOBS = "registration.follow_print_jobs"
JOB_TASKS = {JobKind.PRINT.value: PRINT_BADGES, JobKind.IMPORT.value: IMPORT_DELEGATES,
             JobKind.PRINTER.value: PRINT_ON_PRINTER}
# Queues: the desk's long jobs (a 5,000-badge print takes minutes) on one, mail and the
# periodic sweeps on the other, so that a confirmation never waits behind a batch. A worker
# started without -Q takes both; production runs one worker per queue (deploy/).
MAIL_QUEUE = "celery"  # Celery's default queue: mail and sweeps
JOBS_QUEUE = "jobs"


def print_badges(job_id: str) -> str:
    """A batch print job (services.job_work.run_print)."""
    from ..services import job_work

    return job_work.run_job(job_id)


def import_delegates(job_id: str) -> str:
    """A big import job; mail queued by an accrediting import is sent right after."""
    from ..services import job_work
    from .dispatch import dispatch

    outcome = job_work.run_job(job_id)
    dispatch(DELIVER_MAIL)
    return outcome


def deliver_mail() -> str:
    """Send the outbox's due messages (after requests that queued mail, and periodically
    for retries)."""
    from ..services import mail

    report = mail.deliver_pending()
    if report.sent or report.retrying or report.failed:
        log.info("mail delivery: %s", report)
    return str(report)


def sweep_jobs() -> list[str]:
    """Requeue or end jobs whose worker stopped (see services.jobs.reap)."""
    from ..services import jobs
    from .dispatch import send_job

    requeued = jobs.reap()
    for job_id in requeued:
        send_job(job_id)
    return requeued


def prune_jobs() -> int:
    """Delete finished jobs (and their PDFs) older than two days."""
    from ..services import jobs

    return jobs.prune()


def purge_expired_editions() -> dict[str, dict[str, int]]:
    """Erase the personal data of past editions whose retention date has passed
    (services.editions.purge_expired; `editions purge` does one by hand)."""
    from ..services import editions

    purged = editions.purge_expired()
    for slug, counts in purged.items():
        log.warning("retention: edition %s purged: %s", slug, counts)
    return purged


def purge_expired_identity() -> dict[str, int]:
    """Delete identity data `identity_retention_days` after each edition's last day
    (services.identity.purge_expired_identity; audited there with the counts)."""
    from ..services import identity

    purged = identity.purge_expired_identity()
    for slug, count in purged.items():
        log.warning("retention: identity data of %d delegates of %s deleted", count, slug)
    return purged


def follow_print_jobs() -> dict[str, int]:
    """Record badges printed once their printer reports the job completed, whether or not a
    page still follows it (services.printers.follow_unfinished)."""
    from ..services import printers

    counts = printers.follow_unfinished()
    if counts["completed"] or counts["failed"]:
        log.info("print jobs followed: %s", counts)
    return counts


TASKS: dict[str, Any] = {
    PRINT_BADGES: print_badges,
    PRINT_ON_PRINTER: print_badges,  # the same runner: services.job_work picks by kind
    IMPORT_DELEGATES: import_delegates,
    DELIVER_MAIL: deliver_mail,
    SWEEP_JOBS: sweep_jobs,
    PRUNE_JOBS: prune_jobs,
    PURGE_EXPIRED: purge_expired_editions,
    PURGE_IDENTITY: purge_expired_identity,
    FOLLOW_PRINT_JOBS: follow_print_jobs,
}


def register(celery: Celery) -> None:
    for name, func in TASKS.items():
        celery.task(name=name, acks_late=True, ignore_result=True)(func)
