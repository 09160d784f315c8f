"""The forum's vocabulary: categories, honorifics, themes and the field names.

One source of truth for the registration form, the import template, exports and the badge
data. Field names are stable snake_case: they are the CSV column names too, except where
FILE_COLUMNS says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

# Category keys are stored in the database and used in CSV files: never rename one.
CATEGORIES: dict[str, object] = {
    "government": _l("Government official"),
    "expert": _l("Security expert"),
    "scholar": _l("Scholar / academic"),
    "ngo": _l("NGO representative"),
}
CATEGORY_KEYS: tuple[str, ...] = tuple(CATEGORIES)

# The empty string is "no honorific": first, so that a delegate who skips the field is not
# addressed as "H.E." by default.
HONORIFICS: tuple[str, ...] = ("", "H.E.", "Dr.", "Prof.", "Mr.", "Ms.", "Mx.")
# How the form and the desk show them; the stored (and printed) value is the key.
HONORIFIC_LABELS: dict[str, object] = {
    "": _l("none"),
    "H.E.": _l("H.E."),
    "Dr.": _l("Dr."),
    "Prof.": _l("Prof."),
    "Mr.": _l("Mr."),
    "Ms.": _l("Ms."),
    "Mx.": _l("Mx."),
}

THEMES: dict[str, object] = {
    "counter_terrorism": _l("Counter-terrorism"),
    "cybersecurity": _l("Cybersecurity"),
    "disaster_response": _l("Disaster response and emergency management"),
    "public_health": _l("Public health emergencies"),
    "transnational_crime": _l("Transnational crime"),
    "public_safety_technology": _l("Technology for public safety"),
    "other": _l("Other"),
}

# Fields every delegate has, in form / CSV order. Columns of the Delegate table.
COMMON_FIELDS: tuple[str, ...] = (
    "category",
    "honorific",
    "given_name",
    "family_name",
    "native_name",
    "badge_name",
    "organisation",
    "position",
    "country",
    "email",
    "phone",
    "dietary_needs",
    "accessibility_needs",
)


@dataclass(frozen=True)
class CategoryField:
    """A category-specific field, stored in `Delegate.details` (JSON) under `name`.

    `required` applies to self-registration and walk-ins; imports of invited delegations may
    leave these empty for the desk or the delegate to complete later.
    """

    name: str
    label: object
    kind: str  # "text", "country", "bool", "themes", "url"
    required: bool = False
    max_length: int = 200
    # Its column in import/export files where that is not `name` (see FILE_COLUMNS).
    column: str = ""


CATEGORY_FIELDS: dict[str, tuple[CategoryField, ...]] = {
    "government": (
        CategoryField("ministry", _l("Ministry / agency"), "text", required=True),
        CategoryField("delegation", _l("Delegation (country or region)"), "country",
                      column="delegation_country"),
        CategoryField("head_of_delegation", _l("I am the head of my delegation"), "bool"),
    ),
    "expert": (
        CategoryField("expertise", _l("Areas of expertise"), "themes", required=True),
        CategoryField("expertise_other", _l("Other area of expertise"), "text"),
    ),
    "scholar": (
        CategoryField("institution", _l("Institution"), "text", required=True),
        CategoryField("department", _l("Department"), "text"),
        CategoryField("academic_title", _l("Academic title"), "text"),
    ),
    "ngo": (
        CategoryField("website", _l("Organisation website"), "url", max_length=300),
        CategoryField("focus", _l("What your organisation works on"), "text", required=True,
                      max_length=500),
    ),
}

ALL_CATEGORY_FIELD_NAMES: tuple[str, ...] = tuple(
    f.name for fields in CATEGORY_FIELDS.values() for f in fields
)

# Field name → file column, where they differ. A file's `delegation` column is the
# Delegation a delegate belongs to (its name: the export writes it, the invitation import
# reads it), so the government's own `delegation` field, a country code, is
# `delegation_country` in files.
FILE_COLUMNS: dict[str, str] = {f.name: f.column for fields in CATEGORY_FIELDS.values()
                                for f in fields if f.column}
FIELDS_OF_COLUMNS: dict[str, str] = {column: name for name, column in FILE_COLUMNS.items()}
# Column names of older files → today's: a delegate import still reads them when the file
# lacks today's column (files exported before `delegation_country`).
LEGACY_COLUMNS: dict[str, str] = {"delegation": "delegation_country"}


def column_of(name: str) -> str:
    """The file column of a form field."""
    return FILE_COLUMNS.get(name, name)


def field_of(column: str) -> str:
    """The form field of a file column (one of EXCHANGE_COLUMNS)."""
    return FIELDS_OF_COLUMNS.get(column, column)


# The CSV/XLSX column order for imports and exports.
EXCHANGE_COLUMNS: tuple[str, ...] = COMMON_FIELDS + tuple(
    column_of(name) for name in ALL_CATEGORY_FIELD_NAMES)


def record_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """A file row ({column: value}) keyed by form field, for validation.clean_record. A
    column named like a field whose file column is another (a file's `delegation`) is no
    form value and is left out."""
    return {field_of(column): value for column, value in record.items()
            if column not in FILE_COLUMNS}

NAME_MAX = 120
