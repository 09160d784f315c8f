"""Badge engine tests: everything is checked on the rendered PDF (text extraction, fonts
embedded, raster ink, QR decoded by a real decoder), not on internal calls."""

from __future__ import annotations

import ctypes
import io
import logging
import re
import unicodedata
import uuid
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import qrcode
import zxingcpp

from badges import LAYOUTS, BadgeData, EventInfo, preview_name, render_badge, render_badges
from badges import fonts as badge_fonts
from badges import qr as badge_qr
from badges import shaping as badge_shaping
from badges.fitting import ELLIPSIS, choose_lines
from badges.layouts import MM
from badges.names import choose_name
from badges.pdfcat import PdfConcatenator
from registration import badge_token

EVENT = EventInfo("Global Public Safety Cooperation Forum",
                  "8\u201310 December 2026 \u00b7 Lianyungang")

# script -> (sample name, Debian package providing its font, preferred font file)
SCRIPTS = {
    "latin-diacritics": ("Ñuño Øster Łukasz Đorđević", "fonts-noto-core", "NotoSans-Regular.ttf"),
    "chinese-simplified": ("王小明", "fonts-wqy-zenhei", "wqy-zenhei.ttc"),
    "chinese-traditional": ("陳美玲", "fonts-wqy-zenhei", "wqy-zenhei.ttc"),
    "japanese": ("佐藤 健二 さとう", "fonts-wqy-zenhei", "wqy-zenhei.ttc"),
    "korean": ("박지우", "fonts-wqy-zenhei", "wqy-zenhei.ttc"),
    "cyrillic": ("Мария Иванова", "fonts-noto-core", "NotoSans-Regular.ttf"),
    "greek": ("Γιώργος Παπαδόπουλος", "fonts-noto-core", "NotoSans-Regular.ttf"),
    "arabic": ("محمد الراشد", "fonts-noto-core", "NotoSansArabic-Regular.ttf"),
    "persian": ("فاطمه کریمی", "fonts-noto-core", "NotoSansArabic-Regular.ttf"),
    "hebrew": ("דוד כהן", "fonts-noto-core", "NotoSansHebrew-Regular.ttf"),
    "devanagari": ("राहुल शर्मा", "fonts-noto-core", "NotoSansDevanagari-Regular.ttf"),
    "thai": ("สมชาย ใจดี", "fonts-noto-core", "NotoSansThai-Regular.ttf"),
}


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def badge_log():
    """Warnings of the "badges" logger, captured directly on it (not via propagation to
    root, which other test modules' logging configuration may change or disable)."""
    logger = logging.getLogger("badges")
    handler = _ListHandler()
    was_disabled = logger.disabled
    logger.disabled = False
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.disabled = was_disabled


@pytest.fixture(scope="module")
def key():
    return badge_token.generate_private_key()


def make_badge(key, **kw) -> tuple[BadgeData, uuid.UUID]:
    badge_id = uuid.uuid4()
    data = {
        "badge_name": "Xiaoming Wang", "honorific": "H.E.", "native_name": "",
        "organisation": "Ministry of Public Security", "country": "China",
        "category": "government", "category_label": "GOVERNMENT OFFICIAL",
        "qr_payload": badge_token.issue(key, badge_id, 2), "reference": "GPS-7K3Q-9XWD",
    }
    data.update(kw)
    return BadgeData(**data), badge_id


def pdf_text(pdf: bytes, page: int = 0) -> str:
    return pdfium.PdfDocument(pdf)[page].get_textpage().get_text_range()


def rasterise(pdf: bytes, dpi: int, page: int = 0):
    return pdfium.PdfDocument(pdf)[page].render(scale=dpi / 72).to_pil().convert("L")


def ink_in(img, rect_pt, dpi: int, page_h_pt: float, threshold: int = 128) -> int:
    """Dark pixels inside a PDF-coordinate rectangle (x0, y0, x1, y1) in points."""
    x0, y0, x1, y1 = rect_pt
    k = dpi / 72
    box = (int(x0 * k), int((page_h_pt - y1) * k), int(x1 * k), int((page_h_pt - y0) * k))
    return sum(1 for v in img.crop(box).tobytes() if v < threshold)


def embedded_fonts(pdf: bytes) -> list[tuple[str, bool]]:
    """(base font name, embedded?) of the font of every text object in the PDF."""
    out = []
    doc = pdfium.PdfDocument(pdf)
    for page in doc:
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]):
            font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
            n = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
            buf = ctypes.create_string_buffer(n)
            pdfium_c.FPDFFont_GetBaseFontName(font, buf, n)
            out.append((buf.value.decode("latin-1"), bool(pdfium_c.FPDFFont_GetIsEmbedded(font))))
    return out


