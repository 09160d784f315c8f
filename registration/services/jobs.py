"""Background jobs for long desk runs (batch prints, big imports): state in the database.

A job is a `job` row (models/job.py) plus, when it has them, chunks of its input (an
import's upload) and output (the batch PDF) in `job_output_chunk`, behind
services/job_storage.py. Any app server answers the progress and download requests,
whichever worker runs the job; the work itself runs in a task (registration/tasks/), on a
Celery worker or, with no broker configured, on the web process's own task pool.

One run of a job is an *attempt*. `claim` starts one with a compare-and-set (queued, or
running with a heartbeat older than JOB_STALE_SECONDS → running, attempts + 1), so a task
delivered twice runs once. While it runs, a thread writes progress and the heartbeat every
PROGRESS_SECONDS; every write and the final one are conditional on the attempt still being
the job's, so a run that was given up (its worker looked dead) cannot finish it: its
writes find nothing, it stops (`JobLost`) and its transaction rolls back. The finishing
write is in the same transaction as the work's own (badges marked printed, delegates
imported): the output exists and is named in the job row exactly when the work counts.

The sweep (`reap`) ends or requeues jobs whose heartbeat stopped: within JOB_STALE_SECONDS
plus one sweep a killed worker's job is run again (up to JOB_MAX_ATTEMPTS runs) or ended
`failed` with a plain message; the desk's job page says so and offers to start it again.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, Engine, delete, or_, select, update

from ..editions import current_edition_id, edition_scope_id
from ..extensions import db, real_app
from ..i18n import plain
from ..models import StaffUser
from ..models.job import FINISHED, JOB_STATE_LABELS, Job, JobKind, JobState
from ..models.types import utcnow
from . import audit
from .job_storage import INPUT, ChunkWriter, storage

__all__ = ["FINISHED", "JOB_STATE_LABELS", "Job", "JobKind", "JobLost", "JobState"]

log = logging.getLogger(__name__)

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
# Finished jobs (and their PDFs) older than this are deleted by the pruning sweep.
KEEP_SECONDS = 2 * 24 * 3600
# How often a running attempt writes its progress and heartbeat (seconds).
PROGRESS_SECONDS = 0.5
STALLED = "stalled"  # result["error"] of a job ended by the sweep


class JobLost(Exception):
    """This attempt is no longer the job's: it was given up and taken over, or ended."""


class JobNotRestartable(Exception):
    """The job is not one that failed (or its restart vanished): nothing to start again."""


def _setting(name: str, default: float) -> float:
    value = current_app.config.get(name)
    return float(default if value is None else value)


def stale_seconds() -> float:
    return _setting("JOB_STALE_SECONDS", 40)


def sweep_seconds() -> float:
    """How often the beat (or the embedded pool) sends the sweep (`reap`)."""
    return _setting("JOB_SWEEP_SECONDS", 15)


def max_attempts() -> int:
    return int(_setting("JOB_MAX_ATTEMPTS", 2))


def unattended(job: Job) -> bool:
    """Whether nothing has looked after this unfinished job for longer than a worker's
    heartbeat and two sweeps allow: a job not taken since it entered the queue (created, or
    taken back from a worker that stopped) while no other job is running either (no worker
    for its queue; one merely waiting behind a long batch is not), or a running one whose
    heartbeat stopped with no sweep to take it over."""
    if job.finished:
        return False
    waiting = job.state == JobState.QUEUED
    since = (job.queued_at or job.created_at) if waiting else job.heartbeat_at
    limit = timedelta(seconds=stale_seconds() + 2 * sweep_seconds())
    if since is None or utcnow() - since <= limit:
        return False
    return not (waiting and _a_job_is_running())


def _a_job_is_running() -> bool:
    """Whether some job's worker has shown a sign of life lately (workers are up, busy)."""
    cutoff = utcnow() - timedelta(seconds=stale_seconds())
    return db.session.scalar(select(Job.id).where(
        Job.state == JobState.RUNNING.value, Job.heartbeat_at >= cutoff).limit(1)) is not None


