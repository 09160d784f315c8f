"""The e-ticket: the badge design (A6) with the delegate's current QR code, as a PDF.

Both the delegate's self-service page (download) and the approval / reprint emails
(attachment) use it; it depends on neither, so imports point one way:
self_service → mail → eticket → printing.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

import badges

from ..models import Delegate
from .printing import badge_data, event_info


class ETicketUnavailable(Exception):
    """The delegate is not accredited (yet, or any more): there is no e-ticket to give.
    `message` is shown to them."""

    def __init__(self) -> None:
        self.message = _l("Your e-ticket is available once you are accredited.")
        super().__init__(self.message)  # lazy: translated when shown, in the reader's language


def available(delegate: Delegate) -> bool:
    return delegate.is_accredited


def eticket_pdf(delegate: Delegate, lang: str | None = None) -> bytes:
    """The e-ticket in `lang` (default: the delegate's language). Raises
    ETicketUnavailable for a delegate who is not accredited."""
    if not available(delegate):
        raise ETicketUnavailable()
    if not lang:
        lang = delegate.locale if delegate.locale in current_app.config["LANGUAGES"] else "en"
    return badges.render_badge(badge_data(delegate, lang), event_info(lang), "a6")


def eticket_filename(delegate: Delegate) -> str:
    return f"e-ticket-{delegate.reference}.pdf"
