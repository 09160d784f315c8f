"""Badge layouts as data: page size, cells, boxes in millimetres, font sizes, colours.

Why data: the print shop changes its mind (pocket sizes, PVC cards, sheets); adding a
layout should be a few lines here, not new drawing code. All boxes are in millimetres
relative to the badge's bottom-left corner, in the *design* size; a layout can reuse a
design at a scale (the 4-up sheet shrinks the A6 design so crop marks fit on A4).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

MM = 72 / 25.4  # points per millimetre


@dataclass(frozen=True)
class Box:
    """A rectangle in mm: (x, y) is the bottom-left corner."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class TextSlot:
    """Where a text goes and how it may shrink: ``size`` down to ``min_size`` (pt), then
    wrap to ``max_lines``, then ellipsis (names are never cut: see :mod:`badges.names`)."""

    box: Box
    size: float
    min_size: float
    bold: bool = False
    max_lines: int = 1
    align: str = "center"  # left | center | right
    color: str = "#1a1a1a"
    leading: float = 1.15  # minimum baseline-to-baseline distance, in multiples of size


@dataclass(frozen=True)
class Category:
    """Band styling: colour plus a letter and a pattern so B/W prints stay distinct."""

    color: str
    text_color: str
    letter: str
    pattern: str  # solid | diagonal | dots | horizontal


CATEGORIES: dict[str, Category] = {
    "government": Category("#1d3b8b", "#ffffff", "G", "solid"),
    "expert": Category("#b3261e", "#ffffff", "E", "diagonal"),
    "scholar": Category("#1b7a3d", "#ffffff", "S", "dots"),
    "ngo": Category("#f2c230", "#000000", "N", "horizontal"),
}
UNKNOWN_CATEGORY = Category("#808080", "#000000", "?", "solid")
# A printer's test badge (no delegate): a black band lettered T, unlike any category's.
TEST_CATEGORY = "test"
TEST_BAND = Category("#000000", "#ffffff", "T", "solid")


@dataclass(frozen=True)
class Design:
    """What is drawn on one badge, in mm of its own coordinate system."""

    width: float
    height: float
    event_name: TextSlot
    event_dates: TextSlot
    name: TextSlot
    native_name: TextSlot
    organisation: TextSlot
    country: TextSlot
    band: Box
    band_text: TextSlot
    qr: Box  # square; includes the 4-module quiet zone
    reference: TextSlot
    photo: Box | None
    accent: str = "#1d3b8b"
    #: The event name in Chinese, above the English one; None: both share ``event_name``
    #: ("中文 · English" on one fitted line).
    event_name_zh: TextSlot | None = None
    #: The category label in Chinese, above the English one on the band; None: both share
    #: ``band_text``.
    band_text_zh: TextSlot | None = None
    #: Position / title under the organisation; None: this design has no room for it.
    position: TextSlot | None = None
    #: The same badge for a delegate without a photo: no empty frame or silhouette, the
    #: text uses the space. None: the photo box is simply left empty.
    no_photo: Design | None = None

    def slots(self) -> dict[str, Box]:
        """Every box drawn on this design by name (for checks and tests)."""
        out = {name: getattr(self, name).box for name in (
            "event_name", "event_dates", "name", "native_name", "organisation", "country",
            "reference", "event_name_zh", "position") if getattr(self, name) is not None}
        out.update(qr=self.qr, band=self.band)
        if self.photo is not None:
            out["photo"] = self.photo
        return out


@dataclass(frozen=True)
class BadgeLayout:
    """A design placed on a page: ``cells`` are badge origins (mm), filled in order."""

    name: str
    design: Design
    page_width: float
    page_height: float
    cells: tuple[tuple[float, float], ...]
    scale: float = 1.0
    crop_marks: bool = False
    crop_mark_length: float = 3.0
    crop_mark_offset: float = 1.0
    #: mm of paper the colour band extends past the trim line where it touches the badge's
    #: edge, so an imprecise cut leaves no white sliver (sheets cut to size only).
    bleed: float = 0.0

    @property
    def per_page(self) -> int:
        return len(self.cells)

    def design_for(self, photo: bool) -> Design:
        """The design a badge is drawn with: with a photo, or without one."""
        if photo or self.design.no_photo is None:
            return self.design
        return self.design.no_photo

    def slot_rect_pt(self, box: Box, cell: int = 0) -> tuple[float, float, float, float]:
        """Page coordinates (pt) of ``box`` in ``cell``: (x0, y0, x1, y1)."""
        cx, cy = self.cells[cell]
        s = self.scale
        x0 = (cx + box.x * s) * MM
        y0 = (cy + box.y * s) * MM
        return x0, y0, x0 + box.w * s * MM, y0 + box.h * s * MM

    def cell_rect_pt(self, cell: int = 0) -> tuple[float, float, float, float]:
        return self.slot_rect_pt(Box(0, 0, self.design.width, self.design.height), cell)