def status_message(job: Job, *, embedded: bool, alone: bool | None = None) -> str:
    """What the progress page says under the bar: the job's own message or, when nothing
    looks after the job (`alone`: `unattended(job)`, when the caller has it already), what
    to check (`embedded`: no broker, the server's own pool)."""
    if not (unattended(job) if alone is None else alone):
        return job.message
    seconds = int(stale_seconds() + 2 * sweep_seconds())
    if embedded:
        return plain(_l("Nothing has looked after this job for more than %(n)d seconds: the "
                        "server's background pool may have stopped. Restart the server; "
                        "the job is then taken up again.", n=seconds))
    return plain(_l("No worker has taken or looked after this job for more than %(n)d "
                    "seconds: check that a Celery worker for the jobs queue (celery -A "
                    "wsgi.celery worker -Q jobs, or one without -Q) and beat are running. "
                    "The job goes on as soon as one is.", n=seconds))


def create(kind: JobKind, staff: StaffUser | None, *, total: int = 0,
           params: dict[str, Any] | None = None, input_data: bytes | None = None,
           job_id: str | None = None) -> Job:
    """A queued job (committed); `input_data` (an uploaded file) is stored with it."""
    now = utcnow()
    job = Job(id=job_id or secrets.token_urlsafe(16), kind=kind.value, total=total,
              edition_id=current_edition_id(),
              created_by_id=staff.id if staff is not None else None,
              created_by=staff.email if staff is not None else "system",
              params=params or {}, result={}, state=JobState.QUEUED.value, done=0,
              attempts=0, message="", created_at=now, queued_at=now, heartbeat_at=now,
              output_name="", output_type="")
    db.session.add(job)
    db.session.commit()
    if input_data is not None:
        writer = storage().writer(job.id, INPUT)
        for start in range(0, len(input_data), 1024 * 1024):
            writer.write(input_data[start:start + 1024 * 1024])
        writer.close()
    return job


def load(job_id: str) -> Job | None:
    if not JOB_ID_RE.match(job_id or ""):
        return None
    return db.session.get(Job, job_id)


def restart(job: Job, staff: StaffUser | None) -> tuple[Job, bool]:
    """The desk's "start again" of a failed job: a new job doing what `job` did (its input
    file copied), and True. Once only: the failed job takes the new one's id by a
    compare-and-set in the same transaction, so a second click, from any server, gets the
    job the first one made, and False (nothing is started twice)."""
    new_id = secrets.token_urlsafe(16)
    claimed = cast(CursorResult[Any], db.session.execute(
        update(Job).where(Job.id == job.id, Job.state == JobState.FAILED.value,
                          Job.restarted_as.is_(None))
        .values(restarted_as=new_id).execution_options(synchronize_session=False)))
    if claimed.rowcount != 1:
        db.session.rollback()
        db.session.refresh(job)
        earlier = load(job.restarted_as or "")
        if earlier is None:
            raise JobNotRestartable(job.id)
        return earlier, False
    again = create(JobKind(job.kind), staff, total=job.total, params=dict(job.params),
                   job_id=new_id)  # commits the claim with the new job
    if job.kind == JobKind.IMPORT:
        storage().copy(job.id, again.id, INPUT)
    return again, True


def public(job: Job) -> dict[str, Any]:
    """The job as the progress page's JSON shows it."""
    return {
        "id": job.id, "kind": job.kind, "state": job.state, "done": job.done,
        "total": job.total, "message": job.message, "result": job.result or {},
        "percent": job.percent, "finished": job.finished, "attempts": job.attempts,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "stalled": (job.result or {}).get("error") == STALLED,
        "unattended": unattended(job),
    }


# ---------------------------------------------------------------------------------------
# One attempt.