def decode_qr(img) -> str:
    results = zxingcpp.read_barcodes(img)
    codes = [r.text for r in results if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1, f"expected one QR code, got {results!r}"
    return codes[0]


def require_fonts(text: str, package: str, bold: bool = False) -> None:
    """Skip (loudly) when no embedded font covers ``text``: names the Debian package."""
    for ch in text:
        if ch == " ":
            continue
        f = badge_fonts.chain(bold).first_covering(ch)
        if f is None or not f.embedded:
            pytest.skip(f"no installed font covers {ch!r} (U+{ord(ch):04X}); "
                        f"install the Debian package {package}")


# ------------------------------------------------------------------ QR round trip

@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_qr_round_trip_300_and_150_dpi(key, layout):
    badge, badge_id = make_badge(key)
    pdf = render_badge(badge, EVENT, layout)
    for dpi in (300, 150):
        code = decode_qr(rasterise(pdf, dpi))
        t = badge_token.verify(code, [key.public_key()], lambda b: 2 if b == badge_id else None)
        assert (t.badge_id, t.serial) == (badge_id, 2), (layout, dpi)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_qr_geometry_at_least_22mm_with_quiet_zone(layout):
    lay = LAYOUTS[layout]
    d = lay.design
    payload = "GP1" + "A" * 133
    n = len(badge_qr.matrix(payload))
    symbol_mm = d.qr.w * lay.scale * n / (n + 2 * badge_qr.QUIET_ZONE)
    assert symbol_mm >= 22, (layout, symbol_mm)


@pytest.mark.parametrize("photo", [True, False], ids=["photo", "no-photo"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layout_boxes_inside_badge_and_disjoint(layout, photo):
    d = LAYOUTS[layout].design_for(photo)
    boxes = d.slots()
    assert {"event_name", "event_dates", "name", "native_name", "organisation", "country",
            "qr", "reference", "band"} <= set(boxes)
    assert ("photo" in boxes) == photo
    for key_, b in boxes.items():
        assert b.x >= 0 and b.y >= 0 and b.x + b.w <= d.width + 1e-9, key_
        assert b.y + b.h <= d.height + 1e-9, key_
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p, q = boxes[a], boxes[b]
            overlap = (p.x < q.x + q.w and q.x < p.x + p.w and p.y < q.y + q.h
                       and q.y < p.y + p.h)
            assert not overlap, (layout, a, b)
    band = d.band
    for slot in (d.band_text, d.band_text_zh):
        if slot is None:
            continue
        bt = slot.box
        assert band.x <= bt.x and bt.x + bt.w <= band.x + band.w
        assert band.y <= bt.y and bt.y + bt.h <= band.y + band.h


def test_fast_qr_matrix_identical_to_qrcode_library(key):
    payloads = [badge_token.issue(key, uuid.uuid4(), s) for s in (1, 2, 65535)]
    payloads += ["HELLO WORLD", "A", "0123456789 $%*+-./:"]
    for p in payloads:
        for mask in (0, 5):
            q = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0,
                              mask_pattern=mask)
            q.add_data(p)
            q.make(fit=True)
            ref = tuple(tuple(bool(v) for v in row) for row in q.modules)
            assert badge_qr.matrix(p, mask=mask) == ref, (p, mask)


def test_qr_is_one_path_of_runs():
    ops = badge_qr.path_ops(badge_qr.matrix("GP1" + "7" * 133))
    assert ops.endswith("\nf") and ops.count("f") == 1
    assert ops.count(" re") > 50


# ------------------------------------------------------------------ scripts

@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_renders_embedded_extractable_and_inked(key, script):
    name, package, preferred = SCRIPTS[script]
    require_fonts(name, package)
    # coverage: every code point is drawn by a font that has it in its cmap
    runs = badge_shaping.layout_line(name)[0]
    for run in runs:
        assert run.font.embedded
        for ch in unicodedata.normalize("NFC", run.text):
            assert run.font.covers(ch), (script, ch, run.font)
    drawn = "".join(sorted("".join(r.text for r in runs)))
    if preferred in badge_fonts._index(tuple(badge_fonts.search_dirs())):
        assert {Path(r.font.path).name for r in runs if r.text.strip()} == {preferred}
    assert drawn == "".join(sorted(unicodedata.normalize("NFC", name)))

    badge, _ = make_badge(key, native_name=name)
    pdf = render_badge(badge, EVENT, "a6")
    text = pdf_text(pdf)
    assert unicodedata.normalize("NFC", name) in unicodedata.normalize("NFC", text), text

    fonts = embedded_fonts(pdf)
    assert fonts and all(emb for _, emb in fonts), fonts

    lay = LAYOUTS["a6"]
    img = rasterise(pdf, 150)
    rect = lay.slot_rect_pt(lay.design_for(photo=False).native_name.box)
    assert ink_in(img, rect, 150, lay.page_height * MM) > 30


def test_arabic_extraction_is_exact_logical_order(key):
    name = SCRIPTS["arabic"][0]
    require_fonts(name, "fonts-noto-core")
    badge, _ = make_badge(key, native_name=name, badge_name="Mohammed Al-Rashid")
    lines = pdf_text(render_badge(badge, EVENT, "a6")).splitlines()
    assert name in lines


def test_uncovered_code_point_is_dropped_with_warning(key, badge_log):
    require_fonts("王", "fonts-wqy-zenhei")
    name = "王小明 \U00013000"  # EGYPTIAN HIEROGLYPH A001: in none of our fonts
    assert badge_fonts.chain().first_covering("\U00013000") is None
    badge, _ = make_badge(key, native_name=name)
    pdf = render_badge(badge, EVENT, "a6")
    assert "\U00013000" not in pdf_text(pdf)
    assert "王小明" in pdf_text(pdf)
    assert any("no installed font covers" in r.getMessage() for r in badge_log)


# ------------------------------------------------------------------ fitting

def chars_outside_band(pdf: bytes, lay) -> list[tuple[float, float, float, float]]:
    bx0, by0, bx1, by1 = lay.slot_rect_pt(lay.design.band)
    tp = pdfium.PdfDocument(pdf)[0].get_textpage()
    boxes = []
    for i in range(tp.count_chars()):
        left, bottom, right, top = tp.get_charbox(i)
        if right <= left or top <= bottom:
            continue
        cx, cy = (left + right) / 2, (bottom + top) / 2
        if not (bx0 <= cx <= bx1 and by0 <= cy <= by1):
            boxes.append((left, bottom, right, top))
    return boxes


LONG_120 = ("Maximiliano Alejandro Bartholomew Konstantinopoulos-Vanderbilt de la Santísima "
            "Trinidad y Montenegro-Fitzgerald Ouattara")[:120]
TWELVE_WORDS = "Anna Maria Luisa Josefa Carlota Teresa Isabel Francisca Antonia Juana Rosa Lopez"


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("name", [LONG_120, TWELVE_WORDS], ids=["120chars", "12words"])
def test_long_names_stay_inside_their_box(key, layout, name):
    assert len(LONG_120) == 120 and len(TWELVE_WORDS.split()) == 12
    require_fonts(name, "fonts-noto-core", bold=True)
    badge, _ = make_badge(key, badge_name=name, honorific="Prof. Dr.", native_name="",
                          organisation="", country="", reference="", category_label="")
    pdf = render_badge(badge, EventInfo("", ""), layout)
    lay = LAYOUTS[layout]
    x0, y0, x1, y1 = lay.slot_rect_pt(lay.design_for(photo=False).name.box)
    boxes = chars_outside_band(pdf, lay)  # i.e. the name: every other field is empty
    assert len(boxes) >= 20
    tol = 0.5
    for left, bottom, right, top in boxes:
        assert x0 - tol <= left and right <= x1 + tol, (left, right, x0, x1)
        assert y0 - tol <= bottom and top <= y1 + tol, (bottom, top, y0, y1)
    text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert text.startswith("Prof. Dr. ")


@pytest.mark.parametrize("layout", ["a6", "cr80"])
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_long_native_names_stay_inside_their_box(key, layout, script):
    name, package, _font = SCRIPTS[script]
    require_fonts(name, package)
    long_name = " ".join([name] * 6)
    badge, _ = make_badge(key, badge_name="", honorific="", native_name=long_name,
                          organisation="", country="", reference="", category_label="")
    pdf = render_badge(badge, EventInfo("", ""), layout)
    lay = LAYOUTS[layout]
    x0, y0, x1, y1 = lay.slot_rect_pt(lay.design_for(photo=False).native_name.box)
    boxes = chars_outside_band(pdf, lay)
    assert len(boxes) >= 3
    tol = 0.5
    for left, bottom, right, top in boxes:
        assert x0 - tol <= left and right <= x1 + tol, (script, left, right, x0, x1)
        assert y0 - tol <= bottom and top <= y1 + tol, (script, bottom, top, y0, y1)


def test_fitting_shrinks_then_wraps_then_ellipsis():
    # organisations (any text but a name): shrink, wrap to the slot's lines, then ellipsis
    slot = LAYOUTS["a6"].design.organisation
    assert slot.max_lines == 2
    lines, size = choose_lines("Red Crescent Society", slot)
    assert lines == ("Red Crescent Society",) and size == slot.size
    org = "Universidad Nacional Autónoma de México, Instituto de Investigaciones Jurídicas"
    lines, size = choose_lines(org, slot)
    assert len(lines) == 2 and size >= slot.min_size and ELLIPSIS not in "".join(lines)
    assert " ".join(lines) == org
    lines, size = choose_lines(LONG_120 + " " + LONG_120, slot)
    assert len(lines) == 2 and lines[-1].endswith(ELLIPSIS) and size <= slot.min_size


def test_names_are_wrapped_not_cut():
    # was: the name slot cut TWELVE_WORDS after two lines with an ellipsis; a name is now
    # wrapped onto a third line at a legible size instead
    slot = LAYOUTS["a6"].design.name
    lines, size = choose_lines("Dr. Ana Li", slot)
    assert lines == ("Dr. Ana Li",) and size == slot.size
    fitted = choose_name("", "", "", TWELVE_WORDS, slot)  # a chosen badge name
    assert fitted.lines and " ".join(fitted.lines) == TWELVE_WORDS
    assert len(fitted.lines) == 3 and fitted.size >= slot.min_size and fitted.legible


# ------------------------------------------------------------------ long names (issue 11)

WOLFGANG = ("Dr.", "Wolfgang Amadeus Maximilian Friedrich",
            "von Hohenzollern-Sigmaringen-Württemberg")
ABDULRAHMAN = ("H.E.", "Abdulrahman bin Mohammed bin Abdulaziz", "Al-Thani")


def _flat(text: str) -> str:
    # pdfium joins a line that ends in a hyphen to the next and marks the join with U+FFFE
    # (U+0002 in bounded text): that is a compound name wrapped at its own hyphen
    return " ".join(text.replace("\ufffe", "-").replace("\x02", "-").split())


def flat_text(pdf: bytes, page: int = 0) -> str:
    """The page's text on one line."""
    return _flat(pdf_text(pdf, page))


def chars_in(pdf: bytes, rect, page: int = 0) -> str:
    """The text inside ``rect`` (page points), on one line."""
    return _flat(pdfium.PdfDocument(pdf)[page].get_textpage().get_text_bounded(*rect))


@pytest.mark.parametrize("photo", [True, False], ids=["photo", "no-photo"])
@pytest.mark.parametrize(("layout", "name"), [("a6", WOLFGANG), ("a4-4up", WOLFGANG),
                                              ("cr80", ABDULRAHMAN), ("cr80", WOLFGANG)])
def test_long_name_never_loses_its_family_name(key, layout, name, photo):
    honorific, given, family = name
    require_fonts(given + family, "fonts-noto-core", bold=True)
    badge, _ = make_badge(key, badge_name=f"{given} {family}", given_name=given,
                          family_name=family, honorific=honorific,
                          photo=_jpeg() if photo else None)
    for pdf in (render_badge(badge, EVENT, layout), _batch([badge, badge], layout)):
        text = flat_text(pdf)
        assert family in text, text  # whole, never "Hohenzollern-Sigmari…"
        assert ELLIPSIS not in text
        assert text.startswith(EVENT.name) or honorific in text
        # the name stays inside its box (a wrapped third line included)
        lay = LAYOUTS[layout]
        x0, y0, x1, y1 = lay.slot_rect_pt(lay.design_for(photo).name.box)
        assert family in chars_in(pdf, (x0 - 0.5, y0 - 0.5, x1 + 0.5, y1 + 0.5))


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 380), (90, 90, 90)).save(buf, "JPEG")
    return buf.getvalue()


