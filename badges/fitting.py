"""Fitting text into a box: which lines, at which size, at which positions.

Fitting order: shrink from the slot's size down to its minimum, then wrap onto two, then
up to ``max_lines`` lines (choosing the split that allows the largest size, the most
balanced one among equals), then cut with an ellipsis at the minimum size. Names are never
cut: :mod:`badges.names` uses :func:`best_split` and :func:`place` with its own remedies.
The result never leaves its box: the height check uses the real ascent/descent of the
fonts chosen for the line. :mod:`badges.pdftext` writes the result into the PDF.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, pairwise
from math import comb

from .fonts import FONT_DIRS_ENV
from .layouts import MM, TextSlot
from .shaping import Run, layout_line

ELLIPSIS = "\u2026"


@dataclass(frozen=True)
class FittedText:
    """Lines (as laid-out runs) with their size and baselines, in design points."""

    lines: tuple[tuple[tuple[Run, ...], float, float], ...]  # (runs, x, baseline)
    size: float


def _metrics(lines: list[str], slot: TextSlot) -> tuple[float, float, float]:
    """(widest line in 1/1000 em, block height in em, first line's ascent in em)."""
    laid = [layout_line(t, slot.bold) for t in lines]
    if not laid:
        return 0.0, 0.0, 0.0
    width = max(ll[1] for ll in laid)
    height = laid[0][2] - laid[-1][3] + (len(laid) - 1) * _pitch(laid, slot)
    return width, height, laid[0][2]


def _pitch(laid: list, slot: TextSlot) -> float:
    """Baseline-to-baseline distance in em: the slot's leading, or more if the ink of
    consecutive lines would otherwise touch (tall scripts, stacked marks)."""
    pitch = slot.leading
    for upper, lower in pairwise(laid):
        pitch = max(pitch, lower[2] - upper[3] + 0.08)
    return pitch


def _size_and_width(lines: list[str], slot: TextSlot) -> tuple[float, float]:
    """The largest size (<= slot.size) at which ``lines`` fit the box; widest line (em/1000)."""
    w_pt, h_pt = slot.box.w * MM, slot.box.h * MM
    width, height, _asc = _metrics(lines, slot)
    s = slot.size
    if width > 0:
        s = min(s, w_pt * 1000 / width)
    return (min(s, h_pt / height) if height > 0 else s), width


def _size_for(lines: list[str], slot: TextSlot) -> float:
    return _size_and_width(lines, slot)[0]


def break_points(text: str, hyphens: bool = False) -> list[int]:
    """Where ``text`` may wrap: at spaces (and after a hyphen between letters if
    ``hyphens``); without spaces (CJK, Thai) at any boundary not before a combining mark."""
    points = [i for i, c in enumerate(text) if c == " "]
    if hyphens:
        points += [i + 1 for i in range(1, len(text) - 1)
                   if text[i] == "-" and text[i - 1].isalpha() and text[i + 1].isalpha()]
        points.sort()
    if points:
        return points
    return [i for i in range(1, len(text)) if not _is_mark(text[i])]


_MAX_SPLITS = 3000  # candidate splits tried per (text, line count); names need a few dozen


def best_split(text: str, slot: TextSlot, points: list[int], n: int
               ) -> tuple[float, tuple[str, ...]] | None:
    """The split of ``text`` into ``n`` lines at ``points`` that fits the largest size
    (the most balanced among equal sizes): (size, lines), or None if there is none."""
    if n == 1:
        return _size_for([text], slot), (text,)
    while len(points) > n and comb(len(points), n - 1) > _MAX_SPLITS:
        points = points[::2]  # pathological input (hundreds of break points): thin out
    best: tuple[float, float, tuple[str, ...]] | None = None
    for combo in combinations(points, n - 1):
        bounds = (0, *combo, len(text))
        parts = tuple(text[a:b].strip() for a, b in pairwise(bounds))
        if not all(parts):
            continue
        size, width = _size_and_width(list(parts), slot)
        if best is None or size > best[0] + 1e-9 or (
                abs(size - best[0]) <= 1e-9 and width < best[1]):
            best = (size, width, parts)
    return (best[0], best[2]) if best is not None else None


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Mc", "Me")


def _fits(text: str, slot: TextSlot, size: float) -> bool:
    return layout_line(text, slot.bold)[1] * size / 1000 <= slot.box.w * MM + 1e-6


def _truncate(text: str, slot: TextSlot, size: float) -> str:
    """Longest prefix of ``text`` that fits with an ellipsis appended."""
    if _fits(text, slot, size):
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # largest k with prefix(k)+… fitting
        mid = (lo + hi + 1) // 2
        if _fits(text[:mid].rstrip() + ELLIPSIS, slot, size):
            lo = mid
        else:
            hi = mid - 1
    k = lo
    while 0 < k < len(text) and _is_mark(text[k]):  # never split a cluster
        k -= 1
    return text[:k].rstrip() + ELLIPSIS if k else ELLIPSIS


def _first_line(text: str, slot: TextSlot, size: float) -> tuple[str, str]:
    """Greedy: the longest first line that fits, breaking at spaces when possible."""
    best = None
    for i in break_points(text):
        head = text[:i].rstrip()
        if head and _fits(head, slot, size):
            best = i
        elif best is not None:
            break
    if best is None:  # one very long word: break inside it
        lo, hi = 1, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _fits(text[:mid], slot, size):
                lo = mid
            else:
                hi = mid - 1
        best = lo
        while 0 < best < len(text) and _is_mark(text[best]):
            best -= 1
        best = max(best, 1)
    return text[:best].rstrip(), text[best:].lstrip()


def choose_lines(text: str, slot: TextSlot) -> tuple[tuple[str, ...], float]:
    """The lines and font size for ``text`` in ``slot`` (cached per font setup)."""
    return _choose_lines(text, slot, os.environ.get(FONT_DIRS_ENV))


@lru_cache(maxsize=4096)
def _choose_lines(text: str, slot: TextSlot, _dirs_key: str | None
                  ) -> tuple[tuple[str, ...], float]:
    text = " ".join(text.split())
    if not text:
        return (), slot.size
    points = break_points(text)
    for n in range(1, max(1, slot.max_lines) + 1):
        best = best_split(text, slot, points, n)
        if best is not None and best[0] >= slot.min_size:
            return best[1], best[0]
    # last resort: minimum size, fill lines greedily, ellipsis on the last one
    n = max(1, slot.max_lines)
    _w, height, _a = _metrics([text] * n, slot)
    size = min(slot.min_size, slot.box.h * MM / height) if height > 0 else slot.min_size
    lines: list[str] = []
    rest = text
    while rest and len(lines) < n - 1:
        if _fits(rest, slot, size):
            break
        head, rest = _first_line(rest, slot, size)
        lines.append(head)
    if rest:
        lines.append(_truncate(rest, slot, size))
    # the actual lines (and the ellipsis) may be taller than the estimate: recheck height
    _w, height, _a = _metrics(lines, slot)
    if height > 0:
        size = min(size, slot.box.h * MM / height)
    return tuple(lines), size


def fit(text: str, slot: TextSlot) -> FittedText:
    """Lay ``text`` out in ``slot``: positions are in design points, bottom-left origin.

    The ink of the block (top of the first line to the bottom of the last) is centred
    vertically in the box, so the result never leaves it.
    """
    lines, size = choose_lines(text, slot)
    return place(lines, size, slot)


def place(lines: tuple[str, ...], size: float, slot: TextSlot) -> FittedText:
    """Position chosen ``lines`` at ``size`` in ``slot`` (see :func:`fit`)."""
    if not lines:
        return FittedText((), size)
    laid = [layout_line(t, slot.bold) for t in lines]
    pitch = _pitch(laid, slot) * size
    block = (laid[0][2] - laid[-1][3]) * size + (len(laid) - 1) * pitch
    bx, by, bw, bh = slot.box.x * MM, slot.box.y * MM, slot.box.w * MM, slot.box.h * MM
    top = by + bh - (bh - block) / 2
    baseline = top - laid[0][2] * size
    out = []
    for runs, width, _a, _d in laid:
        w = width * size / 1000
        if slot.align == "left":
            x = bx
        elif slot.align == "right":
            x = bx + bw - w
        else:
            x = bx + (bw - w) / 2
        out.append((runs, x, baseline))
        baseline -= pitch
    return FittedText(tuple(out), size)
