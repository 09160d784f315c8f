"""The rules for identity (travel document) data, shared by the registration form, walk-ins,
nominations, the manage page, the desk's edit page and imports (through
validation.clean_record), like the rules of validation.py for the other fields.

Identity data is asked only in the categories the edition names (`Edition.identity_categories`).
Every value is optional here except on the public form (`required`): a delegate imported or
nominated without it waits in vetting as `incomplete` (services/identity.py). An empty value
never erases a stored one: the edit pages do not show the stored number or dates back (they
are masked), so an empty field means "keep what is stored".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from .countries import COUNTRY_CODES
from .fields import IDENTITY_FIELDS
from .models.identity import DocumentType

# A plausible date of birth: someone at least this young / at most this old at the forum.
MIN_AGE_YEARS = 10
MAX_AGE_YEARS = 110
DOCUMENT_NUMBER_MIN = 5
DOCUMENT_NUMBER_MAX = 20
# Stored encrypted (models/identity.py) and shown masked on staff pages.
SECRET_FIELDS: tuple[str, ...] = ("date_of_birth", "document_number", "document_expiry")
MASK = "•••"  # how a secret shown to staff starts (services/identity.mask)
_NUMBER = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class IdentityRule:
    """What an edition asks: for which categories, and the dates the checks use."""

    categories: frozenset[str]
    starts_on: date
    ends_on: date

    def asks(self, category: str) -> bool:
        return category in self.categories


def edition_rule(edition: Any = None) -> IdentityRule | None:
    """The rule of `edition` (default: the one this code works on); None if it asks nobody."""
    from .editions import edition_settings

    edition = edition if edition is not None else edition_settings()
    if edition is None or not edition.identity_categories:
        return None
    return IdentityRule(frozenset(edition.identity_categories), edition.starts_on,
                        edition.ends_on)


def identity_asked(category: str, edition: Any = None) -> bool:
    rule = edition_rule(edition)
    return rule is not None and rule.asks(category)


def parse_date(text: str) -> date:
    """YYYY-MM-DD (a spreadsheet's date cell, read as "YYYY-MM-DDT00:00:00", too)."""
    text = text.strip()
    if len(text) > 10 and text[10:] in ("T00:00:00", " 00:00:00"):
        text = text[:10]
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(_l("Enter the date as YYYY-MM-DD, for example 1975-04-30.")) from None


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def clean_date_of_birth(text: str, rule: IdentityRule) -> str:
    born = parse_date(text)
    if born > _years_before(rule.starts_on, MIN_AGE_YEARS) or \
            born < _years_before(rule.starts_on, MAX_AGE_YEARS):
        raise ValueError(_l("This date of birth is not plausible: check the year."))
    return born.isoformat()


def clean_expiry(text: str, rule: IdentityRule) -> str:
    expires = parse_date(text)
    if expires <= rule.ends_on:
        raise ValueError(_l("This document expires before the forum ends (%(day)s): it cannot "
                            "be used to travel to the forum. Give a document valid after that "
                            "day.", day=rule.ends_on.isoformat()))
    return expires.isoformat()


def clean_document_number(text: str) -> str:
    """Upper case, spaces removed; letters and digits only."""
    number = "".join(text.split()).upper()
    if not _NUMBER.fullmatch(number):
        raise ValueError(_l("Use letters and digits only, as printed in the document "
                            "(no dashes or other signs)."))
    if not DOCUMENT_NUMBER_MIN <= len(number) <= DOCUMENT_NUMBER_MAX:
        raise ValueError(_l("A document number has %(low)d to %(high)d letters and digits.",
                            low=DOCUMENT_NUMBER_MIN, high=DOCUMENT_NUMBER_MAX))
    return number


def clean_country(text: str) -> str:
    code = text.strip().upper()
    if code not in COUNTRY_CODES:
        raise ValueError(_l("Choose a country or region from the list."))
    return code


def clean_document_type(text: str) -> str:
    word = text.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return DocumentType(word).value
    except ValueError:
        raise ValueError(_l("Choose the type of document: passport, national_id or other.")
                         ) from None


MISSING = {
    "nationality": _l("Choose your nationality."),
    "date_of_birth": _l("Enter your date of birth."),
    "document_type": _l("Choose the type of document."),
    "document_number": _l("Enter the document number."),
    "document_country": _l("Choose the country or region that issued the document."),
    "document_expiry": _l("Enter the document's expiry date."),
}


def clean_identity(data: Mapping[str, Any], rule: IdentityRule, *, required: bool
                   ) -> tuple[dict[str, str], dict[str, object]]:
    """The identity values given in `data` (only those not empty), cleaned, and errors.

    The issuing country defaults to the nationality. With `required`, every field must be
    given (the public form); otherwise missing ones leave the record incomplete."""
    raw = {name: str(data.get(name) or "").strip() for name in IDENTITY_FIELDS}
    # A masked value (an export re-imported, services/identity.mask) keeps what is stored.
    raw = {name: "" if value.startswith(MASK) else value for name, value in raw.items()}
    if not raw["document_country"] and raw["nationality"] and raw["document_number"]:
        raw["document_country"] = raw["nationality"]
    cleaners = {
        "nationality": clean_country,
        "date_of_birth": lambda v: clean_date_of_birth(v, rule),
        "document_type": clean_document_type,
        "document_number": clean_document_number,
        "document_country": clean_country,
        "document_expiry": lambda v: clean_expiry(v, rule),
    }
    values: dict[str, str] = {}
    errors: dict[str, object] = {}
    for name in IDENTITY_FIELDS:
        if not raw[name]:
            if required:
                errors[name] = MISSING[name]
            continue
        try:
            values[name] = cleaners[name](raw[name])
        except ValueError as exc:
            errors[name] = exc.args[0]
    return values, errors
