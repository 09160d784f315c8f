"""A delegate's name on the badge: never cut, and never without the family name.

A long name goes through these remedies, in order, and the first that fits at the slot's
legible minimum (``TextSlot.min_size``) or larger is printed:

1. shrink, from the slot's size down to its minimum;
2. wrap onto up to ``max_lines`` lines (three on every layout). Line breaks are first
   tried only outside the family name (so it stays whole on one line), then at any space,
   then also after the hyphens of compound names (``Hohenzollern-`` / ``Sigmaringen``);
3. drop the middle given names: first given name + family name;
4. shorten the given name to its initial(s): ``W. von Hohenzollern…``, ``J.-P. Dupont``.

If even that does not fit, the shortest form is printed smaller than the legible minimum
rather than cut. The honorific is always kept; the family name is always printed whole.

A badge name the delegate chose themselves (``badge_name`` that is not simply given +
family name) is printed as they wrote it: we cannot know which of its words is the family
name, so no word is dropped or shortened. It is shrunk and wrapped (1 and 2) and, if still
too long, printed below the legible minimum, never cut. :func:`preview_name` tells the
registration form how a name will print, so the delegate can choose a shorter form.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from .fitting import FittedText, best_split, break_points, place
from .fonts import FONT_DIRS_ENV
from .layouts import LAYOUTS, BadgeLayout, TextSlot


@dataclass(frozen=True)
class NameFit:
    """How a name prints in one slot."""

    text: str  # the form printed, honorific included, on one line (e.g. "Dr. W. Müller")
    lines: tuple[str, ...]  # as wrapped on the badge
    size: float  # pt, in the design's size (the 4-up sheet prints it at 88%)
    shortened: bool  # given names were dropped or reduced to initials
    legible: bool  # printed at the slot's legible minimum or larger

    @property
    def changed(self) -> bool:
        """The badge will not show the name as entered, at a legible size."""
        return self.shortened or not self.legible


def _clean(s: str) -> str:
    return " ".join(s.split())


def is_chosen_badge_name(badge_name: str, given: str, family: str) -> bool:
    """True if ``badge_name`` is the delegate's own form rather than given + family name
    (the app stores given + family there when the delegate left the field empty)."""
    if not _clean(given) and not _clean(family):
        return True
    chosen = _clean(badge_name)
    return bool(chosen) and chosen.casefold() != _clean(f"{given} {family}").casefold()


def _initials(word: str) -> str | None:
    """``Wolfgang`` -> ``W.``, ``Jean-Pierre`` -> ``J.-P.``; None for a script without
    initials (Chinese, Arabic...)."""
    parts = [p for p in word.split("-") if p]
    if not parts or not all(p[0].isalpha() and p[0].lower() != p[0].upper() for p in parts):
        return None
    return "-".join(p[0] + "." for p in parts)


def name_variants(honorific: str, given: str, family: str) -> list[tuple[str, int]]:
    """The printable forms of a name, longest first, each with the index where its
    protected part (the family name; a lone given name if there is no family name) starts."""
    honorific, given, family = _clean(honorific), _clean(given), _clean(family)
    words = given.split()
    forms: list[str] = [given]
    if len(words) > 1:
        forms.append(words[0])  # drop the middle given names
    if words and family and (initial := _initials(words[0])) and initial != words[0]:
        forms.append(initial)  # shorten the given name
    out = []
    for g in forms:
        if family:
            head = _clean(f"{honorific} {g}")
            text = _clean(f"{head} {family}")
            out.append((text, len(text) - len(family)))
        else:  # a single name: it is the part to keep whole
            text = _clean(f"{honorific} {g}")
            out.append((text, len(text) - len(g)))
    return out


def choose_name(honorific: str, given: str, family: str, badge_name: str, slot: TextSlot
                ) -> NameFit:
    """Apply the remedies (module docstring) to a name in ``slot``."""
    return _choose_name(honorific, given, family, badge_name, slot,
                        os.environ.get(FONT_DIRS_ENV))


@lru_cache(maxsize=4096)
def _choose_name(honorific: str, given: str, family: str, badge_name: str, slot: TextSlot,
                 _dirs_key: str | None) -> NameFit:
    if is_chosen_badge_name(badge_name, given, family):
        text = _clean(f"{honorific} {badge_name}")
        variants = [(text, len(text))]  # nothing protected, nothing dropped
    else:
        variants = name_variants(honorific, given, family)
    if not variants or not variants[0][0]:
        return NameFit("", (), slot.size, False, True)
    max_lines = max(1, slot.max_lines)
    for k, (text, protect) in enumerate(variants):
        spaces = break_points(text)
        point_sets = [[p for p in spaces if p < protect], spaces,
                      break_points(text, hyphens=True)]
        for points in point_sets:
            for n in range(1, max_lines + 1):
                best = best_split(text, slot, points, n)
                if best is not None and best[0] >= slot.min_size - 1e-9:
                    return NameFit(text, best[1], best[0], k > 0, True)
    # nothing fits legibly: the shortest form, as large as it goes, whole
    text = variants[-1][0]
    points = break_points(text, hyphens=True)
    found = [b for n in range(1, max_lines + 1)
             if (b := best_split(text, slot, points, n)) is not None]
    size, lines = max(found, key=lambda b: b[0])
    return NameFit(text, lines, size, len(variants) > 1, False)


def fit_name(honorific: str, given: str, family: str, badge_name: str, slot: TextSlot
             ) -> FittedText:
    """The name laid out in ``slot`` (see :func:`badges.fitting.fit`)."""
    chosen = choose_name(honorific, given, family, badge_name, slot)
    return place(chosen.lines, chosen.size, slot)


def preview_name(given: str, family: str, layout: str | BadgeLayout = "a6", *,
                 honorific: str = "", badge_name: str = "", photo: bool = True) -> NameFit:
    """How a name will print on ``layout`` (pure: no PDF is made). ``photo`` False uses
    the layout's design for badges without a photo (where the name has more room)."""
    lay = layout if isinstance(layout, BadgeLayout) else LAYOUTS[layout]
    design = lay.design
    if not photo and design.no_photo is not None:
        design = design.no_photo
    return choose_name(honorific, given, family, badge_name, design.name)
