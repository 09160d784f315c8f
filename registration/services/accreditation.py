"""Accreditation decisions by the desk: approve, reject (with a reason), one or many, and
walk-in registration. Every change goes through the status machine, is audited, sends its
domain signal inside the transaction and is committed here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db, real_app
from ..models import (
    AuditEntry,
    Delegate,
    DelegatePhoto,
    Edition,
    InvalidTransition,
    StaffUser,
    Status,
    WithdrawalCause,
)
from ..models.delegate import RecordSource
from ..models.status import can_transition
from ..signals import delegate_approved, delegate_rejected
from . import audit
from .audit_text import actor_text, describe
from .registration import register_delegate
from .visa_letters import withdraw_for_holders

MAX_REASON_LENGTH = 500
MAX_BULK = 1000


class ReasonRequired(ValueError):
    """A rejection needs a reason the delegate can be told."""


def clean_reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ReasonRequired("Give a reason for the rejection.")
    if len(reason) > MAX_REASON_LENGTH:
        raise ReasonRequired(f"Keep the reason under {MAX_REASON_LENGTH} characters.")
    return reason


class PhotoRequired(Exception):
    """The edition requires a photo for accreditation and the delegate has none yet."""


def photo_required(edition_id: int | None) -> bool:
    """Whether accreditation in the edition waits for a photo (Edition.photo_required)."""
    edition = db.session.get(Edition, edition_id) if edition_id is not None else None
    return edition is not None and bool(edition.photo_required)


def photo_missing(delegate: Delegate) -> bool:
    """The one rule for photo-required accreditation: approval waits for a photo when the
    delegate's edition requires one (photo_required) and none is stored."""
    if not photo_required(delegate.edition_id):
        return False
    if "photo" in delegate.__dict__:  # already loaded (or just set in this session)
        return delegate.photo is None
    return db.session.scalar(select(DelegatePhoto.delegate_id)
                             .where(DelegatePhoto.delegate_id == delegate.id)) is None


def _lock(delegate: Delegate) -> None:
    """Re-read the row (locked on PostgreSQL) so two desks cannot decide on stale data."""
    db.session.refresh(delegate, with_for_update=True)


def _approve(delegate: Delegate, staff: StaffUser | None) -> None:
    if can_transition(delegate.status, Status.APPROVED) and photo_missing(delegate):
        raise PhotoRequired(delegate.reference)
    from .delegations import settle_head_on_approval

    old = delegate.move_to(Status.APPROVED)
    audit.record(delegate, "status", staff=staff, **{"from": old.value, "to": delegate.status})
    settle_head_on_approval(delegate, staff)
    delegate_approved.send(real_app(), delegate=delegate)


def _reject(delegate: Delegate, staff: StaffUser | None, reason: str) -> None:
    from .delegations import release_head

    old = delegate.move_to(Status.REJECTED)
    audit.record(delegate, "status", staff=staff,
                 **{"from": old.value, "to": delegate.status, "reason": reason})
    release_head(delegate, audit.actor_label(staff), staff)
    withdraw_for_holders([delegate.id], WithdrawalCause.NOT_ACCREDITED, staff=staff)
    delegate_rejected.send(real_app(), delegate=delegate, reason=reason)


def approve_in_transaction(delegate: Delegate, staff: StaffUser | None) -> bool:
    """Accredit a delegate created in the caller's transaction (the caller commits).
    False when approval waits for a photo (photo_missing): the delegate stays submitted."""
    if photo_missing(delegate):
        return False
    _approve(delegate, staff)
    return True


def approve(delegate: Delegate, staff: StaffUser | None) -> Delegate:
    """Accredit one delegate. Raises InvalidTransition or PhotoRequired (nothing is changed
    then)."""
    _lock(delegate)
    try:
        _approve(delegate, staff)
    except (InvalidTransition, PhotoRequired):
        db.session.rollback()
        raise
    db.session.commit()
    return delegate


def reject(delegate: Delegate, staff: StaffUser | None, reason: str) -> Delegate:
    """Refuse accreditation with a reason. Raises ReasonRequired or InvalidTransition."""
    reason = clean_reason(reason)
    _lock(delegate)
    try:
        _reject(delegate, staff, reason)
    except InvalidTransition:
        db.session.rollback()
        raise
    db.session.commit()
    return delegate


@dataclass
class BulkResult:
    done: list[Delegate] = field(default_factory=list)
    # Delegates left as they were, with their status at the time.
    skipped: list[Delegate] = field(default_factory=list)
    # Approval left waiting for a photo (photo_missing); not in `skipped`.
    no_photo: list[Delegate] = field(default_factory=list)


