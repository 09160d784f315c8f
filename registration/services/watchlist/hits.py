"""Reviewing watchlist hits: the list for the vetting role, dismiss or keep flagged.

A review records who and when, and an audit entry on the delegate's record; it does not
change the delegate's vetting status (the vetting decision is the vetting stage's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...models import Delegate, StaffUser, WatchlistHit
from ...models.types import utcnow
from ...models.watchlist import HitState
from .. import audit

REVIEW_NOTE_MAX = 500


class ReviewRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def find(hit_id: int) -> WatchlistHit | None:
    """A hit of the current edition, or None."""
    return db.session.scalars(select(WatchlistHit).where(WatchlistHit.id == hit_id)).first()


def _state_filter(state: HitState | None) -> list:
    if state is HitState.OPEN:
        return [WatchlistHit.reviewed_at.is_(None)]
    if state is HitState.KEPT:
        return [WatchlistHit.reviewed_at.is_not(None), WatchlistHit.dismissed.is_(False)]
    if state is HitState.DISMISSED:
        return [WatchlistHit.reviewed_at.is_not(None), WatchlistHit.dismissed.is_(True)]
    return []


def listing(state: HitState | None, limit: int = 200) -> list[WatchlistHit]:
    """Hits in `state` (None: all), best first, with their delegate and entry loaded."""
    stmt = (select(WatchlistHit).options(joinedload(WatchlistHit.delegate).joinedload(
                Delegate.identity), joinedload(WatchlistHit.entry))
            .where(*_state_filter(state))
            .order_by(WatchlistHit.score.desc(), WatchlistHit.id).limit(limit))
    return list(db.session.scalars(stmt).unique())


def counts() -> dict[HitState, int]:
    return {state: db.session.scalar(select(func.count(WatchlistHit.id))
                                     .where(*_state_filter(state))) or 0
            for state in HitState}


def open_hits_by_delegate(delegate_ids: Iterable[int]) -> dict[int, int]:
    """How many hits await review per delegate (for the vetting queue to flag them)."""
    ids = list(delegate_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(WatchlistHit.delegate_id, func.count(WatchlistHit.id))
        .where(WatchlistHit.delegate_id.in_(ids), WatchlistHit.reviewed_at.is_(None))
        .group_by(WatchlistHit.delegate_id)).tuples()
    return dict(rows.all())


@dataclass
class Review:
    hit: WatchlistHit
    state: HitState


def review(hit: WatchlistHit, decision: str, staff: StaffUser, note: str = "") -> Review:
    """Dismiss the hit (`dismiss`: not the same person) or keep it flagged (`keep`), and
    commit. A hit may be reviewed again (a kept hit dismissed later, or the other way)."""
    if decision not in ("dismiss", "keep"):
        raise ReviewRefused("bad_decision")
    note = (note or "").strip()
    if len(note) > REVIEW_NOTE_MAX:
        raise ReviewRefused("note_too_long")
    if decision == "dismiss" and not note:
        raise ReviewRefused("note_required")
    hit.dismissed = decision == "dismiss"
    hit.reviewed_at = utcnow()
    hit.reviewed_by = staff.email
    hit.review_note = note or None
    audit.record(hit.delegate, "watchlist_hit_reviewed", staff=staff, hit=hit.id,
                 kind=hit.kind, decision=hit.state.value)
    db.session.commit()
    return Review(hit, hit.state)
