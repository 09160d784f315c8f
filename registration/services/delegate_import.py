"""Importing delegates from CSV or XLSX (columns: fields.EXCHANGE_COLUMNS).

All or nothing: every row is validated first (the same rules as the form, with
category-specific fields optional), plus duplicate emails inside the file and emails
already registered. A row whose email is already registered with the same data is
"already imported — skipped", so importing a file twice creates nothing new. If any row
has an error, nothing is imported and the report lists row, field and message. Otherwise
all rows are inserted in one transaction. See docs/import-template.md.

A file exported by delegate_export can be imported again: its extra columns are ignored and
its formula neutralisation is undone.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from time import monotonic
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import editions
from ..extensions import db, real_app
from ..fields import (
    ALL_CATEGORY_FIELD_NAMES,
    CATEGORY_FIELDS,
    COMMON_FIELDS,
    EXCHANGE_COLUMNS,
    LEGACY_COLUMNS,
    column_of,
    record_fields,
)
from ..i18n import plain
from ..models import Delegate, StaffUser, Status
from ..models.delegate import RecordSource
from ..signals import delegate_approved
from ..text import new_reference
from ..validation import clean_record, email_key
from . import audit
from .accreditation import photo_required
from .delegate_export import EXPORT_COLUMNS, FORMULA_START, bool_cell
from .file_import import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    FileReport,
    ImportFileError,
    RowError,
    csv_rows,
    normalise_header,
)
from .registration import build_delegate

# Columns an export adds (reference, status): an exported file imports again without them.
IGNORED_COLUMNS = frozenset(EXPORT_COLUMNS) - frozenset(EXCHANGE_COLUMNS)
REQUIRED_COLUMNS = ("category", "email")
Progress = Callable[[int, int, str], None]


WAITING_PHOTO = _l("Not accredited yet: this edition requires a photo, and accreditation "
                   "waits until each delegate has one.")


@dataclass
class ImportReport(FileReport):
    imported: int = 0
    approved: bool = False
    # Asked to accredit, but the edition requires a photo, which an import cannot bring:
    # the delegates stay submitted until each has one (accreditation.photo_missing).
    waiting_photo: bool = False
    skipped: list[dict[str, Any]] = field(default_factory=list)  # row, email, reference
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.ok:
            return self.refusal()
        imported = plain(lazy_ngettext("%(num)d delegate imported",
                                       "%(num)d delegates imported", self.imported))
        accredited = plain(_l(" and accredited")) if self.approved else ""
        rows = plain(lazy_ngettext("%(num)d row", "%(num)d rows", self.rows))
        text = plain(_l(
            "%(imported)s%(approved)s, %(skipped)d already imported and skipped (%(rows)s).",
            imported=imported, approved=accredited, skipped=len(self.skipped), rows=rows))
        if self.waiting_photo and self.imported:
            text += " " + plain(WAITING_PHOTO)
        return text


# --- reading files --------------------------------------------------------------------------

def _cell(value: Any) -> str:
    """A cell as text. Undoes the export's formula neutralisation ("'=x" → "=x")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return bool_cell(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number typed into a spreadsheet cell
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    text = str(value)
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        text = text[1:]
    return text


