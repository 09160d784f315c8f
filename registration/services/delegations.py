"""Delegations: creating them, their quotas, and what their focal points do — nominate
within the quota, substitute, name the head of delegation, upload the Note Verbale.

Nominations go through registration.register_delegate (the form's rules, one registration
per address) with a `prepare` step that checks the quota in the same transaction (locked on
PostgreSQL) and, for a substitution, cancels the old delegate through the status machine:
the new registration and the cancellation are stored together or not at all.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import func, select, text

from ..countries import COUNTRY_CODES, country_name
from ..extensions import db, real_app
from ..fields import CATEGORIES
from ..i18n import category_label, plain
from ..models import (
    Delegate,
    Delegation,
    DelegationKind,
    FocalPoint,
    StaffUser,
    Status,
    WithdrawalCause,
)
from ..models.delegate import RecordSource
from ..models.status import HOLDS_PLACE
from ..signals import delegate_cancelled
from ..validation import clean_email, email_key
from . import audit
from .checkin import is_head_of_delegation
from .registration import RegistrationRefused, register_delegate
from .visa_letters import withdraw_for_holders

LETTER_MAX_BYTES = 10 * 1024 * 1024


class DelegationError(ValueError):
    """Bad input about a delegation; the message is for the person who typed it."""

    def __init__(self, message: object) -> None:
        self.message = plain(message)
        super().__init__(self.message)


def parse_quotas(value: str) -> dict[str, int]:
    """"government=5,expert=2" → {"government": 5, "expert": 2}. Raises DelegationError."""
    quotas: dict[str, int] = {}
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        key, _sep, number = part.partition("=")
        key = key.strip().lower()
        if key not in CATEGORIES:
            raise DelegationError(_l("Unknown category “%(category)s” in the quota: use "
                                     "%(known)s.", category=key, known=", ".join(CATEGORIES)))
        if not number.strip().isdigit() or int(number) > 10000:
            raise DelegationError(_l("The quota for %(category)s must be a whole number, "
                                     "like %(category)s=5.", category=key))
        quotas[key] = int(number)
    return quotas


def find(name: str) -> Delegation | None:
    wanted = name.strip().casefold()
    return next((d for d in all_delegations() if d.name_en.casefold() == wanted), None)


def get(delegation_id: int) -> Delegation | None:
    return db.session.get(Delegation, delegation_id)


def all_delegations() -> list[Delegation]:
    return list(db.session.scalars(select(Delegation).order_by(Delegation.name_en)))


def focal_points(delegation: Delegation) -> list[FocalPoint]:
    return list(db.session.scalars(select(FocalPoint).where(
        FocalPoint.delegation_id == delegation.id).order_by(FocalPoint.id)))


def add_focal_point(delegation: Delegation, email: str) -> FocalPoint:
    """A new focal point (the caller commits). Raises DelegationError."""
    try:
        clean = clean_email(email)
    except ValueError as exc:
        raise DelegationError(exc.args[0]) from None
    key = email_key(clean)
    if any(fp.email_key == key for fp in focal_points(delegation)):
        raise DelegationError(_l("%(email)s is already a focal point of this delegation.",
                                 email=clean))
    focal = FocalPoint(delegation_id=delegation.id, email=clean, email_key=key)
    db.session.add(focal)
    db.session.flush()
    return focal


def create(name: str, country: str, *, kind: str = "government", focal_emails: list[str],
           quotas: dict[str, int], name_zh: str = "", actor: str = "cli",
           staff: Any = None) -> tuple[Delegation, list[FocalPoint]]:
    """Create a delegation with its focal points (commits; the caller mails the links)."""
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise DelegationError(_l("Give the delegation a name (at most 200 characters)."))
    if find(name) is not None:
        raise DelegationError(_l("There is already a delegation called %(name)s.", name=name))
    code = country.strip().upper()
    if code not in COUNTRY_CODES:
        raise DelegationError(_l("Unknown country or region code “%(code)s”: use a "
                                 "two-letter code like FR.", code=country))
    if kind not in {k.value for k in DelegationKind}:
        raise DelegationError(_l("Unknown kind “%(kind)s”.", kind=kind))
    if not focal_emails:
        raise DelegationError(_l("A delegation needs at least one focal point."))
    delegation = Delegation(name_en=name, name_zh=name_zh.strip(), kind=kind, country=code,
                            quotas=quotas)
    db.session.add(delegation)
    db.session.flush()
    try:
        focals = [add_focal_point(delegation, email) for email in focal_emails]
    except DelegationError:
        db.session.rollback()
        raise
    audit.record(None, "delegation_created", actor=actor, staff=staff, delegation=name,
                 country=code, kind=kind, quotas=quotas,
                 focal_points=[f.email for f in focals])
    db.session.commit()
    return delegation, focals


def set_quotas(delegation: Delegation, quotas: dict[str, int], staff: Any = None) -> None:
    """Change the quotas (commits). Raises DelegationError, nothing changed, for a quota
    below the places already taken (a category left out counts as 0)."""
    _lock(delegation)
    for category, taken in used(delegation).items():
        quota = quotas.get(category, 0)
        if taken > quota:
            db.session.rollback()
            raise DelegationError(lazy_ngettext(
                "The quota for %(category)s cannot be %(quota)d: %(num)d delegate is "
                "nominated. Keep a quota of at least %(num)d, or substitute or cancel "
                "delegates first.",
                "The quota for %(category)s cannot be %(quota)d: %(num)d delegates are "
                "nominated. Keep a quota of at least %(num)d, or substitute or cancel "
                "delegates first.", taken, category=category_label(category), quota=quota))
    before = dict(delegation.quotas or {})
    delegation.quotas = quotas
    audit.record(None, "delegation_quotas", staff=staff, delegation=delegation.name_en,
                 changes={"from": before, "to": quotas})
    db.session.commit()


# --- what a focal point sees ---------------------------------------------------------------

def members(delegation: Delegation) -> list[Delegate]:
    return list(db.session.scalars(select(Delegate).where(
        Delegate.delegation_id == delegation.id).order_by(
        func.lower(Delegate.family_name), Delegate.id)))


def member(delegation: Delegation, public_id: object) -> Delegate | None:
    """One of this delegation's delegates by public id (never another delegation's)."""
    try:
        wanted = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError:
        return None
    return db.session.scalars(select(Delegate).where(
        Delegate.delegation_id == delegation.id, Delegate.public_id == wanted)).first()


def used(delegation: Delegation) -> dict[str, int]:
    rows = db.session.execute(select(Delegate.category, func.count(Delegate.id)).where(
        Delegate.delegation_id == delegation.id,
        Delegate.status.in_([s.value for s in HOLDS_PLACE])).group_by(Delegate.category))
    return {str(category): int(count) for category, count in rows.tuples()}


@dataclass
class QuotaLine:
    category: str
    label: str
    quota: int
    used: int

    @property
    def left(self) -> int:
        return max(self.quota - self.used, 0)


def quota_lines(delegation: Delegation) -> list[QuotaLine]:
    taken = used(delegation)
    keys = [k for k in CATEGORIES if k in (delegation.quotas or {}) or k in taken]
    return [QuotaLine(k, category_label(k), int((delegation.quotas or {}).get(k, 0)),
                      taken.get(k, 0)) for k in keys]


# --- nominating and substituting -----------------------------------------------------------

def _lock(delegation: Delegation) -> None:
    """Serialise quota and head decisions of one delegation until the transaction ends, and
    read its head again: another request may have named one while this one waited."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                           {"k": f"quota:{delegation.id}"})
    db.session.flush()  # this transaction's own changes first
    db.session.refresh(delegation, ["head_delegate_id"])


