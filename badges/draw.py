"""Draw badges onto PDF pages. Input is plain data, output is PDF bytes.

No web framework or database here: the app maps its models to :class:`BadgeData` and
decides the order; this module only draws, one badge (:func:`render_badge`) or one run of
badges as a self-contained PDF (:func:`render_pages`). Long runs are split into such
PDFs and joined by :mod:`badges.batch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image
from reportlab import rl_config
from reportlab.lib.colors import HexColor
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from . import qr
from .fitting import fit
from .layouts import (
    CATEGORIES,
    LAYOUTS,
    MM,
    UNKNOWN_CATEGORY,
    BadgeLayout,
    Box,
    Category,
    Design,
    TextSlot,
)
from .pdftext import draw_fitted

log = logging.getLogger("badges")

PAGE_COMPRESSION = 1  # zlib: 1,000 4-up badges 1.7 MB instead of 7.2 MB for ~5% more CPU
#: Photos sharper than twice this (as drawn) and larger than PHOTO_PASS_PIXELS are
#: scaled down to it before embedding; smaller ones are embedded untouched (no re-encode).
PHOTO_DPI = 300
PHOTO_PASS_PIXELS = 1_000_000


@dataclass(frozen=True)
class BadgeData:
    """Everything printed on one badge, already resolved to display strings."""

    badge_name: str
    honorific: str
    native_name: str
    organisation: str
    country: str  # display name, e.g. "China"
    category: str  # government | expert | scholar | ngo
    category_label: str  # written on the band, e.g. "GOVERNMENT OFFICIAL"
    qr_payload: str
    reference: str  # e.g. GPS-7K3Q-9XWD
    photo: bytes | None = None  # JPEG/PNG, already cropped


@dataclass(frozen=True)
class EventInfo:
    """The event header printed on every badge."""

    name: str
    dates: str
    logo: bytes | None = None  # PNG/JPEG, drawn small at the left of the event's name


def get_layout(layout: str | BadgeLayout) -> BadgeLayout:
    """Resolve a layout key (``a6``, ``cr80``, ``a4-4up``) or pass a layout through."""
    if isinstance(layout, BadgeLayout):
        return layout
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise ValueError(f"unknown badge layout {layout!r}; known: {sorted(LAYOUTS)}") from None


_colors: dict[str, HexColor] = {}


def _color(hex_: str) -> HexColor:
    col = _colors.get(hex_)
    if col is None:
        col = _colors[hex_] = HexColor(hex_)
    return col


def _rect(box: Box) -> tuple[float, float, float, float]:
    return box.x * MM, box.y * MM, box.w * MM, box.h * MM


def _text(c: Canvas, text: str, slot: TextSlot) -> None:
    if not text or not text.strip():
        return
    c.setFillColor(_color(slot.color))
    draw_fitted(c, fit(text, slot))


@functools.lru_cache(maxsize=64)
def _pattern_ops(box: Box, pattern: str) -> str:
    """Path operators for a band pattern (computed once; the dot pattern alone is ~70
    circles, which ReportLab would otherwise re-derive as Bezier arcs for every PDF)."""
    x, y, w, h = _rect(box)
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
    x, y, w, h = _rect(box)
    c.saveState()
    p = c.beginPath()
    p.rect(x, y, w, h)
    c.clipPath(p, stroke=0, fill=0)
    c.setStrokeColor(_color(cat.text_color))
    c.setFillColor(_color(cat.text_color))
    c.setStrokeAlpha(0.18)
    c.setFillAlpha(0.18)
    c.setLineWidth(1.2)
    c.addLiteral(_pattern_ops(box, cat.pattern))
    c.restoreState()


def _draw_band(c: Canvas, d: Design, badge: BadgeData) -> None:
    cat = CATEGORIES.get(badge.category)
    if cat is None:
        log.warning("unknown badge category %r; printing a grey band", badge.category)
        cat = UNKNOWN_CATEGORY
    x, y, w, h = _rect(d.band)
    c.setFillColor(_color(cat.color))
    c.rect(x, y, w, h, stroke=0, fill=1)
    _draw_pattern(c, d.band, cat)
    # the category letter in a white tile: readable on any printer, even monochrome
    tile = min(h * 0.7, d.band_text.box.x * MM - x - 2 * MM)
    if tile > 4:
        tx, ty = x + (d.band_text.box.x * MM - x - tile) / 2, y + (h - tile) / 2
        c.setFillColor(_color("#ffffff"))
        c.rect(tx, ty, tile, tile, stroke=0, fill=1)
        letter_slot = TextSlot(Box(tx / MM, ty / MM, tile / MM, tile / MM), tile * 0.8,
                               4, bold=True, color="#000000")
        _text(c, cat.letter, letter_slot)
    slot = dataclasses.replace(d.band_text, color=cat.text_color)
    fitted = fit(badge.category_label, slot)
    if fitted.lines and cat.pattern != "solid":
        # a plain strip behind the label so the pattern never crosses the letters
        pad = 2 * MM
        x0 = min(lx for _runs, lx, _y in fitted.lines)
        x1 = max(lx + sum(r.width for r in runs) * fitted.size / 1000
                 for runs, lx, _y in fitted.lines)
        c.setFillColor(_color(cat.color))
        c.rect(x0 - pad, y, x1 - x0 + 2 * pad, h, stroke=0, fill=1)
    c.setFillColor(_color(slot.color))
    draw_fitted(c, fitted)


def _draw_qr(c: Canvas, d: Design, payload: str) -> None:
    n, cells = qr.grid(payload)
    x, y, w, _h = _rect(d.qr)
    unit = w / (n + 2 * qr.QUIET_ZONE)
    c.saveState()
    c.setFillColor(_color("#000000"))
    c.translate(x + qr.QUIET_ZONE * unit, y + qr.QUIET_ZONE * unit)
    c.scale(unit, unit)
    c.addLiteral(qr.grid_path_ops(n, cells))
    c.restoreState()


class _PhotoReader(ImageReader):
    """JPEG photos are embedded as-is (DCTDecode) by ReportLab, but it decodes every image
    anyway just to fingerprint it for de-duplication (~1.5 ms per photo). For JPEGs the
    compressed bytes are an equally good fingerprint; other formats take the normal path."""

    def getRGBData(self) -> bytes:
        if self.jpeg_fh() is None:
            return super().getRGBData()
        self._dataA = None
        return self.fp.getvalue()


def _photo_reader(photo: bytes, w_pt: float, h_pt: float) -> ImageReader:
    """The photo as ReportLab will embed it: as-is when its resolution suits print, else
    scaled down to ``PHOTO_DPI`` (a 12-megapixel phone original would add ~3 MB per badge
    and slow every printer's RIP) and flattened onto white if it has transparency."""
    reader = _PhotoReader(io.BytesIO(photo))
    px_w, px_h = reader.getSize()
    dpi = 72 / min(w_pt / px_w, h_pt / px_h)  # as drawn (fitted, aspect kept)
    if dpi <= 2 * PHOTO_DPI or px_w * px_h <= PHOTO_PASS_PIXELS:
        return reader  # e.g. the desk's stored 600x800 photos, on every layout
    size = (max(1, round(px_w * PHOTO_DPI / dpi)), max(1, round(px_h * PHOTO_DPI / dpi)))
    with Image.open(io.BytesIO(photo)) as im:
        im.draft("RGB", size)  # JPEG: let the decoder downscale (much faster)
        rgba = im.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=90)
    return _PhotoReader(out)


