"""One line of text as runs in visual order: font per character, bidi, HarfBuzz shaping.

Complex scripts (Arabic/Persian, Hebrew, Devanagari, Thai, combining marks) are shaped
with HarfBuzz (uharfbuzz) and placed glyph by glyph; right-to-left runs are reordered by
a small bidi pass (names are short: one paragraph, no embeddings). Everything else goes
through ReportLab's plain TrueType text path, which is much faster. Each laid-out line
also carries its real ink extent, which :mod:`badges.fitting` uses to fit boxes.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import uharfbuzz
from reportlab.pdfbase import pdfmetrics

from .fonts import FONT_DIRS_ENV, Font, chain, missing_fonts_hint

log = logging.getLogger("badges")

# Characters that need HarfBuzz: joining, reordering, mark positioning.
_COMPLEX_RANGES = (
    (0x0300, 0x036F),  # combining diacritics left after NFC
    (0x0590, 0x05FF),  # Hebrew
    (0x0600, 0x08FF),  # Arabic, Syriac, Thaana, Arabic Ext
    (0x0900, 0x0DFF),  # Indic
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0xFB1D, 0xFDFF),  # Hebrew/Arabic presentation forms
    (0xFE70, 0xFEFF),
)


def _is_complex(ch: str) -> bool:
    if ch < "\u0300":
        return False
    o = ord(ch)
    return any(lo <= o <= hi for lo, hi in _COMPLEX_RANGES) or unicodedata.combining(ch) != 0


@dataclass(frozen=True)
class Glyph:
    """One positioned glyph, in 1/1000 em: ``code`` is the char that selects it in the
    ReportLab subset (a real cmap char, or a private-use alias for unmapped glyphs)."""

    code: str
    advance: float
    x_offset: float
    y_offset: float
    width: float  # the advance ReportLab writes into /Widths for ``code``


@dataclass(frozen=True)
class Run:
    """A piece of one line drawn with one font and one direction, in visual order."""

    text: str  # logical text (for ActualText and measuring)
    font: Font
    rtl: bool
    glyphs: tuple[Glyph, ...] | None  # None: plain (unshaped) text
    width: float  # 1/1000 em

    @property
    def needs_actual_text(self) -> bool:
        # Glyphs without a cmap entry map to private-use code points in ToUnicode, so
        # copy/paste would give garbage; /ActualText restores the real text. Only for LTR
        # runs: pdfium applies its own bidi reordering to ActualText, reversing RTL text,
        # while RTL glyphs here all have cmap entries (presentation forms) that pdfium
        # normalises and reorders correctly.
        return (
            self.glyphs is not None
            and not self.rtl
            and any(0xE000 <= ord(g.code) <= 0xF8FF for g in self.glyphs)
        )


def _bidi_class(ch: str) -> str:
    c = unicodedata.bidirectional(ch)
    if c in ("R", "AL"):
        return "R"
    if c == "L":
        return "L"
    if c in ("EN", "AN"):
        return "L"  # digits in a name: keep them left-to-right
    return "N"


def _directions(text: str) -> list[bool]:
    """Resolved direction per char (True = RTL); neutrals take their neighbours'."""
    classes = [_bidi_class(c) for c in text]
    base = next((c for c in classes if c != "N"), "L")
    out = [c == "R" for c in classes]
    i = 0
    n = len(classes)
    while i < n:
        if classes[i] != "N":
            i += 1
            continue
        j = i
        while j < n and classes[j] == "N":
            j += 1
        prev = classes[i - 1] if i > 0 else base
        nxt = classes[j] if j < n else base
        rtl = (prev if prev == nxt else base) == "R"
        for k in range(i, j):
            out[k] = rtl
        i = j
    return out


def base_rtl(text: str) -> bool:
    """Paragraph direction: that of the first strong character."""
    for c in text:
        k = _bidi_class(c)
        if k != "N":
            return k == "R"
    return False


_pua_next: dict[str, int] = {}