def enter(delegation_id: int, delegate: Delegate) -> None:
    """A new delegate takes a place of the delegation, within its quota: the `prepare` step
    (registration.register_delegate) of a nomination and of a registration through an
    invitation into a delegation. Raises RegistrationRefused("quota") with the numbers."""
    delegation = db.session.get(Delegation, delegation_id)
    if delegation is None:
        raise RegistrationRefused("quota", plain(_l("This delegation no longer exists.")))
    delegate.delegation_id = delegation.id
    _check_quota(delegation, delegate.category)


def _check_quota(delegation: Delegation, category: str) -> None:
    _lock(delegation)
    quota = int((delegation.quotas or {}).get(category, 0))
    taken = used(delegation).get(category, 0)
    if taken >= quota:
        raise RegistrationRefused("quota", plain(_l(
            "The quota for %(category)s is %(quota)d and %(used)d are nominated: none left. "
            "Substitute a delegate, or ask the organisers for a larger quota.",
            category=category_label(category), quota=quota, used=taken)))


def nominate(delegation: Delegation, by: FocalPoint | StaffUser, clean: dict[str, Any], *,
             own_email: bool, locale: str = "en",
             replaces: Delegate | None = None) -> Delegate:
    """Register a nominee of `delegation` (commits), `by` one of its focal points or the desk;
    with `replaces`, a substitution: the old delegate is cancelled in the same transaction
    (its badge serial bumped, so the printed badge is refused at the door; its visa letter
    withdrawn) and the audit links both. Raises RegistrationRefused ("quota" with a
    message, "duplicate_email", …)."""
    staff = by if isinstance(by, StaffUser) else None
    actor = audit.actor_label(staff) if staff is not None else f"focal:{by.email}"
    was_head = replaces is not None and delegation.head_delegate_id == replaces.id

    wants_head = is_head_of_delegation(clean.get("details"))

    def prepare(delegate: Delegate) -> None:
        if replaces is not None:
            if replaces.delegation_id != delegation.id or replaces.status == \
                    Status.CANCELLED.value:
                raise RegistrationRefused("quota", plain(_l(
                    "This delegate cannot be substituted.")))
            old = replaces.move_to(Status.CANCELLED)
            replaces.badge_serial += 1  # the printed badge is revoked, online and offline
            change: dict[str, Any] = {"from": old.value, "to": Status.CANCELLED.value,
                                      "substituted_by": delegate.reference}
            audit.record(replaces, "status", actor=actor, staff=staff, **change)
            withdraw_for_holders([replaces.id], WithdrawalCause.SUBSTITUTED, staff=staff)
            if was_head:
                _drop_head(delegation)
            db.session.flush()
        enter(delegation.id, delegate)
        if wants_head:  # the one-head rule of set_head, under the quota's lock
            try:
                _refuse_second_head(delegation, None)
            except DelegationError as exc:
                raise RegistrationRefused("head", exc.message) from None

    delegate = register_delegate(clean, source=RecordSource.NOMINATION, locale=locale,
                                 enforce_limits=False, prepare=prepare, own_email=own_email)
    details: dict[str, Any] = {"delegation": delegation.name_en}
    if replaces is not None:
        details["substitutes"] = replaces.reference
    audit.record(delegate, "nominated", actor=actor, staff=staff, **details)
    if replaces is not None:
        delegate_cancelled.send(real_app(), delegate=replaces)
    if was_head or wants_head:
        # Checked in `prepare` already; again under the lock, as another head may have been
        # named since that transaction ended.
        _settle_head(delegation, delegate, actor, staff)
    db.session.commit()
    return delegate


