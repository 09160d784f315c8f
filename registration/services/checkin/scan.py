"""Deciding one scan at a door and recording it; its outcome is a `ScanOutcome`
(models/checkin.py).

Rules, as implemented by :func:`check_in`:

* **Idempotency.** Each scan carries a client-made nonce (unique column on `scan`). The scan
  row is the first thing written: a nonce seen before (a retry after a timeout, an offline
  sync sent twice, or a retry racing its original) inserts nothing and is answered with the
  result recorded for it; nothing else is written. The replay is bound to the original:
  same checkpoint, same caller (device or staff member) and a code for the same badge and
  serial; anything else reusing the nonce is refused with `nonce_reused` (HTTP 409), so a
  nonce cannot be used to read another scan's answer.
* **Exactly once per checkpoint.** Admission is an INSERT into `check_in`, whose
  UNIQUE(delegate_id, checkpoint_id) decides: an INSERT that hits the key means the
  delegate is already checked in there. There is no read-then-write.
* Both INSERTs are `INSERT … ON CONFLICT (key) DO NOTHING RETURNING id` on PostgreSQL and
  SQLite: one round trip, and PostgreSQL makes a racing INSERT wait for the first
  transaction's outcome. (A SAVEPOINT + INSERT + IntegrityError does the same in three
  round trips, and is the fallback for other databases; bench/checkin.py measured the
  difference.)
* **Every scan is kept** as a `scan` row (time, checkpoint, device or staff, result, method),
  refused ones too (`invalid`, `revoked`, `not_accredited`, `zone_denied`, `refused`).
* **Typed reference codes** (`GPS-Y8ZG-CY7J`, any case, with or without separators) are
  printed on the badge, so anyone who has seen one can type it: it never admits on its own.
  Without `identity_confirmed` the answer is `confirm_identity` with the delegate (photo,
  names) and nothing is written; staff compare the person with it and send the scan again
  (a new nonce) with `identity_confirmed` true (decided as a QR scan would be, recorded with
  method `manual`) or false (recorded as `refused`). An unknown reference is `invalid`
  (reason `unknown_reference`).
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
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, CursorResult, Result, bindparam, select, text, update
from sqlalchemy.exc import IntegrityError

from ... import badge_token
from ...editions import current_edition_id, first_edition_id
from ...extensions import db
from ...models import CheckIn, Delegate, Scan, StaffUser, Status
from ...models.checkin import ADMITTED, ScanMethod, ScanOutcome
from ...models.status import can_transition
from ...models.types import UTCDateTime, utcnow
from ...text import parse_reference
from .. import audit
from ..admission import REASON_VETTING, refusal_for
from ..badge_signing import public_keys
from . import CheckinError, iso
from .checkpoints import admits, find_checkpoint, get_checkpoint
from .records import (
    D,
    DelegateView,
    ScanResult,
    delegate_where,
    existing_check_in,
)

MAX_NONCE_LENGTH = 64
# Databases where `_insert_once` uses ON CONFLICT DO NOTHING (tests empty it to exercise the
# SAVEPOINT fallback).
UPSERT_DIALECTS: tuple[str, ...] = ("postgresql", "sqlite")
MAX_CODE_LENGTH = 512


# --------------------------------------------------------------------------- scanning
#
# The scan path runs at every door for every badge, so it avoids ORM entity loading: the
# reads are Core selects of the columns it needs, the two decisive INSERTs are prepared
# text statements (the same SQL on PostgreSQL and SQLite). bench/checkin.py measured ORM
# loads, ORM-enabled INSERTs and unit-of-work flushes at 3-4 times the CPU of these (about
# half of each scan's time). The audit row has the shape `audit.record` gives it.

_INSERT_SCAN = (
    "INSERT INTO scan (nonce, checkpoint_id, delegate_id, device_id, staff_id, badge_serial, "
    "result, scanned_at, received_at, offline, method, edition_id) VALUES (:nonce, "
    ":checkpoint_id, :delegate_id, :device_id, :staff_id, :badge_serial, :result, :scanned_at, "
    ":received_at, :offline, :method, :edition_id)"
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
    names = set(statement._bindparams)
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


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (Session.execute is typed as returning any Result)."""
    return cast("CursorResult[Any]", result).rowcount


def _stored_result(scan: Scan) -> ScanResult:
    """Rebuild the answer given for an already recorded scan (a replayed nonce)."""
    checkpoint = find_checkpoint(scan.checkpoint_id)
    if checkpoint is None:  # the foreign key makes this impossible
        raise LookupError(f"scan {scan.id} refers to a missing checkpoint")
    delegate = delegate_where(D.c.id == scan.delegate_id) if scan.delegate_id else None
    result = ScanResult(status=ScanOutcome(scan.result), checkpoint_id=checkpoint.id,
                        checkpoint_name=checkpoint.name, scanned_at=scan.scanned_at,
                        delegate=delegate, offline=scan.offline, replayed=True,
                        method=ScanMethod(scan.method))
    if delegate is not None:
        result.has_photo = delegate.has_photo
        if scan.result in ADMITTED:
            existing = existing_check_in(delegate.id, checkpoint.id)
            result.checked_in_at = existing.checked_in_at if existing else None
    return result