def _draw_photo(c: Canvas, d: Design, photo: bytes | None) -> None:
    if d.photo is None:
        return
    x, y, w, h = _rect(d.photo)
    if photo:
        try:
            c.drawImage(_photo_reader(photo, w, h), x, y, w, h,
                        preserveAspectRatio=True, anchor="c")
            return
        except Exception as exc:  # noqa: BLE001 - a corrupt upload must not stop a 5,000-badge run
            log.warning("cannot draw photo (%s); printing the placeholder", exc)
    c.setFillColor(_color("#eeeeee"))
    c.setStrokeColor(_color("#bbbbbb"))
    c.setLineWidth(0.5)
    c.rect(x, y, w, h, stroke=1, fill=1)
    c.setFillColor(_color("#cccccc"))
    r = min(w, h) * 0.2
    c.circle(x + w / 2, y + h * 0.62, r, stroke=0, fill=1)
    c.wedge(x + w / 2 - 1.7 * r, y + h * 0.05, x + w / 2 + 1.7 * r, y + h * 0.05 + 3 * r,
            0, 180, stroke=0, fill=1)


def _draw_logo(c: Canvas, d: Design, logo: bytes) -> TextSlot:
    """The logo in a square as tall as the event name's box, at its left; returns the name's
    slot narrowed to the rest (the slot unchanged if the logo cannot be drawn)."""
    box = d.event_name.box
    side, gap = box.h, 1.5
    try:
        c.drawImage(ImageReader(io.BytesIO(logo)), box.x * MM, box.y * MM, side * MM,
                    side * MM, preserveAspectRatio=True, anchor="c", mask="auto")
    except Exception as exc:  # noqa: BLE001 - a bad logo must not stop a 5,000-badge run
        log.warning("cannot draw the logo (%s); printing without it", exc)
        return d.event_name
    return dataclasses.replace(d.event_name, box=dataclasses.replace(
        box, x=box.x + side + gap, w=box.w - side - gap))