def _settle_head(delegation: Delegation, delegate: Delegate, actor: str,
                 staff: StaffUser | None = None) -> bool:
    """The one-head rule for a delegate asking to be head, under the delegation's lock: they
    become head unless another delegate is; then their tick is dropped, audited (the caller
    commits). True when they are the head."""
    _lock(delegation)
    if delegation.head_delegate_id == delegate.id:
        return True
    if delegation.head_delegate_id is None:
        _make_head(delegation, delegate, actor, staff)
        return True
    current = head_of(delegation)
    delegate.details = {k: v for k, v in (delegate.details or {}).items()
                        if k != "head_of_delegation"}
    audit.record(delegate, "head_of_delegation_refused", actor=actor, staff=staff,
                 delegation=delegation.name_en, head=current.reference if current else "")
    return False


def settle_head_on_approval(delegate: Delegate, staff: StaffUser | None) -> None:
    """Accrediting a delegation's member who ticked "head of delegation" themselves (a
    registration through an invitation, reviewed by the desk) applies the one-head rule."""
    if delegate.delegation_id is None or not (delegate.details or {}).get(
            "head_of_delegation"):
        return
    delegation = db.session.get(Delegation, delegate.delegation_id)
    if delegation is not None:
        _settle_head(delegation, delegate, audit.actor_label(staff), staff)


def _make_head(delegation: Delegation, delegate: Delegate, actor: str,
               staff: StaffUser | None = None) -> None:
    delegation.head_delegate_id = delegate.id
    delegate.details = {**(delegate.details or {}), "head_of_delegation": True}
    audit.record(delegate, "head_of_delegation", actor=actor, staff=staff,
                 delegation=delegation.name_en)


def set_head(delegation: Delegation, delegate: Delegate | None, actor: str,
             staff: StaffUser | None = None) -> None:
    """Name the head of delegation, or none (commits): a focal point's or the desk's
    decision (`staff`). Raises DelegationError for a second head (remove the first one
    before naming another) or a stranger."""
    _lock(delegation)
    if delegate is None:
        current = _drop_head(delegation)
        if current is not None:
            audit.record(current, "head_of_delegation_removed", actor=actor, staff=staff)
        db.session.commit()
        return
    if delegate.delegation_id != delegation.id or delegate.status == Status.CANCELLED.value:
        raise DelegationError(_l("Only an active delegate of this delegation can be its head."))
    _refuse_second_head(delegation, delegate.id)
    _make_head(delegation, delegate, actor, staff)
    db.session.commit()