def _find_scan(nonce: str) -> Scan | None:
    return db.session.scalar(select(Scan).where(Scan.nonce == nonce))


def _claim(code: str) -> tuple[int | None, int | None]:
    """(delegate id, serial) a code is genuinely signed for, whether or not it is still
    current; (None, None) for a code that is not ours. A typed reference code names its
    delegate and no serial."""
    if not code.strip().upper().startswith(badge_token.PREFIX):
        reference = parse_reference(code)
        if reference is not None:
            return db.session.scalar(select(Delegate.id)
                                     .where(Delegate.reference == reference)), None
    try:
        token = badge_token.verify(code, public_keys())
    except badge_token.BadgeTokenError:
        return None, None
    delegate_id = db.session.scalar(select(Delegate.id)
                                    .where(Delegate.public_id == token.badge_id))
    return delegate_id, token.serial if delegate_id is not None else None


def _replay(seen: Scan, code: str, checkpoint_id: str, device: Any | None,
            staff: StaffUser | None) -> ScanResult:
    """The stored answer for a re-sent scan, if it is the same scan; else nonce_reused."""
    delegate_id, serial = _claim(code)
    same = (seen.checkpoint_id == checkpoint_id
            and seen.device_id == (device.id if device is not None else None)
            and seen.staff_id == (staff.id if staff is not None else None)
            and seen.delegate_id == delegate_id
            and (seen.badge_serial is None or seen.badge_serial == serial))
    if not same:
        raise CheckinError("nonce_reused", "This nonce was used for another scan (another "
                                           "code, checkpoint or caller): make a new nonce "
                                           "for every scan.")
    return _stored_result(seen)


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


def _by_token(code: str, result: ScanResult) -> tuple[DelegateView | None, int | None]:
    """The delegate and serial of a QR token, or the refusal in `result` (invalid, revoked).
    The signature is verified, then the serial against the delegate loaded once."""
    loaded: dict[str, DelegateView | None] = {}

    def current_serial(badge_id: uuid.UUID) -> int | None:
        found = loaded["delegate"] = delegate_where(
            (D.c.public_id == badge_id) & (D.c.edition_id == current_edition_id()))
        return found.badge_serial if found is not None else None

    try:
        serial = badge_token.verify(code, public_keys(), current_serial,
                                    edition=current_edition_id(),
                                    legacy_edition=first_edition_id()).serial
    except badge_token.BadgeTokenError as exc:
        if exc.reason == "revoked":
            result.status = ScanOutcome.REVOKED
            return loaded.get("delegate"), None
        result.status, result.reason = ScanOutcome.INVALID, exc.reason
        return None, None
    return loaded["delegate"], serial


def _by_reference(reference: str, identity_confirmed: bool | None, result: ScanResult
                  ) -> DelegateView | None:
    """The delegate of a typed reference code; `result` says what staff must do or did."""
    result.method = ScanMethod.MANUAL
    delegate = delegate_where((D.c.reference == reference)
                               & (D.c.edition_id == current_edition_id()))
    if delegate is None:
        result.status, result.reason = ScanOutcome.INVALID, "unknown_reference"
    elif identity_confirmed is None:
        result.status = ScanOutcome.CONFIRM_IDENTITY
    elif not identity_confirmed:
        result.status = ScanOutcome.REFUSED
    return delegate