def _batch(items: list[BadgeData], layout: str, event: EventInfo = EVENT) -> bytes:
    buf = io.BytesIO()
    render_badges(items, event, layout, buf)
    return buf.getvalue()


def test_name_remedies_in_order():
    # a slot exactly as wide as each form at the legible minimum picks that form
    from badges.layouts import Box, TextSlot
    from badges.shaping import line_width

    honorific, given, family = "Dr.", "Jean-Pierre Amadeus", "Dupont"
    forms = ["Dr. Jean-Pierre Amadeus Dupont", "Dr. Jean-Pierre Dupont", "Dr. J.-P. Dupont"]
    for k, form in enumerate(forms):
        width_mm = line_width(form, 10, bold=True) / MM + 0.01
        slot = TextSlot(Box(0, 0, width_mm, 10), 10, 10, bold=True, max_lines=1)
        fitted = choose_name(honorific, given, family, "", slot)
        assert fitted.lines == (form,) and fitted.shortened == (k > 0) and fitted.legible
    # wrapping comes before dropping names, and keeps the family name on one line
    slot = TextSlot(Box(0, 0, line_width("Dr. Jean-Pierre", 10, True) / MM + 0.01, 40), 10,
                    10, bold=True, max_lines=3)
    fitted = choose_name(honorific, given, family, "", slot)
    assert fitted.lines == ("Dr. Jean-Pierre", "Amadeus", "Dupont") and not fitted.shortened
    # nothing fits legibly: the shortest form, smaller than the minimum, never cut
    slot = TextSlot(Box(0, 0, 12, 5), 10, 10, bold=True, max_lines=1)
    fitted = choose_name(honorific, given, family, "", slot)
    assert fitted.lines == ("Dr. J.-P. Dupont",) and not fitted.legible and fitted.size < 10


