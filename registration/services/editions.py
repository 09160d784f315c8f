"""Creating editions, choosing the current one, and purging a past one's personal data.

Shared by the `flask editions …` commands and the staff pages. Every function either
finishes its change and commits, or raises EditionError having changed nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import CursorResult, Result, delete, func, insert, select, update

from ..editions import (
    ALL_EDITIONS,
    EditionError,
    all_editions,
    edition_scope,
    forget_cached_edition,
    forget_request_edition,
    get_edition,
    main_checkpoint,
    require_edition,
)
from ..extensions import db
from ..models import (
    AuditEntry,
    Checkpoint,
    Delegate,
    DelegateIdentity,
    DelegatePhoto,
    Delegation,
    Edition,
    FocalPoint,
    Invitation,
    OutboxMessage,
    VettingRequest,
    VisaLetter,
    WithdrawalCause,
)
from ..models.edition import SLUG_RE
from ..models.types import utcnow


def check_slug(slug: str) -> str:
    if not SLUG_RE.match(slug or "") or len(slug) > 40:
        raise EditionError(f"Bad slug {slug!r}: use lowercase letters, digits and hyphens "
                           "(e.g. 2027).")
    return slug


def create_edition(slug: str, name: str, starts: date, ends: date, *, name_zh: str = "",
                   copy_from: str | None = None) -> Edition:
    """A new edition (not current). `copy_from` copies settings, checkpoints and zones,
    never people; without it the edition starts with a main entrance."""
    check_slug(slug)
    if not name or not name.strip():
        raise EditionError("The edition needs a name (--name).")
    if ends < starts:
        raise EditionError(f"The end ({ends}) is before the start ({starts}).")
    if get_edition(slug) is not None:
        raise EditionError(f"An edition {slug!r} already exists.")
    source = require_edition(copy_from) if copy_from else None
    edition = Edition(slug=slug, name_en=name.strip(), name_zh=(name_zh or "").strip(),
                      starts_on=starts, ends_on=ends, is_current=False,
                      timezone=current_app.config.get("EVENT_TIMEZONE", "Asia/Shanghai"),
                      capacities={}, invitation_only=[], venue_en="", venue_zh="",
                      city_en="", city_zh="", organiser_name="", contact_email="",
                      privacy_en="", privacy_zh="", logo_mime="", logo_digest="")
    if source is not None:
        for key in Edition.COPIED:
            value = getattr(source, key)
            setattr(edition, key, list(value) if isinstance(value, list)
                    else dict(value) if isinstance(value, dict) else value)
    try:
        db.session.add(edition)
        db.session.flush()
        copies: list[dict[str, Any]] = []
        if source is not None:
            rows = db.session.execute(select(Checkpoint.__table__).where(
                Checkpoint.__table__.c.edition_id == source.id))
            copies = [{**row._mapping, "edition_id": edition.id, "created_at": utcnow()}
                      for row in rows]
        if not any(c["id"] == "main" for c in copies):
            copies.append(main_checkpoint(edition.id))
        db.session.execute(insert(Checkpoint), copies)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return edition


def set_current(slug: str) -> Edition:
    edition = require_edition(slug)
    db.session.execute(update(Edition).values(is_current=False)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(Edition).where(Edition.id == edition.id).values(is_current=True)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire_all()
    forget_request_edition()
    forget_cached_edition()  # this process at once (the door path too); others within seconds
    return edition


def delegate_counts() -> dict[int, int]:
    rows = db.session.execute(select(Delegate.edition_id, func.count(Delegate.id))
                              .group_by(Delegate.edition_id).execution_options(**ALL_EDITIONS))
    return dict(rows.tuples().all())


def editions_with_counts() -> list[tuple[Edition, int]]:
    counts = delegate_counts()
    return [(e, counts.get(e.id, 0)) for e in all_editions()]


# Personal fields of a delegate and what they become.
ERASED_DELEGATE: dict[str, Any] = {
    "honorific": "", "given_name": "", "family_name": "", "native_name": "", "badge_name": "",
    "organisation": "", "position": "", "email": "", "email_key": None, "phone": "",
    "dietary_needs": "", "accessibility_needs": "", "details": {}, "search_text": "",
    "vetting_note": None,
}


def _rowcount(result: Result[Any]) -> int:
    return cast("CursorResult[Any]", result).rowcount


def purge_edition(slug: str, *, force: bool = False, today: date | None = None
                  ) -> dict[str, int]:
    """Erase the personal fields, photos and mail of a past edition, and every later
    feature's personal data (invitations, focal points, Notes Verbales, visa letters'
    holders, vetting's questions and answers, the watchlist). Keeps the records
    (references, categories, statuses, countries, scans, check-ins), so counts stay right,
    and the audit trail's shape (each entry's action, time and detail keys; values erased).
    Returns how many records of each kind were touched."""
    edition = require_edition(slug)
    if edition.is_current:
        raise EditionError(f"{slug} is the current edition: it cannot be purged. "
                           "Make another edition current first.")
    today = today or datetime.now(ZoneInfo(edition.timezone)).date()
    if not force and (edition.retention_until is None or edition.retention_until >= today):
        kept = (f"until {edition.retention_until}" if edition.retention_until
                else "with no retention date set")
        raise EditionError(f"{slug}'s personal data is kept {kept}; use --force to purge "
                           "it anyway.")
    eid = edition.id
    counts: dict[str, int] = {}
    opts = {**ALL_EDITIONS, "synchronize_session": False}
    try:
        # Letters still open are withdrawn first: with their holders' names and numbers
        # gone, the verification page must not call one valid (a copy with another name
        # would then pass).
        from .invitations import forget as forget_invitations
        from .vetting import forget_requests
        from .visa_letters import forget_holders, withdraw_for_holders

        with edition_scope(edition):
            counts["visa_letters_withdrawn"] = withdraw_for_holders(
                db.session.scalars(select(Delegate.id).where(Delegate.edition_id == eid)
                                   .execution_options(**ALL_EDITIONS)).all(),
                WithdrawalCause.PURGED)
        counts["delegates"] = _rowcount(db.session.execute(
            update(Delegate).where(Delegate.edition_id == eid).values(**ERASED_DELEGATE)
            .execution_options(**opts)))
        counts["identity"] = _rowcount(db.session.execute(
            delete(DelegateIdentity).where(DelegateIdentity.edition_id == eid)
            .execution_options(**opts)))
        counts["photos"] = _rowcount(db.session.execute(
            delete(DelegatePhoto).where(DelegatePhoto.edition_id == eid)
            .execution_options(**opts)))
        counts["messages"] = _rowcount(db.session.execute(
            update(OutboxMessage).where(OutboxMessage.edition_id == eid)
            .values(recipient="", subject="", message=b"", last_error="")
            .execution_options(**opts)))
        entries = db.session.execute(select(AuditEntry.id, AuditEntry.details)
                                     .where(AuditEntry.edition_id == eid)
                                     .execution_options(**ALL_EDITIONS)).tuples().all()
        touched = 0
        for entry_id, details in entries:
            if details:
                db.session.execute(update(AuditEntry).where(AuditEntry.id == entry_id)
                                   .values(details=dict.fromkeys(details))
                                   .execution_options(**opts))
                touched += 1
        counts["audit_entries"] = touched
        # The tables of later features hold personal data too: invitations (address and the
        # details they fill in), focal points (their address: the rows go, sign-in ends with
        # the edition), the delegations' Notes Verbales (named delegates), the visa letters'
        # copies of their holders and the delegates' own words, and vetting's questions
        # and answers.
        counts["invitations"] = forget_invitations(Invitation.edition_id == eid, **opts)
        counts["focal_points"] = _rowcount(db.session.execute(
            delete(FocalPoint).where(FocalPoint.edition_id == eid).execution_options(**opts)))
        counts["delegation_letters"] = _rowcount(db.session.execute(
            update(Delegation).where(Delegation.edition_id == eid,
                                     Delegation.letter_uploaded_at.is_not(None))
            .values(letter=None, letter_name="", letter_size=0).execution_options(**opts)))
        counts["visa_letters"] = forget_holders(VisaLetter.edition_id == eid, texts=True,
                                                **opts)
        counts["vetting_requests"] = forget_requests(VettingRequest.edition_id == eid, **opts)
        from .watchlist.entries import purge_edition as purge_watchlist

        counts.update(purge_watchlist(eid))  # the edition's watchlist and its matches
        edition.purged_at = utcnow()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts


def purge_expired() -> dict[str, dict[str, int]]:
    """Purge every past edition whose retention date has passed and that is not purged yet
    (the periodic sweep; the current edition never). Returns the counts per slug; each purge
    is audited by `purge_edition`'s own records and logged by the caller."""
    done: dict[str, dict[str, int]] = {}
    due = db.session.scalars(select(Edition).where(
        Edition.is_current.is_(False), Edition.purged_at.is_(None),
        Edition.retention_until.is_not(None))).all()
    for edition in due:
        today = datetime.now(ZoneInfo(edition.timezone)).date()
        if edition.retention_until is not None and edition.retention_until < today:
            done[edition.slug] = purge_edition(edition.slug, today=today)
    return done
