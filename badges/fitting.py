"""Fitting text into a box: which lines, at which size, at which positions.

Fitting order (from the issue): shrink from the slot's size down to its minimum, then wrap
onto up to ``max_lines`` lines (choosing the split that allows the largest size), then cut
with an ellipsis at the minimum size. The result never leaves its box: the height check
uses the real ascent/descent of the fonts chosen for the line. :mod:`badges.pdftext`
writes the result into the PDF.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

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


def _size_for(lines: list[str], slot: TextSlot) -> float:
    w_pt, h_pt = slot.box.w * MM, slot.box.h * MM
    width, height, _asc = _metrics(lines, slot)
    s = slot.size
    if width > 0:
        s = min(s, w_pt * 1000 / width)
    return min(s, h_pt / height) if height > 0 else s


def _break_points(text: str) -> list[int]:
    spaces = [i for i, c in enumerate(text) if c == " "]
    if spaces:
        return spaces
    # no spaces (CJK, Thai): any boundary not followed by a combining mark
    return [i for i in range(1, len(text)) if not _is_mark(text[i])]


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
    for i in _break_points(text):
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
    size = _size_for([text], slot)
    if size >= slot.min_size:
        return (text,), size
    if slot.max_lines >= 2:
        best: tuple[float, list[str]] | None = None
        for i in _break_points(text):
            parts = [text[:i].rstrip(), text[i:].lstrip()]
            if not parts[0] or not parts[1]:
                continue
            s = _size_for(parts, slot)
            if best is None or s > best[0]:
                best = (s, parts)
        if best is not None and best[0] >= slot.min_size:
            return tuple(best[1]), best[0]
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