def _load_many(ids: Iterable[int]) -> list[Delegate]:
    wanted = list(dict.fromkeys(int(i) for i in ids))[:MAX_BULK]
    if not wanted:
        return []
    stmt = select(Delegate).where(Delegate.id.in_(wanted)).order_by(Delegate.id)
    return list(db.session.scalars(stmt.with_for_update()))


def approve_many(ids: Iterable[int], staff: StaffUser | None) -> BulkResult:
    """Approve every delegate that may be approved; the others are skipped. One commit."""
    result = BulkResult()
    for delegate in _load_many(ids):
        if can_transition(delegate.status, Status.APPROVED) and photo_missing(delegate):
            result.no_photo.append(delegate)
        elif can_transition(delegate.status, Status.APPROVED):
            _approve(delegate, staff)
            result.done.append(delegate)
        else:
            result.skipped.append(delegate)
    db.session.commit()
    return result


def reject_many(ids: Iterable[int], staff: StaffUser | None, reason: str) -> BulkResult:
    """Reject every delegate that may be rejected, with one reason. One commit."""
    reason = clean_reason(reason)
    result = BulkResult()
    for delegate in _load_many(ids):
        if can_transition(delegate.status, Status.REJECTED):
            _reject(delegate, staff, reason)
            result.done.append(delegate)
        else:
            result.skipped.append(delegate)
    db.session.commit()
    return result


def ids_for_public_ids(public_ids: Iterable[str | uuid.UUID]) -> list[int]:
    """Integer ids for the public ids the desk's pages send (malformed ones are ignored)."""
    uuids: list[uuid.UUID] = []
    for value in public_ids:
        try:
            uuids.append(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError:
            continue
    if not uuids:
        return []
    return list(db.session.scalars(
        select(Delegate.id).where(Delegate.public_id.in_(uuids[:MAX_BULK]))
    ))


def register_walk_in(clean: dict[str, Any], staff: StaffUser, locale: str = "en") -> Delegate:
    """A delegate registered at the desk (consent confirmed there) and approved at once,
    unless approval waits for a photo (photo_missing): then the delegate stays submitted.

    Raises registration.RegistrationRefused ("duplicate_email"); limits do not apply."""
    delegate = register_delegate(clean, source=RecordSource.WALK_IN, locale=locale, staff=staff,
                                 consent=True, enforce_limits=False)
    if photo_missing(delegate):
        return delegate
    return approve(delegate, staff)


# --- reading the trail ----------------------------------------------------------------------

def allowed_actions(delegate: Delegate) -> dict[str, bool]:
    """Which accreditation buttons the record shows; `photo_missing`: approval waits for a
    photo (the page says so instead of offering "Approve")."""
    approvable = can_transition(delegate.status, Status.APPROVED)
    waits = approvable and photo_missing(delegate)
    return {
        "approve": approvable and not waits,
        "reject": can_transition(delegate.status, Status.REJECTED),
        "photo_missing": waits,
    }


@dataclass
class TrailItem:
    at: datetime
    actor: str
    action: str
    lines: list[str]
    details: dict[str, Any]


def audit_trail(delegate: Delegate) -> list[TrailItem]:
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.delegate_id == delegate.id)
        .order_by(AuditEntry.created_at, AuditEntry.id)
    )
    return [TrailItem(at=e.created_at, actor=actor_text(e.actor), action=e.action,
                      lines=describe(e), details=dict(e.details or {})) for e in entries]


def status_history(trail: list[TrailItem], delegate: Delegate | None = None,
                   ) -> list[tuple[datetime, str, str, str]]:
    """(when, status, who, reason) for every status the delegate has been in. Without a
    "registered"/"imported" entry the record's creation time stands for "submitted"."""
    statuses = {s.value for s in Status}
    history: list[tuple[datetime, str, str, str]] = []
    if delegate is not None and not any(i.action in ("registered", "imported") for i in trail):
        history.append((delegate.created_at, Status.SUBMITTED.value, "", ""))
    for item in trail:
        d = item.details
        if item.action in ("registered", "imported"):
            new = Status.SUBMITTED.value
        elif d.get("to") in statuses:
            new = d["to"]
        elif d.get("status_to") in statuses:  # printing
            new = d["status_to"]
        elif item.action == "checked_in":
            new = Status.CHECKED_IN.value
        else:
            continue
        if history and history[-1][1] == new:
            continue  # a reprint or a second gate: no change of status
        history.append((item.at, new, item.actor, str(d.get("reason") or "")))
    return history