def _glyph_code(font: Font, gid: int, advance_units: int) -> str:
    face = font.embedded_ttf.face
    chars = face.glyphToChar.get(gid)
    if chars:
        return chr(chars[0])
    code = _pua_next.get(font.name, 0xE000)
    while code in face.charToGlyph:
        code += 1
    if code > 0xF8FF:
        raise ValueError(f"private-use area exhausted for {font.name}")
    _pua_next[font.name] = code + 1
    face.charToGlyph[code] = gid
    face.glyphToChar.setdefault(gid, []).append(code)
    face.charWidths[code] = face._pdfScale(advance_units)
    return chr(code)


# Shaping registers private-use aliases in the shared TTFont objects: one writer at a time.
_shape_lock = threading.Lock()


@lru_cache(maxsize=8192)
def _shape(text: str, font: Font, rtl: bool) -> tuple[tuple[Glyph, ...], float]:
    with _shape_lock:
        return _shape_locked(text, font, rtl)


def _shape_locked(text: str, font: Font, rtl: bool) -> tuple[tuple[Glyph, ...], float]:
    hbf = font.hb_font()
    buf = uharfbuzz.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    buf.direction = "rtl" if rtl else "ltr"
    uharfbuzz.shape(hbf, buf, {"kern": True, "liga": True})
    face = font.embedded_ttf.face
    scale = face._pdfScale
    glyphs = []
    total = 0.0
    cmap = face.charToGlyph
    for info, pos in zip(buf.glyph_infos, buf.glyph_positions, strict=True):
        source = text[info.cluster]
        if cmap.get(ord(source)) == info.codepoint:
            code = source  # the glyph of the very character: exact ToUnicode
        else:  # contextual form, ligature, conjunct: any char mapping to it, or an alias
            code = _glyph_code(font, info.codepoint, pos.x_advance)
        adv = scale(pos.x_advance)
        glyphs.append(
            Glyph(code, adv, scale(pos.x_offset), scale(pos.y_offset),
                  face.charWidths.get(ord(code), adv))
        )
        total += adv
    return tuple(glyphs), total


@lru_cache(maxsize=8192)
def _plain_width(text: str, font_name: str) -> float:
    return pdfmetrics.stringWidth(text, font_name, 1000)


def _make_run(text: str, font: Font, rtl: bool) -> Run:
    if font.embedded and (rtl or (max(text) >= "\u0300" and any(map(_is_complex, text)))):
        glyphs, width = _shape(text, font, rtl)
        return Run(text, font, rtl, glyphs, width)
    return Run(text, font, False, None, _plain_width(text, font.name))


_warned: set[tuple[str, str, str]] = set()


LineLayout = tuple[tuple[Run, ...], float, float, float]


def layout_line(text: str, bold: bool = False) -> LineLayout:
    """Split one line into font/direction runs in visual order.

    Returns ``(runs, width, ascent, descent)`` with width in 1/1000 em and ascent/descent
    the highest and lowest ink of the line as fractions of the font size. Characters no available
    font covers are dropped with a warning rather than printed as .notdef boxes.
    """
    return _layout_line(text, bold, os.environ.get(FONT_DIRS_ENV))


