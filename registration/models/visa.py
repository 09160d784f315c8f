"""Visa invitation letters: a delegate's request, the desk's decision, the letter issued.

A request carries the intended dates of stay and the purpose. When the desk (or the vetting
service) approves it, the letter is issued: it gets its issue date and signer, and what the
letter states about the person (names, nationality, date of birth, passport number) is
copied from the identity data at that moment, so the printed letter and its verification
page (`/verify/<token>`) keep saying what was issued even if the record changes later. The
date of birth and document number are `EncryptedText`, like the identity data they come
from. A withdrawn letter stays on record: its verification page says it was withdrawn.
A letter is withdrawn by the system when its holder may no longer travel on it (cancelled,
not accredited, not cleared by vetting, substituted, erased); erasure also clears every
holder_* copy, so the page then shows neither name nor number.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .edition import EditionScoped
from .types import EncryptedText, UTCDateTime, utcnow

if TYPE_CHECKING:
    from .delegate import Delegate


class VisaLetterState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return str(VISA_LETTER_LABELS[self])


VISA_LETTER_LABELS = {
    VisaLetterState.REQUESTED: _l("requested"),
    VisaLetterState.APPROVED: _l("issued"),
    VisaLetterState.REFUSED: _l("refused"),
    VisaLetterState.WITHDRAWN: _l("withdrawn"),
}
# A delegate has at most one request in these states at a time.
OPEN_STATES = (VisaLetterState.REQUESTED, VisaLetterState.APPROVED)


class WithdrawalCause(StrEnum):
    """Why the system withdrew a letter on its own: its holder may no longer travel on it
    (services/visa_letters.withdraw_for_holders). The desk's own withdrawals give a reason
    in their words instead."""

    ERASED = "erased"
    NOT_CLEARED = "not_cleared"  # rejected by security vetting
    NOT_ACCREDITED = "not_accredited"  # rejected by the desk
    CANCELLED = "cancelled"
    SUBSTITUTED = "substituted"
    PURGED = "purged"  # the edition's personal data was deleted after the forum

    @property
    def label(self) -> str:
        return str(WITHDRAWAL_CAUSE_LABELS[self])

    @property
    def english(self) -> str:
        """What is stored as the letter's reason: the same words whoever's language
        triggered it, shown translated (VisaLetter.withdrawn_reason_label)."""
        with force_locale("en"):
            return str(WITHDRAWAL_CAUSE_LABELS[self])


WITHDRAWAL_CAUSE_LABELS = {
    WithdrawalCause.ERASED: _l("the registration was erased"),
    WithdrawalCause.NOT_CLEARED: _l("the registration was not cleared by vetting"),
    WithdrawalCause.NOT_ACCREDITED: _l("the registration was not accredited"),
    WithdrawalCause.CANCELLED: _l("the registration was cancelled"),
    WithdrawalCause.SUBSTITUTED: _l("the holder was replaced in the delegation"),
    WithdrawalCause.PURGED: _l("the forum deleted its records of the holder after the event"),
}


class VisaLetter(EditionScoped, Model):
    __tablename__ = "visa_letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the signed verification token names (the integer id never leaves the server).
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("delegate.id", ondelete="CASCADE"), index=True)
    # "VL-2026-00042": the edition's year and the row number; set when the request is stored.
    reference: Mapped[str | None] = mapped_column(String(24), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True,
                                       default=VisaLetterState.REQUESTED.value)
    stay_from: Mapped[date] = mapped_column(Date)
    stay_to: Mapped[date] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(String(500), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The decision (approval or refusal) and who made it.
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(254), default="")
    refusal_reason: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(254), default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str] = mapped_column(String(254), default="")
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")
    # What the issued letter states about the person (copied at issue).
    holder_name: Mapped[str] = mapped_column(String(250), default="")
    holder_native_name: Mapped[str] = mapped_column(String(120), default="")
    holder_nationality: Mapped[str] = mapped_column(String(2), default="")
    holder_date_of_birth: Mapped[str | None] = mapped_column(
        EncryptedText("visa_letter.holder_date_of_birth"))
    holder_document_number: Mapped[str | None] = mapped_column(
        EncryptedText("visa_letter.holder_document_number"))

    delegate: Mapped[Delegate] = relationship()

    @property
    def state_enum(self) -> VisaLetterState:
        return VisaLetterState(self.state)

    @property
    def state_label(self) -> str:
        return self.state_enum.label

    @property
    def withdrawn_reason_label(self) -> str:
        """The reason for the withdrawal in the reader's language when the system gave it
        (a WithdrawalCause, stored in English); a person's reason as they wrote it."""
        for cause in WithdrawalCause:
            if self.withdrawn_reason == cause.english:
                return cause.label
        return self.withdrawn_reason

    def __repr__(self) -> str:
        return f"<VisaLetter {self.reference} {self.state}>"
