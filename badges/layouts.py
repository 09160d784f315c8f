"""Badge layouts as data: page size, cells, boxes in millimetres, font sizes, colours.

Why data: the print shop changes its mind (pocket sizes, PVC cards, sheets); adding a
layout should be a few lines here, not new drawing code. All boxes are in millimetres
relative to the badge's bottom-left corner, in the *design* size; a layout can reuse a
design at a scale (the 4-up sheet shrinks the A6 design so crop marks fit on A4).
"""

from __future__ import annotations

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
    wrap to ``max_lines``, then ellipsis."""

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

    @property
    def per_page(self) -> int:
        return len(self.cells)

    def slot_rect_pt(self, box: Box, cell: int = 0) -> tuple[float, float, float, float]:
        """Page coordinates (pt) of ``box`` in ``cell``: (x0, y0, x1, y1)."""
        cx, cy = self.cells[cell]
        s = self.scale
        x0 = (cx + box.x * s) * MM
        y0 = (cy + box.y * s) * MM
        return x0, y0, x0 + box.w * s * MM, y0 + box.h * s * MM

    def cell_rect_pt(self, cell: int = 0) -> tuple[float, float, float, float]:
        return self.slot_rect_pt(Box(0, 0, self.design.width, self.design.height), cell)


A6_DESIGN = Design(
    width=105,
    height=148,
    event_name=TextSlot(Box(6, 131, 93, 13), 13, 8, bold=True, max_lines=2, color="#1d3b8b"),
    event_dates=TextSlot(Box(6, 125, 93, 5.5), 8.5, 6, color="#333333"),
    name=TextSlot(Box(6, 97, 93, 25), 24, 14, bold=True, max_lines=2),
    native_name=TextSlot(Box(6, 88, 93, 9), 17, 8),
    organisation=TextSlot(Box(6, 78, 93, 9.5), 11, 7, max_lines=2, color="#333333"),
    country=TextSlot(Box(6, 71.5, 93, 6), 11, 7, bold=True, color="#333333"),
    photo=Box(8, 30, 30, 38),
    qr=Box(67, 32, 32, 32),
    reference=TextSlot(Box(67, 28, 32, 4), 7, 5, color="#333333"),
    band=Box(0, 0, 105, 24),
    band_text=TextSlot(Box(24, 3, 78, 18), 18, 8, bold=True),
)

CR80_DESIGN = Design(
    width=85.6,
    height=54,
    event_name=TextSlot(Box(3, 47.5, 79.6, 5), 8, 5, bold=True, color="#1d3b8b"),
    event_dates=TextSlot(Box(3, 44, 79.6, 3.5), 5.5, 4.5, color="#333333"),
    photo=Box(3, 14, 17, 22),
    name=TextSlot(Box(22, 30.5, 34, 12.5), 13, 9, bold=True, max_lines=2, align="left"),
    native_name=TextSlot(Box(22, 25, 34, 5.5), 10, 5, align="left"),
    organisation=TextSlot(Box(22, 18.5, 34, 6.5), 7, 6, max_lines=2, align="left",
                          color="#333333"),
    country=TextSlot(Box(22, 14.5, 34, 4), 7, 4.5, bold=True, align="left", color="#333333"),
    qr=Box(57.6, 13, 27, 27),
    reference=TextSlot(Box(57.6, 10.2, 27, 2.8), 5, 4, color="#333333"),
    band=Box(0, 0, 85.6, 9.5),
    band_text=TextSlot(Box(12, 1.5, 70, 6.5), 11, 5, bold=True),
)

# The A6 design at 88% (92.4 x 130.2 mm, fits A6 pockets): four full A6 cells would fill
# the sheet edge to edge, leaving no printable room for crop marks. With a 6 mm gutter the
# outermost marks end >= 6 mm from the paper edge, inside common printers' margins.
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
        crop_mark_length=2.0,  # marks of neighbouring cells meet mid-gutter
    ),
}
