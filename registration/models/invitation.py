"""Invitations: a personal registration link for one address and one category.

The link carries a signed token (services/invitations.py) naming the invitation and its
`nonce`; resending draws a new nonce, so only the newest link works. `status` moves
sent → opened → registered, or to revoked; "expired" is not stored: it is read from
`expires_on` (see `state`)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .edition import EditionScoped
from .types import UTCDateTime, utcnow


class InvitationState(StrEnum):
    SENT = "sent"
    OPENED = "opened"
    REGISTERED = "registered"
    EXPIRED = "expired"  # never stored: sent or opened, past `expires_on`
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return str(INVITATION_STATE_LABELS[self])


INVITATION_STATE_LABELS = {
    InvitationState.SENT: _l("sent"),
    InvitationState.OPENED: _l("opened"),
    InvitationState.REGISTERED: _l("registered"),
    InvitationState.EXPIRED: _l("expired"),
    InvitationState.REVOKED: _l("revoked"),
}

# Stored states in which the link can still be used (unless expired).
USABLE = (InvitationState.SENT.value, InvitationState.OPENED.value)


class Invitation(EditionScoped, Model):
    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), index=True)
    category: Mapped[str] = mapped_column(String(16))
    # What the desk knows already (form field name → text), filled into the form.
    prefill: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    expires_on: Mapped[date | None] = mapped_column(Date)
    # Accredit the registration at once (the organisers have already decided).
    approve: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=InvitationState.SENT.value)
    # Changes on every resend: links sent before stop working.
    nonce: Mapped[str] = mapped_column(String(32))
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("delegate.id"))
    delegation_id: Mapped[int | None] = mapped_column(ForeignKey("delegation.id"))
    created_by: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def state(self, today: date) -> InvitationState:
        if self.status in USABLE and self.expires_on is not None and today > self.expires_on:
            return InvitationState.EXPIRED
        return InvitationState(self.status)

    def name(self) -> str:
        return " ".join(filter(None, (self.prefill.get("given_name", ""),
                                      self.prefill.get("family_name", ""))))

    def __repr__(self) -> str:
        return f"<Invitation {self.email} {self.category} {self.status}>"


__all__ = ["INVITATION_STATE_LABELS", "USABLE", "Invitation", "InvitationState"]
