"""Background jobs (batch prints, big imports) and their stored output, in the database so
that any app server can show a job's progress and serve its PDF, whichever worker ran it.

A job's output (and an import's uploaded file) is kept in `job_output_chunk` rows of about
1 MB, written chunk by chunk while the work runs and read back chunk by chunk when served,
so a 36 MB PDF never sits whole in memory. `attempt` 0 holds the job's input; attempt n ≥ 1
the output written by the n-th run, and `Job.output_attempt` names the complete one (set in
the transaction that finishes the job; a run killed half-way leaves chunks nobody reads,
deleted by the next run or the pruning sweep).

A job belongs to the edition it was started in (`edition_id`); its work runs in that edition
(services/jobs.execute). It is not an `EditionScoped` model on purpose: the sweeps that take
over stalled jobs must see every edition's jobs, and job ids are unguessable.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


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


class JobKind(StrEnum):
    PRINT = "print"
    IMPORT = "import"
    PRINTER = "printer"  # a batch sent to a badge printer in chunks (services/print_batches)


class Job(Model):
    __tablename__ = "job"
    __table_args__ = (Index("ix_job_state_heartbeat", "state", "heartbeat_at"),)

    # Random and unguessable (secrets.token_urlsafe(16)): it appears in the desk's URLs.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # a JobKind value
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("edition.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(254), default="")  # the label, kept
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    # What to run (selection, layout, …): enough to start the same job again.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs started so far
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When it last entered the queue: created, or taken back from a worker that stopped (the
    # sweep resending a waiting job refreshes heartbeat_at, not this).
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The output, when the job made one: its name and type for the download, its size, and
    # which attempt's chunks hold it.
    output_name: Mapped[str] = mapped_column(String(200), default="")
    output_type: Mapped[str] = mapped_column(String(100), default="")
    output_size: Mapped[int | None] = mapped_column(BigInteger)
    output_attempt: Mapped[int | None] = mapped_column(Integer)
    # A failed job started again: the new job's id, set once (compare-and-set), so two
    # clicks on "Start again" make one new job, not two printing the same badges.
    restarted_as: Mapped[str | None] = mapped_column(String(32))

    @property
    def state_enum(self) -> JobState:
        return JobState(self.state)

    @property
    def finished(self) -> bool:
        return self.state_enum in FINISHED

    @property
    def percent(self) -> int:
        if self.state_enum == JobState.DONE:
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def has_output(self) -> bool:
        return self.output_attempt is not None


class JobOutputChunk(Model):
    __tablename__ = "job_output_chunk"

    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"),
                                        primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: the job's input
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
