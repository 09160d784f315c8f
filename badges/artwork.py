"""Artwork shared by many badges: the category band (colour, pattern, letter tile, label in
Chinese and English, bleed) and the crop marks of sheet layouts.

Print-shop RIPs and card-printer drivers are stricter than screen viewers: nothing here
uses transparency (the band pattern is drawn in the colour a translucent stroke would
give, blended in advance), so the band's Form XObject needs no graphics-state resources.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

from reportlab.lib.colors import HexColor
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfgen.canvas import Canvas

from .fitting import FittedText, fit
from .layouts import (
    CATEGORIES,
    MM,
    TEST_BAND,
    TEST_CATEGORY,
    UNKNOWN_CATEGORY,
    BadgeLayout,
    Box,
    Category,
    Design,
    TextSlot,
)
from .pdftext import draw_fitted

log = logging.getLogger("badges")

PATTERN_OPACITY = 0.18  # how strongly the pattern shows on the band colour
CLEAR_OF_BLEED = 0.5  # mm between a neighbour's bleed and a crop mark

_colors: dict[str, HexColor] = {}


def color(hex_: str) -> HexColor:
    col = _colors.get(hex_)
    if col is None:
        col = _colors[hex_] = HexColor(hex_)
    return col


@functools.lru_cache(maxsize=64)
def blend(top: str, bottom: str, opacity: float) -> str:
    """The opaque colour of ``top`` painted at ``opacity`` over ``bottom`` (#rrggbb)."""
    a, b = HexColor(top), HexColor(bottom)
    mix = [round(255 * (opacity * x + (1 - opacity) * y))
           for x, y in zip(a.rgb(), b.rgb(), strict=True)]
    return "#" + "".join(f"{v:02x}" for v in mix)


def rect(box: Box) -> tuple[float, float, float, float]:
    return box.x * MM, box.y * MM, box.w * MM, box.h * MM


def bilingual(zh: str, en: str) -> str:
    """``中文 · English`` for a slot that holds both; one of them if the other is missing
    or the same (an untranslated label)."""
    zh, en = zh.strip(), en.strip()
    if not zh or zh.casefold() == en.casefold():
        return en
    return f"{zh} \u00b7 {en}" if en else zh


def bled(box: Box, d: Design, bleed: float) -> Box:
    """``box`` extended by ``bleed`` (design mm) past each badge edge it touches."""
    if bleed <= 0:
        return box
    eps = 1e-6
    x0 = box.x - bleed if box.x <= eps else box.x
    y0 = box.y - bleed if box.y <= eps else box.y
    x1 = box.x + box.w + (bleed if box.x + box.w >= d.width - eps else 0)
    y1 = box.y + box.h + (bleed if box.y + box.h >= d.height - eps else 0)
    return Box(x0, y0, x1 - x0, y1 - y0)


@functools.lru_cache(maxsize=64)
def _pattern_ops(box: Box, pattern: str) -> str:
    """Path operators for a band pattern (computed once; the dot pattern alone is ~70
    circles, which ReportLab would otherwise re-derive as Bezier arcs for every PDF)."""
    x, y, w, h = rect(box)
    step = 3 * MM
    ops = []
    if pattern == "diagonal":
        k = -h
        while k < w:
            ops.append(f"{fp_str(x + k)} {fp_str(y)} m {fp_str(x + k + h)} {fp_str(y + h)} l")
            k += step
        ops.append("S")
    elif pattern == "horizontal":
        k = step / 2
        while k < h:
            ops.append(f"{fp_str(x)} {fp_str(y + k)} m {fp_str(x + w)} {fp_str(y + k)} l")
            k += step
        ops.append("S")
    elif pattern == "dots":
        r = 0.45 * MM
        kappa = 0.5523 * r  # cubic Bezier approximation of a quarter circle
        yy = y + step / 2
        while yy < y + h:
            xx = x + step / 2
            while xx < x + w:
                ops.append(" ".join((
                    f"{fp_str(xx + r)} {fp_str(yy)} m",
                    f"{fp_str(xx + r, yy + kappa, xx + kappa, yy + r, xx, yy + r)} c",
                    f"{fp_str(xx - kappa, yy + r, xx - r, yy + kappa, xx - r, yy)} c",
                    f"{fp_str(xx - r, yy - kappa, xx - kappa, yy - r, xx, yy - r)} c",
                    f"{fp_str(xx + kappa, yy - r, xx + r, yy - kappa, xx + r, yy)} c h",
                )))
                xx += step
            yy += step
        ops.append("f")
    return "\n".join(ops)


def _draw_pattern(c: Canvas, box: Box, cat: Category) -> None:
    if cat.pattern == "solid":
        return
    x, y, w, h = rect(box)
    ink = color(blend(cat.text_color, cat.color, PATTERN_OPACITY))
    c.saveState()
    p = c.beginPath()
    p.rect(x, y, w, h)
    c.clipPath(p, stroke=0, fill=0)
    c.setStrokeColor(ink)
    c.setFillColor(ink)
    c.setLineWidth(1.2)
    c.addLiteral(_pattern_ops(box, cat.pattern))
    c.restoreState()


def _label_extent(fitted: FittedText) -> tuple[float, float] | None:
    if not fitted.lines:
        return None
    x0 = min(lx for _runs, lx, _y in fitted.lines)
    x1 = max(lx + sum(r.width for r in runs) * fitted.size / 1000
             for runs, lx, _y in fitted.lines)
    return x0, x1


def draw_band(c: Canvas, d: Design, category: str, label: str, label_zh: str,
              bleed: float = 0.0) -> None:
    """The category band: colour and pattern (extended by ``bleed`` design mm past the
    badge's edges), the category letter in a white tile, and the label, in Chinese above
    English where the design has a slot for each, else on one line."""
    cat = TEST_BAND if category == TEST_CATEGORY else CATEGORIES.get(category)
    if cat is None:
        log.warning("unknown badge category %r; printing a grey band", category)
        cat = UNKNOWN_CATEGORY
    paper = bled(d.band, d, bleed)
    c.setFillColor(color(cat.color))
    c.rect(*rect(paper), stroke=0, fill=1)
    _draw_pattern(c, paper, cat)
    x, y, _w, h = rect(d.band)
    # the category letter in a white tile: readable on any printer, even monochrome
    tile = min(h * 0.7, d.band_text.box.x * MM - x - 2 * MM)
    if tile > 4:
        tx, ty = x + (d.band_text.box.x * MM - x - tile) / 2, y + (h - tile) / 2
        c.setFillColor(color("#ffffff"))
        c.rect(tx, ty, tile, tile, stroke=0, fill=1)
        letter_slot = TextSlot(Box(tx / MM, ty / MM, tile / MM, tile / MM), tile * 0.8,
                               4, bold=True, color="#000000")
        c.setFillColor(color("#000000"))
        draw_fitted(c, fit(cat.letter, letter_slot))
    texts: list[tuple[str, TextSlot]] = []
    if d.band_text_zh is not None:
        if label_zh.strip() and label_zh.strip().casefold() != label.strip().casefold():
            texts.append((label_zh, d.band_text_zh))
        texts.append((label, d.band_text))
    else:
        texts.append((bilingual(label_zh, label), d.band_text))
    fitted = [fit(t, dataclasses.replace(slot, color=cat.text_color)) for t, slot in texts]
    extents = [e for f in fitted if (e := _label_extent(f)) is not None]
    if extents and cat.pattern != "solid":
        # a plain strip behind the label so the pattern never crosses the letters
        pad = 2 * MM
        x0, x1 = min(e[0] for e in extents), max(e[1] for e in extents)
        _px, py, _pw, ph = rect(paper)
        c.setFillColor(color(cat.color))
        c.rect(x0 - pad, py, x1 - x0 + 2 * pad, ph, stroke=0, fill=1)
    c.setFillColor(color(cat.text_color))
    for f in fitted:
        draw_fitted(c, f)


def _mark_reach(lay: BadgeLayout, cell: int, x: float, y: float, dx: int, dy: int) -> float:
    """How far (mm) a crop mark may run from the trim corner (x, y) in direction (dx, dy)
    before it gets within CLEAR_OF_BLEED of a neighbouring cell's bleed, or mid-gutter."""
    reach = lay.crop_mark_offset + lay.crop_mark_length
    w, h = lay.design.width * lay.scale, lay.design.height * lay.scale
    for other, (ox, oy) in enumerate(lay.cells):
        if other == cell:
            continue
        if dx and oy - 1e-6 <= y <= oy + h + 1e-6:  # the neighbour lies on this line
            gap = ox - x if dx > 0 else x - (ox + w)
        elif dy and ox - 1e-6 <= x <= ox + w + 1e-6:
            gap = oy - y if dy > 0 else y - (oy + h)
        else:
            continue
        if gap > 0:
            reach = min(reach, gap / 2, gap - lay.bleed - CLEAR_OF_BLEED)
    return reach


def draw_crop_marks(c: Canvas, lay: BadgeLayout, cells: int) -> None:
    """Crop marks around the first ``cells`` cells of a sheet (none around empty ones).
    They start clear of the bleed and stop before a neighbour's bleed or mid-gutter."""
    c.setStrokeColor(color("#000000"))
    c.setLineWidth(0.25)
    start = lay.crop_mark_offset
    for cell in range(cells):
        cx, cy = lay.cells[cell]
        x1, y1 = cx + lay.design.width * lay.scale, cy + lay.design.height * lay.scale
        for x, sx in ((cx, -1), (x1, 1)):
            for y, sy in ((cy, -1), (y1, 1)):
                end = _mark_reach(lay, cell, x, y, sx, 0)
                if end > start:
                    c.line((x + sx * start) * MM, y * MM, (x + sx * end) * MM, y * MM)
                end = _mark_reach(lay, cell, x, y, 0, sy)
                if end > start:
                    c.line(x * MM, (y + sy * start) * MM, x * MM, (y + sy * end) * MM)
