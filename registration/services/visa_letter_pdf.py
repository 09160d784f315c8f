"""Issued visa letters as PDF: the letter record and the edition's letterhead turned into
the plain data the letter renderer takes (badges/letter.py), in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from badges.letter import LetterData, LetterSide, render_letters

from ..countries import country_name
from ..extensions import db
from ..models import Edition, VisaLetter, VisaLetterState
from .visa_letters import default_purpose, verify_url


class LetterNotIssued(ValueError):
    """Only an issued letter has a PDF."""


def _en(d: date) -> str:
    return f"{d.day} {d.strftime('%B')} {d.year}"


def _zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _iso(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


def _dob(letter: VisaLetter, fmt: str) -> str:
    found = _iso(letter.holder_date_of_birth)
    if found is None:
        return letter.holder_date_of_birth or ""
    return _en(found) if fmt == "en" else _zh(found)


def letter_data(letter: VisaLetter, edition: Edition) -> LetterData:
    if letter.state_enum is not VisaLetterState.APPROVED or letter.issued_at is None:
        raise LetterNotIssued(letter.reference)
    organiser_en = edition.letter_organiser_en or edition.organiser_name or edition.name_en
    # No English name on the Chinese page: the forum's organising committee in Chinese.
    organiser_zh = edition.letter_organiser_zh or f"{edition.name('zh')}组委会"
    native = letter.holder_native_name
    name = letter.holder_name + (f" ({native})" if native and native != letter.holder_name
                                 else "")
    number = letter.holder_document_number or ""
    stay_en = f"{_en(letter.stay_from)} – {_en(letter.stay_to)}"
    stay_zh = f"{_zh(letter.stay_from)}至{_zh(letter.stay_to)}"
    custom_purpose = letter.purpose != default_purpose(edition)
    purpose_zh = letter.purpose if custom_purpose else f"出席{edition.name('zh')}"
    venue_en = ", ".join(p for p in (edition.venue_en, edition.city_en) if p)
    venue_zh = "".join(p for p in (edition.city_zh, edition.venue_zh) if p) or venue_en
    english = LetterSide(
        organiser=organiser_en, address=edition.letter_address_en,
        title="Invitation letter",
        salutation="To the Embassy or Consulate General of the People's Republic of China:",
        body=[
            f"{organiser_en} has the honour to invite the person named below to the "
            f"{edition.name('en')}, from {_en(edition.starts_on)} to {_en(edition.ends_on)}"
            + (f", at {venue_en}" if venue_en else "") + ".",
            "The organiser will be responsible for the delegate's programme during the "
            "forum. We would be grateful if a visa could be granted for the dates of stay "
            "above.",
        ],
        rows=[("Name", name), ("Nationality", country_name(letter.holder_nationality, "en")),
              ("Date of birth", _dob(letter, "en")), ("Passport number", number),
              ("Dates of stay", stay_en), ("Purpose of visit", letter.purpose),
              ("Reference", letter.reference or "")],
        closing="Yours faithfully,",
        signatory=edition.letter_signatory_en, signatory_title=edition.letter_signatory_title_en,
        verify_note="Verify this letter: scan the code, or open\n" + verify_url(letter),
        reference_label="Ref.", date_label="Date:")
    chinese = LetterSide(
        organiser=organiser_zh, address=edition.letter_address_zh or edition.letter_address_en,
        title="邀请函",
        salutation="中华人民共和国驻外使领馆：",
        body=[
            f"{organiser_zh}谨邀请下列人员于{_zh(edition.starts_on)}至{_zh(edition.ends_on)}"
            + (f"在{venue_zh}" if venue_zh else "") + f"出席{edition.name('zh')}。",
            "会议期间该代表的活动由主办方负责。请为其在上述停留期间办理签证为盼。",
        ],
        rows=[("姓名", name), ("国籍", country_name(letter.holder_nationality, "zh")),
              ("出生日期", _dob(letter, "zh")), ("护照号码", number),
              ("停留日期", stay_zh), ("访问事由", purpose_zh),
              ("编号", letter.reference or "")],
        closing="此致",
        signatory=edition.letter_signatory_zh or edition.letter_signatory_en,
        signatory_title=edition.letter_signatory_title_zh or edition.letter_signatory_title_en,
        verify_note="核验本函：请扫描二维码或访问\n" + verify_url(letter),
        reference_label="编号：", date_label="日期：")
    issued_on = letter.issued_at.date().isoformat()
    return LetterData(reference=letter.reference or "", issued_on=issued_on,
                      verify_url=verify_url(letter), sides=[english, chinese],
                      signature_png=edition.letter_signature)


def letters_pdf(letters: Iterable[VisaLetter]) -> bytes:
    """Issued letters, each on two pages (English, Chinese), as one PDF."""
    editions: dict[int, Edition] = {}

    def data(letter: VisaLetter) -> LetterData:
        if letter.edition_id not in editions:
            found = db.session.get(Edition, letter.edition_id)
            if found is None:
                raise LetterNotIssued(letter.reference)
            editions[letter.edition_id] = found
        return letter_data(letter, editions[letter.edition_id])

    return render_letters(data(letter) for letter in letters)


def filename(letter: VisaLetter) -> str:
    return f"visa-letter-{letter.reference}.pdf"
