"""Identity data of delegates: saving it (and what that does to the vetting status), showing
it masked, and purging it after the forum (retention).

`save_identity` is the one way identity values reach a delegate — the registration form,
walk-ins, nominations, imports, the manage page and the desk's edit page all end here — so
the `incomplete` ↔ `pending` rule lives in one place (`refresh_vetting`):

- identity data required for the delegate's category but not complete: `incomplete`
  (nothing to vet yet);
- completed (or no longer required): back to `pending`;
- a `cleared` delegate whose identity data change goes back to `pending`: the clearance was
  for the other document.

Audit entries name the fields that changed, never their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import selectinload

from ..countries import country_name
from ..editions import ALL_EDITIONS, edition_scope
from ..extensions import db
from ..fields import IDENTITY_FIELDS
from ..identity_rules import MASK, SECRET_FIELDS, identity_asked
from ..models import Delegate, DelegateIdentity, Edition, StaffUser
from ..models.identity import DocumentType
from ..models.status import VettingStatus
from ..models.types import utcnow
from . import audit


def mask(value: str | None) -> str:
    """A secret shown to staff who may not read it: only its last 3 characters."""
    if not value:
        return ""
    return MASK + (value[-3:] if len(value) > 3 else "")


def refresh_vetting(delegate: Delegate, *, changed: bool = False, actor: str = "system",
                    staff: StaffUser | None = None, edition: Edition | None = None) -> str:
    """Set the vetting status that the identity data imply (module docstring); returns it.
    Audited when it changes on a stored delegate."""
    current = delegate.vetting_status or VettingStatus.PENDING.value
    required = identity_asked(delegate.category, edition)
    complete = delegate.identity is not None and delegate.identity.is_complete
    new = current
    if required and not complete and current == VettingStatus.PENDING:
        new = VettingStatus.INCOMPLETE.value
    elif (current == VettingStatus.INCOMPLETE and (complete or not required)) or \
            (changed and current == VettingStatus.CLEARED):
        new = VettingStatus.PENDING.value
    delegate.vetting_status = new
    if new != current and delegate.id is not None:
        audit.record(delegate, "vetting", actor=actor, staff=staff, via="identity",
                     **{"from": current, "to": new})
    return new


def save_identity(delegate: Delegate, values: Mapping[str, Any] | None, *,
                  actor: str = "system", staff: StaffUser | None = None) -> list[str]:
    """Store identity values cleaned by identity_rules.clean_identity (empty values keep
    what is stored) and refresh the vetting status. The caller commits. Returns the names
    of the fields that changed (audited on a stored delegate)."""
    given = {name: str(value) for name, value in (values or {}).items()
             if name in IDENTITY_FIELDS and value}
    identity = delegate.identity
    changed: list[str] = []
    if given and identity is None:
        identity = DelegateIdentity()
        delegate.identity = identity
    for name in IDENTITY_FIELDS:
        if name in given and identity is not None and getattr(identity, name) != given[name]:
            setattr(identity, name, given[name])
            changed.append(name)
    if changed and delegate.id is not None:
        audit.record(delegate, "identity_updated", actor=actor, staff=staff, fields=changed)
    refresh_vetting(delegate, changed=bool(changed), actor=actor, staff=staff)
    return changed


def refresh_edition(edition: Edition) -> int:
    """After the edition's identity categories changed: every delegate waiting for vetting
    (`pending`/`incomplete`) gets the status the new setting implies. The caller commits.
    Returns how many changed."""
    changed = 0
    with edition_scope(edition):
        waiting = db.session.scalars(
            select(Delegate).where(Delegate.vetting_status.in_(
                [VettingStatus.PENDING.value, VettingStatus.INCOMPLETE.value]))
            .options(selectinload(Delegate.identity))).all()
        for delegate in waiting:
            before = delegate.vetting_status
            if refresh_vetting(delegate, actor="settings", edition=edition) != before:
                changed += 1
    return changed


# --------------------------------------------------------------------------- showing


@dataclass(frozen=True)
class IdentityLine:
    name: str
    label: object
    value: str


LABELS: dict[str, object] = {
    "nationality": _l("Nationality"),
    "date_of_birth": _l("Date of birth"),
    "document_type": _l("Type of document"),
    "document_number": _l("Document number"),
    "document_country": _l("Issued by"),
    "document_expiry": _l("Valid until"),
}


def identity_lines(identity: DelegateIdentity | None, *, reveal: bool,
                   lang: str = "en") -> list[IdentityLine]:
    """The identity data for a page: the secrets masked unless `reveal` (auth's
    may_see_identity for staff; the delegate's own pages mask them too)."""
    if identity is None:
        return []
    lines = []
    for name in IDENTITY_FIELDS:
        value = getattr(identity, name) or ""
        if name in SECRET_FIELDS and not reveal:
            value = mask(value)
        elif name in ("nationality", "document_country") and value:
            value = f"{country_name(value, lang)} ({value})"
        elif name == "document_type" and value:
            value = DocumentType(value).label
        lines.append(IdentityLine(name, LABELS[name], value))
    return lines


def stored_hints(identity: DelegateIdentity | None) -> dict[str, str]:
    """For edit forms, which never show a stored secret back: field → its masked value."""
    if identity is None:
        return {}
    return {name: mask(getattr(identity, name)) for name in SECRET_FIELDS
            if getattr(identity, name)}


def export_values(identity: DelegateIdentity | None, *, reveal: bool) -> dict[str, str]:
    """The identity columns of an export row (secrets masked unless `reveal`)."""
    values = identity.as_dict() if identity is not None else dict.fromkeys(IDENTITY_FIELDS, "")
    if not reveal:
        values = {k: mask(v) if k in SECRET_FIELDS else v for k, v in values.items()}
    return values


# --------------------------------------------------------------------------- retention


def purge_day(edition: Edition) -> date:
    """The first day identity data of `edition` may no longer be kept."""
    return edition.ends_on + timedelta(days=edition.identity_retention_days + 1)


def identity_count(edition: Edition) -> int:
    return db.session.scalar(
        select(func.count()).select_from(DelegateIdentity)
        .where(DelegateIdentity.edition_id == edition.id).execution_options(**ALL_EDITIONS)
    ) or 0


@dataclass
class PurgeReport:
    """What a purge deleted (the counts its audit entry carries)."""

    delegates: int = 0  # delegates whose identity data was deleted
    visa_letters: int = 0  # letters whose holder's passport number and birth date went
    vetting_requests: int = 0  # vetting questions and answers cleared
    vetting_notes: int = 0  # delegates' vetting notes cleared
    watchlist_entries: int = 0
    watchlist_hits: int = 0


def purge_identity(edition: Edition, *, actor: str = "system", staff: StaffUser | None = None,
                   reason: str = "command") -> PurgeReport:
    """Delete every delegate's identity data in `edition`, and what was copied from it or
    said about it; audited with the counts; commits. Returns the counts."""
    from ..models import VettingRequest, VisaLetter
    from .vetting import forget_requests
    from .visa_letters import forget_holders
    from .watchlist import entries as watchlist_entries

    every = {**ALL_EDITIONS, "synchronize_session": False}
    with edition_scope(edition):
        count = identity_count(edition)
        db.session.execute(delete(DelegateIdentity)
                           .where(DelegateIdentity.edition_id == edition.id)
                           .execution_options(**every))
        # What was copied from it or told about it: the passport number and date of birth on
        # visa letters (their verification page then shows no number), the notes, questions
        # and answers of vetting, and the edition's watchlist with its matches.
        letters = forget_holders(VisaLetter.edition_id == edition.id,
                                 VisaLetter.holder_document_number.is_not(None),
                                 names=False, **every)
        requests = forget_requests(VettingRequest.edition_id == edition.id,
                                   VettingRequest.question.is_not(None), recipients=False,
                                   **every)
        notes = db.session.execute(
            update(Delegate).where(Delegate.edition_id == edition.id,
                                   Delegate.vetting_note.is_not(None))
            .values(vetting_note=None).execution_options(**every))
        watchlist = watchlist_entries.purge_edition(edition.id)
        edition.identity_purged_at = utcnow()
        report = PurgeReport(delegates=count,
                             visa_letters=letters,
                             vetting_requests=requests,
                             vetting_notes=int(getattr(notes, "rowcount", 0) or 0),
                             watchlist_entries=watchlist.get("watchlist_entries", 0),
                             watchlist_hits=watchlist.get("watchlist_hits", 0))
        audit.record(None, "identity_purged", actor=actor, staff=staff, edition=edition.slug,
                     count=count, reason=reason, visa_letters=report.visa_letters,
                     vetting_requests=report.vetting_requests,
                     vetting_notes=report.vetting_notes,
                     watchlist_entries=report.watchlist_entries,
                     watchlist_hits=report.watchlist_hits)
        db.session.commit()
    db.session.expire_all()
    return report


def purge_expired_identity(now: datetime | None = None) -> dict[str, int]:
    """The periodic sweep: purge the identity data of every edition whose retention period
    (`identity_retention_days` after its last day) is over. Returns {slug: count}."""
    done: dict[str, int] = {}
    editions = db.session.scalars(select(Edition).execution_options(**ALL_EDITIONS)).all()
    for edition in editions:
        today = (now or utcnow()).astimezone(ZoneInfo(edition.timezone or "UTC")).date()
        if today >= purge_day(edition) and identity_count(edition):
            done[edition.slug] = purge_identity(edition, reason="retention").delegates
    return done