def test_chosen_badge_name_is_printed_as_written_and_never_cut(key):
    # the delegate's own form: no word is dropped or shortened (we cannot tell which is
    # the family name), it is shrunk below the legible minimum rather than cut
    chosen = "Sheikh Abdulrahman bin Mohammed bin Abdulaziz bin Hamad Al-Thani of Doha"
    badge, _ = make_badge(key, badge_name=chosen, given_name="Abdulrahman",
                          family_name="Al-Thani", honorific="H.E.")
    for layout in LAYOUTS:
        text = flat_text(render_badge(badge, EVENT, layout))
        assert f"H.E. {chosen}" in text and ELLIPSIS not in text, (layout, text)
    fitted = preview_name("Abdulrahman", "Al-Thani", "cr80", honorific="H.E.",
                          badge_name=chosen)
    assert fitted.text == f"H.E. {chosen}" and not fitted.shortened and not fitted.legible
    # a badge name that is just given + family name is not a chosen form: it may shorten
    fitted = preview_name(*WOLFGANG[1:], "cr80", honorific="Dr.",
                          badge_name=" ".join(WOLFGANG[1:]).upper())
    assert fitted.shortened and fitted.text == "Dr. W. von Hohenzollern-Sigmaringen-Württemberg"


def test_preview_name_is_what_prints(key):
    given, family = WOLFGANG[1:]
    # A6 prints the whole name (wrapped at the compound name's hyphen); CR80 drops the
    # middle names where there is no photo, and uses the initial beside a photo
    assert preview_name(given, family, "a6", honorific="Dr.").text == " ".join(WOLFGANG)
    no_photo = preview_name(given, family, "cr80", honorific="Dr.", photo=False)
    assert no_photo.text == "Dr. Wolfgang von Hohenzollern-Sigmaringen-Württemberg"
    assert no_photo.shortened and no_photo.legible
    beside_photo = preview_name(given, family, "cr80", honorific="Dr.")
    assert beside_photo.text == "Dr. W. von Hohenzollern-Sigmaringen-Württemberg"
    badge, _ = make_badge(key, badge_name="", given_name=given, family_name=family,
                          honorific="Dr.")
    assert no_photo.text in flat_text(render_badge(badge, EVENT, "cr80"))
    assert "Amadeus" not in flat_text(render_badge(badge, EVENT, "cr80"))
    assert not preview_name("Xiaoming", "Wang", "cr80").changed


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_organisation_wraps_to_two_lines_before_any_ellipsis(key, layout):
    org = "Ministry of Public Security of the People's Republic of China"
    if layout != "cr80":  # one line of A6 takes that at 7 pt
        org += ", Bureau of International Cooperation"
    badge, _ = make_badge(key, organisation=org, photo=_jpeg())
    text = flat_text(render_badge(badge, EVENT, layout))
    assert org in text and ELLIPSIS not in text
    lay = LAYOUTS[layout]
    slot = lay.design.organisation
    assert slot.max_lines >= 2
    lines, size = choose_lines(org, slot)
    assert len(lines) == 2 and size >= slot.min_size


