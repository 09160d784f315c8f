"""Doors and scans: checkpoints (zones), scanner devices, every scan, and check-ins."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .edition import EditionScoped
from .types import UTCDateTime, utcnow


class ScanOutcome(StrEnum):
    """What a door is told about one scan (stored in `scan.result`, sent as the API's
    `status`). Every outcome but CONFIRM_IDENTITY is recorded; only the first two let the
    holder in."""

    CHECKED_IN = "checked_in"
    ALREADY_CHECKED_IN = "already_checked_in"
    # not a badge of ours: malformed, bad signature, unknown badge or unknown reference
    INVALID = "invalid"
    REVOKED = "revoked"  # an older print of a reprinted badge
    NOT_ACCREDITED = "not_accredited"
    ZONE_DENIED = "zone_denied"
    # A typed reference code: staff compared the person with the photo / ID and refused.
    REFUSED = "refused"
    # A typed reference code is a question, not an admission: the door is shown the
    # delegate and asked to compare. Never stored (nothing was decided).
    CONFIRM_IDENTITY = "confirm_identity"


class ScanMethod(StrEnum):
    """How the code reached the door (stored in `scan.method`): the signed QR token, or the
    reference code printed under it, typed by staff and admitted only after they confirmed
    the holder's identity."""

    QR = "qr"
    MANUAL = "manual"


SCAN_METHOD_LABELS = {
    ScanMethod.QR: _l("QR code"),
    ScanMethod.MANUAL: _l("typed code, identity checked"),
}


ADMITTED = frozenset({ScanOutcome.CHECKED_IN, ScanOutcome.ALREADY_CHECKED_IN})

# The outcome as the scan log names it (dashboard, audit pages).
SCAN_OUTCOME_LABELS = {
    ScanOutcome.CHECKED_IN: _l("checked in"),
    ScanOutcome.ALREADY_CHECKED_IN: _l("already checked in"),
    ScanOutcome.INVALID: _l("invalid code"),
    ScanOutcome.REVOKED: _l("revoked badge"),
    ScanOutcome.NOT_ACCREDITED: _l("not accredited"),
    ScanOutcome.ZONE_DENIED: _l("not allowed in this zone"),
    ScanOutcome.REFUSED: _l("refused at identity check"),
    ScanOutcome.CONFIRM_IDENTITY: _l("identity check asked"),
}

# The outcome as the scanner page shows it, in large letters, to the person at the door.
SCAN_OUTCOME_HEADLINES = {
    ScanOutcome.CHECKED_IN: _l("Welcome"),
    ScanOutcome.ALREADY_CHECKED_IN: _l("Already checked in"),
    ScanOutcome.INVALID: _l("Invalid code"),
    ScanOutcome.REVOKED: _l("Badge revoked — send to desk"),
    ScanOutcome.NOT_ACCREDITED: _l("Not accredited"),
    ScanOutcome.ZONE_DENIED: _l("Not allowed in this zone"),
    ScanOutcome.REFUSED: _l("Refused"),
    ScanOutcome.CONFIRM_IDENTITY: _l("Check identity"),
}


class Checkpoint(EditionScoped, Model):
    __tablename__ = "checkpoint"

    # Each edition has its own checkpoints: the key is (edition, id).
    edition_id: Mapped[int] = mapped_column(ForeignKey("edition.id"), primary_key=True)
    # Short stable id used by scanners and the API, e.g. "main", "vip".
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Category keys admitted; NULL admits every accredited delegate.
    allowed_categories: Mapped[list[str] | None] = mapped_column(JSON)
    # Heads of delegation are admitted whatever their category (e.g. the VIP lounge).
    admit_heads_of_delegation: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Device(EditionScoped, Model):
    """A scanner or kiosk device with its own bearer token (only the token's hash is kept)."""

    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("edition_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A kiosk prints delegates' own badges on its printer and cannot check anyone in; a
    # scanner checks people in and cannot print.
    kiosk: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    printer_id: Mapped[int | None] = mapped_column(ForeignKey("printer.id", ondelete="SET NULL"))


class Scan(EditionScoped, Model):
    """Every scan, admitted or not, kept for the audit.

    The client-made nonce is unique: a scan re-sent after a timeout is recorded once."""

    __tablename__ = "scan"
    __table_args__ = (ForeignKeyConstraint(["edition_id", "checkpoint_id"],
                                           ["checkpoint.edition_id", "checkpoint.id"]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    checkpoint_id: Mapped[str] = mapped_column(String(32), index=True)
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("delegate.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    badge_serial: Mapped[int | None] = mapped_column(Integer)
    # A ScanOutcome value.
    result: Mapped[str] = mapped_column(String(24))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    # A ScanMethod value: the QR token, or a typed reference code confirmed by staff.
    method: Mapped[str] = mapped_column(String(8), default=ScanMethod.QR.value,
                                        server_default=ScanMethod.QR.value)


class CheckIn(EditionScoped, Model):
    """A delegate's admission at a checkpoint; the unique pair makes double check-in impossible."""

    __tablename__ = "check_in"
    __table_args__ = (UniqueConstraint("delegate_id", "checkpoint_id"),
                      ForeignKeyConstraint(["edition_id", "checkpoint_id"],
                                           ["checkpoint.edition_id", "checkpoint.id"]))

    id: Mapped[int] = mapped_column(primary_key=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("delegate.id"))
    checkpoint_id: Mapped[str] = mapped_column(String(32), index=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scan.id"))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