@dataclass
class Run:
    """One attempt at a job: progress (written by a thread), output, the finishing write."""

    job_id: str
    attempt: int
    kind: str
    edition_id: int | None
    params: dict[str, Any]
    total: int
    engine: Engine
    app: Flask
    done: int = 0
    message: str = ""
    lost: bool = False
    output: ChunkWriter | None = None
    _dirty: bool = True
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """progress(done, total, message): recorded now, written by the progress thread."""
        if self.lost:
            raise JobLost(self.job_id)
        self.done = done
        if total is not None:
            self.total = total
        if message is not None:
            self.message = message
        self._dirty = True

    def _where(self) -> Any:
        return (Job.id == self.job_id) & (Job.attempts == self.attempt) & (
            Job.state == JobState.RUNNING.value)

    def write_progress(self) -> None:
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if self._dirty:
            values.update(done=self.done, total=self.total, message=self.message)
            self._dirty = False
        with self.engine.begin() as conn:
            if not conn.execute(update(Job).where(self._where()).values(**values)).rowcount:
                self.lost = True

    def _beat(self) -> None:
        every = PROGRESS_SECONDS
        while not self._stop.wait(every):
            try:
                self.write_progress()
            except Exception:  # a busy database: try again next time
                log.warning("job %s: progress not written", self.job_id, exc_info=True)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"job-{self.job_id[:6]}-progress")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def open_output(self) -> ChunkWriter:
        self.output = storage(self.app).writer(self.job_id, self.attempt)
        return self.output

    def read_input(self) -> bytes:
        return storage(self.app).read_all(self.job_id, INPUT)

    def finish(self, result: dict[str, Any], message: str = "", *, output_name: str = "",
               output_type: str = "") -> None:
        """Mark the job done in the session's transaction (the caller commits it with the
        work): raises JobLost if this attempt is no longer the job's."""
        values: dict[str, Any] = {
            "state": JobState.DONE.value, "result": result, "message": message,
            "finished_at": utcnow(), "heartbeat_at": utcnow(),
            "done": self.total or self.done, "total": self.total,
        }
        if self.output is not None:
            self.output.close()
            values.update(output_attempt=self.attempt, output_size=self.output.size,
                          output_name=output_name, output_type=output_type)
        changed = db.session.execute(update(Job).where(self._where()).values(**values),
                                     execution_options={"synchronize_session": False})
        if not changed.rowcount:  # type: ignore[attr-defined]
            raise JobLost(self.job_id)


def claim(job_id: str) -> Run | None:
    """Start an attempt (compare-and-set), or None: unknown, finished, or running alive."""
    now = utcnow()
    cutoff = now - timedelta(seconds=stale_seconds())
    job = db.session.get(Job, job_id)
    db.session.commit()
    if job is None or job.finished:
        return None
    attempt = job.attempts + 1
    changed = db.session.execute(
        update(Job).where(Job.id == job_id, Job.attempts == job.attempts, or_(
            Job.state == JobState.QUEUED.value,
            (Job.state == JobState.RUNNING.value) & (Job.heartbeat_at < cutoff)))
        .values(state=JobState.RUNNING.value, attempts=attempt, started_at=now,
                heartbeat_at=now, message=""),
        execution_options={"synchronize_session": False})
    db.session.commit()
    if not changed.rowcount:  # type: ignore[attr-defined]
        return None
    db.session.refresh(job)
    run = Run(job_id=job.id, attempt=attempt, kind=job.kind, edition_id=job.edition_id,
              params=dict(job.params),
              total=job.total, engine=db.engine, app=real_app())
    run.start()
    return run


def fail(run: Run, message: str) -> None:
    """End the attempt as failed (if it is still the job's), the work rolled back."""
    db.session.rollback()
    db.session.execute(update(Job).where(run._where()).values(
        state=JobState.FAILED.value, message=message[:2000], finished_at=utcnow(),
        heartbeat_at=utcnow()), execution_options={"synchronize_session": False})
    db.session.commit()