# ------------------------------------------------------------------ bilingual, position

@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_event_name_and_category_in_chinese_and_english(key, layout):
    require_fonts("全球公共安全合作论坛政府官员", "fonts-wqy-zenhei")
    event = EventInfo(EVENT.name, EVENT.dates, name_zh="全球公共安全合作论坛")
    badge, _ = make_badge(key, category_label="GOVERNMENT OFFICIAL",
                          category_label_zh="政府官员")
    for pdf in (render_badge(badge, event, layout), _batch([badge] * 5, layout, event)):
        text = flat_text(pdf)
        for s in ("全球公共安全合作论坛", EVENT.name, "政府官员", "GOVERNMENT OFFICIAL"):
            assert s in text, (layout, s, text)
        # the category label is on the band
        lay = LAYOUTS[layout]
        band = chars_in(pdf, lay.slot_rect_pt(lay.design.band))
        assert "政府官员" in band and "GOVERNMENT OFFICIAL" in band
    # an untranslated label or event name is printed once, not twice
    same, _ = make_badge(key, category_label="PRESS", category_label_zh="press")
    text = flat_text(render_badge(same, EventInfo("Forum", "", name_zh="Forum"), layout))
    assert text.count("PRESS") + text.count("press") == 1 and text.count("Forum") == 1


