"""Badge engine: delegate data in, print-ready PDF out (ReportLab, no web framework).

Public API::

    from badges import BadgeData, EventInfo, LAYOUTS, render_badge, render_badges
    from badges.fonts import missing_fonts_hint
"""

from .fonts import missing_fonts_hint
from .layouts import LAYOUTS, BadgeLayout
from .render import BadgeData, EventInfo, render_badge, render_badges

__all__ = [
    "LAYOUTS",
    "BadgeData",
    "BadgeLayout",
    "EventInfo",
    "missing_fonts_hint",
    "render_badge",
    "render_badges",
]