def _logo_key(logo: bytes | None) -> str:
    return hashlib.blake2s(logo, digest_size=8).hexdigest() if logo else ""


def _draw_header(c: Canvas, d: Design, event: EventInfo) -> None:
    name_slot = _draw_logo(c, d, event.logo) if event.logo else d.event_name
    _text(c, event.name, name_slot)
    _text(c, event.dates, d.event_dates)
    rule_y = (d.event_dates.box.y - 0.8) * MM
    c.setStrokeColor(_color(d.accent))
    c.setLineWidth(0.8)
    c.line(d.event_name.box.x * MM, rule_y,
           (d.event_name.box.x + d.event_name.box.w) * MM, rule_y)


_form_names: dict[tuple[int, tuple], str] = {}


def _use_form(c: Canvas, d: Design, key: tuple, draw: Callable[[], None]) -> None:
    """Draw shared artwork (header, band, photo placeholder) once per PDF as a Form
    XObject and reference it from every badge: smaller files, much less work per badge."""
    name = _form_names.get((id(d), key))
    if name is None:
        digest = hashlib.blake2s(repr((d, key)).encode(), digest_size=8).hexdigest()
        name = _form_names[(id(d), key)] = "bf" + digest
    if not c.hasForm(name):
        c.beginForm(name, 0, 0, d.width * MM, d.height * MM)
        draw()
        c.endForm()
    c.doForm(name)


def _draw_badge(c: Canvas, lay: BadgeLayout, cell: int, badge: BadgeData,
                event: EventInfo) -> None:
    d = lay.design
    cx, cy = lay.cells[cell]
    c.saveState()
    c.translate(cx * MM, cy * MM)
    if lay.scale != 1:
        c.scale(lay.scale, lay.scale)
    _use_form(c, d, ("header", event.name, event.dates, _logo_key(event.logo)),
              lambda: _draw_header(c, d, event))
    name = " ".join(p for p in (badge.honorific.strip(), badge.badge_name.strip()) if p)
    _text(c, name, d.name)
    _text(c, badge.native_name, d.native_name)
    _text(c, badge.organisation, d.organisation)
    _text(c, badge.country, d.country)
    if badge.photo:
        _draw_photo(c, d, badge.photo)
    else:
        _use_form(c, d, ("photo",), lambda: _draw_photo(c, d, None))
    _draw_qr(c, d, badge.qr_payload)
    _text(c, badge.reference, d.reference)
    _use_form(c, d, ("band", badge.category, badge.category_label),
              lambda: _draw_band(c, d, badge))
    c.restoreState()


