"""The vetting service's exchange of files: `vetting export` writes the records to vet
(reference, names in both scripts, date of birth, nationality, document fields,
organisation, position, delegation, category) as CSV; `vetting import` reads the answers
(reference,decision,note) and applies them all or not at all, with a per-row report, like
the delegate import (services/delegate_import.py).

The export holds identity data in clear (it is what the agency needs): each one is
audited with its row count; where the file goes is the operator's responsibility.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import insert, select, update
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..i18n import plain
from ..models import (
    AuditEntry,
    Delegate,
    Delegation,
    StaffUser,
    Status,
    VettingStatus,
    WithdrawalCause,
)
from ..text import parse_reference
from . import audit
from .delegate_export import neutralise, write_csv
from .file_import import (
    MAX_FILE_BYTES,
    FileReport,
    ImportFileError,
    RowError,
    csv_rows,
    normalise_header,
)
from .vetting import (
    MAX_NOTE,
    VettingRefused,
    check_decision,
    clean_text,
    parse_decision,
    plan_decision,
    request_more_info,
)
from .visa_letters import withdraw_for_holders
from .watchlist.hits import open_hits_by_delegate

EXPORT_COLUMNS = ("reference", "given_name", "family_name", "native_name", "date_of_birth",
                  "nationality", "document_type", "document_number", "document_country",
                  "document_expiry", "organisation", "position", "delegation", "category",
                  "vetting_status")
IMPORT_COLUMNS = ("reference", "decision", "note")
MAX_ROWS = 20_000  # a vetting batch may hold every delegate of a large forum at once
CHUNK = 500


# --- export ---------------------------------------------------------------------------------

def export_rows(statuses: tuple[VettingStatus, ...] = (VettingStatus.PENDING,)
                ) -> Iterator[list[str]]:
    """The header, then one row per delegate (not cancelled) with one of `statuses` (all
    if empty), in registration order."""
    yield list(EXPORT_COLUMNS)
    names = dict(db.session.execute(select(Delegation.id, Delegation.name_en)).tuples().all())
    stmt = (select(Delegate).where(Delegate.status != Status.CANCELLED.value)
            .options(selectinload(Delegate.identity)).order_by(Delegate.id))
    if statuses:
        stmt = stmt.where(Delegate.vetting_status.in_([s.value for s in statuses]))
    for delegate in db.session.scalars(stmt.execution_options(yield_per=CHUNK)):
        ident = delegate.identity.as_dict() if delegate.identity is not None else {}
        values = [delegate.reference, delegate.given_name, delegate.family_name,
                  delegate.native_name, ident.get("date_of_birth", ""),
                  ident.get("nationality", ""), ident.get("document_type", ""),
                  ident.get("document_number", ""), ident.get("document_country", ""),
                  ident.get("document_expiry", ""), delegate.organisation, delegate.position,
                  names.get(delegate.delegation_id or 0, ""), delegate.category,
                  delegate.vetting_status]
        yield [neutralise(str(v or "")) for v in values]


def export(out: IO[bytes], statuses: tuple[VettingStatus, ...] = (VettingStatus.PENDING,),
           staff: StaffUser | None = None, actor: str = "cli") -> int:
    """Write the CSV (UTF-8 with BOM) to `out`, audit it and commit; returns the rows."""
    count = write_csv(export_rows(statuses), out)
    audit.record(None, "vetting_export", actor=actor, staff=staff, rows=count,
                 statuses=[s.value for s in statuses] or ["all"])
    db.session.commit()
    return count


# --- import ---------------------------------------------------------------------------------

@dataclass
class VettingImportReport(FileReport):
    applied: dict[str, int] = field(default_factory=dict)  # decision → count

    def summary(self) -> str:
        if not self.ok:
            return self.refusal()
        parts = ", ".join(f"{n} {decision}" for decision, n in sorted(self.applied.items()))
        return plain(lazy_ngettext("%(num)d vetting decision recorded (%(parts)s).",
                                   "%(num)d vetting decisions recorded (%(parts)s).",
                                   self.rows, parts=parts or "-"))


def read_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(row number, cells by column) of a CSV file; ImportFileError if unreadable."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(_l("The file is larger than %(mb)d MB.",
                                 mb=MAX_FILE_BYTES // (1024 * 1024)))
    table = csv_rows(data)  # UTF-8 (or Excel's UTF-16), any of , ; tab
    if not table:
        raise ImportFileError(_l("The file is empty."))
    header = [normalise_header(h) for h in table[0]]
    while header and not header[-1]:
        header.pop()
    twice = sorted({c for c in header if c and header.count(c) > 1})
    if twice:  # which of two "decision" columns is meant? Neither is guessed.
        raise ImportFileError(_l("A column appears twice: %(columns)s.",
                                 columns=", ".join(twice)))
    surplus = [number for number, cells in enumerate(table[1:], start=2)
               if any(cell.strip() for cell in cells[len(header):])]
    if surplus:
        raise ImportFileError(_l("Row %(row)d has more cells than the header has columns.",
                                 row=surplus[0]))
    missing = [c for c in IMPORT_COLUMNS if c not in header]
    if missing:
        raise ImportFileError(_l("Missing columns: %(columns)s (expected %(expected)s).",
                                 columns=", ".join(missing),
                                 expected=",".join(IMPORT_COLUMNS)))
    rows = [(number, {name: (cells[i].strip() if i < len(cells) else "")
                      for i, name in enumerate(header)})
            for number, cells in enumerate(table[1:], start=2)
            if any(cell.strip() for cell in cells)]
    if len(rows) > MAX_ROWS:
        raise ImportFileError(_l("The file has more than %(n)d rows.", n=MAX_ROWS))
    return rows


def _delegates(references: list[str]) -> dict[str, Any]:
    """The rows a decision reads, by reference, locked (Core rows: thousands at a time)."""
    found: dict[str, Any] = {}
    for start in range(0, len(references), CHUNK):
        chunk = references[start:start + CHUNK]
        for row in db.session.execute(select(
                Delegate.id, Delegate.reference, Delegate.status, Delegate.vetting_status,
                Delegate.printed_at, Delegate.badge_serial, Delegate.needs_reprint)
                .where(Delegate.reference.in_(chunk)).with_for_update()):
            found[row.reference] = row
    return found


def import_file(data: bytes, staff: StaffUser | None = None, actor: str = "cli"
                ) -> VettingImportReport:
    """Apply every decision of the file in one transaction, or none (see the report)."""
    report = VettingImportReport()
    try:
        rows = read_rows(data)
    except ImportFileError as exc:
        report.file_error = exc.message
        return report
    report.rows = len(rows)
    parsed: list[tuple[int, str, VettingStatus, str]] = []
    seen: dict[str, int] = {}
    for number, cells in rows:
        reference = parse_reference(cells.get("reference", "")) or ""
        if not reference:
            report.errors.append(RowError(number, "reference", plain(_l(
                "Not a reference code: “%(value)s”.", value=cells.get("reference", "")[:40]))))
            continue
        if reference in seen:
            report.errors.append(RowError(number, "reference", plain(_l(
                "%(ref)s is already on row %(row)d.", ref=reference, row=seen[reference]))))
            continue
        seen[reference] = number
        try:
            decision = parse_decision(cells.get("decision"))
        except VettingRefused as exc:
            report.errors.append(RowError(number, "decision", exc.message))
            continue
        try:
            note = clean_text(cells.get("note"), MAX_NOTE)
        except VettingRefused as exc:
            report.errors.append(RowError(number, "note", exc.message))
            continue
        parsed.append((number, reference, decision, note))
    delegates = _delegates([p[1] for p in parsed])
    to_clear = [delegates[p[1]].id for p in parsed
                if p[2] == VettingStatus.CLEARED and p[1] in delegates]
    open_hits: dict[int, int] = {}
    for start in range(0, len(to_clear), CHUNK):
        open_hits.update(open_hits_by_delegate(to_clear[start:start + CHUNK]))
    for number, reference, decision, note in parsed:
        delegate = delegates.get(reference)
        if delegate is None:
            report.errors.append(RowError(number, "reference", plain(_l(
                "No delegate %(ref)s in this edition.", ref=reference))))
            continue
        try:
            check_decision(delegate, decision, note, open_hits.get(delegate.id, 0))
        except VettingRefused as exc:
            report.errors.append(RowError(number, "decision", exc.message))
    report.errors.sort(key=lambda e: e.row)  # one report in row order, whichever pass found it
    if not report.ok:
        db.session.rollback()
        return report
    _apply(parsed, delegates, staff, actor, report)
    audit.record(None, "vetting_import", actor=actor, staff=staff, rows=report.rows,
                 applied=report.applied)
    db.session.commit()
    return report


def _apply(parsed: list[tuple[int, str, VettingStatus, str]], delegates: dict[str, Any],
           staff: StaffUser | None, actor: str, report: VettingImportReport) -> None:
    """The decisions as bulk UPDATEs and audit INSERTs (the same values and details as
    one decision on the page: vetting.plan_decision); more_info requests one by one; the
    rejected delegates' visa letters withdrawn, as on the page."""
    who = audit.actor_label(staff, actor)
    now = datetime.now(UTC)
    updates: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    asked: list[tuple[int, str, dict[str, Any]]] = []
    for _number, reference, decision, note in parsed:
        row = delegates[reference]
        values, details = plan_decision(row, decision, note, who, now)
        updates.append({"id": row.id, **values})
        if decision == VettingStatus.MORE_INFO:
            asked.append((row.id, note, details))
        else:
            entries.append({"delegate_id": row.id, "staff_id": staff.id if staff else None,
                            "actor": who, "action": "vetting", "details": details,
                            "created_at": now})
        report.applied[decision.value] = report.applied.get(decision.value, 0) + 1
    for start in range(0, len(updates), CHUNK):
        db.session.execute(update(Delegate), updates[start:start + CHUNK])
    for start in range(0, len(entries), CHUNK):
        db.session.execute(insert(AuditEntry), entries[start:start + CHUNK])
    withdraw_for_holders([delegates[reference].id for _n, reference, decision, _note in parsed
                          if decision == VettingStatus.REJECTED],
                         WithdrawalCause.NOT_CLEARED, staff=staff)
    with db.session.no_autoflush:  # one flush at commit, not one per request
        loaded: dict[int, Delegate] = {}
        ids = [delegate_id for delegate_id, _note, _details in asked]
        for start in range(0, len(ids), CHUNK):
            loaded.update((d.id, d) for d in db.session.scalars(
                select(Delegate).where(Delegate.id.in_(ids[start:start + CHUNK]))))
        for delegate_id, note, details in asked:
            delegate = loaded[delegate_id]
            details["mailed_to"] = request_more_info(delegate, note, who)
            audit.record(delegate, "vetting", actor=who, staff=staff, **details)
