"""Outgoing mail, written in the same transaction as the change it reports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .edition import EditionScoped
from .types import UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    """Where a message is: pending (not sent yet, perhaps waiting for a retry), sent (the
    server accepted it), failed (given up: see last_error; `mail retry` puts it back)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return str(OUTBOX_STATUS_LABELS[self])


OUTBOX_STATUS_LABELS = {
    OutboxStatus.PENDING: _l("waiting to be sent"),
    OutboxStatus.SENT: _l("sent"),
    OutboxStatus.FAILED: _l("failed"),
}


class OutboxMessage(EditionScoped, Model):
    __tablename__ = "outbox_message"
    __table_args__ = (
        # Workers take pending mail oldest first (outbox.claim): this index gives that
        # order, so a claim reads the rows it takes, not the whole backlog.
        Index("ix_outbox_message_queue", "status", "id"),
        # The public-mail cap looks up one address's recent mail on every registration:
        # without this, a scan of the whole outbox each time (services/mail/outbox.py).
        Index("ix_outbox_message_recipient_lower", func.lower(text("recipient")),
              "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegate.id", ondelete="SET NULL"), index=True
    )
    # registered, approved, rejected, reprinted, manage_link, ...
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    # The complete RFC 5322 message, built once, so a retry sends exactly the same bytes.
    message: Mapped[bytes] = mapped_column(LargeBinary)
    # An OutboxStatus value.
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
