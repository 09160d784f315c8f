"""Text rules for names in every script: cleaning what people type and folding it for search."""

from __future__ import annotations

import re
import secrets
import unicodedata

# Bidi embedding/override/isolate controls: legitimate text never needs them in a name, and
# they can make a badge or a list show something other than what is stored.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters that do not decompose into base + accent but that people type without the stroke.
_FOLD_EXTRA = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae",
                             "œ": "oe", "þ": "th", "ð": "d"})


class InvalidText(ValueError):
    """Text a person typed that cannot be stored as it is."""


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """NFC-normalise and trim; refuse control characters.

    Format characters such as ZWNJ (U+200C, needed in Persian) and ZWJ stay: they are part
    of correct spelling. Only bidi overrides among them are refused.
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", value).strip()
    if multiline:  # browsers send a textarea's line breaks as CR LF
        text = text.replace("\r\n", "\n")
    for ch in text:
        if multiline and ch in "\n\t":
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs", "Co", "Cn") or ch in _BIDI_CONTROLS:
            raise InvalidText(f"U+{ord(ch):04X}")
    return text


def search_key(value: str) -> str:
    """Fold text for searching: case-insensitive, accent-insensitive, any script."""
    decomposed = unicodedata.normalize("NFKD", value.casefold().translate(_FOLD_EXTRA))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(unicodedata.normalize("NFC", stripped).split())


# Crockford-style alphabet without 0/O, 1/I/L and U: readable over the phone and on paper.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference(prefix: str = "GPS") -> str:
    """A random reference such as GPS-7K3Q-9XWD (30^8 ≈ 6.6e11 possibilities, not a sequence)."""
    # One draw from the OS generator, written in base 30 (unbiased, one syscall).
    number = secrets.randbelow(len(REFERENCE_ALPHABET) ** 8)
    chars = []
    for _ in range(8):
        number, digit = divmod(number, len(REFERENCE_ALPHABET))
        chars.append(REFERENCE_ALPHABET[digit])
    return f"{prefix}-{''.join(chars[:4])}-{''.join(chars[4:])}"


# A reference as someone may type it: any case, with or without hyphens or spaces, full-width
# forms from a Chinese keyboard (NFKC folds them). The prefix (the REFERENCE_PREFIX setting)
# and the eight characters after it are letters and digits: references made before the
# alphabet above, or given in an import, are found too.
_REFERENCE_TYPED = re.compile(r"[A-Z0-9]{1,8}[A-Z0-9]{8}")
_REFERENCE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212_.·]+")


def reference_key(typed: str) -> str | None:
    """The reference's letters without separators ("GPSY8ZGCY7J" for "gps-y8zg cy7j"), or
    None if `typed` cannot be a reference code (a QR token, say). The scanner page's
    snapshot lookup uses the same key."""
    if not isinstance(typed, str) or len(typed) > 40:
        return None
    folded = _REFERENCE_SEPARATORS.sub("", unicodedata.normalize("NFKC", typed)).upper()
    return folded if _REFERENCE_TYPED.fullmatch(folded) else None


def parse_reference(typed: str) -> str | None:
    """The reference as stored ("GPS-Y8ZG-CY7J") for what someone typed, or None."""
    key = reference_key(typed)
    if key is None:
        return None
    prefix, body = key[:-8], key[-8:]
    return f"{prefix}-{body[:4]}-{body[4:]}"


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """A count with its noun, right for 1 and for many: "1 delegate", "3 delegates",
    "1 watchlist entry", "2 watchlist entries" (give `plural` when it is not singular + s).
    English: the CLI's messages; pages use ngettext."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
