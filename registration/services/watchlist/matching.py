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
from sqlalchemy import Text, event, inspect, select, type_coerce
from sqlalchemy.orm import Session

from ...data_crypto import app_keyring, normalise_document_number
from ...editions import built_once, current_edition_id, in_edition
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


# The EncryptedText purposes of the name columns (models/watchlist.py).
_PURPOSES = {"family_name": "watchlist.family_name", "given_name": "watchlist.given_name"}


def _entry_rows(*where: Any) -> list[tuple[int, str | None, str | None, str | None,
                                           str | None]]:
    """(id, number hash, birth-date hash, family name, given name) of entries, the names
    still encrypted: only the entries someone shares a birthday with are decrypted."""
    stmt = select(WatchlistEntry.id, WatchlistEntry.document_number_hash,
                  WatchlistEntry.date_of_birth_hash,
                  type_coerce(WatchlistEntry.family_name, Text),
                  type_coerce(WatchlistEntry.given_name, Text)).where(*where)
    return list(db.session.execute(stmt).tuples())


class EntryIndex:
    """Entries by document-number hash and by birth-date hash; names decrypted on demand."""

    def __init__(self, rows: Iterable[tuple[int, str | None, str | None, str | None,
                                            str | None]]) -> None:
        self.by_hash: dict[str, list[int]] = defaultdict(list)
        self.by_birth_date: dict[str, list[tuple[int, str | None, str | None]]] = \
            defaultdict(list)
        for entry_id, number_hash, born_hash, family, given in rows:
            if number_hash:
                self.by_hash[number_hash].append(entry_id)
            if born_hash and (family or given):
                self.by_birth_date[born_hash].append((entry_id, family, given))
        self.ring = app_keyring()
        self.threshold = threshold()
        self._names: dict[int, list[Name]] = {}

    def _entry_names(self, entry_id: int, family: str | None, given: str | None
                     ) -> list[Name]:
        names = self._names.get(entry_id)
        if names is None:
            ring = self.ring
            names = self._names[entry_id] = name_variants(
                ring.decrypt(family, _PURPOSES["family_name"]) if family else "",
                ring.decrypt(given, _PURPOSES["given_name"]) if given else "")
        return names

    def match(self, person: Person) -> list[Found]:
        found: dict[int, Found] = {}
        number = normalise_document_number(person.document_number or "")
        if number:
            for digest in self.ring.keyed_hashes(number):
                for entry_id in self.by_hash.get(digest, ()):
                    found[entry_id] = Found(person.delegate_id, entry_id, HitKind.DOCUMENT, 1.0)
        if not person.date_of_birth:
            return list(found.values())
        mine: list[Name] | None = None
        for digest in self.ring.keyed_hashes(person.date_of_birth):
            for entry_id, family, given in self.by_birth_date.get(digest, ()):
                if entry_id in found:
                    continue
                if mine is None:
                    mine = name_variants(person.family_name, person.given_name,
                                         person.native_name)
                score = best_score(mine, self._entry_names(entry_id, family, given))
                if score >= self.threshold:
                    found[entry_id] = Found(person.delegate_id, entry_id, HitKind.NAME_DOB,
                                            round(score, 3))
        return list(found.values())


def _people(delegate_ids: Sequence[int] | None = None) -> list[Person]:
    stmt = (select(Delegate.id, Delegate.family_name, Delegate.given_name,
                   Delegate.native_name, DelegateIdentity.date_of_birth,
                   DelegateIdentity.document_number)
            .select_from(DelegateIdentity)
            .join(Delegate, DelegateIdentity.delegate_id == Delegate.id))
    if delegate_ids is not None:
        stmt = stmt.where(DelegateIdentity.delegate_id.in_(delegate_ids))
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
    # The edition being matched (the commit hook's scope), not whichever is current when
    # the hits are flushed.
    edition_id = current_edition_id()
    db.session.add_all(WatchlistHit(edition_id=edition_id, delegate_id=f.delegate_id,
                                    entry_id=f.entry_id,
                                    kind=f.kind.value, score=f.score, reviewed_by="",
                                    dismissed=False) for f in new)
    return len(new)


def rematch_all(*, actor: str = "system", staff: StaffUser | None = None) -> int:
    """Match every delegate of the edition against its whole watchlist and commit the new
    hits. Returns how many new hits there are."""
    rows = _entry_rows()
    if not rows:
        return 0
    index = EntryIndex(rows)
    found = [hit for person in _people() for hit in index.match(person)]
    count = _store(found)
    audit.record(None, "watchlist_matched", actor=actor, staff=staff, entries=len(rows),
                 new_hits=count)
    db.session.commit()
    return count


# Asked on every registration with identity data: built once (editions.built_once).
_ANY_ENTRY = built_once(select(WatchlistEntry.id).limit(1))


def match_delegates(delegate_ids: Sequence[int]) -> int:
    """Match these delegates (of the current edition) and add their new hits to the
    session, without committing. Returns how many new hits there are."""
    if not delegate_ids or db.session.scalar(_ANY_ENTRY, in_edition({})) is None:
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
    # Two lookups, each on its own index (an OR of both may scan the table).
    rows = (_entry_rows(WatchlistEntry.document_number_hash.in_(wanted))
            + _entry_rows(WatchlistEntry.date_of_birth_hash.in_(wanted)))
    if not rows:
        return 0
    index = EntryIndex(dict.fromkeys(rows))
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
