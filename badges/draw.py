"""Draw badges onto PDF pages. Input is plain data, output is PDF bytes.

No web framework or database here: the app maps its models to :class:`BadgeData` and
decides the order; this module only draws, one badge (:func:`render_badge`) or one run of
badges as a self-contained PDF (:func:`render_pages`). Long runs are split into such
PDFs and joined by :mod:`badges.batch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image
from reportlab import rl_config
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from . import qr
from .artwork import bilingual, color, draw_band, draw_crop_marks, rect
from .fitting import fit
from .layouts import LAYOUTS, MM, BadgeLayout, Design, TextSlot
from .names import fit_name
from .pdftext import draw_fitted

log = logging.getLogger("badges")

PAGE_COMPRESSION = 1  # zlib: 1,000 4-up badges 1.7 MB instead of 7.2 MB for ~5% more CPU
#: Photos sharper than twice this (as drawn) and larger than PHOTO_PASS_PIXELS are
#: scaled down to it before embedding; smaller ones are embedded untouched (no re-encode).
PHOTO_DPI = 300
PHOTO_PASS_PIXELS = 1_000_000


@dataclass(frozen=True)
class BadgeData:
    """Everything printed on one badge, already resolved to display strings.

    The name: with ``given_name`` / ``family_name`` a long name is shortened by the rules
    of :mod:`badges.names` (never losing the family name). ``badge_name`` is the form the
    delegate chose; if it is more than given + family name it is printed as written
    (shrunk and wrapped, never cut). Without given / family name, ``badge_name`` is all
    there is and is treated the same way.
    """

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
    given_name: str = ""
    family_name: str = ""
    position: str = ""  # position / title, under the organisation where there is room
    category_label_zh: str = ""  # the band's label in Chinese, e.g. "政府官员"


@dataclass(frozen=True)
class EventInfo:
    """The event header printed on every badge: name in English and Chinese, dates."""

    name: str
    dates: str
    name_zh: str = ""
    logo: bytes | None = None  # PNG/JPEG, drawn small at the left of the event's name


def get_layout(layout: str | BadgeLayout) -> BadgeLayout:
    """Resolve a layout key (``a6``, ``cr80``, ``a4-4up``) or pass a layout through."""
    if isinstance(layout, BadgeLayout):
        return layout
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise ValueError(f"unknown badge layout {layout!r}; known: {sorted(LAYOUTS)}") from None


def _text(c: Canvas, text: str, slot: TextSlot | None) -> None:
    if slot is None or not text or not text.strip():
        return
    c.setFillColor(color(slot.color))
    draw_fitted(c, fit(text, slot))


def _draw_qr(c: Canvas, d: Design, payload: str) -> None:
    n, cells = qr.grid(payload)
    x, y, w, _h = rect(d.qr)
    unit = w / (n + 2 * qr.QUIET_ZONE)
    c.saveState()
    c.setFillColor(color("#000000"))
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


def _photo_for(badge: BadgeData, d: Design) -> ImageReader | None:
    """The badge's photo ready to embed, or None (no photo, or one that cannot be read: a
    corrupt upload must not stop a 5,000-badge run; that badge prints without one)."""
    if not badge.photo or d.photo is None:
        return None
    _x, _y, w, h = rect(d.photo)
    try:
        return _photo_reader(badge.photo, w, h)
    except Exception as exc:  # noqa: BLE001 - any decoder error means "no usable photo"
        log.warning("cannot read the photo of badge %s (%s); printing it without one",
                    badge.reference, exc)
        return None


def _draw_photo(c: Canvas, d: Design, reader: ImageReader) -> None:
    if d.photo is None:
        return
    x, y, w, h = rect(d.photo)
    try:
        c.drawImage(reader, x, y, w, h, preserveAspectRatio=True, anchor="c")
    except Exception as exc:  # noqa: BLE001 - as in _photo_for
        log.warning("cannot draw photo (%s); leaving its place empty", exc)


def _draw_logo(c: Canvas, logo: bytes, slot: TextSlot) -> TextSlot:
    """The logo in a square as tall as the event name's box `slot`, at its left; returns the
    slot narrowed to the rest (unchanged if the logo cannot be drawn)."""
    box = slot.box
    side, gap = box.h, 1.5
    try:
        c.drawImage(ImageReader(io.BytesIO(logo)), box.x * MM, box.y * MM, side * MM,
                    side * MM, preserveAspectRatio=True, anchor="c", mask="auto")
    except Exception as exc:  # noqa: BLE001 - a bad logo must not stop a 5,000-badge run
        log.warning("cannot draw the logo (%s); printing without it", exc)
        return slot
    return dataclasses.replace(slot, box=dataclasses.replace(
        box, x=box.x + side + gap, w=box.w - side - gap))


def _logo_key(logo: bytes | None) -> str:
    return hashlib.blake2s(logo, digest_size=8).hexdigest() if logo else ""


def _draw_header(c: Canvas, d: Design, event: EventInfo) -> None:
    top = d.event_name_zh if d.event_name_zh is not None else d.event_name
    top_slot = _draw_logo(c, event.logo, top) if event.logo else top
    if d.event_name_zh is not None:
        zh = event.name_zh.strip()
        if zh.casefold() != event.name.strip().casefold():
            _text(c, zh, top_slot)
        _text(c, event.name, d.event_name)
    else:
        _text(c, bilingual(event.name_zh, event.name), top_slot)
    _text(c, event.dates, d.event_dates)
    rule_y = (d.event_dates.box.y - 0.8) * MM
    c.setStrokeColor(color(d.accent))
    c.setLineWidth(0.8)
    c.line(top.box.x * MM, rule_y, (top.box.x + top.box.w) * MM, rule_y)


_form_names: dict[tuple[int, tuple], str] = {}


def _use_form(c: Canvas, d: Design, key: tuple, draw: Callable[[], None],
              margin: float = 0.0) -> None:
    """Draw shared artwork (header, band) once per PDF as a Form XObject and reference it
    from every badge: smaller files, much less work per badge. The form's name depends
    only on the boxes it draws (so a design and its no-photo variant share it) and
    ``key``; ``margin`` (design mm) widens its bounding box for artwork that bleeds."""
    name = _form_names.get((id(d), key))
    if name is None:
        part = (d.width, d.height, d.accent, d.event_name_zh, d.event_name, d.event_dates,
                d.band, d.band_text, d.band_text_zh)
        digest = hashlib.blake2s(repr((part, key)).encode(), digest_size=8).hexdigest()
        name = _form_names[(id(d), key)] = "bf" + digest
    if not c.hasForm(name):
        m = margin * MM
        c.beginForm(name, -m, -m, d.width * MM + m, d.height * MM + m)
        draw()
        c.endForm()
    c.doForm(name)


def _draw_badge(c: Canvas, lay: BadgeLayout, cell: int, badge: BadgeData,
                event: EventInfo) -> None:
    photo = _photo_for(badge, lay.design)
    d = lay.design_for(photo is not None)  # no empty frame: the text takes its room
    cx, cy = lay.cells[cell]
    c.saveState()
    c.translate(cx * MM, cy * MM)
    if lay.scale != 1:
        c.scale(lay.scale, lay.scale)
    _use_form(c, d, ("header", event.name, event.name_zh, event.dates, _logo_key(event.logo)),
              lambda: _draw_header(c, d, event))
    c.setFillColor(color(d.name.color))
    draw_fitted(c, fit_name(badge.honorific, badge.given_name, badge.family_name,
                            badge.badge_name, d.name))
    _text(c, badge.native_name, d.native_name)
    _text(c, badge.organisation, d.organisation)
    _text(c, badge.position, d.position)
    _text(c, badge.country, d.country)
    if photo is not None:
        _draw_photo(c, d, photo)
    _draw_qr(c, d, badge.qr_payload)
    _text(c, badge.reference, d.reference)
    bleed = lay.bleed / lay.scale  # paper mm -> design mm
    _use_form(c, d, ("band", badge.category, badge.category_label, badge.category_label_zh,
                     bleed),
              lambda: draw_band(c, d, badge.category, badge.category_label,
                                badge.category_label_zh, bleed),
              margin=bleed)
    c.restoreState()


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
            draw_crop_marks(c, lay, 1)
        _draw_badge(c, lay, 0, badge, event)
        c.showPage()
        c.save()
    return buf.getvalue()


def draw_pages(c: Canvas, badges: Iterable[BadgeData], event: EventInfo, lay: BadgeLayout,
               progress: Callable[[int], None] | None = None) -> int:
    """Draw ``badges`` in order onto ``c``, ``lay.per_page`` per page; returns the count.

    A sheet's crop marks are drawn first, around its filled cells only, so no badge's
    bleed is ever covered by a neighbour's mark."""
    count = 0
    page: list[BadgeData] = []

    def flush() -> None:
        if lay.crop_marks:
            draw_crop_marks(c, lay, len(page))
        for cell, badge in enumerate(page):
            _draw_badge(c, lay, cell, badge, event)
        c.showPage()
        page.clear()

    for badge in badges:
        page.append(badge)
        count += 1
        if len(page) == lay.per_page:
            flush()
        if progress is not None:
            progress(count)
    if page:
        flush()
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
