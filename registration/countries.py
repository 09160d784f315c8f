"""ISO 3166-1 countries and regions, named in the reader's language: the one place every page,
form, export, badge, email and the scanner's snapshot gets a country's name from.

Names come from CLDR (via Babel), then the host's protocol overrides some of them: a JSON file,
`registration/data/country_names.json` by default, or the file the COUNTRY_NAMES_FILE setting
names (a deployment replaces it without touching the code). Its shape::

    {"en": {"TW": "Taiwan, China", …}, "zh": {"TW": "中国台湾", …}}
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from babel import Locale
from flask import current_app, has_app_context

from .collation import sort_key

# CLDR territory codes that are two letters but not ISO 3166-1 countries or regions.
_NOT_COUNTRIES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN",
                            "XA", "XB", "ZZ"})

_BABEL_LOCALES = {"en": "en", "zh": "zh_Hans_CN"}

DEFAULT_NAMES_FILE = str(Path(__file__).resolve().parent / "data" / "country_names.json")


class CountryNamesError(ValueError):
    """The names file is unreadable or names a code that is not a country or region."""


@cache
def _cldr_names(lang: str) -> dict[str, str]:
    territories = Locale.parse(_BABEL_LOCALES.get(lang, lang)).territories
    return {code: name for code, name in territories.items()
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES}


COUNTRY_CODES: frozenset[str] = frozenset(_cldr_names("en"))


@cache
def load_overrides(path: str) -> dict[str, dict[str, str]]:
    """{lang: {code: name}} from a names file; keys starting with "_" are comments."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CountryNamesError(f"country names file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CountryNamesError(f"country names file {path}: expected an object of languages")
    overrides: dict[str, dict[str, str]] = {}
    for lang, names in data.items():
        if lang.startswith("_"):
            continue
        if not isinstance(names, dict):
            raise CountryNamesError(f"country names file {path}: {lang!r} is not an object")
        unknown = sorted(c for c in names if c not in COUNTRY_CODES)
        if unknown or not all(isinstance(n, str) and n.strip() for n in names.values()):
            raise CountryNamesError(f"country names file {path}: unknown codes {unknown} or "
                                    "empty names")
        overrides[lang] = {code: name.strip() for code, name in names.items()}
    return overrides


def names_file() -> str:
    """The names file in force: the app's COUNTRY_NAMES_FILE, else the shipped default."""
    if has_app_context():
        return current_app.config.get("COUNTRY_NAMES_FILE") or DEFAULT_NAMES_FILE
    return DEFAULT_NAMES_FILE


@cache
def _names(lang: str, path: str) -> dict[str, str]:
    return {**_cldr_names(lang), **load_overrides(path).get(lang, {})}


def country_name(code: str, lang: str = "en") -> str:
    """The display name of `code` in `lang`; an unknown code is shown as it is."""
    return _names(lang, names_file()).get(code, code)


def country_names(lang: str = "en") -> dict[str, str]:
    """Every code's display name in `lang` (a shared dict: do not change it)."""
    return _names(lang, names_file())


@cache
def _choices(lang: str, path: str) -> list[tuple[str, str]]:
    names = _names(lang, path)
    return sorted(names.items(), key=lambda kv: sort_key(kv[1], lang))


def country_choices(lang: str = "en") -> list[tuple[str, str]]:
    """(code, name) pairs sorted by name as a reader of `lang` expects (pinyin order for
    Chinese where ICU is installed). The same list object per language and names file."""
    return _choices(lang, names_file())
