"""What a scan reads and answers: the delegate's columns a door needs (read without ORM
entities, see scan.py), the answer (`ScanResult`), the offline time rule, the door's photo."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update

from ...extensions import db
from ...models import CheckIn, Delegate, DelegatePhoto, Status
from ...models.checkin import ScanMethod, ScanOutcome
from . import CheckinError

D = Delegate.__table__
CI = CheckIn.__table__
DELEGATE_SELECT = select(
    D.c.id, D.c.public_id, D.c.reference, D.c.honorific, D.c.given_name,
    D.c.family_name, D.c.native_name, D.c.badge_name, D.c.organisation, D.c.category,
    D.c.country, D.c.status, D.c.badge_serial, D.c.details, D.c.delegation_id,
    D.c.vetting_status, select(DelegatePhoto.__table__.c.delegate_id)
    .where(DelegatePhoto.__table__.c.delegate_id == D.c.id).exists().label("has_photo"),
)
CHECK_IN_SELECT = select(CI.c.id, CI.c.checked_in_at).where(
    CI.c.delegate_id == bindparam("delegate_id"),
    CI.c.checkpoint_id == bindparam("checkpoint_id"),
)

@dataclass
class ScanResult:
    """The decision on one scan, as the scanner shows it (api/shapes.py gives its JSON)."""

    status: ScanOutcome
    checkpoint_id: str
    checkpoint_name: str
    scanned_at: datetime
    delegate: DelegateView | None = None
    # checked_in: this admission; already_checked_in: the first one at this checkpoint.
    checked_in_at: datetime | None = None
    offline: bool = False
    # For "invalid": malformed, bad_signature, unknown_badge, unknown_reference or other_edition;
    # for "not_accredited": "vetting" when accredited but not cleared by vetting.
    reason: str | None = None
    superseded_at: datetime | None = None
    replayed: bool = False  # the nonce was seen before: this is the stored answer
    has_photo: bool = False
    method: ScanMethod = ScanMethod.QR


@dataclass
class DelegateView:
    """The columns of a delegate that a scan needs (read without an ORM entity)."""

    id: int
    public_id: uuid.UUID
    reference: str
    honorific: str
    given_name: str
    family_name: str
    native_name: str
    badge_name: str
    organisation: str
    category: str
    country: str
    status: str
    badge_serial: int
    details: dict[str, Any]
    delegation_id: int | None
    vetting_status: str
    has_photo: bool

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)

    @property
    def status_enum(self) -> Status:
        return Status(self.status)


def delegate_where(condition: Any) -> DelegateView | None:
    row = db.session.execute(DELEGATE_SELECT.where(condition)).first()
    if row is None:
        return None
    data = dict(row._mapping)
    data["has_photo"] = bool(data["has_photo"])
    data["details"] = data["details"] or {}
    return DelegateView(**data)


MAX_OFFLINE_AGE = timedelta(days=3)


def parse_scanned_at(value: str | None) -> datetime | None:
    """An ISO 8601 time with a zone (or None). Raises CheckinError for anything else."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise CheckinError("invalid_scanned_at", "scanned_at must be an ISO 8601 string.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CheckinError("invalid_scanned_at",
                           "scanned_at must be an ISO 8601 date-time.") from None
    if parsed.tzinfo is None:
        raise CheckinError("invalid_scanned_at", "scanned_at needs a time zone (e.g. Z).")
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00
        raise CheckinError("invalid_scanned_at", "scanned_at is out of range.") from None
    # An offline queue holds hours, not weeks: an older time is a wrong clock or a replay,
    # and must not rewrite a recorded check-in time ("earliest wins"). A time in the future
    # is clamped later (a phone's clock running ahead must not lose the scan).
    if parsed < datetime.now(UTC) - MAX_OFFLINE_AGE:
        raise CheckinError("invalid_scanned_at",
                           "scanned_at is more than three days old: not an offline scan.")
    return parsed


def existing_check_in(delegate_id: int, checkpoint_id: str) -> Any:
    return db.session.execute(CHECK_IN_SELECT, {"delegate_id": delegate_id,
                                                 "checkpoint_id": checkpoint_id}).first()


def photo_jpeg(public_id: uuid.UUID) -> bytes | None:
    """The photo a door shows with a scanned delegate (None if there is none)."""
    return db.session.scalar(
        select(DelegatePhoto.jpeg).join(Delegate, Delegate.id == DelegatePhoto.delegate_id)
        .where(Delegate.public_id == public_id)
    )


def photo_thumb(public_id: uuid.UUID) -> bytes | None:
    """The small copy (at most 8 KB) a door keeps for offline use, made and stored on first
    request for photos from before thumbnails (None if there is no photo)."""
    from ..photos import thumbnail

    photo = db.session.scalar(
        select(DelegatePhoto).join(Delegate, Delegate.id == DelegatePhoto.delegate_id)
        .where(Delegate.public_id == public_id)
    )
    if photo is None:
        return None
    if photo.thumb is not None:
        return photo.thumb
    thumb = thumbnail(photo.jpeg)
    # Not a change of the photo: its version (updated_at, in the thumbnail's address) stays.
    db.session.execute(update(DelegatePhoto)
                       .where(DelegatePhoto.delegate_id == photo.delegate_id)
                       .values(thumb=thumb, updated_at=photo.updated_at)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return thumb
