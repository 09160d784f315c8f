"""Sort keys that put names in the order a reader expects, not in code point order.

With PyICU (a requirement; it builds against Debian's libicu-dev) the keys are ICU collation
keys for the reader's language: Ø sorts with O, Ł with L, Ç with C, and Chinese by pinyin.

Without ICU (a machine where PyICU could not be built) a simpler key is used: names are
decomposed (NFKD), accents dropped, letters that do not decompose mapped to their base
(ø → o, ł → l, đ → d, æ → ae, ß → ss, þ → th …) and case folded. Its limits: no language's own
rules (Swedish å after z, Spanish ch), Han characters in code point order instead of pinyin,
and no tie-break between "Muller" and "Müller" other than the original text.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

try:  # pragma: no cover - which branch runs depends on the machine
    import icu
except ImportError:  # pragma: no cover
    icu = None

_ICU_LOCALES = {"en": "en", "zh": "zh"}

# Letters NFKD does not split into a base letter and a mark.
_BASE_LETTERS = str.maketrans({
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
    "þ": "th", "Þ": "Th", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ß": "ss", "ı": "i",
    "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T", "ŋ": "n", "Ŋ": "N",
})

HAS_ICU = icu is not None


@cache
def _collator(lang: str) -> Any:
    return icu.Collator.createInstance(icu.Locale(_ICU_LOCALES.get(lang, "root")))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_BASE_LETTERS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def sort_key(text: str, lang: str = "en") -> bytes:
    """A key for sorting `text` as a reader of `lang` expects (bytes compare in order)."""
    if icu is not None:
        return bytes(_collator(lang).getSortKey(text))
    return _fold(text).encode() + b"\x00" + text.encode()


def name_sort_key(family_name: str, given_name: str, lang: str = "en") -> bytes:
    """Family name, then given names. A person with one name (stored as a given name only)
    sorts under that name among the family names, not before everyone else."""
    family = family_name.strip() or given_name.strip()
    given = given_name.strip() if family_name.strip() else ""
    # Each key ends with its own terminator, so a shorter family name sorts first ("Li"
    # before "Lin") whatever the given names.
    return sort_key(family, lang) + b"\x00" + sort_key(given, lang)
