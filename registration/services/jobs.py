"""Background jobs for long desk runs (batch prints, big imports) with progress on disk.

A job is a JSON file `instance/jobs/<id>.json` plus, when it produces one, an output file
`instance/jobs/<id>.<ext>`. Files rather than process memory so that any gunicorn worker can
answer the progress and download requests, whichever worker runs the job. The directory is
under the instance folder (never the web root) and ids are random (128 bits), but the files
are still only served to signed-in desk staff (see registration/staff/printing.py).

The work runs in a thread of the worker that accepted the request, inside its own app
context (and so its own database session). If that worker is restarted mid-run the job
stays "running" forever: the job page says how long it has been running, and the desk simply
starts the run again (nothing is marked printed or imported unless the run commits).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from ..editions import current_edition_id, edition_scope_id
from ..extensions import real_app

log = logging.getLogger(__name__)

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
# Jobs (and their PDFs) older than this are deleted when a new job starts.
KEEP_SECONDS = 2 * 24 * 3600
# Progress is written at most this often (seconds), plus at the start and the end.
WRITE_EVERY = 0.3


class JobState(StrEnum):
    """Where a job is; `done` and `failed` are final."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return str(JOB_STATE_LABELS[self])


JOB_STATE_LABELS = {
    JobState.QUEUED: _l("queued"),
    JobState.RUNNING: _l("running"),
    JobState.DONE: _l("done"),
    JobState.FAILED: _l("failed"),
}
FINISHED = frozenset({JobState.DONE, JobState.FAILED})


@dataclass
class Job:
    id: str
    kind: str  # "print" or "import"
    created_by: str
    total: int = 0
    done: int = 0
    state: JobState = JobState.QUEUED
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    output: str = ""  # file name of the output in the jobs directory, when there is one
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str = ""
    _last_write: float = field(default=0.0, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def started_at(self) -> datetime:
        """When the job was created (the page shows it in the forum's time zone)."""
        return datetime.fromisoformat(self.created_at)

    @property
    def percent(self) -> int:
        if self.state == JobState.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def public(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        data["percent"] = self.percent
        data["finished"] = self.finished
        return data


def jobs_dir(app: Flask | None = None) -> Path:
    app = app or real_app()
    path = Path(app.config["INSTANCE_DIR"]) / "jobs"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _path(job_id: str, suffix: str, app: Flask | None = None) -> Path:
    if not JOB_ID_RE.match(job_id):
        raise ValueError("bad job id")
    return jobs_dir(app) / f"{job_id}{suffix}"


def save(job: Job, app: Flask | None = None) -> None:
    """Write the job atomically (a reader never sees half a file)."""
    target = _path(job.id, ".json", app)
    tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(job.public()), encoding="utf-8")
    os.replace(tmp, target)
    job._last_write = time.monotonic()


def load(job_id: str) -> Job | None:
    try:
        path = _path(job_id, ".json")
    except ValueError:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    data.pop("percent", None)
    data.pop("finished", None)
    data["state"] = JobState(data.get("state", JobState.QUEUED))
    return Job(**data)


def output_path(job: Job, app: Flask | None = None) -> Path | None:
    if not job.output:
        return None
    return _path(job.id, Path(job.output).suffix, app)


def _cleanup(app: Flask) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for path in jobs_dir(app).iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def create(kind: str, created_by: str, total: int = 0) -> Job:
    app = real_app()
    _cleanup(app)
    job = Job(id=secrets.token_urlsafe(16), kind=kind, created_by=created_by, total=total)
    save(job, app)
    return job


class Progress:
    """Handed to the work function: `progress(done)` updates the job file (throttled)."""

    def __init__(self, job: Job, app: Flask) -> None:
        self.job = job
        self.app = app

    def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
        self.job.done = done
        if total is not None:
            self.job.total = total
        if message is not None:
            self.job.message = message
        if time.monotonic() - self.job._last_write >= WRITE_EVERY or done == self.job.total:
            save(self.job, self.app)

    def output(self, suffix: str) -> Path:
        """Where the job writes its output file (e.g. ".pdf")."""
        self.job.output = f"{self.job.id}{suffix}"
        return _path(self.job.id, suffix, self.app)


def start(job: Job, work: Callable[[Progress], dict[str, Any]]) -> threading.Thread:
    """Run `work(progress)` in a thread with an app context, on the edition the caller works
    on (the staff switcher's choice); its return value is the result."""
    app = real_app()
    edition_id = current_edition_id()

    def run() -> None:
        progress = Progress(job, app)
        job.state = JobState.RUNNING
        save(job, app)
        with app.app_context():
            from ..extensions import db

            try:
                with edition_scope_id(edition_id):
                    job.result = work(progress) or {}
                job.state = JobState.DONE
                job.done = job.total if job.total else job.done
            except Exception as exc:  # reported on the job page; the work rolled back
                log.exception("job %s (%s) failed", job.id, job.kind)
                db.session.rollback()
                job.state = JobState.FAILED
                job.message = str(exc) or exc.__class__.__name__
            finally:
                db.session.remove()
        job.finished_at = datetime.now(UTC).isoformat()
        save(job, app)

    thread = threading.Thread(target=run, name=f"job-{job.kind}-{job.id[:6]}", daemon=True)
    thread.start()
    return thread
