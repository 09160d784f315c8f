"""The Delegate aggregate: one person registered for the forum, and their badge photo."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from ..text import search_key
from ..validation import email_key
from .edition import EditionScoped
from .identity import DelegateIdentity
from .status import ACCREDITED, STATUS_LABELS, Status, VettingStatus, check_transition
from .types import EncryptedText, UTCDateTime, utcnow

# The email_key of a nominee whose mail goes to their focal point (no address of their own).
NOMINEE_KEY_PREFIX = "nominee:"


class RecordSource(StrEnum):
    """How a record came in (stored in `delegate.source`)."""

    SELF = "self"  # the public registration form
    WALK_IN = "walk_in"  # registered and accredited at the desk
    IMPORT = "import"  # a CSV/XLSX file imported by the desk or the CLI
    INVITATION = "invitation"  # the registration form opened by a personal invitation
    NOMINATION = "nomination"  # nominated by a delegation's focal point

    @property
    def label(self) -> str:
        return str(RECORD_SOURCE_LABELS[self])


RECORD_SOURCE_LABELS = {
    RecordSource.SELF: _l("registration form"),
    RecordSource.WALK_IN: _l("walk-in at the desk"),
    RecordSource.IMPORT: _l("import"),
    RecordSource.INVITATION: _l("invitation"),
    RecordSource.NOMINATION: _l("nomination by a focal point"),
}


class Delegate(EditionScoped, Model):
    __tablename__ = "delegate"
    # One registration per address and edition.
    __table_args__ = (UniqueConstraint("edition_id", "email_key"),)
    edition_index = False  # the constraint above leads with edition_id (EditionScoped)

    # The integer key never leaves the server; URLs and QR codes use `public_id`.
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    category: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default=Status.SUBMITTED.value)
    source: Mapped[str] = mapped_column(String(16), default=RecordSource.SELF.value)
    # The delegation that nominated (or invited) this delegate, if any.
    delegation_id: Mapped[int | None] = mapped_column(ForeignKey("delegation.id"), index=True)

    honorific: Mapped[str] = mapped_column(String(16), default="")
    given_name: Mapped[str] = mapped_column(String(120), default="")
    family_name: Mapped[str] = mapped_column(String(120), default="")
    native_name: Mapped[str] = mapped_column(String(120), default="")
    badge_name: Mapped[str] = mapped_column(String(120), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2), index=True, default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    # Case-folded email: one registration per address. NULL once personal data is erased.
    # A nominee without an address of their own has "nominee:<public id>" here and their
    # focal point's address in `email` (NOMINEE_KEY_PREFIX, `mail_key`).
    email_key: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(32), default="")
    dietary_needs: Mapped[str] = mapped_column(String(500), default="")
    accessibility_needs: Mapped[str] = mapped_column(String(500), default="")
    # Category-specific answers (see fields.CATEGORY_FIELDS): new fields need no migration.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    # Names and organisation folded for accent- and case-insensitive search ("muller" → Müller).
    search_text: Mapped[str] = mapped_column(Text, default="")

    # Badge: the serial in the QR token; a reprint increments it and revokes older badges.
    badge_serial: Mapped[int] = mapped_column(Integer, default=1)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    print_count: Mapped[int] = mapped_column(Integer, default=0)
    # Something printed on the badge changed after printing: the desk should reprint.
    needs_reprint: Mapped[bool] = mapped_column(Boolean, default=False)

    # Vetting (only where the edition requires it; models/status.VettingStatus).
    vetting_status: Mapped[str] = mapped_column(String(16), index=True,
                                                default=VettingStatus.PENDING.value)
    # The vetting service's note (for more_info, the question the delegate is sent): it may
    # quote a document number, so it is encrypted like the identity data; NULL when there is
    # none. Deferred: lists, scans and exports load thousands of delegates and never show it.
    vetting_note: Mapped[str | None] = mapped_column(EncryptedText("delegate.vetting_note"),
                                                     deferred=True)
    vetted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    vetted_by: Mapped[str] = mapped_column(String(254), default="")

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    identity: Mapped[DelegateIdentity | None] = relationship(
        back_populates="delegate", uselist=False, lazy="select", cascade="all, delete-orphan"
    )
    photo: Mapped[DelegatePhoto | None] = relationship(
        back_populates="delegate", uselist=False, lazy="select", cascade="all, delete-orphan"
    )

    # Fields printed on the badge: changing one after printing flags a reprint.
    BADGE_FIELDS = ("honorific", "badge_name", "native_name", "organisation", "country",
                    "category")

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status_enum])

    @property
    def source_label(self) -> str:
        """How the record came in, in the request's language (an unknown value as it is)."""
        try:
            return RecordSource(self.source).label
        except ValueError:
            return self.source

    @property
    def vetting_enum(self) -> VettingStatus:
        return VettingStatus(self.vetting_status)

    @property
    def is_accredited(self) -> bool:
        return self.status_enum in ACCREDITED

    @property
    def mail_is_focal_points(self) -> bool:
        """A nominee without an address of their own: `email` is their focal point's,
        which receives their mail."""
        return (self.email_key or "").startswith(NOMINEE_KEY_PREFIX)

    @property
    def mail_key(self) -> str | None:
        """The key of the inbox this delegate's mail goes to now: their own address's, or
        for a nominee without one their focal point's; None once personal data is erased."""
        if self.mail_is_focal_points:
            return email_key(self.email) if self.email else None
        return self.email_key

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)

    def move_to(self, new: Status) -> Status:
        """Change status through the lifecycle; raises InvalidTransition. Returns the old one."""
        old = self.status_enum
        check_transition(old, new)
        self.status = new.value
        return old

    def refresh_search_text(self) -> None:
        self.search_text = search_key(
            " ".join(
                [self.given_name, self.family_name, self.native_name, self.badge_name,
                 self.organisation, self.email, self.reference or ""]
            )
        )

    def __repr__(self) -> str:
        return f"<Delegate {self.reference} {self.category} {self.status}>"


class DelegatePhoto(EditionScoped, Model):
    """The badge photo, re-encoded JPEG, kept apart so listing delegates never loads it."""

    __tablename__ = "delegate_photo"

    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("delegate.id", ondelete="CASCADE"), primary_key=True
    )
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    # At most 8 KB (services/photos.thumbnail): the copy door scanners keep offline. Made
    # when the photo is stored; photos from before it get one when first asked for.
    thumb: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    delegate: Mapped[Delegate] = relationship(back_populates="photo")
