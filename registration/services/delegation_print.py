"""Printing a delegation's badges for the liaison officer who collects them: the badges
together, the head of delegation first, followed by a cover sheet listing names,
categories and references (in the badges' order). The badges go through
printing.print_batch (so they are marked printed as usual); the cover sheet is drawn with
ReportLab and appended with pypdfium2."""

from __future__ import annotations

import io
from typing import BinaryIO

import pypdfium2 as pdfium
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from sqlalchemy import select

from badges.fonts import chain

from ..countries import country_name
from ..extensions import db
from ..i18n import category_label, plain
from ..models import Delegate, Delegation, StaffUser
from . import printing
from .delegations import head_of
from .selection import BatchFilter


def _font_for(text: str) -> str:
    """A registered font that has every character of `text` (Helvetica if none does)."""
    fonts = chain()
    for font in fonts._iter_fonts():
        if all(font.covers(ch) for ch in text if not ch.isspace()):
            return font.name
    return fonts.fallback.name


def cover_sheet(delegation: Delegation, delegates: list[Delegate], head_id: int | None,
                lang: str = "en") -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    _width, height = A4
    y = height - 60

    def line(text: str, size: int = 10, x: float = 50) -> None:
        nonlocal y
        if y < 60:
            pdf.showPage()
            y = height - 60
        pdf.setFont(_font_for(text), size)
        pdf.drawString(x, y, text)
        y -= size + 6

    title = delegation.name(lang)
    line(title, 16)
    if delegation.name_zh and delegation.name_zh != title:
        line(delegation.name_zh, 12)
    line(plain(lazy_ngettext("%(country)s · %(num)d badge", "%(country)s · %(num)d badges",
                             len(delegates), country=country_name(delegation.country, lang)),
               lang), 10)
    y -= 10
    for number, delegate in enumerate(delegates, start=1):
        head = f"  ({plain(_l('head of delegation'), lang)})" if delegate.id == head_id else ""
        line(f"{number:>3}. {delegate.reference}   {delegate.full_name}{head}", 11)
        line(f"{category_label(delegate.category, lang)}", 9, x=80)
    y -= 20
    line(plain(_l("Collected by: ____________________   Signature: ______________   "
                  "Date: __________"), lang), 10)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def print_delegation(delegation: Delegation, staff: StaffUser | None, layout: str,
                     out: BinaryIO, *, actor: str = "system", unprinted: bool = False,
                     lang: str | None = None) -> int:
    """Write the delegation's accredited badges (head first) and its cover sheet to `out`;
    mark the badges printed. Returns the badge count (0: nothing written)."""
    lang = lang or printing.badge_language()
    head = head_of(delegation)
    head_id = head.id if head is not None else None
    selection = BatchFilter(delegation_id=delegation.id)
    ids = printing.batch_ids(selection, unprinted=unprinted, first_id=head_id)
    if not ids:
        return 0
    by_id = {d.id: d for d in db.session.scalars(select(Delegate).where(Delegate.id.in_(ids)))}
    listed = [by_id[i] for i in ids if i in by_id]
    cover = cover_sheet(delegation, listed, head_id, lang)
    badges_pdf = io.BytesIO()
    count = printing.print_batch(selection, staff, layout, badges_pdf, unprinted=unprinted,
                                 actor=actor, lang=lang, first_id=head_id)
    document = pdfium.PdfDocument(badges_pdf.getvalue())
    document.import_pages(pdfium.PdfDocument(cover))
    document.save(out)
    return count