def _draw_crop_marks(c: Canvas, lay: BadgeLayout) -> None:
    c.setStrokeColor(_color("#000000"))
    c.setLineWidth(0.25)
    off, ln = lay.crop_mark_offset * MM, lay.crop_mark_length * MM
    for cell in range(lay.per_page):
        x0, y0, x1, y1 = lay.cell_rect_pt(cell)
        for x, sx in ((x0, -1), (x1, 1)):
            for y, sy in ((y0, -1), (y1, 1)):
                c.line(x + sx * off, y, x + sx * (off + ln), y)
                c.line(x, y + sy * off, x, y + sy * (off + ln))


def _new_canvas(out: BinaryIO | io.BytesIO, lay: BadgeLayout, title: str) -> Canvas:
    c = Canvas(out, pagesize=(lay.page_width * MM, lay.page_height * MM),
               pageCompression=PAGE_COMPRESSION, invariant=True)
    c.setTitle(title)
    c.setCreator("badges")
    return c


_a85_lock = threading.Lock()
_a85_users = 0
_a85_saved: int | bool = 1


@contextlib.contextmanager
def _binary_streams() -> Iterator[None]:
    """Write Flate streams without ReportLab's default ASCII85 wrapping (25% bigger and
    slower to produce; binary PDFs are universal). ReportLab reads this from a global
    setting, so it is switched off only while at least one badge PDF is being built
    (reference-counted for threads) and then restored for other ReportLab users."""
    global _a85_users, _a85_saved
    with _a85_lock:
        if _a85_users == 0:
            _a85_saved = rl_config.useA85
            rl_config.useA85 = 0
        _a85_users += 1
    try:
        yield
    finally:
        with _a85_lock:
            _a85_users -= 1
            if _a85_users == 0:
                rl_config.useA85 = _a85_saved


def render_badge(badge: BadgeData, event: EventInfo, layout: str | BadgeLayout = "a6"
                 ) -> bytes:
    """One badge as a PDF (for the ``a4-4up`` sheet: in the first cell)."""
    lay = get_layout(layout)
    buf = io.BytesIO()
    with _binary_streams():
        c = _new_canvas(buf, lay, f"{event.name} badge {badge.reference}")
        if lay.crop_marks:
            _draw_crop_marks(c, lay)
        _draw_badge(c, lay, 0, badge, event)
        c.showPage()
        c.save()
    return buf.getvalue()


def draw_pages(c: Canvas, badges: Iterable[BadgeData], event: EventInfo, lay: BadgeLayout,
               progress: Callable[[int], None] | None = None) -> int:
    """Draw ``badges`` in order onto ``c``, ``lay.per_page`` per page; returns the count."""
    count = 0
    cell = 0
    for badge in badges:
        if cell == 0 and lay.crop_marks:
            _draw_crop_marks(c, lay)
        _draw_badge(c, lay, cell, badge, event)
        count += 1
        cell += 1
        if cell == lay.per_page:
            c.showPage()
            cell = 0
        if progress is not None:
            progress(count)
    if cell:
        c.showPage()
    return count


def render_pages(badges: Iterable[BadgeData], event: EventInfo, lay: BadgeLayout,
                 title: str, progress: Callable[[int], None] | None = None
                 ) -> tuple[bytes, int]:
    """One self-contained PDF for a run of badges; returns (pdf, badge count)."""
    buf = io.BytesIO()
    with _binary_streams():
        c = _new_canvas(buf, lay, title)
        n = draw_pages(c, badges, event, lay, progress)
        if n == 0:
            c.showPage()  # a valid one-page PDF rather than a broken file
        c.save()
    return buf.getvalue(), n
