"""Delegations: a government's or an organisation's group of delegates, nominated within
quotas by its focal points (services/delegations.py). Focal points are not staff accounts:
they sign in with an emailed one-time link and see only their own delegation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .edition import EditionScoped
from .types import UTCDateTime, utcnow


class DelegationKind(StrEnum):
    GOVERNMENT = "government"
    ORGANISATION = "organisation"  # an international organisation
    NGO = "ngo"
    INSTITUTION = "institution"

    @property
    def label(self) -> str:
        return str(DELEGATION_KIND_LABELS[self])


DELEGATION_KIND_LABELS = {
    DelegationKind.GOVERNMENT: _l("government"),
    DelegationKind.ORGANISATION: _l("international organisation"),
    DelegationKind.NGO: _l("NGO"),
    DelegationKind.INSTITUTION: _l("institution"),
}


class Delegation(EditionScoped, Model):
    __tablename__ = "delegation"
    __table_args__ = (UniqueConstraint("edition_id", "name_en"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16), default=DelegationKind.GOVERNMENT.value)
    country: Mapped[str] = mapped_column(String(2))
    # {"government": 5, "expert": 2}: a category without a number cannot be nominated.
    quotas: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    head_delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegate.id", use_alter=True, name="fk_delegation_head"))
    # The Note Verbale or nomination letter: a PDF checked by opening it.
    letter: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    letter_name: Mapped[str] = mapped_column(String(200), default="")
    letter_size: Mapped[int] = mapped_column(Integer, default=0)
    letter_uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def name(self, lang: str = "en") -> str:
        return (self.name_zh if lang == "zh" else "") or self.name_en

    def __repr__(self) -> str:
        return f"<Delegation {self.name_en}>"


class FocalPoint(EditionScoped, Model):
    __tablename__ = "focal_point"
    __table_args__ = (UniqueConstraint("edition_id", "delegation_id", "email_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delegation_id: Mapped[int] = mapped_column(ForeignKey("delegation.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), index=True)
    # Moves on every sign-in: a sign-in link works once (services/delegations.py).
    last_signin_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["DELEGATION_KIND_LABELS", "Delegation", "DelegationKind", "FocalPoint"]
