"""Identity data of a delegate: nationality and travel document, kept encrypted at rest.

Only asked where the edition requires it (`Edition.identity_categories`). Apart from the
delegate row so that listing delegates never decrypts anything and purging identity data is
deleting rows. The date of birth, document number and expiry are `EncryptedText`; the
document number is also kept as a keyed hash (`document_number_hash`) for exact matching
(watchlists, duplicates) without decrypting. Nationality and the issuing country stay in
clear: the visa-letter queue and the vetting export filter on them, and neither identifies
a person.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..data_crypto import app_keyring, normalise_document_number
from ..extensions import Model
from ..fields import IDENTITY_FIELDS  # the shared field names (form, import, export)
from .edition import EditionScoped
from .types import EncryptedText, UTCDateTime, utcnow

if TYPE_CHECKING:
    from .delegate import Delegate


class DocumentType(StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    OTHER = "other"

    @property
    def label(self) -> str:
        return str(DOCUMENT_TYPE_LABELS[self])


DOCUMENT_TYPE_LABELS = {
    DocumentType.PASSPORT: _l("passport"),
    DocumentType.NATIONAL_ID: _l("national identity card"),
    DocumentType.OTHER: _l("other travel document"),
}



class DelegateIdentity(EditionScoped, Model):
    __tablename__ = "delegate_identity"

    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("delegate.id", ondelete="CASCADE"), primary_key=True
    )
    nationality: Mapped[str] = mapped_column(String(2), default="", index=True)
    # "YYYY-MM-DD", encrypted.
    date_of_birth: Mapped[str | None] = mapped_column(EncryptedText("identity.date_of_birth"))
    document_type: Mapped[str] = mapped_column(String(16), default="")
    document_number: Mapped[str | None] = mapped_column(
        EncryptedText("identity.document_number"))
    # HMAC of the normalised number (data_crypto.keyed_hash); set with the number.
    document_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    document_country: Mapped[str] = mapped_column(String(2), default="")
    # "YYYY-MM-DD", encrypted.
    document_expiry: Mapped[str | None] = mapped_column(
        EncryptedText("identity.document_expiry"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    delegate: Mapped[Delegate] = relationship(back_populates="identity")

    @validates("document_number")
    def _hash_number(self, key: str, value: str | None) -> str | None:
        normalised = normalise_document_number(value or "")
        self.document_number_hash = app_keyring().keyed_hash(normalised) if normalised else None
        return value or None

    @property
    def is_complete(self) -> bool:
        return all(getattr(self, name) for name in IDENTITY_FIELDS)

    @property
    def document_type_label(self) -> str:
        """The document type in the reader's language ("" when not given)."""
        try:
            return DocumentType(self.document_type or "").label
        except ValueError:
            return self.document_type or ""

    def as_dict(self) -> dict[str, str]:
        """The identity fields in clear, by their shared names ("" where unknown)."""
        return {name: getattr(self, name) or "" for name in IDENTITY_FIELDS}