# An .xlsx is a zip: a small upload can expand enormously. Real delegation lists are far
# below this once unpacked.
MAX_XLSX_UNPACKED = 100 * 1024 * 1024


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from xml.etree.ElementTree import ParseError

    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        unpacked = 0  # load_workbook below reports it
    if unpacked > MAX_XLSX_UNPACKED:
        raise ImportFileError(_l("The Excel file unpacks to more than %(n)d MB: split it, or "
                                 "save it as CSV UTF-8.", n=MAX_XLSX_UNPACKED // 2**20))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, ParseError) as exc:
        raise ImportFileError(_l("The Excel file cannot be read (%(error)s). Save it again as "
                                 ".xlsx, or as CSV UTF-8.", error=exc.__class__.__name__)
                              ) from None
    try:
        sheet = workbook.worksheets[0]
        # The sheet's declared size can be anything (A1:XFD1048576): read our columns only.
        sheet.reset_dimensions()
        rows = []
        for values in sheet.iter_rows(max_col=len(EXCHANGE_COLUMNS) + 10, values_only=True):
            rows.append(list(values))
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    except ParseError as exc:
        raise ImportFileError(_l("The Excel file cannot be read (%(error)s). Save it again as "
                                 ".xlsx, or as CSV UTF-8.", error=exc.__class__.__name__)
                              ) from None
    finally:
        workbook.close()


def read_table(data: bytes, filename: str, *, extra_columns: frozenset[str] = frozenset()
               ) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The columns and the data rows (spreadsheet row number, {column: text}) of a file;
    `extra_columns`: further columns the caller reads (the invitation import's `expires`)."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(_l("The file is larger than %(mb)d MB.",
                                 mb=MAX_FILE_BYTES // (1024 * 1024)))
    name = (filename or "").lower()
    if data.startswith(b"PK\x03\x04") or name.endswith((".xlsx", ".xlsm")):
        raw = _xlsx_rows(data)
    elif name.endswith(".xls") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_l("Old .xls files are not supported: save the file as .xlsx "
                                 "or as CSV UTF-8."))
    else:
        raw = csv_rows(data)
    while raw and not any(_cell(v).strip() for v in raw[0]):
        raw.pop(0)  # blank lines above the header
    if not raw:
        raise ImportFileError(_l("The file is empty."))
    header = [normalise_header(h) for h in raw[0]]
    while header and not header[-1]:
        header.pop()
    for old, new in LEGACY_COLUMNS.items():  # an older file's name for today's column
        if old in header and new not in header and old not in extra_columns:
            header[header.index(old)] = new
    _check_columns(header, extra_columns)
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(raw[1:], start=2):
        cells = [_cell(v) for v in values]
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(_l("The file has more than %(n)d rows: split it.",
                                     n=MAX_ROWS))
        record = {col: (cells[i] if i < len(cells) else "") for i, col in enumerate(header)
                  if col}
        extra = [c for c in cells[len(header):] if c.strip()]
        if extra:
            record["__extra__"] = extra[0]
        rows.append((number, record))
    return header, rows


def _check_columns(header: Sequence[str], extra: frozenset[str] = frozenset()) -> None:
    known = set(EXCHANGE_COLUMNS) | IGNORED_COLUMNS | extra
    seen: set[str] = set()
    for col in header:
        if col in seen and col:
            raise ImportFileError(_l("The column “%(col)s” appears twice.", col=col))
        seen.add(col)
    unknown = [c or "(empty)" for c in header if c not in known]
    if unknown:
        raise ImportFileError(_l(
            "Unknown column(s): %(cols)s. Use the column names of the import template: "
            "%(known)s.", cols=", ".join(unknown),
            known=", ".join((*EXCHANGE_COLUMNS, *sorted(extra)))))
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if "given_name" not in seen and "family_name" not in seen:
        missing.append("given_name")
    if missing:
        raise ImportFileError(_l("The file has no “%(cols)s” column.", cols=", ".join(missing)))


# --- validating -----------------------------------------------------------------------------

@dataclass
class _Planned:
    row: int
    clean: dict[str, Any]


def _differences(delegate: Delegate, clean: dict[str, Any], columns: set[str]) -> list[str]:
    """The file's columns whose cleaned value differs from what is stored."""
    diffs = []
    for name in COMMON_FIELDS:
        if name in columns and name != "email" and getattr(delegate, name) != clean[name]:
            diffs.append(name)
    details = delegate.details or {}
    for name in ALL_CATEGORY_FIELD_NAMES:
        if (column_of(name) in columns and name in clean["details"]
                and details.get(name, _empty(name)) != clean["details"][name]):
            diffs.append(column_of(name))
    return diffs


def _empty(name: str) -> Any:
    for specs in CATEGORY_FIELDS.values():
        for spec in specs:
            if spec.name == name:
                return [] if spec.kind == "themes" else (False if spec.kind == "bool" else "")
    return ""


def validate_rows(columns: Sequence[str], rows: Sequence[tuple[int, dict[str, str]]],
                  progress: Progress | None = None
                  ) -> tuple[list[_Planned], ImportReport]:
    """Check every row; returns the rows to insert and the report (errors, skipped)."""
    report = ImportReport(rows=len(rows))
    planned: list[_Planned] = []
    first_row: dict[str, int] = {}
    colset = set(columns)
    for index, (number, record) in enumerate(rows, start=1):
        clean, errors = clean_record(record_fields(record), require_category_fields=False,
                                     require_consent=False)
        for name, message in errors.items():
            report.errors.append(RowError(number, column_of(name), plain(message)))
        if "__extra__" in record:
            report.errors.append(RowError(number, "", plain(_l(
                "This row has more cells than the file has columns (“%(v)s”).",
                v=record["__extra__"][:40]))))
        if "email" not in errors:
            key = email_key(clean["email"])
            if key in first_row:
                report.errors.append(RowError(number, "email", plain(_l(
                    "The same email address is already on row %(row)d.",
                    row=first_row[key]))))
            else:
                first_row[key] = number
                if not errors:
                    planned.append(_Planned(number, clean))
        if progress is not None and index % 100 == 0:
            progress(index, len(rows), plain(_l("Checking rows")))

    existing: dict[str, Delegate] = {}
    keys = list(first_row)
    for start in range(0, len(keys), 500):
        for stored in db.session.scalars(
                select(Delegate).where(Delegate.email_key.in_(keys[start:start + 500]))):
            if stored.email_key is not None:
                existing[stored.email_key] = stored
    to_insert: list[_Planned] = []
    for plan in planned:
        delegate = existing.get(email_key(plan.clean["email"]))
        if delegate is None:
            to_insert.append(plan)
            continue
        diffs = _differences(delegate, plan.clean, colset)
        if diffs:
            report.errors.append(RowError(plan.row, "email", plain(_l(
                "This email address is already registered (%(ref)s) with different details "
                "(%(fields)s). Correct the row or the registration.",
                ref=delegate.reference, fields=", ".join(diffs)))))
        else:
            report.skipped.append({"row": plan.row, "email": plan.clean["email"],
                                   "reference": delegate.reference})
    # Rows whose email is registered but which have other errors are reported as errors.
    report.errors.sort(key=lambda e: (e.row, _field_order(e.field)))
    return to_insert, report


def _field_order(name: str) -> int:
    try:
        return EXCHANGE_COLUMNS.index(name)
    except ValueError:
        return len(EXCHANGE_COLUMNS)


# --- importing ------------------------------------------------------------------------------

def _references(count: int) -> list[str]:
    prefix = current_app.config["REFERENCE_PREFIX"]
    refs: set[str] = set()
    while len(refs) < count:
        fresh = {new_reference(prefix) for _ in range(count - len(refs))} - refs
        taken: set[str] = set()
        batch = list(fresh)
        for start in range(0, len(batch), 500):
            taken |= set(db.session.scalars(select(Delegate.reference).where(
                Delegate.reference.in_(batch[start:start + 500]))))
        refs |= fresh - taken
    return list(refs)


def import_rows(columns: Sequence[str], rows: Sequence[tuple[int, dict[str, str]]],
                staff: StaffUser | None, *, approve: bool = False, actor: str = "system",
                progress: Progress | None = None,
                before_commit: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Validate every row; if all are good insert them in one transaction (and commit).
    `before_commit(report)` runs inside that transaction (a job records its end there)."""
    started = monotonic()
    to_insert, report = validate_rows(columns, rows, progress)
    if approve and photo_required(editions.current_edition_id()):
        approve, report.waiting_photo = False, True
    report.approved = approve
    if not report.ok:
        report.seconds = monotonic() - started
        return report
    app = real_app()
    actor = audit.actor_label(staff, actor)
    try:
        delegates = []
        for plan, reference in zip(to_insert, _references(len(to_insert)), strict=True):
            delegate = build_delegate(plan.clean, source=RecordSource.IMPORT,
                                      reference=reference)
            delegates.append((plan.row, delegate))
        db.session.add_all(d for _, d in delegates)
        db.session.flush()
        for index, (row, delegate) in enumerate(delegates, start=1):
            audit.record(delegate, "imported", actor=actor, staff=staff, row=row,
                         approve=approve)
            if approve:
                old = delegate.move_to(Status.APPROVED)
                audit.record(delegate, "status", actor=actor, staff=staff,
                             **{"from": old.value, "to": delegate.status, "via": "import"})
                delegate_approved.send(app, delegate=delegate)
            if progress is not None and index % 100 == 0:
                progress(index, len(delegates), plain(_l("Importing")))
        report.imported = len(delegates)
        report.seconds = monotonic() - started
        if before_commit is not None:
            before_commit(report)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        report.imported = 0
        report.file_error = plain(_l(
            "another registration with one of these email addresses arrived during the "
            "import. Nothing was imported: import the file again."))
        return report
    except BaseException:
        db.session.rollback()
        raise
    report.imported = len(delegates)
    report.seconds = monotonic() - started
    return report


def import_file(data: bytes, filename: str, staff: StaffUser | None, *, approve: bool = False,
                actor: str = "system", progress: Progress | None = None,
                before_commit: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Read, validate and (if every row is good) import a CSV or XLSX file."""
    try:
        columns, rows = read_table(data, filename)
    except ImportFileError as exc:
        return ImportReport(file_error=exc.message, approved=approve)
    return import_rows(columns, rows, staff, approve=approve, actor=actor, progress=progress,
                       before_commit=before_commit)