@lru_cache(maxsize=8192)
def _layout_line(text: str, bold: bool, _dirs_key: str | None) -> LineLayout:
    fc = chain(bold)
    text = unicodedata.normalize("NFC", text)
    pieces: list[tuple[str, Font]] = []
    cur: Font | None = None
    buf: list[str] = []
    dropped: list[str] = []
    for ch in text:
        if cur is not None and cur.covers(ch):
            buf.append(ch)
            continue
        f = fc.first_covering(ch)
        if f is None:
            if unicodedata.category(ch)[0] != "C":
                dropped.append(ch)
            continue
        if buf and cur is not None:
            pieces.append(("".join(buf), cur))
        cur, buf = f, [ch]
    if buf and cur is not None:  # buf is only filled once a covering font is chosen
        pieces.append(("".join(buf), cur))
    if dropped:
        key = (text, "bold" if bold else "regular", _dirs_key or "")
        if key not in _warned:
            _warned.add(key)
            hint = missing_fonts_hint()
            log.warning(
                "no installed font covers %r in %r; those characters are left out%s",
                "".join(dict.fromkeys(dropped)), text,
                f" (install fonts: {hint})" if hint else "",
            )
    # split by resolved direction, then reorder runs visually
    logical: list[tuple[str, Font, bool]] = []
    joined = "".join(p for p, _ in pieces)
    dirs = _directions(joined)
    pos = 0
    for piece, font in pieces:
        start = 0
        for k in range(1, len(piece) + 1):
            if k == len(piece) or dirs[pos + k] != dirs[pos + start]:
                logical.append((piece[start:k], font, dirs[pos + start]))
                start = k
        pos += len(piece)
    # merge same-direction neighbours sharing a font (already contiguous by construction)
    visual = _reorder_rtl(logical) if base_rtl(joined) else _reorder_ltr(logical)
    runs = tuple(_make_run(t, f, rtl) for t, f, rtl in visual if t)
    width = sum(r.width for r in runs)
    ascent, descent = _ink_extent(runs)
    if ascent <= descent:  # nothing visible (spaces only): use the font's line metrics
        font = runs[0].font if runs else fc.primary
        ascent, descent = font.ascent, font.descent
    return runs, width, ascent, descent


def _glyph_y_extent(font: Font, gid: int) -> tuple[float, float] | None:
    """(yMin, yMax) of a glyph's outline in em, from its glyf header; None if empty."""
    face = font.embedded_ttf.face
    pos = face.glyphPos
    start, end = pos[gid], pos[gid + 1]
    if end <= start:
        return None
    base = face.table["glyf"]["offset"] + start
    y_min, _x_max, y_max = struct.unpack_from(">hhh", face._ttf_data, base + 4)
    scale = face._pdfScale(1) / 1000
    return y_min * scale, y_max * scale


_extent_cache: dict[tuple[str, int], tuple[float, float] | None] = {}


def _ink_extent(runs: tuple[Run, ...]) -> tuple[float, float]:
    """Highest and lowest ink of a line in em (0, 0 if nothing is inked).

    Fitting by real ink rather than the fonts' line metrics matters: Noto Sans Arabic
    declares a line height of 2.1 em, which would shrink Persian names to half the size
    of Chinese ones in the same box.
    """
    top, bottom = 0.0, 0.0
    for run in runs:
        font = run.font
        if not font.embedded:
            top, bottom = max(top, font.ascent), min(bottom, font.descent)
            continue
        cmap = font.embedded_ttf.face.charToGlyph  # live map: includes shaping's aliases
        if run.glyphs is None:
            items = [(cmap.get(ord(ch), 0), 0.0) for ch in run.text]
        else:
            items = [(cmap.get(ord(g.code), 0), g.y_offset / 1000) for g in run.glyphs]
        for gid, dy in items:
            key = (font.name, gid)
            if key in _extent_cache:
                ext = _extent_cache[key]
            else:
                ext = _extent_cache[key] = _glyph_y_extent(font, gid)
            if ext is not None:
                top, bottom = max(top, ext[1] + dy), min(bottom, ext[0] + dy)
    return top, bottom


def _reorder_ltr(logical: list[tuple[str, Font, bool]]) -> list[tuple[str, Font, bool]]:
    # LTR paragraph: maximal sequences of RTL runs are displayed right-to-left.
    out: list[tuple[str, Font, bool]] = []
    i = 0
    while i < len(logical):
        if not logical[i][2]:
            out.append(logical[i])
            i += 1
            continue
        j = i
        while j < len(logical) and logical[j][2]:
            j += 1
        out.extend(reversed(logical[i:j]))
        i = j
    return out


def _reorder_rtl(logical: list[tuple[str, Font, bool]]) -> list[tuple[str, Font, bool]]:
    # RTL paragraph: runs go right-to-left; each LTR run keeps its internal order.
    return list(reversed(logical))


def line_width(text: str, size: float, bold: bool = False) -> float:
    """Width in points of ``text`` at ``size``."""
    return layout_line(text, bold)[1] * size / 1000