def check_in(code: str, checkpoint_id: str, nonce: str, *, device: Any | None = None,
             staff: StaffUser | None = None, scanned_at: datetime | None = None,
             identity_confirmed: bool | None = None) -> ScanResult:
    """Decide one scan and record it (commits). See the module docstring for the rules.

    `device` is the scanner device (anything with `id` and `name`), `staff` the signed-in
    staff member. `identity_confirmed` only matters for a typed reference code. Raises
    CheckinError for a request that cannot be decided (unknown checkpoint, bad nonce);
    every decided scan, admitted or refused, returns a ScanResult and is stored once (a
    `confirm_identity` question is answered and not stored)."""
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
        return _replay(seen, code, checkpoint_id, device, staff)

    now = utcnow()
    offline = scanned_at is not None
    when = min(scanned_at, now) if scanned_at is not None else now
    # INVALID until a delegate is found; then the delegate's standing decides unless the
    # finder already did (revoked, refused, confirm_identity).
    result = ScanResult(status=ScanOutcome.INVALID, checkpoint_id=checkpoint.id,
                        checkpoint_name=checkpoint.name, scanned_at=when, offline=offline)
    # What starts like a QR token is one (a malformed one is "invalid", never a reference).
    is_token = code.strip().upper().startswith(badge_token.PREFIX)
    reference = None if is_token else parse_reference(code)
    delegate, serial = (_by_token(code, result) if reference is None
                        else (_by_reference(reference, identity_confirmed, result), None))

    if delegate is not None:
        result.delegate, result.has_photo = delegate, delegate.has_photo
        if result.status == ScanOutcome.CONFIRM_IDENTITY:
            return result  # a question to the door: nothing is decided or written
        if result.status == ScanOutcome.INVALID:
            refused = refusal_for(delegate)  # services/admission.py: status and vetting
            if refused is not None:
                result.status = ScanOutcome.NOT_ACCREDITED
                result.reason = REASON_VETTING if refused == REASON_VETTING else None
            elif not admits(checkpoint, delegate):
                result.status = ScanOutcome.ZONE_DENIED
            else:
                result.status = ScanOutcome.CHECKED_IN

    # The scan row is the first write: a nonce seen before (a retry, or a retry racing its
    # original) inserts nothing and gets the answer recorded for it.
    scan_id = _insert_once("scan", {
        "nonce": nonce, "checkpoint_id": checkpoint.id,
        "delegate_id": delegate.id if delegate is not None else None,
        "device_id": device.id if device is not None else None,
        "staff_id": staff.id if staff is not None else None,
        "badge_serial": serial, "result": result.status.value, "scanned_at": when,
        "received_at": now, "offline": offline, "method": result.method.value,
        "edition_id": current_edition_id(),
    })
    if scan_id is None:
        seen = _find_scan(nonce)
        if seen is None:  # cannot happen: scans are never deleted
            raise RuntimeError(f"nonce {nonce!r} conflicted but no scan has it")
        return _replay(seen, code, checkpoint.id, device, staff)

    if result.status == ScanOutcome.CHECKED_IN:
        if delegate is None:
            raise LookupError("an admission without a delegate")
        _admit(result, scan_id, delegate, checkpoint, device=device, staff=staff)
    elif result.status == ScanOutcome.REFUSED and delegate is not None:
        _audit(delegate.id, "checkin_refused", staff, device, at=iso(when),
               gate=checkpoint.id, gate_name=checkpoint.name, method=result.method.value,
               device=device.name if device is not None else None, offline=offline)
    db.session.commit()
    return result


def _admit(result: ScanResult, scan_id: int, delegate: DelegateView, checkpoint: Any, *,
           device: Any | None, staff: StaffUser | None) -> None:
    """The accredited delegate may enter: record the check-in once, or answer "already"."""
    when = result.scanned_at
    gate = {"gate": checkpoint.id, "gate_name": checkpoint.name,
            "device": device.name if device is not None else None, "offline": result.offline,
            "method": result.method.value}
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
            moved = _rowcount(db.session.execute(_STATUS_CAS, {
                "id": delegate.id, "old": old.value, "new": Status.CHECKED_IN.value,
                "updated_at": utcnow()})) == 1
            if moved:
                delegate.status = Status.CHECKED_IN.value
        _audit(delegate.id, "checked_in", staff, device, status_from=old.value, moved=moved,
               at=iso(when), **gate)
        return

    first = existing_check_in(delegate.id, checkpoint.id)
    if first is None:  # cannot happen: check-ins are never deleted
        raise RuntimeError("check-in conflicted but none is recorded")
    if result.offline and when < first.checked_in_at:
        # An offline scan made before the recorded check-in: the earliest wins. (Online
        # scans racing each other never do: the INSERT that won is the check-in.)
        corrected = _rowcount(db.session.execute(
            update(CheckIn)
            .where(CheckIn.id == first.id, CheckIn.checked_in_at > when)
            .values(checked_in_at=when, scan_id=scan_id)
            .execution_options(synchronize_session=False)
        ))
        if corrected:
            result.superseded_at = first.checked_in_at
            result.checked_in_at = when
            _audit(delegate.id, "checkin_time_corrected", staff, device, earlier=iso(when),
                   replaced=iso(first.checked_in_at), **gate)
            return
        first = existing_check_in(delegate.id, checkpoint.id)
        if first is None:
            raise LookupError("the check-in that made this one a duplicate is gone")
    result.status = ScanOutcome.ALREADY_CHECKED_IN
    result.checked_in_at = first.checked_in_at
    db.session.execute(
        update(Scan).where(Scan.id == scan_id).values(result=ScanOutcome.ALREADY_CHECKED_IN.value)
        .execution_options(synchronize_session=False)
    )
