"""Comparing names across scripts: transliterate to Latin, then a tolerant measure.

Every name is transliterated with anyascii (Cyrillic, Greek, Han, Hangul, Arabic … to
Latin letters), lower-cased and reduced to letters. Names are compared part by part —
the family name with the family name and the given names with the given names, each with
Jaro-Winkler similarity (rapidfuzz) — and a pair scores the lower of its two parts, so one
matching part is not enough ("Sergei Ivanov" and "Sergei Smirnov" do not match). The parts
are also tried crossed, as agencies and delegates do not always agree which name comes first.

A delegate gives several writings of their name: the given/family fields, and the native
name. A native name with spaces is split into words (first word, then the rest; and last
word, then the rest); one written without spaces in Han or Hangul is split into syllables
as anyascii capitalises them (习近平 → Xi | JinPing, and 欧阳修 → OuYang | Xiu).

No database here: services/watchlist/matching.py decides which pairs to compare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from anyascii import anyascii
from rapidfuzz.distance import JaroWinkler

# Pairs scoring at least this are hits (config WATCHLIST_NAME_THRESHOLD overrides).
DEFAULT_THRESHOLD = 0.9

_SYLLABLE = re.compile(r"[A-Z][a-z]*|[a-z]+")
_NOT_LETTER = re.compile(r"[^a-z]+")


def _is_cjk(text: str) -> bool:
    """Han, kana or Hangul: scripts written without spaces between a person's names."""
    return any("\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or
               "\uf900" <= ch <= "\ufaff" for ch in text)


def latin_words(text: str) -> list[str]:
    """The words of a name in lower-case Latin letters."""
    return [w for w in _NOT_LETTER.split(anyascii(text or "").lower()) if w]


@dataclass(frozen=True)
class Part:
    """One part of a name (family or given): all its words run together, and its first."""

    joined: str
    first: str

    @classmethod
    def of(cls, words: Iterable[str]) -> Part:
        words = list(words)
        return cls("".join(words), words[0] if words else "")

    @classmethod
    def from_text(cls, text: str) -> Part:
        return cls.of(latin_words(text))


@dataclass(frozen=True)
class Name:
    family: Part
    given: Part


def _similarity(a: Part, b: Part) -> float:
    if not a.joined or not b.joined:
        return 0.0
    whole = JaroWinkler.normalized_similarity(a.joined, b.joined)
    if a.first == a.joined and b.first == b.joined:
        return whole
    # A middle name or a second family name on one side only.
    return max(whole, JaroWinkler.normalized_similarity(a.first, b.first))


def name_score(a: Name, b: Name) -> float:
    """How alike two names are, 0..1 (the weaker part of the better pairing)."""
    if a.given.joined and b.given.joined:
        straight = min(_similarity(a.family, b.family), _similarity(a.given, b.given))
        crossed = min(_similarity(a.family, b.given), _similarity(a.given, b.family))
        return max(straight, crossed)
    # One side has a single name: it must match one of the other side's parts.
    parts_a = [p for p in (a.family, a.given) if p.joined]
    parts_b = [p for p in (b.family, b.given) if p.joined]
    return max((_similarity(x, y) for x in parts_a for y in parts_b), default=0.0)


def _native_names(native: str) -> list[Name]:
    words = native.split()
    if len(words) >= 2:
        latin = [latin_words(w) for w in words]
        out = [Name(Part.of(latin[0]), Part.of(w for ws in latin[1:] for w in ws))]
        if len(words) >= 3:
            out.append(Name(Part.of(latin[-1]), Part.of(w for ws in latin[:-1] for w in ws)))
        return out
    if len(words) == 1 and _is_cjk(words[0]):
        syllables = [s.lower() for s in _SYLLABLE.findall(anyascii(words[0]))]
        out = []
        if len(syllables) >= 2:
            out.append(Name(Part.of(syllables[:1]), Part.of(syllables[1:])))
        if len(syllables) >= 3:
            out.append(Name(Part.of(syllables[:2]), Part.of(syllables[2:])))
        return out
    if len(words) == 1:
        return [Name(Part.from_text(words[0]), Part.of([]))]
    return []


def name_variants(family: str | None, given: str | None, native: str | None = "") -> list[Name]:
    """Every writing of one person's name to compare (see the module docstring)."""
    out: list[Name] = []
    family, given = (family or "").strip(), (given or "").strip()
    if family and not given and " " not in family and _is_cjk(family):
        out += _native_names(family)  # a whole Han name typed into one field
    elif given and not family and " " not in given and _is_cjk(given):
        out += _native_names(given)
    if family or given:
        out.append(Name(Part.from_text(family), Part.from_text(given)))
    if native and native.strip():
        out += _native_names(native.strip())
    seen: set[Name] = set()
    return [n for n in out if (n.family.joined or n.given.joined)
            and not (n in seen or seen.add(n))]  # type: ignore[func-returns-value]


def best_score(left: list[Name], right: list[Name]) -> float:
    return max((name_score(a, b) for a in left for b in right), default=0.0)
