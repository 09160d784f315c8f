"""Requests for more information from the vetting service, and the delegate's answers.

One row per `more_info` decision: the question (the vetting note the delegate is shown)
and, once given, the delegate's free-text answer. Both are encrypted at rest
(`EncryptedText`): a delegate answering a question about their identity may well type a
document number or a date of birth. Decisions themselves are on the delegate row
(`vetting_status`, `vetting_note` — encrypted too —, `vetted_at`, `vetted_by`) and in the
audit trail (without the note's text).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .edition import EditionScoped
from .types import EncryptedText, UTCDateTime, utcnow


class VettingRequest(EditionScoped, Model):
    __tablename__ = "vetting_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("delegate.id", ondelete="CASCADE"), index=True)
    question: Mapped[str | None] = mapped_column(EncryptedText("vetting.question"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(254), default="")
    # Who was mailed: the delegate's address (a nominee's is their focal point's), or "".
    mailed_to: Mapped[str] = mapped_column(String(254), default="")
    answer: Mapped[str | None] = mapped_column(EncryptedText("vetting.answer"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