@pytest.mark.parametrize("photo", [True, False], ids=["photo", "no-photo"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_position_under_the_organisation_where_there_is_room(key, layout, photo):
    badge, _ = make_badge(key, organisation="Ministry of Public Security",
                          position="Deputy Director-General", photo=_jpeg() if photo else None)
    pdf = render_badge(badge, EVENT, layout)
    lay = LAYOUTS[layout]
    d = lay.design_for(photo)
    if layout == "cr80":  # a card has no room for it
        assert d.position is None and "Deputy Director-General" not in pdf_text(pdf)
        return
    assert d.position is not None
    assert "Deputy Director-General" in chars_in(pdf, lay.slot_rect_pt(d.position.box))
    tp = pdfium.PdfDocument(pdf)[0].get_textpage()
    text = tp.get_text_range()
    org_top = tp.get_charbox(text.index("Ministry"))[1]
    pos_top = tp.get_charbox(text.index("Deputy"))[3]
    assert pos_top < org_top  # below it


# ------------------------------------------------------------------ no photo

@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_no_silhouette_without_photo_the_text_takes_the_room(key, layout):
    lay = LAYOUTS[layout]
    photo_box = lay.slot_rect_pt(lay.design.photo)
    # nothing but the photo could be drawn there with every other text empty
    badge, _ = make_badge(key, badge_name="", honorific="", native_name="", organisation="",
                          country="", position="", photo=None)
    img = rasterise(render_badge(badge, EVENT, layout), 100)
    page_h = lay.page_height * MM
    assert ink_in(img, photo_box, 100, page_h, threshold=250) == 0  # not even light grey
    # a broken photo is treated as none (was: the placeholder)
    broken, _ = make_badge(key, badge_name="", honorific="", native_name="", organisation="",
                           country="", photo=b"not an image")
    img = rasterise(render_badge(broken, EVENT, layout), 100)
    assert ink_in(img, photo_box, 100, page_h, threshold=250) == 0
    # ... and the space is used: the name (CR80) / country (A6) move into it
    name = "Konstantinopoulos-Vanderbilt Ouattara-Montenegro"
    full, _ = make_badge(key, badge_name=name, honorific="", country="Central African Republic")
    pdf = render_badge(full, EVENT, layout)
    img = rasterise(pdf, 100)
    assert ink_in(img, photo_box, 100, page_h) > 50
    field = "name" if layout == "cr80" else "country"
    box = getattr(lay.design_for(photo=False), field).box
    expected = name if field == "name" else "Central African Republic"
    assert chars_in(pdf, lay.slot_rect_pt(box)) == expected


# ------------------------------------------------------------------ bulk / sheets

def test_a4_4up_fills_in_order_with_crop_marks(key):
    badges = [make_badge(key, badge_name=f"Delegate Number{i}", native_name="")[0]
              for i in range(1, 6)]
    buf = io.BytesIO()
    seen: list[int] = []
    n = render_badges(iter(badges), EVENT, "a4-4up", buf, progress=seen.append)
    pdf = buf.getvalue()
    assert n == 5 and seen == [1, 2, 3, 4, 5]
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 2
    lay = LAYOUTS["a4-4up"]
    for page, expected in ((0, ["1", "2", "3", "4"]), (1, ["5", None, None, None])):
        tp = doc[page].get_textpage()
        for cell, num in enumerate(expected):
            got = tp.get_text_bounded(*lay.cell_rect_pt(cell))
            if num is None:
                assert "Delegate" not in got
            else:
                assert f"Delegate Number{num}" in got, (page, cell, got)
    # crop marks: ink outside every badge cell
    img = rasterise(pdf, 100, page=1)
    page_h = lay.page_height * MM
    total = ink_in(img, (0, 0, lay.page_width * MM, page_h), 100, page_h)
    in_cells = sum(ink_in(img, lay.cell_rect_pt(c), 100, page_h) for c in range(4))
    assert total - in_cells > 20
    # ... and all of it within the printable area (>= 5 mm from the paper's edges)
    margin = 5 * MM
    inner = ink_in(img, (margin, margin, lay.page_width * MM - margin, page_h - margin), 100,
                   page_h)
    assert inner == total


def test_a4_4up_no_crop_marks_around_empty_slots(key):
    badges = [make_badge(key, badge_name=f"Delegate Number{i}")[0] for i in range(1, 6)]
    pdf = _batch(badges, "a4-4up")
    lay = LAYOUTS["a4-4up"]
    page_h = lay.page_height * MM
    reach = (lay.crop_mark_offset + lay.crop_mark_length + 0.5) * MM

    def around(cell: int) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = lay.cell_rect_pt(cell)
        return x0 - reach, y0 - reach, x1 + reach, y1 + reach

    full, last = rasterise(pdf, 100, page=0), rasterise(pdf, 100, page=1)
    everything = (0, 0, lay.page_width * MM, page_h)
    # the last sheet holds one badge: no ink at all outside it and its own marks
    assert ink_in(last, everything, 100, page_h) == ink_in(last, around(0), 100, page_h)
    # a full sheet has marks at every cell's outer corners (here: the bottom-right one's)
    _x0, y0, x1, y1 = lay.cell_rect_pt(3)
    corner = (x1 + lay.bleed * MM, y0 - reach, x1 + reach, y0 - lay.bleed * MM)
    assert ink_in(full, corner, 100, page_h) > 0
    assert ink_in(last, (x1 + lay.bleed * MM, y0 - reach, x1 + reach, y1), 100, page_h) == 0


def test_a4_4up_band_bleeds_2mm_past_the_trim_line(key):
    badge, _ = make_badge(key)  # government: a dark blue band
    lay = LAYOUTS["a4-4up"]
    assert lay.bleed == 2.0
    dpi = 300
    page_h = lay.page_height * MM
    k = dpi / 72
    for pdf in (render_badge(badge, EVENT, "a4-4up"), _batch([badge] * 2, "a4-4up")):
        img = rasterise(pdf, dpi)
        bx0, by0, bx1, by1 = lay.slot_rect_pt(lay.design.band)
        mid_y, mid_x = (by0 + by1) / 2, (bx0 + bx1) / 2

        def lum(x: float, y: float, img=img) -> int:
            return img.getpixel((int(x * k), int((page_h - y) * k)))

        for d_mm in (0.5, 1.0, 1.8):  # band colour past the left, right and bottom trim
            assert lum(bx0 - d_mm * MM, mid_y) < 100
            assert lum(bx1 + d_mm * MM, mid_y) < 100
            assert lum(mid_x, by0 - d_mm * MM) < 100
        for d_mm in (2.4, 3.0):  # and no further
            assert lum(bx0 - d_mm * MM, mid_y) > 240
            assert lum(mid_x, by0 - d_mm * MM) > 240
        # nothing bleeds above the band, into the badge
        assert lum(bx0 - 1.0 * MM, by1 + 1.0 * MM) > 240


def assert_xref_exact(pdf: bytes) -> None:
    """pdfium silently repairs broken cross-reference tables, so check ours directly."""
    offsets, root, info = PdfConcatenator._objects(pdf)
    assert root in offsets and info in offsets
    for num, off in offsets.items():
        assert pdf.startswith(b"%d 0 obj" % num, off), num


def test_bulk_is_chunked_streamed_and_ordered(key):
    pulled = []

    def source():
        for i in range(1, 10):
            pulled.append(i)
            yield make_badge(key, badge_name=f"Delegate Number{i}",
                             native_name=SCRIPTS["arabic"][0] if i % 2 else "王小明")[0]

    seen_pulled_at_progress = {}

    def progress(n: int) -> None:
        seen_pulled_at_progress[n] = len(pulled)

    buf = io.BytesIO()
    n = render_badges(source(), EVENT, "a4-4up", buf, progress=progress, chunk_size=4)
    pdf = buf.getvalue()
    assert n == 9
    # lazily consumed: never more than one chunk (4) ahead of what has been drawn
    assert all(p - k < 4 for k, p in seen_pulled_at_progress.items())
    assert_xref_exact(pdf)
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 3
    lay = LAYOUTS["a4-4up"]
    order = []
    for page in doc:
        tp = page.get_textpage()
        for cell in range(4):
            got = tp.get_text_bounded(*lay.cell_rect_pt(cell))
            order += [i for i in range(1, 10) if f"Delegate Number{i}\r" in got + "\r"]
    assert order == list(range(1, 10))
    if badge_fonts.missing_fonts_hint() is None:  # else Helvetica fallback (not embedded)
        assert all(emb for _, emb in embedded_fonts(pdf))
    code = decode_qr(rasterise(pdf, 200, page=2))
    assert badge_token.verify(code, [key.public_key()]).serial == 2


def test_bulk_with_two_worker_processes_keeps_order(key):
    badges = [make_badge(key, badge_name=f"Delegate Number{i}")[0] for i in range(1, 11)]
    seen: list[int] = []
    buf = io.BytesIO()
    n = render_badges(iter(badges), EVENT, "a6", buf, progress=seen.append, chunk_size=3,
                      workers=2)
    pdf = buf.getvalue()
    assert n == 10 and seen == [3, 6, 9, 10]
    assert_xref_exact(pdf)
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 10
    for i, page in enumerate(doc, start=1):
        assert f"Delegate Number{i}\r" in page.get_textpage().get_text_range()


def test_bulk_survives_pdf_syntax_in_text(key):
    nasty = EventInfo("Forum stream endobj 1 0 R (x) \\ >> trailer", "xref %%EOF")
    badges = [make_badge(key, organisation="endstream 2 0 obj <<")[0] for _ in range(3)]
    buf = io.BytesIO()
    assert render_badges(badges, nasty, "a6", buf, chunk_size=2) == 3
    pdf = buf.getvalue()
    assert_xref_exact(pdf)
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 3
    text = doc[2].get_textpage().get_text_range()
    assert "Forum stream endobj 1 0 R (x) \\ >> trailer" in text
    assert "endstream 2 0 obj <<" in text
    assert doc.get_metadata_dict()["Title"] == nasty.name + " badges"


def test_render_badges_empty_input_gives_valid_pdf():
    buf = io.BytesIO()
    assert render_badges([], EVENT, "a6", buf) == 0
    assert len(pdfium.PdfDocument(buf.getvalue())) == 1
    assert_xref_exact(buf.getvalue())


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_photo_is_drawn(key, fmt):
    from PIL import Image

    photos = []
    for shade in (20, 30):
        buf = io.BytesIO()
        Image.new("RGB", (300, 400), (shade, shade, shade)).save(buf, fmt)
        photos.append(buf.getvalue())
    badges = [make_badge(key, photo=p)[0] for p in photos]
    out = io.BytesIO()
    render_badges(badges, EVENT, "a6", out)
    pdf = out.getvalue()
    if fmt == "JPEG":  # passed through, not re-encoded; two different photos, two images
        assert pdf.count(b"/DCTDecode") == 2
        assert photos[0][-200:] in pdf
    lay = LAYOUTS["a6"]
    box = lay.slot_rect_pt(lay.design.photo)
    area = (box[2] - box[0]) * (box[3] - box[1])
    for page in (0, 1):
        img = rasterise(pdf, 72, page)
        assert ink_in(img, box, 72, lay.page_height * MM) > 0.5 * area


def _luminance(hex_: str) -> float:
    def ch(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)


def test_category_bands_distinct_and_legible_in_black_and_white():
    from badges.layouts import CATEGORIES, TEST_BAND, UNKNOWN_CATEGORY

    assert set(CATEGORIES) == {"government", "expert", "scholar", "ngo"}
    cats = list(CATEGORIES.values())
    assert len({c.color for c in cats}) == len({c.letter for c in cats}) == 4
    assert len({c.pattern for c in cats}) == 4  # tells them apart without colour
    assert TEST_BAND.letter not in {c.letter for c in cats}
    for c in [*cats, UNKNOWN_CATEGORY, TEST_BAND]:
        hi, lo = sorted((_luminance(c.color), _luminance(c.text_color)), reverse=True)
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, c  # WCAG AA text contrast


def test_unknown_category_prints_grey_band_and_warns(key, badge_log):
    badge, _ = make_badge(key, category="press", category_label="PRESS")
    pdf = render_badge(badge, EVENT, "a6")
    assert "PRESS" in pdf_text(pdf)
    assert any("press" in r.getMessage() for r in badge_log)


def test_oversized_photo_is_downscaled_for_print(key):
    from PIL import Image

    stored = io.BytesIO()  # the desk stores photos at up to 600x800: embedded untouched
    Image.effect_noise((600, 800), 30).convert("RGB").save(stored, "JPEG", quality=85)
    badge, _ = make_badge(key, photo=stored.getvalue())
    for layout in LAYOUTS:
        assert stored.getvalue()[-500:] in render_badge(badge, EVENT, layout)

    big = io.BytesIO()
    Image.effect_noise((3000, 4000), 30).convert("RGB").save(big, "JPEG", quality=80)
    badge, _ = make_badge(key, photo=big.getvalue())
    pdf = render_badge(badge, EVENT, "a6")
    assert len(pdf) < len(big.getvalue()) / 5
    widths = [int(w) for w in re.findall(rb"/Width (\d+)", pdf)]  # image XObjects only
    assert len(widths) == 1 and widths[0] <= 400  # 30 mm at ~300 dpi, not 3000 px
    lay = LAYOUTS["a6"]
    box = lay.slot_rect_pt(lay.design.photo)
    img = rasterise(pdf, 72)
    assert ink_in(img, box, 72, lay.page_height * MM, threshold=200) > 100


def test_unknown_layout_rejected(key):
    with pytest.raises(ValueError, match="unknown badge layout"):
        render_badge(make_badge(key)[0], EVENT, "letter")


# ------------------------------------------------------------------ the app's badges, the form

def test_app_badge_bilingual_with_position_and_whole_family_name(app, make_delegate):
    from registration.extensions import db
    from registration.services import printing

    require_fonts("全球公共安全合作论坛政府官员", "fonts-wqy-zenhei")
    given, family = WOLFGANG[1:]
    with app.app_context():
        delegate = make_delegate("government", "approved", family_name=family)
        delegate.given_name, delegate.badge_name = given, f"{given} {family}"
        delegate.position = "Deputy Director-General"
        db.session.commit()
        data = printing.badge_data(delegate, "en")
        assert (data.given_name, data.family_name) == (given, family)
        assert (data.category_label, data.category_label_zh) == ("GOVERNMENT OFFICIAL",
                                                                 "政府官员")
        event = printing.event_info("en")
        assert (event.name, event.name_zh) == ("Global Public Safety Cooperation Forum",
                                               "全球公共安全合作论坛")
        for layout in LAYOUTS:
            text = flat_text(printing.preview_badge(delegate, layout))
            for s in (family, "全球公共安全合作论坛", "Global Public Safety Cooperation Forum",
                      "政府官员", "GOVERNMENT OFFICIAL"):
                assert s in text, (layout, s, text)
            assert ("Deputy Director-General" in text) == (layout != "cr80")


def _register_page(client, get_csrf, form_data, lang: str = "en", **overrides) -> str:
    if lang != "en":
        client.get(f"/lang/{lang}")
    # an error elsewhere (no email) brings the form back: the hint shows the badge's name
    data = form_data(get_csrf(), email="", **overrides)
    response = client.post("/register", data=data)
    assert response.status_code == 422
    return response.get_data(as_text=True)


def test_register_form_shows_how_a_long_name_prints(client, get_csrf, form_data):
    given, family = WOLFGANG[1:]
    page = _register_page(client, get_csrf, form_data, honorific="Dr.", given_name=given,
                          family_name=family)
    hint = re.search(r'<small class="hint" id="badge_name-hint">(.*?)</small>', page, re.S)
    assert hint is not None
    assert "your badge will read" in hint.group(1)
    assert "“Dr. W. von Hohenzollern-Sigmaringen-Württemberg”" in hint.group(1)
    assert "/static/js/badge-name.js" in page
    short = _register_page(client, get_csrf, form_data, given_name="Xiaoming", family_name="Wang")
    assert "badge-name-preview" not in short
    assert "Leave empty to use your given and family names." in short


def test_register_form_hint_for_a_long_chosen_badge_name(client, get_csrf, form_data):
    chosen = "Sheikh Abdulrahman bin Mohammed bin Abdulaziz bin Hamad Al-Thani of Doha"
    page = _register_page(client, get_csrf, form_data, badge_name=chosen, given_name="Abdulrahman",
                          family_name="Al-Thani")
    assert "printed in small letters" in page


def test_register_form_hint_in_chinese(client, get_csrf, form_data):
    page = _register_page(client, get_csrf, form_data, "zh", honorific="Dr.",
                          given_name=WOLFGANG[1], family_name=WOLFGANG[2])
    assert "在空间有限的证件上将显示为“Dr. W. von Hohenzollern-Sigmaringen-Württemberg”" in page


def test_register_form_hint_escapes_the_name(client, get_csrf, form_data):
    page = _register_page(client, get_csrf, form_data,
                          given_name="<i>Wolfgang</i> Amadeus Maximilian",
                          family_name=WOLFGANG[2])
    assert "<i>Wolfgang" not in page and "&lt;i&gt;Wolfgang&lt;/i&gt; von Hohenzollern" in page


def test_badge_name_script_is_served(client):
    response = client.get("/static/js/badge-name.js")
    assert response.status_code == 200 and b".badge-name-preview" in response.data


# ------------------------------------------------------------------ no fonts at all

def test_no_system_fonts_falls_back_without_crashing(key, tmp_path, monkeypatch, badge_log):
    monkeypatch.setenv(badge_fonts.FONT_DIRS_ENV, str(tmp_path))
    assert badge_fonts.missing_fonts_hint() == (
        "apt-get install fonts-wqy-zenhei fonts-noto-core"
    )
    badge, badge_id = make_badge(key, native_name="王小明")
    pdf = render_badge(badge, EVENT, "a6")
    assert any("王小明" in r.getMessage() for r in badge_log)
    text = pdf_text(pdf)
    assert "Xiaoming Wang" in text and "王" not in text
    assert {name for name, _ in embedded_fonts(pdf)} <= {"Helvetica", "Helvetica-Bold"}
    code = decode_qr(rasterise(pdf, 150))
    assert badge_token.verify(code, [key.public_key()]).badge_id == badge_id


def test_missing_fonts_hint_none_when_installed():
    hint = badge_fonts.missing_fonts_hint()
    if hint is not None:
        pytest.skip(f"badge fonts not installed: {hint}")
    assert hint is None
