"""Watchlists and the hits they raise, for the vetting role to review.

A watchlist entry is what an agency's file says of one person; everything that identifies
them (names, date of birth, document number, note) is `EncryptedText`, like identity data.
Two keyed hashes allow lookups without decrypting: the normalised document number (exact
match) and the date of birth (the block within which names are compared). Both are set
with their value (`@validates`), under the current data key; lookups use every key's hash.

A hit links a delegate to an entry with how it matched (`HitKind`) and a score. Hits are
flags for the vetting role, never decisions: a reviewer dismisses one or keeps it flagged
(services/watchlist/hits.py); the vetting decision itself stays with the vetting stage.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..data_crypto import app_keyring, normalise_document_number
from ..extensions import Model
from .edition import EditionScoped
from .types import EncryptedText, UTCDateTime, utcnow

if TYPE_CHECKING:
    from .delegate import Delegate


class HitKind(StrEnum):
    DOCUMENT = "document"  # the same document number (keyed hash)
    NAME_DOB = "name_dob"  # the same date of birth and a similar name across scripts

    @property
    def label(self) -> str:
        return str(HIT_KIND_LABELS[self])


HIT_KIND_LABELS = {
    HitKind.DOCUMENT: _l("same document number"),
    HitKind.NAME_DOB: _l("similar name, same date of birth"),
}


class HitState(StrEnum):
    OPEN = "open"  # not reviewed yet
    KEPT = "kept"  # reviewed: stays flagged for the vetting decision
    DISMISSED = "dismissed"  # reviewed: not the same person

    @property
    def label(self) -> str:
        return str(HIT_STATE_LABELS[self])


HIT_STATE_LABELS = {
    HitState.OPEN: _l("to review"),
    HitState.KEPT: _l("kept flagged"),
    HitState.DISMISSED: _l("dismissed"),
}

# The columns of a watchlist file (`flask --app wsgi watchlist import`).
WATCHLIST_COLUMNS = ("family_name", "given_name", "date_of_birth", "nationality",
                     "document_number", "note")


class WatchlistEntry(EditionScoped, Model):
    __tablename__ = "watchlist_entry"
    # Lookups are always within an edition: (edition, hash) indexes, which SQLite's planner
    # prefers to the edition index even without statistics.
    __table_args__ = (
        Index("ix_watchlist_entry_edition_number", "edition_id", "document_number_hash"),
        Index("ix_watchlist_entry_edition_birth", "edition_id", "date_of_birth_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_name: Mapped[str | None] = mapped_column(EncryptedText("watchlist.family_name"))
    given_name: Mapped[str | None] = mapped_column(EncryptedText("watchlist.given_name"))
    # "YYYY-MM-DD", encrypted; its keyed hash blocks the name comparison.
    date_of_birth: Mapped[str | None] = mapped_column(
        EncryptedText("watchlist.date_of_birth"))
    date_of_birth_hash: Mapped[str | None] = mapped_column(String(64))
    nationality: Mapped[str] = mapped_column(String(2), default="")
    document_number: Mapped[str | None] = mapped_column(
        EncryptedText("watchlist.document_number"))
    document_number_hash: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(EncryptedText("watchlist.note"))
    # The file it came from (its name) and who imported it.
    source: Mapped[str] = mapped_column(String(200), default="")
    imported_by: Mapped[str] = mapped_column(String(254), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("document_number")
    def _hash_number(self, key: str, value: str | None) -> str | None:
        normalised = normalise_document_number(value or "")
        self.document_number_hash = app_keyring().keyed_hash(normalised) if normalised else None
        return value or None

    @validates("date_of_birth")
    def _hash_birth_date(self, key: str, value: str | None) -> str | None:
        self.date_of_birth_hash = app_keyring().keyed_hash(value) if value else None
        return value or None

    def name(self) -> str:
        return " ".join(p for p in (self.family_name, self.given_name) if p)


class WatchlistHit(EditionScoped, Model):
    __tablename__ = "watchlist_hit"
    __table_args__ = (UniqueConstraint("delegate_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("delegate.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("watchlist_entry.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # 1.0 for a document number; the name similarity (Jaro-Winkler, 0..1) otherwise.
    score: Mapped[float] = mapped_column(Float)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str] = mapped_column(String(254), default="")
    dismissed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Encrypted: a reviewer's note may quote a date of birth or a document number.
    review_note: Mapped[str | None] = mapped_column(EncryptedText("watchlist.review_note"))

    delegate: Mapped[Delegate] = relationship()
    entry: Mapped[WatchlistEntry] = relationship()

    @property
    def state(self) -> HitState:
        if self.reviewed_at is None:
            return HitState.OPEN
        return HitState.DISMISSED if self.dismissed else HitState.KEPT

    @property
    def kind_enum(self) -> HitKind:
        return HitKind(self.kind)