def apply_head_edit(delegate: Delegate, wants_head: bool, staff: StaffUser | None) -> None:
    """The desk's edit form ticking or clearing "head of delegation" for a delegation's
    member (often applying the delegate's own request): the one-head rule and the record of
    set_head (the caller commits). Raises DelegationError for a second head."""
    delegation = (db.session.get(Delegation, delegate.delegation_id)
                  if delegate.delegation_id is not None else None)
    if delegation is None:
        return
    actor = audit.actor_label(staff)
    _lock(delegation)
    if wants_head:
        _refuse_second_head(delegation, delegate.id)
        if delegation.head_delegate_id != delegate.id:
            _make_head(delegation, delegate, actor, staff)
    elif delegation.head_delegate_id == delegate.id:
        _drop_head(delegation)
        audit.record(delegate, "head_of_delegation_removed", actor=actor, staff=staff)


def release_head(delegate: Delegate, actor: str, staff: StaffUser | None = None) -> None:
    """A delegate leaving (cancelled, rejected) is no longer the head: the delegation has
    none until a focal point or the desk names one (the caller commits)."""
    delegation = (db.session.get(Delegation, delegate.delegation_id)
                  if delegate.delegation_id is not None else None)
    if delegation is None or delegation.head_delegate_id != delegate.id:
        return
    _drop_head(delegation)
    audit.record(delegate, "head_of_delegation_removed", actor=actor, staff=staff,
                 why=delegate.status)


def _refuse_second_head(delegation: Delegation, candidate_id: int | None) -> None:
    """The one-head rule: DelegationError when the delegation has a head other than
    `candidate_id` (None: a delegate not stored yet)."""
    if delegation.head_delegate_id not in (None, candidate_id):
        current = head_of(delegation)
        raise DelegationError(_l("%(delegation)s already has a head of delegation: "
                                 "%(name)s. Remove the current head first.",
                                 delegation=delegation.name_en,
                                 name=current.full_name if current else "?"))


def _drop_head(delegation: Delegation) -> Delegate | None:
    """The delegation has no head any more; the former one (returned) loses the flag that
    heads-only checkpoints read (the caller audits and commits)."""
    current = head_of(delegation)
    if current is not None:
        current.details = {k: v for k, v in (current.details or {}).items()
                           if k != "head_of_delegation"}
    delegation.head_delegate_id = None
    return current


def delegation_label(delegate: Any, lang: str = "en") -> str | None:
    """The delegation's name where it says more than the delegate's country (an
    international organisation, or a delegation named otherwise); else None. `delegate`:
    a Delegate or the door's DelegateView."""
    if delegate.delegation_id is None:
        return None
    delegation = db.session.get(Delegation, delegate.delegation_id)
    if delegation is None:
        return None
    name = delegation.name(lang)
    same = {country_name(delegate.country, "en").casefold(),
            country_name(delegate.country, "zh").casefold()} if delegate.country else set()
    return None if name.casefold() in same else name


def head_of(delegation: Delegation) -> Delegate | None:
    return db.session.get(Delegate, delegation.head_delegate_id) \
        if delegation.head_delegate_id else None


def store_letter(delegation: Delegation, data: bytes, filename: str, actor: str) -> None:
    """Keep the Note Verbale / nomination letter (commits). Raises DelegationError unless
    it is a PDF that opens, at most 10 MB."""
    if not data:
        raise DelegationError(_l("The file is empty. Choose the letter as a PDF."))
    if len(data) > LETTER_MAX_BYTES:
        raise DelegationError(_l("The letter is larger than %(mb)d MB. Send a smaller PDF.",
                                 mb=LETTER_MAX_BYTES // (1024 * 1024)))
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(io.BytesIO(data))
        pages = len(document)
        document.close()
    except (pdfium.PdfiumError, ValueError, OSError):
        pages = 0
    if not data.startswith(b"%PDF") or pages < 1:
        raise DelegationError(_l("This file is not a PDF that can be opened. Send the "
                                 "letter as a PDF file."))
    name = (filename or "letter.pdf").replace("\\", "/").rsplit("/", 1)[-1][:200]
    delegation.letter, delegation.letter_name = data, name
    delegation.letter_size, delegation.letter_uploaded_at = len(data), datetime.now(UTC)
    audit.record(None, "delegation_letter", actor=actor, delegation=delegation.name_en,
                 file=name, size=len(data), pages=pages)
    db.session.commit()
