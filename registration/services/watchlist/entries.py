"""Watchlist files: import (all or nothing, with a per-row report), count, clear, purge.

A file has the columns of `WATCHLIST_COLUMNS` (models/watchlist.py); `nationality` and
`note` may be left out. A row names a person with a name and a date of birth, or a
document number, or both. One bad row refuses the whole file, and the report lists every
bad row, as the delegate import does (services/delegate_import.py, whose file reading and
row errors this reuses). After an import every delegate of the edition is matched again
(services/watchlist/matching.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import delete, func, insert, select

from ...countries import country_names
from ...data_crypto import app_keyring, normalise_document_number
from ...extensions import db
from ...i18n import plain
from ...models import StaffUser, WatchlistEntry, WatchlistHit
from ...models.types import utcnow
from ...models.watchlist import WATCHLIST_COLUMNS
from .. import audit
from ..file_import import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    FileReport,
    ImportFileError,
    RowError,
    csv_rows,
    normalise_header,
)

REQUIRED_COLUMNS = ("family_name", "given_name", "date_of_birth", "document_number")
NAME_MAX = 120
NOTE_MAX = 500
NUMBER_MAX = 30
_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class WatchlistReport(FileReport):
    imported: int = 0
    replaced: int = 0  # entries removed first (--replace)
    hits: int = 0  # new hits found by matching everyone again
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.ok:
            return self.refusal()
        imported = plain(lazy_ngettext("%(num)d watchlist entry imported",
                                       "%(num)d watchlist entries imported", self.imported))
        hits = plain(lazy_ngettext("%(num)d new hit to review", "%(num)d new hits to review",
                                   self.hits))
        return plain(_l("%(entries)s; everyone matched again: %(hits)s.", entries=imported,
                        hits=hits))


def read_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a watchlist CSV (spreadsheet row number, {column: text})."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(_l("The file is larger than %(mb)d MB.",
                                 mb=MAX_FILE_BYTES // (1024 * 1024)))
    raw = csv_rows(data)
    while raw and not any(c.strip() for c in raw[0]):
        raw.pop(0)
    if not raw:
        raise ImportFileError(_l("The file is empty."))
    header = [normalise_header(h) for h in raw[0]]
    while header and not header[-1]:
        header.pop()
    unknown = [c or "(empty)" for c in header if c not in WATCHLIST_COLUMNS]
    if unknown:
        raise ImportFileError(_l("Unknown column(s): %(cols)s. A watchlist file has the "
                                 "columns %(known)s.", cols=", ".join(unknown),
                                 known=", ".join(WATCHLIST_COLUMNS)))
    if len(set(header)) != len(header):
        raise ImportFileError(_l("A column appears twice."))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFileError(_l("The file has no “%(cols)s” column.", cols=", ".join(missing)))
    rows: list[tuple[int, dict[str, str]]] = []
    for number, cells in enumerate(raw[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(_l("The file has more than %(n)d rows: split it.",
                                     n=MAX_ROWS))
        record = {col: (cells[i].strip() if i < len(cells) else "")
                  for i, col in enumerate(header)}
        if any(c.strip() for c in cells[len(header):]):
            raise ImportFileError(_l("Row %(row)d has more cells than the header.",
                                     row=number))
        rows.append((number, record))
    return rows


def _birth_date_error(value: str, today: date) -> object | None:
    if not _DATE_RE.match(value):
        return _l("Write the date of birth as YYYY-MM-DD.")
    try:
        born = date.fromisoformat(value)
    except ValueError:
        return _l("This date does not exist.")
    if born > today or born.year < 1900:
        return _l("This date of birth is not plausible.")
    return None


def validate_row(number: int, record: dict[str, str], today: date) -> list[RowError]:
    errors: list[RowError] = []

    def err(name: str, message: object) -> None:
        errors.append(RowError(number, name, plain(message)))

    for name in ("family_name", "given_name"):
        if len(record.get(name, "")) > NAME_MAX:
            err(name, _l("At most %(n)d characters.", n=NAME_MAX))
    if len(record.get("note", "")) > NOTE_MAX:
        err("note", _l("At most %(n)d characters.", n=NOTE_MAX))
    born = record.get("date_of_birth", "")
    if born:
        problem = _birth_date_error(born, today)
        if problem is not None:
            err("date_of_birth", problem)
    nationality = record.get("nationality", "").upper()
    if nationality and nationality not in country_names("en"):
        err("nationality", _l("Use a two-letter ISO country code (e.g. FR, CN)."))
    number_text = record.get("document_number", "")
    if number_text and (not _NUMBER_RE.match(number_text) or len(number_text) > NUMBER_MAX
                        or not normalise_document_number(number_text)):
        err("document_number", _l("A document number has letters and digits only."))
    has_name = bool(record.get("family_name") or record.get("given_name"))
    if not number_text and not (has_name and born):
        err("family_name", _l("Give a name and a date of birth, or a document number."))
    return errors


def import_watchlist(data: bytes, source: str, staff: StaffUser | None, *,
                     replace: bool = False, actor: str = "cli",
                     today: date | None = None) -> WatchlistReport:
    """Store a watchlist file's entries (all or none), then match everyone again."""
    from .matching import rematch_all

    started = time.perf_counter()
    report = WatchlistReport()
    try:
        rows = read_rows(data)
    except ImportFileError as exc:
        report.file_error = exc.message
        return report
    report.rows = len(rows)
    today = today or datetime.now(UTC).date()
    for number, record in rows:
        report.errors += validate_row(number, record, today)
    if report.errors:
        return report
    if replace:
        report.replaced = clear()
    by = staff.email if staff is not None else actor
    ring, now = app_keyring(), utcnow()
    values = []
    for _, r in rows:
        normalised = normalise_document_number(r.get("document_number", ""))
        born = r.get("date_of_birth") or None
        # A bulk INSERT (the columns still encrypt): the keyed hashes are set here, as the
        # model's validators set them for one entry.
        values.append({
            "family_name": r.get("family_name") or None,
            "given_name": r.get("given_name") or None, "date_of_birth": born,
            "date_of_birth_hash": ring.keyed_hash(born) if born else None,
            "nationality": r.get("nationality", "").upper(),
            "document_number": r.get("document_number") or None,
            "document_number_hash": ring.keyed_hash(normalised) if normalised else None,
            "note": r.get("note") or None, "source": source[:200], "imported_by": by,
            "imported_at": now})
    for start in range(0, len(values), 2000):
        # render_nulls: one multi-row statement, not one batch per pattern of empty cells
        db.session.execute(insert(WatchlistEntry).execution_options(render_nulls=True),
                           values[start:start + 2000])
    report.imported = len(rows)
    audit.record(None, "watchlist_imported", actor=actor, staff=staff, source=source[:200],
                 entries=report.imported, replaced=report.replaced)
    db.session.commit()
    report.hits = rematch_all(actor=actor, staff=staff)
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def entry_count() -> int:
    return db.session.scalar(select(func.count(WatchlistEntry.id))) or 0


