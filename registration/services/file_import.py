"""What every all-or-nothing file import shares (delegates, vetting decisions, watchlists):
size limits, reading CSV text whatever its encoding and delimiter, header names, and the
report of row errors or a file error."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from ..i18n import plain

MAX_ROWS = 10_000
MAX_FILE_BYTES = 10 * 1024 * 1024


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, encoding, columns)."""

    def __init__(self, message: object) -> None:
        self.message = plain(message)
        super().__init__(self.message)


@dataclass
class RowError:
    row: int  # the spreadsheet row number: the header is row 1
    field: str
    message: str


@dataclass
class FileReport:
    """What every all-or-nothing file import reports (delegates, vetting decisions,
    watchlists): errors per row, or one for the whole file."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and not self.file_error

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "error_rows": self.error_rows}

    def refusal(self) -> str:
        """Why nothing was imported (all or nothing)."""
        if self.file_error:
            return plain(_l("Nothing imported: %(error)s", error=self.file_error))
        return plain(lazy_ngettext(
            "Nothing imported: %(num)d of %(rows)d rows has errors. Correct it and import "
            "the whole file again.",
            "Nothing imported: %(num)d of %(rows)d rows have errors. Correct them and import "
            "the whole file again.", self.error_rows, rows=self.rows))


def normalise_header(name: Any) -> str:
    text = "" if name is None else str(name)
    return text.replace("\ufeff", "").strip().lower().replace(" ", "_").replace("-", "_")


def decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(_l("The file claims to be UTF-16 text but is damaged. Save "
                                     "it again as CSV UTF-8, or upload the .xlsx file.")
                                  ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportFileError(_l(
            "The file is not UTF-8 text (unreadable byte on line %(line)d; it was probably "
            "saved as GBK, Latin-1 or another legacy encoding). In Excel choose “Save as → "
            "CSV UTF-8”, or upload the .xlsx file.", line=line)) from None


def csv_rows(data: bytes) -> list[list[str]]:
    text = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportFileError(_l("The CSV file cannot be read: %(error)s", error=str(exc))
                              ) from None
