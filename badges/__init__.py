"""Badge engine: delegate data in, print-ready PDF out (ReportLab, no web framework).

Usage::

    from badges import BadgeData, EventInfo, render_badge, render_badges, missing_fonts_hint

    pdf_bytes = render_badge(badge, event, "a6")              # one badge, e.g. a reprint
    with open("all.pdf", "wb") as fh:                           # bulk, any iterable, in order
        n = render_badges(badges_in_print_order, event, "a4-4up", fh, progress=print)

    preview_name("Wolfgang Amadeus", "von Hohenzollern", "cr80").text  # how a name prints

Inside: ``layouts`` (data), ``fonts`` (discovery), ``shaping`` (bidi, HarfBuzz, one
line's runs), ``fitting`` (lines and size in a box), ``names`` (a long name's remedies:
never without the family name), ``pdftext`` (text operators), ``qr``, ``artwork`` (the
category band, crop marks), ``draw`` (one badge, one run of pages), ``batch`` (chunks,
processes) and ``pdfcat``.

Layouts are data (``badges.layouts``): ``a6`` (A6 lanyard insert), ``cr80`` (PVC card) and
``a4-4up`` (the A6 design at 88% four to an A4 sheet, with crop marks and a 2 mm band
bleed). Each design has a variant for badges without a photo. A new layout is a
``Design`` (boxes in mm, font sizes) and/or a ``BadgeLayout`` entry in ``LAYOUTS``.
Every PDF renders with poppler without a warning and passes ``qpdf --check``: no
transparency, every resource declared (tests/test_badge_pdf_clean.py).

Fonts: ``apt-get install fonts-wqy-zenhei fonts-noto-core`` (``missing_fonts_hint()`` says
so when they are absent); ``BADGE_FONT_DIRS`` replaces the font search directories.
Sample PDFs: ``python -m badges sample --csv delegates.csv -o DIR``.
"""

from .batch import render_badges
from .draw import BadgeData, EventInfo, render_badge
from .fonts import missing_fonts_hint
from .layouts import LAYOUTS, TEST_CATEGORY, BadgeLayout
from .names import NameFit, preview_name

__all__ = [
    "LAYOUTS",
    "TEST_CATEGORY",
    "BadgeData",
    "BadgeLayout",
    "EventInfo",
    "NameFit",
    "missing_fonts_hint",
    "preview_name",
    "render_badge",
    "render_badges",
]