def sources() -> list[tuple[str, int]]:
    """Each imported file (its name) with its number of entries, oldest first."""
    return [(s, n) for s, n in db.session.execute(
        select(WatchlistEntry.source, func.count(WatchlistEntry.id))
        .group_by(WatchlistEntry.source).order_by(func.min(WatchlistEntry.id))).all()]


def clear() -> int:
    """Remove the edition's watchlist entries and their hits (the caller commits).
    Returns how many entries were removed."""
    ids = select(WatchlistEntry.id).scalar_subquery()
    db.session.execute(delete(WatchlistHit).where(WatchlistHit.entry_id.in_(ids))
                       .execution_options(synchronize_session=False))
    result = db.session.execute(delete(WatchlistEntry)
                                .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_edition(edition_id: int) -> dict[str, int]:
    """Delete an edition's watchlist and hits (the edition purge; the caller commits)."""
    from ...editions import ALL_EDITIONS

    opts = {**ALL_EDITIONS, "synchronize_session": False}
    hits = db.session.execute(delete(WatchlistHit).where(WatchlistHit.edition_id == edition_id)
                              .execution_options(**opts))
    entries = db.session.execute(delete(WatchlistEntry)
                                 .where(WatchlistEntry.edition_id == edition_id)
                                 .execution_options(**opts))
    return {"watchlist_entries": int(getattr(entries, "rowcount", 0) or 0),
            "watchlist_hits": int(getattr(hits, "rowcount", 0) or 0)}


def rehash() -> int:
    """Recompute the keyed hashes of the entries under the current key (after a
    key rotation, before the old key leaves DATA_ENCRYPTION_OLD_KEYS; the caller commits).
    Every edition's. Returns how many entries were rehashed. `privacy rotate-key` calls it."""
    from ...editions import ALL_EDITIONS

    ring = app_keyring()
    entries = db.session.scalars(select(WatchlistEntry)
                                 .execution_options(**ALL_EDITIONS)).all()
    for entry in entries:
        number = normalise_document_number(entry.document_number or "")
        entry.document_number_hash = ring.keyed_hash(number) if number else None
        born = entry.date_of_birth
        entry.date_of_birth_hash = ring.keyed_hash(born) if born else None
    return len(entries)
