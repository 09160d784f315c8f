"""Matching delegates against the edition's watchlist; hits are flags, never decisions.

Two ways to match a delegate with an entry:
- the document number: the keyed hash of the normalised number (data_crypto), looked up
  under every key of the keyring, so "AB 123-456" and "ab123456" match, and so do hashes
  written before a key rotation;
- the name and date of birth: the same date of birth, and names alike across scripts
  (services/watchlist/names.py) at or above WATCHLIST_NAME_THRESHOLD (default 0.9).

When it runs:
- on every commit that stored identity data (a registration, walk-in, nomination, import,
  an edit, the delegate's own update) or changed the names of a delegate who has it: a
  session hook (`init_app`) notes those delegates after each flush and matches them just
  before the commit, in the same transaction — so whichever path stored the data, a hit
  is stored with it. With no watchlist in the edition this costs one indexed query.
- over everyone after a watchlist import (`rematch_all`), from an in-memory index of the
  decrypted entries (10,000 entries against 5,000 delegates: see bench/vetting.py).

An existing hit (reviewed or not) is never made again for the same delegate and entry.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, inspect, or_, select
from sqlalchemy.orm import Session

from ...data_crypto import app_keyring, normalise_document_number
from ...extensions import db
from ...models import Delegate, DelegateIdentity, StaffUser, WatchlistEntry, WatchlistHit
from ...models.watchlist import HitKind
from .. import audit
from .names import DEFAULT_THRESHOLD, Name, best_score, name_variants

log = logging.getLogger(__name__)

_PENDING = "watchlist_pending"  # session.info key: {(edition_id, delegate_id)}
_NAME_FIELDS = ("given_name", "family_name", "native_name")


@dataclass
class Person:
    """What matching reads of a delegate (identity decrypted)."""

    delegate_id: int
    family_name: str
    given_name: str
    native_name: str
    date_of_birth: str | None
    document_number: str | None


@dataclass
class Found:
    delegate_id: int
    entry_id: int
    kind: HitKind
    score: float


def threshold() -> float:
    value = current_app.config.get("WATCHLIST_NAME_THRESHOLD")
    return float(value) if value is not None else DEFAULT_THRESHOLD


class EntryIndex:
    """Entries by document-number hash and by date of birth (decrypted once)."""

    def __init__(self, entries: Iterable[WatchlistEntry]) -> None:
        self.by_hash: dict[str, list[int]] = defaultdict(list)
        self.by_birth_date: dict[str, list[tuple[int, list[Name]]]] = defaultdict(list)
        for entry in entries:
            if entry.document_number_hash:
                self.by_hash[entry.document_number_hash].append(entry.id)
            born = entry.date_of_birth
            if born and (entry.family_name or entry.given_name):
                self.by_birth_date[born].append(
                    (entry.id, name_variants(entry.family_name, entry.given_name)))
        self.ring = app_keyring()
        self.threshold = threshold()

    def match(self, person: Person) -> list[Found]:
        found: dict[int, Found] = {}
        number = normalise_document_number(person.document_number or "")
        if number:
            for digest in self.ring.keyed_hashes(number):
                for entry_id in self.by_hash.get(digest, ()):
                    found[entry_id] = Found(person.delegate_id, entry_id, HitKind.DOCUMENT, 1.0)
        candidates = self.by_birth_date.get(person.date_of_birth or "")
        if candidates:
            mine = name_variants(person.family_name, person.given_name, person.native_name)
            for entry_id, names in candidates:
                if entry_id in found:
                    continue
                score = best_score(mine, names)
                if score >= self.threshold:
                    found[entry_id] = Found(person.delegate_id, entry_id, HitKind.NAME_DOB,
                                            round(score, 3))
        return list(found.values())


def _people(delegate_ids: Sequence[int] | None = None) -> list[Person]:
    stmt = (select(Delegate.id, Delegate.family_name, Delegate.given_name,
                   Delegate.native_name, DelegateIdentity.date_of_birth,
                   DelegateIdentity.document_number)
            .join(DelegateIdentity, DelegateIdentity.delegate_id == Delegate.id))
    if delegate_ids is not None:
        stmt = stmt.where(Delegate.id.in_(delegate_ids))
    return [Person(*row) for row in db.session.execute(stmt).tuples()]


def _store(found: list[Found], delegate_ids: Sequence[int] | None = None) -> int:
    """Add the hits not stored yet (the caller commits); returns how many."""
    if not found:
        return 0
    stmt = select(WatchlistHit.delegate_id, WatchlistHit.entry_id)
    if delegate_ids is not None:
        stmt = stmt.where(WatchlistHit.delegate_id.in_(delegate_ids))
    existing = {(d, e) for d, e in db.session.execute(stmt).tuples()}
    new = [f for f in found if (f.delegate_id, f.entry_id) not in existing]
    db.session.add_all(WatchlistHit(delegate_id=f.delegate_id, entry_id=f.entry_id,
                                    kind=f.kind.value, score=f.score, reviewed_by="",
                                    dismissed=False, review_note="") for f in new)
    return len(new)


def rematch_all(*, actor: str = "system", staff: StaffUser | None = None) -> int:
    """Match every delegate of the edition against its whole watchlist and commit the new
    hits. Returns how many new hits there are."""
    entries = db.session.scalars(select(WatchlistEntry)).all()
    if not entries:
        return 0
    index = EntryIndex(entries)
    found = [hit for person in _people() for hit in index.match(person)]
    count = _store(found)
    audit.record(None, "watchlist_matched", actor=actor, staff=staff, entries=len(entries),
                 new_hits=count)
    db.session.commit()
    return count


def match_delegates(delegate_ids: Sequence[int]) -> int:
    """Match these delegates (of the current edition) and add their new hits to the
    session, without committing. Returns how many new hits there are."""
    if not delegate_ids or db.session.scalar(select(WatchlistEntry.id).limit(1)) is None:
        return 0
    people = _people(delegate_ids)
    ring = app_keyring()
    hashes: set[str] = set()
    for person in people:
        number = normalise_document_number(person.document_number or "")
        if number:
            hashes.update(ring.keyed_hashes(number))
        if person.date_of_birth:
            hashes.update(ring.keyed_hashes(person.date_of_birth))
    if not hashes:
        return 0
    wanted = list(hashes)
    entries = db.session.scalars(select(WatchlistEntry).where(or_(
        WatchlistEntry.document_number_hash.in_(wanted),
        WatchlistEntry.date_of_birth_hash.in_(wanted)))).all()
    if not entries:
        return 0
    index = EntryIndex(entries)
    return _store([hit for person in people for hit in index.match(person)], delegate_ids)


# --------------------------------------------------------------------------- session hook

def _names_changed(delegate: Delegate) -> bool:
    state = inspect(delegate)
    return any(state.attrs[name].history.has_changes() for name in _NAME_FIELDS)


def _note_changes(session: Session, flush_context: Any) -> None:
    for obj in chain(session.new, session.dirty):
        if isinstance(obj, DelegateIdentity):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            key = (obj.edition_id, obj.delegate_id)
        elif isinstance(obj, Delegate) and obj in session.dirty and _names_changed(obj):
            key = (obj.edition_id, obj.id)
        else:
            continue
        session.info.setdefault(_PENDING, set()).add(key)


def _match_before_commit(session: Session) -> None:
    if not has_app_context():
        session.info.pop(_PENDING, None)
        return
    # The commit flushes right after this hook: flush now (a no-op when nothing is
    # pending) so that changes not flushed yet are noted too.
    session.flush()
    if not session.info.get(_PENDING):
        return
    pending: set[tuple[int, int]] = session.info.pop(_PENDING, set())
    by_edition: dict[int, list[int]] = defaultdict(list)
    for edition_id, delegate_id in pending:
        by_edition[edition_id].append(delegate_id)
    from ...editions import edition_scope_id

    for edition_id, delegate_ids in by_edition.items():
        with edition_scope_id(edition_id):
            count = match_delegates(sorted(delegate_ids))
        if count:
            log.info("watchlist: %d new hit(s) to review", count)


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


_installed = False


def init_app(app: Any) -> None:
    """Install the session hook (once per process)."""
    global _installed
    if not _installed:
        event.listen(Session, "after_flush", _note_changes)
        event.listen(Session, "before_commit", _match_before_commit)
        event.listen(Session, "after_rollback", _forget)
        _installed = True