# The name gets three lines of room at its legible minimum (14 pt); see badges.names.
_A6_WITH_PHOTO = Design(
    width=105,
    height=148,
    event_name_zh=TextSlot(Box(6, 138, 93, 7), 13, 8, bold=True, color="#1d3b8b"),
    event_name=TextSlot(Box(6, 129.5, 93, 8.5), 10.5, 7, bold=True, max_lines=2,
                        color="#1d3b8b"),
    event_dates=TextSlot(Box(6, 124.5, 93, 4.5), 8.5, 6, color="#333333"),
    name=TextSlot(Box(6, 99, 93, 23.5), 24, 14, bold=True, max_lines=3),
    native_name=TextSlot(Box(6, 90.5, 93, 8.5), 17, 8),
    organisation=TextSlot(Box(6, 80.5, 93, 9.5), 11, 7, max_lines=2, color="#333333"),
    position=TextSlot(Box(6, 74.5, 93, 5.5), 9.5, 6.5, color="#333333"),
    country=TextSlot(Box(6, 68, 93, 6), 11, 7, bold=True, color="#333333"),
    photo=Box(8, 27, 30, 38),
    qr=Box(67, 32, 32, 32),
    reference=TextSlot(Box(67, 28, 32, 4), 7, 5, color="#333333"),
    band=Box(0, 0, 105, 24),
    band_text_zh=TextSlot(Box(24, 12.5, 78, 9), 17, 8, bold=True),
    band_text=TextSlot(Box(24, 2.5, 78, 9.5), 15, 7, bold=True),
)
A6_DESIGN = dataclasses.replace(
    _A6_WITH_PHOTO,
    # Without a photo the name, native name and organisation grow into the height the
    # photo frees; position and country move to the column beside the QR code.
    no_photo=dataclasses.replace(
        _A6_WITH_PHOTO,
        photo=None,
        name=TextSlot(Box(6, 94, 93, 28.5), 26, 14, bold=True, max_lines=3),
        native_name=TextSlot(Box(6, 84, 93, 9.5), 18, 8),
        organisation=TextSlot(Box(6, 68.5, 93, 14.5), 12, 9, max_lines=3,
                              color="#333333"),
        position=TextSlot(Box(6, 49, 58, 16), 10.5, 8.5, max_lines=3, color="#333333"),
        country=TextSlot(Box(6, 30, 58, 16), 16, 8, bold=True, max_lines=2,
                         color="#333333"),
    ),
)


def _cr80(text_x: float, photo: Box | None) -> Design:
    """The card: the text block right of the photo, or from the left margin without one."""
    w = 56 - text_x
    return Design(
        width=85.6,
        height=54,
        event_name_zh=TextSlot(Box(3, 49.2, 79.6, 3.8), 8, 5, bold=True, color="#1d3b8b"),
        event_name=TextSlot(Box(3, 45.4, 79.6, 3.6), 6.5, 4.5, bold=True, color="#1d3b8b"),
        event_dates=TextSlot(Box(3, 42.5, 79.6, 2.8), 5.5, 4.5, color="#333333"),
        photo=photo,
        name=TextSlot(Box(text_x, 29, w, 12.5), 13, 9, bold=True, max_lines=3, align="left"),
        native_name=TextSlot(Box(text_x, 24, w, 5), 10, 5, align="left"),
        organisation=TextSlot(Box(text_x, 17.5, w, 6.5), 7, 5.5, max_lines=2, align="left",
                              color="#333333"),
        country=TextSlot(Box(text_x, 13.5, w, 4), 7, 4.5, bold=True, align="left",
                         color="#333333"),
        qr=Box(57.6, 13, 27, 27),
        reference=TextSlot(Box(57.6, 10.2, 27, 2.8), 5, 4, color="#333333"),
        band=Box(0, 0, 85.6, 9.5),
        # one line: "政府官员 · GOVERNMENT OFFICIAL" (band_text_zh None)
        band_text=TextSlot(Box(12, 1.5, 70, 6.5), 11, 5, bold=True),
    )


CR80_DESIGN = dataclasses.replace(_cr80(22, Box(3, 14, 17, 22)), no_photo=_cr80(3, None))

# The A6 design at 88% (92.4 x 130.2 mm, fits A6 pockets): four full A6 cells would fill
# the sheet edge to edge, leaving no printable room for crop marks and bleed. With a 6 mm
# gutter the 2 mm bleeds of neighbouring cells stay 2 mm apart and the outermost marks end
# >= 5 mm from the paper edge, inside common printers' margins.
_A4_SCALE = 0.88
_A4_GAP = 6.0
_A4_MX = (210 - 2 * 105 * _A4_SCALE - _A4_GAP) / 2
_A4_MY = (297 - 2 * 148 * _A4_SCALE - _A4_GAP) / 2

LAYOUTS: dict[str, BadgeLayout] = {
    "a6": BadgeLayout("a6", A6_DESIGN, 105, 148, ((0, 0),)),
    "cr80": BadgeLayout("cr80", CR80_DESIGN, 85.6, 54, ((0, 0),)),
    "a4-4up": BadgeLayout(
        "a4-4up",
        A6_DESIGN,
        210,
        297,
        # reading order: top-left, top-right, bottom-left, bottom-right
        (
            (_A4_MX, _A4_MY + 148 * _A4_SCALE + _A4_GAP),
            (_A4_MX + 105 * _A4_SCALE + _A4_GAP, _A4_MY + 148 * _A4_SCALE + _A4_GAP),
            (_A4_MX, _A4_MY),
            (_A4_MX + 105 * _A4_SCALE + _A4_GAP, _A4_MY),
        ),
        scale=_A4_SCALE,
        crop_marks=True,
        bleed=2.0,
        # marks start clear of the bleed and stop at mid-gutter (see draw._crop_marks);
        # the outermost end 5.3 mm from the paper's edge
        crop_mark_offset=2.5,
        crop_mark_length=1.8,
    ),
}
