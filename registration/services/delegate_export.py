"""Exporting delegates as CSV or XLSX: reference, status and the columns of
fields.EXCHANGE_COLUMNS for a selection (the desk's filter), with cells that a spreadsheet
would run as a formula neutralised. delegate_import reads these files back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..countries import country_name
from ..extensions import db
from ..fields import ALL_CATEGORY_FIELD_NAMES, COMMON_FIELDS, EXCHANGE_COLUMNS
from ..models import Delegate, Delegation, StaffUser
from . import audit
from .identity import export_values
from .selection import SelectionFilter

# country_name: the country's display name (the host's protocol, countries.py), for readers
# of the file; imports ignore it and read the code in "country". `delegation`: the
# Delegation the delegate belongs to (nominated or invited), its English name; imports
# ignore it. (The government category's own field, a country code, is `delegation_country`.)
EXPORT_COLUMNS: tuple[str, ...] = ("reference", "status", *EXCHANGE_COLUMNS, "country_name",
                                   "delegation")
# Spreadsheets run a cell starting with one of these as a formula (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def bool_cell(value: bool) -> str:
    """A yes/no answer in a file: "yes" or empty, in every language (files are data)."""
    return "yes" if value else ""


def neutralise(value: str) -> str:
    """Prefix an apostrophe to a cell a spreadsheet would evaluate (=, +, -, @, tab, CR)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _export_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return bool_cell(value)
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def delegate_row(delegate: Delegate, delegation_names: dict[int, str] | None = None, *,
                 reveal_identity: bool = False) -> list[str]:
    """One delegate's cells; identity secrets masked unless `reveal_identity`
    (auth.may_see_identity; an import reads a masked value as "keep what is stored")."""
    details = delegate.details or {}
    values: list[Any] = [delegate.reference, delegate.status]
    values += [getattr(delegate, name) for name in COMMON_FIELDS]
    values += [details.get(name) for name in ALL_CATEGORY_FIELD_NAMES]
    values += list(export_values(delegate.identity, reveal=reveal_identity).values())
    values.append(country_name(delegate.country, "en") if delegate.country else "")
    values.append((delegation_names or {}).get(delegate.delegation_id or 0, ""))
    return [neutralise(_export_value(v)) for v in values]


def export_rows(selection: SelectionFilter, *, reveal_identity: bool = False
                ) -> Iterator[list[str]]:
    """The header, then one row per delegate of the selection (streamed in chunks)."""
    yield list(EXPORT_COLUMNS)
    names = dict(db.session.execute(select(Delegation.id, Delegation.name_en)).tuples().all())
    stmt = selection.query().options(selectinload(Delegate.identity)) \
        .execution_options(yield_per=500)
    for delegate in db.session.scalars(stmt):
        yield delegate_row(delegate, names, reveal_identity=reveal_identity)


def write_csv(rows: Iterable[list[str]], out: IO[bytes]) -> int:
    """UTF-8 with a BOM (so Excel shows every script), CRLF lines. Returns data rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    count = -1
    for row in rows:
        writer.writerow(row)
        count += 1
    text.flush()
    text.detach()
    return max(count, 0)


def write_xlsx(rows: Iterable[list[str]], out: IO[bytes]) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Delegates")
    count = -1
    for row in rows:
        sheet.append(row)
        count += 1
    workbook.save(out)
    return max(count, 0)


def export(selection: SelectionFilter, fmt: str, out: IO[bytes], *,
           reveal_identity: bool = False) -> int:
    """Write the selection as "csv" or "xlsx" to `out`; returns the number of delegates."""
    rows = export_rows(selection, reveal_identity=reveal_identity)
    if fmt == "csv":
        return write_csv(rows, out)
    if fmt == "xlsx":
        return write_xlsx(rows, out)
    raise ValueError(f"unknown export format {fmt!r}")


def export_filename(fmt: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M")
    return f"delegates-{stamp}.{fmt}"


def record_export(staff: StaffUser | None, fmt: str, count: int, filters: dict[str, Any], *,
                  actor: str = "system") -> None:
    """Personal data left the system: note who exported what (and commit)."""
    audit.record(None, "exported", actor=actor, staff=staff, format=fmt, count=count,
                 filters=filters)
    db.session.commit()
