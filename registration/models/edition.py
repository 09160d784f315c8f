"""Editions: the forum once a year in one install. Every forum record belongs to one.

`Edition` holds what used to be configuration (names, dates, venue, time zone, registration
window, capacities, organiser, privacy notice, logo, retention date). `EditionScoped` is the
mixin every forum model carries: its `edition_id` column is filled on insert and every ORM
query is filtered by it automatically (see registration/editions.py). Staff accounts and the
login throttle are shared across editions and do not carry it.

The first edition is made by migration 0003 from the environment (EVENT_* settings).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# The letterhead's text settings (visa letters).
LETTERHEAD = ("letter_organiser_en", "letter_organiser_zh", "letter_address_en",
              "letter_address_zh", "letter_signatory_en", "letter_signatory_zh",
              "letter_signatory_title_en", "letter_signatory_title_zh")


class Edition(Model):
    __tablename__ = "edition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    venue_en: Mapped[str] = mapped_column(String(200), default="")
    venue_zh: Mapped[str] = mapped_column(String(200), default="")
    city_en: Mapped[str] = mapped_column(String(100), default="")
    city_zh: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {"government": 1500, ...}; a category without a number has no limit.
    capacities: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Category keys not offered on the public form (invitation only).
    invitation_only: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Identity and vetting gates (off in a new edition: it behaves as before).
    # Categories whose delegates must give identity data (models/identity.py).
    identity_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    vetting_required: Mapped[bool] = mapped_column(Boolean, default=False)
    photo_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Identity data is purged this many days after the edition's last day.
    identity_retention_days: Mapped[int] = mapped_column(Integer, default=30)
    identity_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    organiser_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    privacy_en: Mapped[str] = mapped_column(Text, default="")
    privacy_zh: Mapped[str] = mapped_column(Text, default="")
    # PNG or JPEG, checked and re-encoded (services/edition_settings.py). Deferred: the
    # edition is read on every request, the logo only by its route and the badges.
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_mime: Mapped[str] = mapped_column(String(32), default="")
    # A digest of the logo: its URL's version (cached for good) and what the audit records.
    logo_digest: Mapped[str] = mapped_column(String(16), default="")
    # Letterhead of the visa invitation letters (services/visa_letters.py), in both languages.
    letter_organiser_en: Mapped[str] = mapped_column(String(200), default="")
    letter_organiser_zh: Mapped[str] = mapped_column(String(200), default="")
    letter_address_en: Mapped[str] = mapped_column(Text, default="")
    letter_address_zh: Mapped[str] = mapped_column(Text, default="")
    letter_signatory_en: Mapped[str] = mapped_column(String(200), default="")
    letter_signatory_zh: Mapped[str] = mapped_column(String(200), default="")
    letter_signatory_title_en: Mapped[str] = mapped_column(String(200), default="")
    letter_signatory_title_zh: Mapped[str] = mapped_column(String(200), default="")
    # The signature image (PNG, re-encoded like the logo); deferred like the logo.
    letter_signature: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # Personal data of this edition is kept until this date, then `editions purge` erases it.
    retention_until: Mapped[date | None] = mapped_column(Date)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Settings copied by `editions create --copy-from` (not names, dates, registration
    # times, retention date or flags).
    COPIED = ("venue_en", "venue_zh", "city_en", "city_zh", "timezone", "capacities",
              "invitation_only", "identity_categories", "vetting_required", "photo_required",
              "identity_retention_days", "organiser_name", "contact_email", "privacy_en",
              "privacy_zh", "logo", "logo_mime", "logo_digest", *LETTERHEAD, "letter_signature")

    def name(self, lang: str = "en") -> str:
        return (self.name_zh if lang == "zh" else "") or self.name_en

    def venue(self, lang: str = "en") -> str:
        return (self.venue_zh if lang == "zh" else "") or self.venue_en

    def city(self, lang: str = "en") -> str:
        return (self.city_zh if lang == "zh" else "") or self.city_en

    def privacy(self, lang: str = "en") -> str:
        return (self.privacy_zh if lang == "zh" else "") or self.privacy_en

    def settings(self) -> dict[str, Any]:
        """The edition's settings as plain data (for the audit trail)."""
        out: dict[str, Any] = {}
        for column in self.__table__.columns:
            if column.key in {"logo", "letter_signature", "id", "created_at"}:
                continue
            value = getattr(self, column.key)
            out[column.key] = value.isoformat() if isinstance(value, date | datetime) else value
        return out

    def __repr__(self) -> str:
        return f"<Edition {self.slug}{' current' if self.is_current else ''}>"


class EditionScoped:
    """Mixin for every forum record: which edition it belongs to.

    Set automatically on new objects from the current edition; every ORM select, update and
    delete is filtered by the current edition (registration/editions.py)."""

    # False on a table whose unique constraint starts with edition_id: that index serves
    # every "this edition's rows" lookup, and a second index on the column alone only gave
    # PostgreSQL a wrong plan to pick (Delegate: migration 0019).
    edition_index: ClassVar[bool] = True

    @declared_attr
    def edition_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("edition.id"), index=cls.edition_index, nullable=False)


__all__ = ["LETTERHEAD", "SLUG_RE", "Edition", "EditionScoped"]
