"""ISO 3166-1 countries and regions, named in the reader's language (from CLDR via Babel)."""

from __future__ import annotations

from functools import cache

from babel import Locale

# CLDR territory codes that are two letters but not ISO 3166-1 countries or regions.
_NOT_COUNTRIES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN",
                            "XA", "XB", "ZZ"})

_BABEL_LOCALES = {"en": "en", "zh": "zh_Hans_CN"}


@cache
def _names(lang: str) -> dict[str, str]:
    territories = Locale.parse(_BABEL_LOCALES.get(lang, lang)).territories
    return {code: name for code, name in territories.items()
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES}


COUNTRY_CODES: frozenset[str] = frozenset(_names("en"))


def country_name(code: str, lang: str = "en") -> str:
    return _names(lang).get(code, code)


@cache
def country_choices(lang: str = "en") -> list[tuple[str, str]]:
    """(code, name) pairs sorted by name as a reader of `lang` expects."""
    names = _names(lang)
    if lang == "zh":
        # Pinyin order would need ICU; sorting Chinese names by their English name keeps a
        # stable, scannable list, and the page's search box finds any name directly.
        english = _names("en")
        return sorted(names.items(), key=lambda kv: english[kv[0]].casefold())
    return sorted(names.items(), key=lambda kv: kv[1].casefold())