def execute(job_id: str, work: Callable[[Run], None]) -> str:
    """Claim `job_id` and run `work(run)`, which finishes it with `run.finish` in its own
    transaction. Returns what happened: done, failed, lost or skipped."""
    run = claim(job_id)
    if run is None:
        return "skipped"
    try:
        with edition_scope_id(run.edition_id):  # the edition the job was started in
            work(run)
        return "done"
    except JobLost:
        db.session.rollback()
        log.warning("job %s attempt %d was taken over; its work was rolled back",
                    job_id, run.attempt)
        return "lost"
    except Exception as exc:  # reported on the job page; the work rolled back
        log.exception("job %s (%s) failed", job_id, run.kind)
        fail(run, str(exc) or exc.__class__.__name__)
        return "failed"
    finally:
        run.stop()
        if run.output is not None and not run.output.closed:
            run.output.close()


# ---------------------------------------------------------------------------------------
# Sweeps.


def reap() -> list[str]:
    """Jobs whose worker stopped: requeue them (returned: send their task again) or, after
    JOB_MAX_ATTEMPTS runs, end them failed with a plain message. Also returns jobs queued
    for longer than JOB_STALE_SECONDS (their task may have been lost before a worker got
    it); sending a task twice is harmless (`claim`)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=stale_seconds())
    requeue: list[str] = []
    stale = db.session.execute(select(Job.id, Job.state, Job.attempts, Job.kind).where(
        Job.state.in_([JobState.RUNNING.value, JobState.QUEUED.value]),
        Job.heartbeat_at < cutoff)).all()
    for job_id, state, attempts, kind in stale:
        where = [Job.id == job_id, Job.state == state, Job.attempts == attempts,
                 Job.heartbeat_at < cutoff]
        if state == JobState.RUNNING.value and attempts >= max_attempts():
            what = (_l("Nothing was printed.") if kind == JobKind.PRINT
                    else _l("Nothing was imported."))
            message = plain(_l("The worker running this job stopped (no sign of life for "
                               "%(n)d seconds). %(what)s Start it again.",
                               n=int(stale_seconds()), what=what))
            values: dict[str, Any] = {"state": JobState.FAILED.value, "message": message,
                                      "finished_at": now, "result": {"error": STALLED}}
        else:
            values = {"state": JobState.QUEUED.value, "heartbeat_at": now}
            if state == JobState.RUNNING.value:
                values["queued_at"] = now  # waiting for a worker again from now
                values["message"] = plain(_l("The worker running this job stopped; "
                                             "another one takes it over."))
        changed = db.session.execute(update(Job).where(*where).values(**values),
                                     execution_options={"synchronize_session": False})
        if changed.rowcount and values["state"] == JobState.QUEUED.value:  # type: ignore[attr-defined]
            requeue.append(job_id)
        elif changed.rowcount:  # type: ignore[attr-defined]
            log.warning("job %s ended failed: its worker stopped", job_id)
    db.session.commit()
    return requeue


def prune(keep_seconds: int = KEEP_SECONDS) -> int:
    """Delete finished jobs older than `keep_seconds` with their files, and the chunks
    of attempts that never finished. Returns the jobs deleted."""
    cutoff = utcnow() - timedelta(seconds=keep_seconds)
    store = storage()
    old = list(db.session.scalars(select(Job.id).where(
        Job.state.in_([s.value for s in FINISHED]), Job.finished_at < cutoff)))
    for job_id in old:
        store.delete(job_id)
    if old:
        db.session.execute(delete(Job).where(Job.id.in_(old)))
    finished = db.session.execute(select(Job.id, Job.output_attempt).where(
        Job.state.in_([s.value for s in FINISHED]))).all()
    db.session.commit()
    for job_id, keep in finished:
        store.delete(job_id, keep=keep if keep is not None else -1)
    return len(old)


def actor(run: Run) -> tuple[StaffUser | None, str]:
    """Who started the job (the account, if it still exists) and the audit label."""
    staff = None
    job = db.session.get(Job, run.job_id)
    if job is not None and job.created_by_id is not None:
        staff = db.session.get(StaffUser, job.created_by_id)
    return staff, audit.actor_label(staff, f"job:{run.job_id[:6]}")
