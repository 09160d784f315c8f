"""Check-in at the doors: deciding a scan, zones (checkpoints), the offline snapshot and
the dashboard figures.

Rules, as implemented by :func:`check_in`:

* **Idempotency.** Each scan carries a client-made nonce (unique column on `scan`). The scan
  row is the first thing written: a nonce seen before (a retry after a timeout, an offline
  sync sent twice, or a retry racing its original) inserts nothing and is answered with the
  result recorded for it; nothing else is written.
* **Exactly once per checkpoint.** Admission is an INSERT into `check_in`, whose
  UNIQUE(delegate_id, checkpoint_id) decides: an INSERT that hits the key means the
  delegate is already checked in there. There is no read-then-write.
* Both INSERTs are `INSERT … ON CONFLICT (key) DO NOTHING RETURNING id` on PostgreSQL and
  SQLite: one round trip, and PostgreSQL makes a racing INSERT wait for the first
  transaction's outcome. (A SAVEPOINT + INSERT + IntegrityError does the same in three
  round trips, and is the fallback for other databases; bench/checkin.py measured the
  difference.)
* **Every scan is kept** as a `scan` row (time, checkpoint, device or staff, result), refused
  ones too (`invalid`, `revoked`, `not_accredited`, `zone_denied`).
* **Status.** The first successful check-in at *any* checkpoint moves an approved or
  badge-printed delegate to `checked_in`: the status machine (`can_transition`) decides and
  the write is a compare-and-set (`UPDATE … WHERE id = … AND status = <status read>`), so a
  desk change at the same instant (a cancellation) is never overwritten. Every admission
  writes an audit entry "checked_in" naming the gate (and whether the status moved).
* **Offline scans, earliest wins.** A scan synced from an offline scanner carries the time it
  was made (`scanned_at`; a time in the future is clamped to the server's clock). If the
  delegate is already checked in at that checkpoint *later* than this scan, the check-in is
  moved to this earlier scan (`checked_in_at` and `scan_id` rewritten by one conditional
  UPDATE, so concurrent syncs cannot move it backwards) and the answer is `checked_in` with
  `superseded_at` = the replaced time; an audit entry "checkin_time_corrected" records it.
  Otherwise the offline scan is a duplicate and answers `already_checked_in` with the first
  check-in's time: the scanner page lists those after a sync. `scan.result` keeps what each
  door was told at the time; `check_in` holds the truth (one row, earliest time).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import has_request_context, url_for
from sqlalchemy import JSON, Boolean, bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError

from .. import tickets
from ..editions import current_edition_id, first_edition_id, timezone_name
from ..extensions import db
from ..fields import CATEGORY_KEYS
from ..i18n import category_label, current_language
from ..models import (
    ACCREDITED,
    CheckIn,
    Checkpoint,
    Delegate,
    DelegatePhoto,
    Device,
    Scan,
    StaffUser,
    Status,
)
from ..models.status import can_transition
from ..models.types import UTCDateTime, utcnow
from . import audit
from .badge_tokens import public_keys

RESULTS = ("checked_in", "already_checked_in", "invalid", "revoked", "not_accredited",
           "zone_denied")
ADMITTED = frozenset({"checked_in", "already_checked_in"})
ACCREDITED_VALUES = tuple(s.value for s in ACCREDITED)
MAX_NONCE_LENGTH = 64
# Databases where `_insert_once` uses ON CONFLICT DO NOTHING (tests empty it to exercise the
# SAVEPOINT fallback).
UPSERT_DIALECTS: tuple[str, ...] = ("postgresql", "sqlite")
MAX_CODE_LENGTH = 512


class CheckinError(ValueError):
    """A request that cannot be decided (unknown checkpoint...); `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ScanResult:
    """The decision on one scan, as the scanner shows it."""

    status: str
    checkpoint_id: str
    checkpoint_name: str
    scanned_at: datetime
    delegate: Any = None  # DelegateView (or a Delegate)
    # checked_in: this admission; already_checked_in: the first one at this checkpoint.
    checked_in_at: datetime | None = None
    offline: bool = False
    reason: str | None = None  # "invalid": malformed, bad_signature, unknown_badge, other_edition
    superseded_at: datetime | None = None
    replayed: bool = False  # the nonce was seen before: this is the stored answer
    has_photo: bool = False
    # The delegate as JSON, taken before the commit (so answering needs no reload).
    delegate_data: dict[str, Any] | None = None

    def freeze(self) -> None:
        if self.delegate is not None:
            self.delegate_data = delegate_json(self.delegate, self.has_photo)

    def as_json(self) -> dict[str, Any]:
        if self.delegate_data is None and self.delegate is not None:
            self.freeze()
        return {
            "status": self.status,
            "delegate": self.delegate_data,
            "checked_in_at": iso(self.checked_in_at),
            "checkpoint": self.checkpoint_id,
            "checkpoint_name": self.checkpoint_name,
            "scanned_at": iso(self.scanned_at),
            "offline": self.offline,
            "reason": self.reason,
            "superseded_at": iso(self.superseded_at),
            "replayed": self.replayed,
        }


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_head_of_delegation(details: dict[str, Any] | None) -> bool:
    value = (details or {}).get("head_of_delegation")
    if isinstance(value, str):
        return value.strip().lower() in {"y", "yes", "true", "1", "on"}
    return bool(value)


def display_name(delegate: Any) -> str:
    return delegate.badge_name or delegate.full_name


def photo_url(delegate: Any) -> str:
    if has_request_context():
        return url_for("checkin.photo", public_id=delegate.public_id)
    return f"/checkin/photo/{delegate.public_id}.jpg"


def delegate_json(delegate: Any, has_photo: bool = False) -> dict[str, Any]:
    """What a scanner shows about a delegate (no contact data)."""
    from ..countries import country_name

    return {
        "public_id": str(delegate.public_id),
        "reference": delegate.reference,
        "name": display_name(delegate),
        "honorific": delegate.honorific,
        "given_name": delegate.given_name,
        "family_name": delegate.family_name,
        "native_name": delegate.native_name,
        "organisation": delegate.organisation,
        "category": delegate.category,
        "category_label": category_label(delegate.category),
        "country": delegate.country,
        "country_name": country_name(delegate.country) if delegate.country else "",
        "status": delegate.status,
        "badge_serial": delegate.badge_serial,
        "head_of_delegation": is_head_of_delegation(delegate.details),
        "photo_url": photo_url(delegate) if has_photo else None,
    }


# --------------------------------------------------------------------------- checkpoints


def list_checkpoints(*, active_only: bool = False) -> list[Checkpoint]:
    query = select(Checkpoint).order_by(Checkpoint.id != "main", Checkpoint.name)
    if active_only:
        query = query.where(Checkpoint.active.is_(True))
    return list(db.session.scalars(query))


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "id": checkpoint.id,
        "name": checkpoint.name,
        "allowed_categories": checkpoint.allowed_categories,
        "admit_heads_of_delegation": checkpoint.admit_heads_of_delegation,
        "active": checkpoint.active,
    }


def save_checkpoint(checkpoint_id: str, name: str, allowed_categories: Iterable[str] | None,
                    admit_heads_of_delegation: bool, *, active: bool = True,
                    staff: StaffUser | None = None) -> Checkpoint:
    """Create or update a checkpoint. `allowed_categories` None (or every category) admits
    every accredited delegate."""
    checkpoint_id = checkpoint_id.strip().lower()
    if not checkpoint_id or len(checkpoint_id) > 32 or not all(
        c.isascii() and (c.isalnum() or c in "-_") for c in checkpoint_id
    ):
        raise CheckinError("invalid_checkpoint_id",
                           "Use 1 to 32 letters, digits, '-' or '_' for the checkpoint id.")
    name = name.strip()
    if not name or len(name) > 100:
        raise CheckinError("invalid_name", "A checkpoint name of 1 to 100 characters is needed.")
    categories: list[str] | None = None
    if allowed_categories is not None:
        chosen = set(allowed_categories)
        unknown = chosen - set(CATEGORY_KEYS)
        if unknown:
            raise CheckinError("unknown_category", f"Unknown categories: {sorted(unknown)}")
        categories = None if chosen == set(CATEGORY_KEYS) else [
            c for c in CATEGORY_KEYS if c in chosen]
    if checkpoint_id == "main" and (categories is not None or not active):
        raise CheckinError("main_is_open",
                           "The main entrance admits every accredited delegate and stays open.")
    checkpoint = db.session.scalar(select(Checkpoint).where(Checkpoint.id == checkpoint_id))
    created = checkpoint is None
    if created:
        checkpoint = Checkpoint(id=checkpoint_id)
        db.session.add(checkpoint)
    checkpoint.name = name
    checkpoint.allowed_categories = categories
    checkpoint.admit_heads_of_delegation = bool(admit_heads_of_delegation)
    checkpoint.active = active
    audit.record(None, "checkpoint_saved", staff=staff, checkpoint=checkpoint_id,
                 created=created, allowed_categories=categories,
                 admit_heads_of_delegation=bool(admit_heads_of_delegation), active=active)
    db.session.commit()
    return checkpoint


def admits(checkpoint: Any, delegate: Any) -> bool:
    """Whether the zone lets this (accredited) delegate in."""
    if checkpoint.allowed_categories is None:
        return True
    if delegate.category in checkpoint.allowed_categories:
        return True
    return bool(checkpoint.admit_heads_of_delegation
                and is_head_of_delegation(delegate.details))


# --------------------------------------------------------------------------- scanning
#
# The scan path runs at every door for every badge, so it avoids ORM entity loading: the
# reads are Core selects of the columns it needs, the two decisive INSERTs are prepared
# text statements (the same SQL on PostgreSQL and SQLite). bench/checkin.py measured ORM
# loads, ORM-enabled INSERTs and unit-of-work flushes at 3-4 times the CPU of these (about
# half of each scan's time). The audit row has the shape `audit.record` gives it.

_D = Delegate.__table__
_C = Checkpoint.__table__
_CI = CheckIn.__table__
_DELEGATE_SELECT = select(
    _D.c.id, _D.c.public_id, _D.c.reference, _D.c.honorific, _D.c.given_name,
    _D.c.family_name, _D.c.native_name, _D.c.badge_name, _D.c.organisation, _D.c.category,
    _D.c.country, _D.c.status, _D.c.badge_serial, _D.c.details,
    select(DelegatePhoto.__table__.c.delegate_id)
    .where(DelegatePhoto.__table__.c.delegate_id == _D.c.id).exists().label("has_photo"),
)
_CHECKPOINT_SELECT = select(
    _C.c.id, _C.c.name, _C.c.allowed_categories, _C.c.admit_heads_of_delegation, _C.c.active
).where(_C.c.id == bindparam("checkpoint_id"), _C.c.edition_id == bindparam("edition_id"))
_CHECK_IN_SELECT = select(_CI.c.id, _CI.c.checked_in_at).where(
    _CI.c.delegate_id == bindparam("delegate_id"),
    _CI.c.checkpoint_id == bindparam("checkpoint_id"),
)
_INSERT_SCAN = (
    "INSERT INTO scan (nonce, checkpoint_id, delegate_id, device_id, staff_id, badge_serial, "
    "result, scanned_at, received_at, offline, edition_id) VALUES (:nonce, :checkpoint_id, "
    ":delegate_id, :device_id, :staff_id, :badge_serial, :result, :scanned_at, :received_at, "
    ":offline, :edition_id)"
)
_INSERT_CHECK_IN = (
    "INSERT INTO check_in (delegate_id, checkpoint_id, scan_id, checked_in_at, edition_id) "
    "VALUES (:delegate_id, :checkpoint_id, :scan_id, :checked_in_at, :edition_id)"
)
_TYPES = (bindparam("scanned_at", type_=UTCDateTime), bindparam("received_at", type_=UTCDateTime),
          bindparam("offline", type_=Boolean), bindparam("checked_in_at", type_=UTCDateTime))


def _statement(sql: str, conflict: str | None) -> Any:
    tail = f" ON CONFLICT ({conflict}) DO NOTHING RETURNING id" if conflict else " RETURNING id"
    statement = text(sql + tail)
    names = set(statement._bindparams)  # noqa: SLF001 - the text's own parameter names
    return statement.bindparams(*(b for b in _TYPES if b.key in names))


_STATUS_CAS = text(
    "UPDATE delegate SET status = :new, updated_at = :updated_at WHERE id = :id AND status = :old"
).bindparams(bindparam("updated_at", type_=UTCDateTime))
_AUDIT_INSERT = text(
    "INSERT INTO audit_entry (delegate_id, staff_id, actor, action, details, created_at, "
    "edition_id) VALUES (:delegate_id, :staff_id, :actor, :action, :details, :created_at, "
    ":edition_id)"
).bindparams(bindparam("details", type_=JSON), bindparam("created_at", type_=UTCDateTime))


def _audit(delegate_id: int, action: str, staff: StaffUser | None, by_device: Any | None,
           /, **details: Any) -> None:
    """The audit entry `audit.record` would add, written as one INSERT (no ORM flush).
    The actor is the staff member ("staff:EMAIL") or the device ("device:NAME")."""
    actor = f"device:{by_device.name}" if by_device is not None else "scanner"
    db.session.execute(_AUDIT_INSERT, {
        "delegate_id": delegate_id, "staff_id": staff.id if staff is not None else None,
        "actor": audit.actor_label(staff, actor), "action": action, "details": details,
        "created_at": utcnow(), "edition_id": current_edition_id()})


_UPSERT = {"scan": _statement(_INSERT_SCAN, "nonce"),
           "check_in": _statement(_INSERT_CHECK_IN, "delegate_id, checkpoint_id")}
_PLAIN = {"scan": _statement(_INSERT_SCAN, None), "check_in": _statement(_INSERT_CHECK_IN, None)}


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
    has_photo: bool

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)

    @property
    def status_enum(self) -> Status:
        return Status(self.status)


def _delegate_where(condition: Any) -> DelegateView | None:
    row = db.session.execute(_DELEGATE_SELECT.where(condition)).first()
    if row is None:
        return None
    data = dict(row._mapping)
    data["has_photo"] = bool(data["has_photo"])
    data["details"] = data["details"] or {}
    return DelegateView(**data)


def get_checkpoint(checkpoint_id: str) -> Any:
    """The open checkpoint `checkpoint_id` (a row: id, name, allowed_categories,
    admit_heads_of_delegation, active); CheckinError if unknown or closed."""
    row = db.session.execute(_CHECKPOINT_SELECT, {"checkpoint_id": checkpoint_id,
                                                  "edition_id": current_edition_id()}).first() \
        if checkpoint_id else None
    if row is None or not row.active:
        raise CheckinError("unknown_checkpoint", f"No open checkpoint {checkpoint_id!r}.")
    return row


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


def _existing_check_in(delegate_id: int, checkpoint_id: str) -> Any:
    return db.session.execute(_CHECK_IN_SELECT, {"delegate_id": delegate_id,
                                                 "checkpoint_id": checkpoint_id}).first()


def _stored_result(scan: Scan) -> ScanResult:
    """Rebuild the answer given for an already recorded scan (a replayed nonce)."""
    checkpoint = db.session.get(Checkpoint, (scan.edition_id, scan.checkpoint_id))
    assert checkpoint is not None  # foreign key
    delegate = _delegate_where(_D.c.id == scan.delegate_id) if scan.delegate_id else None
    result = ScanResult(status=scan.result, checkpoint_id=checkpoint.id,
                        checkpoint_name=checkpoint.name, scanned_at=scan.scanned_at,
                        delegate=delegate, offline=scan.offline, replayed=True)
    if delegate is not None:
        result.has_photo = delegate.has_photo
        if scan.result in ADMITTED:
            existing = _existing_check_in(delegate.id, checkpoint.id)
            result.checked_in_at = existing.checked_in_at if existing else None
    result.freeze()
    return result


def _find_scan(nonce: str) -> Scan | None:
    return db.session.scalar(select(Scan).where(Scan.nonce == nonce))


def _insert_once(table: str, values: dict[str, Any]) -> int | None:
    """INSERT a row unless its unique key is taken; returns the new id, or None if taken.

    The unique constraint decides, never a read: PostgreSQL makes a concurrent INSERT of
    the same key wait for the first transaction and then skip it. One round trip on
    PostgreSQL and SQLite (INSERT … ON CONFLICT (key) DO NOTHING RETURNING id); on other
    databases the INSERT runs in a SAVEPOINT and an IntegrityError means "taken"."""
    if db.session.get_bind().dialect.name in UPSERT_DIALECTS:
        return db.session.execute(_UPSERT[table], values).scalar()
    try:
        with db.session.begin_nested():
            return db.session.execute(_PLAIN[table], values).scalar_one()
    except IntegrityError:
        return None


def check_in(code: str, checkpoint_id: str, nonce: str, *, device: Any | None = None,
             staff: StaffUser | None = None, scanned_at: datetime | None = None) -> ScanResult:
    """Decide one scan and record it (commits). See the module docstring for the rules.

    `device` is the scanner device (anything with `id` and `name`), `staff` the signed-in
    staff member. Raises CheckinError for a request that cannot be decided (unknown
    checkpoint, bad nonce); every decided scan, admitted or refused, returns a ScanResult
    and is stored once."""
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= MAX_NONCE_LENGTH:
        raise CheckinError("invalid_nonce", "nonce must be a string of 8 to 64 characters.")
    if not isinstance(code, str) or len(code) > MAX_CODE_LENGTH:
        raise CheckinError("invalid_code", f"code must be a string of at most "
                                           f"{MAX_CODE_LENGTH} characters.")
    try:
        checkpoint = get_checkpoint(checkpoint_id)
    except CheckinError:
        seen = _find_scan(nonce)  # a replay of a scan made before the checkpoint closed
        if seen is None:
            raise
        return _stored_result(seen)

    now = utcnow()
    offline = scanned_at is not None
    when = min(scanned_at, now) if scanned_at is not None else now
    result = ScanResult(status="invalid", checkpoint_id=checkpoint.id,
                        checkpoint_name=checkpoint.name, scanned_at=when, offline=offline)

    # Verify the signature, then the serial against the delegate loaded once.
    loaded: dict[str, DelegateView | None] = {}

    def current_serial(badge_id: uuid.UUID) -> int | None:
        found = loaded["delegate"] = _delegate_where(
            (_D.c.public_id == badge_id) & (_D.c.edition_id == current_edition_id()))
        return found.badge_serial if found is not None else None

    serial: int | None = None
    try:
        serial = tickets.verify(code, public_keys(), current_serial,
                                edition=current_edition_id(),
                                legacy_edition=first_edition_id()).serial
        delegate = loaded["delegate"]
    except tickets.TicketError as exc:
        delegate = loaded.get("delegate")
        if exc.reason == "revoked":
            result.status = "revoked"
        else:
            result.status, result.reason, delegate = "invalid", exc.reason, None

    if delegate is not None:
        result.delegate, result.has_photo = delegate, delegate.has_photo
        if result.status != "revoked":
            if delegate.status_enum not in ACCREDITED:
                result.status = "not_accredited"
            elif not admits(checkpoint, delegate):
                result.status = "zone_denied"
            else:
                result.status = "checked_in"

    # The scan row is the first write: a nonce seen before (a retry, or a retry racing its
    # original) inserts nothing and gets the answer recorded for it.
    scan_id = _insert_once("scan", {
        "nonce": nonce, "checkpoint_id": checkpoint.id,
        "delegate_id": delegate.id if delegate is not None else None,
        "device_id": device.id if device is not None else None,
        "staff_id": staff.id if staff is not None else None,
        "badge_serial": serial, "result": result.status, "scanned_at": when,
        "received_at": now, "offline": offline, "edition_id": current_edition_id(),
    })
    if scan_id is None:
        seen = _find_scan(nonce)
        if seen is None:  # cannot happen: scans are never deleted
            raise RuntimeError(f"nonce {nonce!r} conflicted but no scan has it")
        return _stored_result(seen)

    if result.status == "checked_in":
        assert delegate is not None
        _admit(result, scan_id, delegate, checkpoint, device=device, staff=staff)
    result.freeze()
    db.session.commit()
    return result


def _admit(result: ScanResult, scan_id: int, delegate: DelegateView, checkpoint: Any, *,
           device: Any | None, staff: StaffUser | None) -> None:
    """The accredited delegate may enter: record the check-in once, or answer "already"."""
    when = result.scanned_at
    gate = {"gate": checkpoint.id, "gate_name": checkpoint.name,
            "device": device.name if device is not None else None, "offline": result.offline}
    admitted = _insert_once("check_in", {"delegate_id": delegate.id,
                                         "checkpoint_id": checkpoint.id, "scan_id": scan_id,
                                         "checked_in_at": when,
                                         "edition_id": current_edition_id()})
    if admitted is not None:
        result.checked_in_at = when
        old = delegate.status_enum
        moved = False
        if old != Status.CHECKED_IN and can_transition(old, Status.CHECKED_IN):
            # The first admission anywhere moves the delegate to checked_in. The status
            # machine decides; the write is a compare-and-set on the status read with the
            # badge, so a desk change made at the same instant (say, a cancellation) is
            # never overwritten by a stale ORM object.
            moved = db.session.execute(_STATUS_CAS, {
                "id": delegate.id, "old": old.value, "new": Status.CHECKED_IN.value,
                "updated_at": utcnow()}).rowcount == 1
            if moved:
                delegate.status = Status.CHECKED_IN.value
        _audit(delegate.id, "checked_in", staff, device, status_from=old.value, moved=moved,
               at=iso(when), **gate)
        return

    first = _existing_check_in(delegate.id, checkpoint.id)
    if first is None:  # cannot happen: check-ins are never deleted
        raise RuntimeError("check-in conflicted but none is recorded")
    if result.offline and when < first.checked_in_at:
        # An offline scan made before the recorded check-in: the earliest wins. (Online
        # scans racing each other never do: the INSERT that won is the check-in.)
        moved = db.session.execute(
            update(CheckIn)
            .where(CheckIn.id == first.id, CheckIn.checked_in_at > when)
            .values(checked_in_at=when, scan_id=scan_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved:
            result.superseded_at = first.checked_in_at
            result.checked_in_at = when
            _audit(delegate.id, "checkin_time_corrected", staff, device, earlier=iso(when),
                   replaced=iso(first.checked_in_at), **gate)
            return
        first = _existing_check_in(delegate.id, checkpoint.id)
        assert first is not None
    result.status = "already_checked_in"
    result.checked_in_at = first.checked_in_at
    db.session.execute(
        update(Scan).where(Scan.id == scan_id).values(result="already_checked_in")
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------------------- snapshot


def snapshot() -> dict[str, Any]:
    """Everything an offline scanner needs to give a provisional answer: every delegate's
    public id, names, category, country, status and current badge serial (no contact data),
    the checkpoints, and the public keys."""
    from .badge_tokens import public_keys_b64

    rows = db.session.execute(
        select(Delegate.public_id, Delegate.badge_name, Delegate.given_name,
               Delegate.family_name, Delegate.native_name, Delegate.honorific,
               Delegate.category, Delegate.country, Delegate.status, Delegate.badge_serial,
               Delegate.details)
        .where(Delegate.status.not_in((Status.SUBMITTED.value,)))
        .order_by(Delegate.id)
    )
    delegates = [
        {
            "public_id": str(r.public_id),
            "name": r.badge_name or " ".join(p for p in (r.given_name, r.family_name) if p),
            "honorific": r.honorific,
            "native_name": r.native_name,
            "category": r.category,
            "country": r.country,
            "status": r.status,
            "badge_serial": r.badge_serial,
            "head_of_delegation": is_head_of_delegation(r.details),
        }
        for r in rows
    ]
    from ..countries import country_name

    return {
        "generated_at": iso(utcnow()),
        "accredited_statuses": list(ACCREDITED_VALUES),
        "category_labels": {key: category_label(key) for key in CATEGORY_KEYS},
        "country_names": {code: country_name(code, current_language()) for code in
                          sorted({d["country"] for d in delegates if d["country"]})},
        "public_keys": public_keys_b64(),
        # Badges carry their edition: another edition's is refused offline too.
        "edition": current_edition_id(), "legacy_edition": first_edition_id(),
        "checkpoints": [checkpoint_json(c) for c in list_checkpoints(active_only=True)],
        "delegates": delegates,
    }


# --------------------------------------------------------------------------- dashboard

BUCKET = timedelta(minutes=10)


def _bucket_start(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return value.replace(minute=value.minute - value.minute % 10, second=0, microsecond=0)


def dashboard(*, now: datetime | None = None, hours: int = 4, last: int = 15) -> dict[str, Any]:
    """Figures for the live dashboard: checked in vs accredited per category and per
    checkpoint, arrivals (first check-in anywhere) per 10 minutes, the last scans."""
    now = now or utcnow()
    accredited = Counter(dict(db.session.execute(
        select(Delegate.category, func.count(Delegate.id))
        .where(Delegate.status.in_(ACCREDITED_VALUES))
        .group_by(Delegate.category)
    ).all()))
    arrivals_q = (
        select(CheckIn.delegate_id, func.min(CheckIn.checked_in_at).label("first"))
        .group_by(CheckIn.delegate_id).subquery()
    )
    arrived = Counter(dict(db.session.execute(
        select(Delegate.category, func.count(arrivals_q.c.delegate_id))
        .join(arrivals_q, arrivals_q.c.delegate_id == Delegate.id)
        .group_by(Delegate.category)
    ).all()))
    categories = [
        {"key": key, "label": category_label(key), "checked_in": arrived.get(key, 0),
         "accredited": accredited.get(key, 0)}
        for key in CATEGORY_KEYS
    ]

    per_checkpoint = dict(db.session.execute(
        select(CheckIn.checkpoint_id, func.count(CheckIn.id)).group_by(CheckIn.checkpoint_id)
    ).all())
    heads_by_category: Counter[str] | None = None
    checkpoints = []
    total_accredited = sum(accredited.values())
    for cp in list_checkpoints():
        if cp.allowed_categories is None:
            eligible = total_accredited
        else:
            eligible = sum(accredited.get(c, 0) for c in cp.allowed_categories)
            if cp.admit_heads_of_delegation:
                if heads_by_category is None:
                    heads_by_category = Counter(
                        category for category, details in db.session.execute(
                            select(Delegate.category, Delegate.details)
                            .where(Delegate.status.in_(ACCREDITED_VALUES))
                        ) if is_head_of_delegation(details)
                    )
                eligible += sum(n for c, n in heads_by_category.items()
                                if c not in cp.allowed_categories)
        checkpoints.append({"id": cp.id, "name": cp.name, "active": cp.active,
                            "checked_in": per_checkpoint.get(cp.id, 0), "eligible": eligible})

    end = _bucket_start(now) + BUCKET
    start = end - timedelta(hours=hours)
    firsts = db.session.scalars(
        select(arrivals_q.c.first).where(arrivals_q.c.first >= start)
    ).all()
    counts: Counter[datetime] = Counter()
    for first in firsts:
        if first.tzinfo is None:  # SQLite returns aggregates without the column type
            first = first.replace(tzinfo=UTC)
        counts[_bucket_start(first)] += 1
    buckets = []
    cursor = start
    while cursor < end:
        buckets.append({"start": iso(cursor), "count": counts.get(cursor, 0)})
        cursor += BUCKET

    scans = db.session.execute(
        select(Scan, Checkpoint.name, Delegate, Device.name, StaffUser.email)
        .join(Checkpoint, Checkpoint.id == Scan.checkpoint_id)
        .outerjoin(Delegate, Delegate.id == Scan.delegate_id)
        .outerjoin(Device, Device.id == Scan.device_id)
        .outerjoin(StaffUser, StaffUser.id == Scan.staff_id)
        .order_by(Scan.id.desc()).limit(last)
    ).all()
    last_scans = [
        {"scanned_at": iso(scan.scanned_at), "checkpoint": scan.checkpoint_id,
         "checkpoint_name": cp_name, "result": scan.result, "offline": scan.offline,
         "name": display_name(d) if d is not None else None,
         "category": d.category if d is not None else None,
         "device": device_name or staff_email}
        for scan, cp_name, d, device_name, staff_email in scans
    ]
    return {
        "generated_at": iso(now),
        "timezone": timezone_name(),
        "totals": {"checked_in": sum(arrived.values()), "accredited": total_accredited},
        "categories": categories,
        "checkpoints": checkpoints,
        "arrivals": {"bucket_minutes": 10, "buckets": buckets},
        "last_scans": last_scans,
    }
