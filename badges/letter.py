"""Visa invitation letters as PDF: plain data in, one letter per two A4 pages out (English,
then Chinese), no web framework. The app turns a letter record into :class:`LetterData`
(registration/services/visa_letter_pdf.py).

Text goes through the badge engine's font chain and line layout (:mod:`badges.shaping`),
so a name in any script prints with an embedded font that has its glyphs; lines are
wrapped here (between words, or between any two CJK characters). The QR code carries the
letter's verification link and is drawn as one vector path (:mod:`badges.qr`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from reportlab.lib.colors import HexColor
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from . import qr
from .draw import _binary_streams
from .pdftext import draw_runs
from .shaping import layout_line, line_width

MM = 72 / 25.4
PAGE_W, PAGE_H = 210 * MM, 297 * MM
MARGIN = 22 * MM
TEXT_W = PAGE_W - 2 * MARGIN
QR_SIZE = 32 * MM
INK = HexColor("#111111")
MUTED = HexColor("#555555")


@dataclass(frozen=True)
class LetterSide:
    """One language's wording of a letter (every string already in that language)."""

    organiser: str
    address: str
    title: str
    salutation: str
    body: list[str]
    rows: list[tuple[str, str]]
    closing: str
    signatory: str
    signatory_title: str
    verify_note: str
    reference_label: str
    date_label: str


@dataclass(frozen=True)
class LetterData:
    reference: str
    issued_on: str  # YYYY-MM-DD
    verify_url: str
    sides: list[LetterSide] = field(default_factory=list)  # English, then Chinese
    signature_png: bytes | None = None


def _is_cjk(ch: str) -> bool:
    return ch >= "\u2e80" and not ("\uff00" <= ch <= "\uff0f")


# Chinese line-breaking rules: these never start a line (closing punctuation) or end one
# (opening brackets and quotes); each is kept with the character beside it.
NO_LINE_START = frozenset("。，、；：？！）」』】〕》〉”’…％．，：；？！")
NO_LINE_END = frozenset("（「『【〔《〈“‘")


def _tokens(text: str) -> list[str]:
    """Break opportunities: a word with its following space, or one CJK character, with
    punctuation that may not start or end a line joined to its neighbour."""
    merged: list[str] = []
    for token in _raw_tokens(text):
        if merged and (token[0] in NO_LINE_START or merged[-1][-1] in NO_LINE_END):
            merged[-1] += token
        else:
            merged.append(token)
    return merged


def _raw_tokens(text: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in text:
        if _is_cjk(ch):
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        elif ch == " ":
            out.append(word + " ")
            word = ""
        else:
            word += ch
    if word:
        out.append(word)
    return out


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _tokens(paragraph):
            if line and line_width((line + token).rstrip(), size, bold) > width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
            while len(line) > 1 and line_width(line.rstrip(), size, bold) > width:
                # one word longer than the line (a link): break it between characters
                cut = len(line) - 1
                while cut > 1 and line_width(line[:cut], size, bold) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


def _line(c: Canvas, text: str, x: float, y: float, size: float, bold: bool = False,
          align_right: bool = False) -> None:
    if not text.strip():
        return
    runs, width, _asc, _desc = layout_line(text, bold)
    if align_right:
        x -= width * size / 1000
    draw_runs(c, runs, x, y, size)


def _para(c: Canvas, text: str, x: float, y: float, size: float, width: float,
          bold: bool = False, leading: float = 1.45) -> float:
    """Draw a wrapped paragraph from baseline `y` down; returns the next free baseline."""
    for line in wrap(text, size, width, bold):
        _line(c, line, x, y, size, bold)
        y -= size * leading
    return y


def _qr(c: Canvas, payload: str, x: float, y: float, size: float) -> None:
    n, cells = qr.grid(payload)
    unit = size / (n + 2 * qr.QUIET_ZONE)
    c.saveState()
    c.setFillColor(HexColor("#000000"))
    c.translate(x + qr.QUIET_ZONE * unit, y + qr.QUIET_ZONE * unit)
    c.scale(unit, unit)
    c.addLiteral(qr.grid_path_ops(n, cells))
    c.restoreState()


def _page(c: Canvas, letter: LetterData, side: LetterSide) -> None:
    c.setFillColor(INK)
    top = PAGE_H - MARGIN
    y = _para(c, side.organiser, MARGIN, top, 13, TEXT_W * 0.6, bold=True)
    c.setFillColor(MUTED)
    y = _para(c, side.address, MARGIN, y, 9, TEXT_W * 0.6)
    right = PAGE_W - MARGIN
    _line(c, f"{side.reference_label} {letter.reference}", right, top, 9.5, align_right=True)
    _line(c, f"{side.date_label} {letter.issued_on}", right, top - 14, 9.5, align_right=True)
    c.setFillColor(INK)
    y = min(y, top - 40) - 18
    y = _para(c, side.title, MARGIN, y, 16, TEXT_W, bold=True) - 6
    y = _para(c, side.salutation, MARGIN, y, 10.5, TEXT_W) - 4
    for paragraph in side.body[:1]:
        y = _para(c, paragraph, MARGIN, y, 10.5, TEXT_W) - 6
    label_w = 44 * MM
    for label, value in side.rows:
        _line(c, label, MARGIN + 4 * MM, y, 10, bold=True)
        y = _para(c, value, MARGIN + 4 * MM + label_w, y, 10,
                  TEXT_W - label_w - 4 * MM, leading=1.35) - 3
    y -= 6
    for paragraph in side.body[1:]:
        y = _para(c, paragraph, MARGIN, y, 10.5, TEXT_W) - 6
    y = _para(c, side.closing, MARGIN, y - 4, 10.5, TEXT_W) - 4
    if letter.signature_png:
        image = ImageReader(io.BytesIO(letter.signature_png))
        iw, ih = image.getSize()
        h = 16 * MM
        w = h * iw / max(ih, 1)
        if w > 60 * MM:
            w, h = 60 * MM, 60 * MM * ih / max(iw, 1)
        c.drawImage(image, MARGIN, y - h + 8, w, h, mask="auto")
        y -= h + 4
    else:
        y -= 20
    y = _para(c, side.signatory, MARGIN, y, 10.5, TEXT_W * 0.6, bold=True)
    _para(c, side.signatory_title, MARGIN, y, 10, TEXT_W * 0.6)
    # The verification block, bottom of the page.
    qx = PAGE_W - MARGIN - QR_SIZE
    _qr(c, letter.verify_url, qx, MARGIN, QR_SIZE)
    c.setFillColor(MUTED)
    _para(c, side.verify_note, MARGIN, MARGIN + QR_SIZE - 14, 8.5, TEXT_W - QR_SIZE - 6 * MM)
    c.setFillColor(INK)


def render_letters(letters: Iterable[LetterData], title: str = "Visa invitation letters"
                   ) -> bytes:
    """Every letter on its own pages (one page per language), in order, as one PDF."""
    buf = io.BytesIO()
    with _binary_streams():
        c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=True)
        c.setTitle(title)
        c.setCreator("badges")
        count = 0
        for letter in letters:
            for side in letter.sides:
                _page(c, letter, side)
                c.showPage()
                count += 1
        if count == 0:
            c.showPage()
        c.save()
    return buf.getvalue()
