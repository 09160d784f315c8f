"""Badge printers reached over IPP, and every job sent to one (desk, kiosk, batch, test)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .edition import EditionScoped
from .types import UTCDateTime, utcnow


class PrintJobState(StrEnum):
    """Where a job sent to a printer is. Only COMPLETED marks its badges printed."""

    SENT = "sent"  # accepted by the printer, waiting or printing
    COMPLETED = "completed"
    FAILED = "failed"


PRINT_JOB_STATE_LABELS = {
    PrintJobState.SENT: _l("printing"),
    PrintJobState.COMPLETED: _l("printed"),
    PrintJobState.FAILED: _l("failed"),
}


class PrintJobKind(StrEnum):
    PRINT = "print"
    REPRINT = "reprint"
    BATCH = "batch"
    KIOSK = "kiosk"
    TEST = "test"


class Printer(EditionScoped, Model):
    """A printer: an IPP Everywhere printer or a CUPS queue, with the badge layout it takes."""

    __tablename__ = "printer"
    __table_args__ = (UniqueConstraint("edition_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    uri: Mapped[str] = mapped_column(String(300))
    layout: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PrintJob(EditionScoped, Model):
    """One IPP job: the delegates on it, the printer's job id and what the printer said."""

    __tablename__ = "print_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printer.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The delegates whose badges the document holds, in print order.
    delegate_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Batch chunks share a batch key (the batch's job page follows them together).
    batch: Mapped[str | None] = mapped_column(String(40), index=True)
    layout: Mapped[str] = mapped_column(String(16))
    # What completing the job must record: reprint reason, serial drawn, who asked.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    staff_id: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[int | None] = mapped_column(Integer)
    ipp_job_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=PrintJobState.SENT.value)
    # The printer's job-state-reasons / our reason code for a failure.
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
