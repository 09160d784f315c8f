"""The forum's vocabulary: categories, honorifics, themes and the field names.

One source of truth for the registration form, the import template, exports and the badge
data. Field names are stable snake_case: they are the CSV column names too.
"""

from __future__ import annotations

from dataclasses import dataclass

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


CATEGORY_FIELDS: dict[str, tuple[CategoryField, ...]] = {
    "government": (
        CategoryField("ministry", _l("Ministry / agency"), "text", required=True),
        CategoryField("delegation", _l("Delegation (country or region)"), "country"),
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

# Identity (travel document) fields, asked only in the edition's identity categories and
# kept encrypted (models/identity.py). Form, import and export share these names.
IDENTITY_FIELDS: tuple[str, ...] = ("nationality", "date_of_birth", "document_type",
                                    "document_number", "document_country", "document_expiry")

# The CSV/XLSX column order for imports and exports.
EXCHANGE_COLUMNS: tuple[str, ...] = COMMON_FIELDS + ALL_CATEGORY_FIELD_NAMES + IDENTITY_FIELDS

NAME_MAX = 120
