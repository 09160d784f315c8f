"""Chinese, complete: no empty translation in the catalogue (plural forms included), and no
English left on a page rendered in Chinese, the staff desk included.

The page check is an allow-list: the page's visible text (tags, scripts and styles removed,
attribute texts a reader meets kept) minus the data the test itself stored (names, emails,
organisations, references…), minus elements that hold code or data by design (`<code>`,
`translate="no"`), minus a short list of words that are the same in Chinese (PDF, CSV, QR…).
Whatever Latin word is left is English that a Chinese reader would meet.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from registration.extensions import db
from registration.models import Delegate
from registration.services import jobs, manage_links

PO = Path(__file__).resolve().parent.parent / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}

# Words that stay as they are in Chinese text: formats, codes, units, the language switch.
SAME_IN_CHINESE = frozenset({
    "English", "PDF", "CSV", "XLSX", "JSON", "QR", "GMT", "UTC", "ID", "URL", "API", "JPEG",
    "PNG", "WebP", "A6", "A4", "CR80", "4up", "a6", "a4", "cr80", "MB", "KB", "px", "mm", "Mx",
    "Ctrl", "Enter", "USB", "PVC", "NGO", "E.164", "Excel", "UTF-8", "UTF", "xlsx", "csv",
    "vip", "plenary",  # example checkpoint ids in a hint (ids are ASCII by rule)
})
# Text attributes a reader (or a screen reader) meets.
TEXT_ATTRIBUTES = re.compile(
    r'\b(?:alt|title|placeholder|aria-label|data-confirm|data-[a-z-]*-text)\s*=\s*"([^"]*)"',
    re.I)
BUTTON_VALUES = re.compile(r'<input[^>]*type="(?:submit|button|reset)"[^>]*>', re.I)
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9.'’-]*[A-Za-z0-9]|[A-Za-z]")


def visible_text(page: str) -> str:
    """The text a reader meets: element text and text attributes (buttons' values too)."""
    page = re.sub(r"<(script|style|code|kbd|template)\b.*?</\1>", " ", page, flags=re.S | re.I)
    # Elements whose content is data by design.
    page = re.sub(r'<(\w+)[^>]*\btranslate="no"[^>]*>.*?</\1>', " ", page, flags=re.S)
    # Values are machine values, except on buttons made of an <input>.
    buttons = " ".join(re.findall(r'\bvalue="([^"]*)"', " ".join(BUTTON_VALUES.findall(page))))
    attributes = " ".join(TEXT_ATTRIBUTES.findall(page)) + " " + buttons
    text = re.sub(r"<!--.*?-->", " ", page, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    return html.unescape(text + " " + attributes)


def english_left(page: str, data: list[str]) -> list[str]:
    text = visible_text(page)
    text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*", " ", text)  # email addresses
    for value in sorted(data, key=len, reverse=True):  # longest first: "Wang Xiaoming" first
        if value:  # whole words only: the datum "x" is not the x of "example"
            text = re.sub(r"(?<![A-Za-z])" + re.escape(value) + r"(?![A-Za-z])", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"\b[A-Z]{3}-[A-Z0-9]{4}-[A-Z0-9]{4}\b", " ", text)  # reference codes
    found = []
    for match in LATIN_WORD.finditer(text):
        word = match.group(0)
        if word in SAME_IN_CHINESE or len(word) == 1:
            continue
        start = max(0, match.start() - 30)
        found.append(f"{word} «{' '.join(text[start:match.end() + 30].split())}»")
    return found


def test_the_english_check_finds_english_and_spares_data():
    page = ('<p title="Open">你好 Wang</p><code>flask --app wsgi</code><input type="hidden" '
            'value="x"><span translate="no">Interpol</span> PDF <button>保存</button>')
    assert english_left(page, ["Wang"]) == ["Open «你好 PDF 保存 Open»"]
    assert english_left("<p>一共 3 delegates</p>", []) == ["delegates «一共 3 delegates»"]
    assert english_left('<button name="action" value="approve">批准</button>', []) == []
    assert english_left('<input type="submit" value="Save">', []) == ["Save «Save»"]
    assert english_left("<p>中文 <a>English</a> 中华 GMT+08:00</p>", []) == []


def test_catalogue_has_no_empty_translation():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    empty = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, list | tuple) else [
            message.string]
        if message.fuzzy or not strings or not all(s and s.strip() for s in strings):
            empty.append(message.id)
    assert empty == []


def test_the_plural_forms_are_translated(app, client, login, make_delegate):
    login("desk")
    make_delegate()
    page = client.get("/staff/delegates", headers=ZH).get_data(as_text=True)
    assert "1 delegate" not in page
    assert re.search(r"1\s*位代表", page)


# --- pages --------------------------------------------------------------------------------


DATA_FIELDS = ("honorific", "given_name", "family_name", "native_name", "badge_name",
               "organisation", "position", "email", "reference", "phone")


def _data_of(*delegates: Delegate) -> list[str]:
    values: list[str] = []
    for d in delegates:
        values += [str(getattr(d, name) or "") for name in DATA_FIELDS]
        values += [str(v) for v in (d.details or {}).values() if isinstance(v, str)]
        values.append(d.full_name)
    return values


@pytest.fixture
def people(app, make_delegate):
    """A delegate of each kind of record, with English data (it is data, not text)."""
    with app.app_context():
        made = [
            make_delegate("government", status="submitted", given_name="Amina",
                          family_name="Diallo", organisation="Interpol", position="Analyst",
                          country="SN", phone="+221 77 123 45 67",
                          email="amina@example.org", ministry="Ministry of Interior"),
            make_delegate("expert", status="badge_printed", printed=True, given_name="Lars",
                          family_name="Øvergaard", organisation="Nordic Cyber Centre",
                          position="Director", country="NO", phone="+47 412 34 567",
                          email="lars@example.org", expertise="cybersecurity"),
            make_delegate("ngo", status="approved", given_name="Suharto", family_name="",
                          organisation="Red Crescent", position="Coordinator",
                          country="ID", phone="+62 812 3456 7890", email="s@example.org",
                          focus="Disaster relief", website="https://redcrescent.example.org",
                          source="import"),
        ]
        return [db.session.get(Delegate, d.id) for d in made], _data_of(*made)


def _check(client, path: str, data: list[str], status: int = 200) -> None:
    response = client.get(path, headers=ZH)
    assert response.status_code == status, path
    page = response.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page, path
    left = english_left(page, data)
    assert left == [], f"{path}: English left in the Chinese page: {left}"


def test_public_and_manage_pages_have_no_english_left(app, client, csrf_from, form_data):
    data = ["Dr.", "Xiaoming", "Wang", "Ministry of Public Security", "Deputy Director-General",
            "Halal", "Peking University", "Law School", "Professor", "Global Public Safety "
            "Cooperation Forum"]
    for path, status in (("/", 200), ("/register", 200), ("/privacy", 200), ("/manage/", 200),
                         ("/no-such-page", 404), ("/manage/not-a-valid-link", 404)):
        _check(client, path, data, status)
    # A failed submit: the error messages, in Chinese.
    token = csrf_from(client.get("/register", headers=ZH).get_data(as_text=True))
    failed = client.post("/register", headers=ZH, data=form_data(token, phone="x", email="y",
                                                                  category="scholar"))
    assert failed.status_code == 422
    assert english_left(failed.get_data(as_text=True), [*data, "x", "y"]) == []
    response = client.post("/register", headers=ZH, data=form_data(token, category="scholar"))
    assert response.status_code == 303
    _check(client, "/register/confirmation", data)
    with app.app_context():
        delegate = db.session.scalars(select(Delegate)).one()
        link = f"/manage/{manage_links.make_token(delegate)}"
        data += _data_of(delegate)
    for suffix in ("", "/edit", "/photo", "/cancel", "/erase"):
        _check(client, link + suffix, data)


def test_staff_pages_have_no_english_left(app, client, login, people, csrf_from):
    delegates, data = people
    data = [*data, "Main entrance"]  # the checkpoint every install starts with: data
    admin = login("admin", email="admin@forum.test")
    for path in ("/staff/delegates", "/staff/delegates?sort=created",
                 "/staff/delegates?q=nobody-matches", "/staff/accounts", "/staff/import",
                 "/staff/export", "/staff/print", "/staff/walk-in", "/staff/dashboard",
                 "/staff/devices", "/staff/checkpoints", "/staff/password"):
        _check(client, path, data)
    for delegate in delegates:
        _check(client, f"/staff/delegates/{delegate.public_id}", data)
        _check(client, f"/staff/delegates/{delegate.public_id}/edit", data)
    # A batch print job's page (its time in the forum's zone).
    with app.app_context():
        job_id = jobs.create(jobs.JobKind.PRINT, db.session.merge(admin), total=3).id
    page = client.get(f"/staff/jobs/{job_id}", headers=ZH).get_data(as_text=True)
    assert english_left(page, data) == []
    assert "(GMT+08:00)" in page and " UTC" not in page


def test_sign_in_page_and_lockout_in_chinese_and_local_time(app, client):
    _check(client, "/staff/login", [])
    from registration.services import staff_accounts  # noqa: F401

    page = client.get("/staff/login", headers=ZH).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    text = ""
    for _ in range(12):  # a growing delay, then a lock until a time of day: that message
        response = client.post("/staff/login", headers=ZH, data={
            "csrf_token": token, "email": "nobody@forum.test", "password": "wrong password"})
        text = response.get_data(as_text=True)
        if response.status_code == 429 and "GMT" in text:
            break
    assert response.status_code == 429
    assert "UTC" not in text and "(GMT+08:00)" in text
    assert english_left(text, ["nobody@forum.test"]) == []


def test_import_report_in_chinese(app, client, login, csrf_from):
    login("desk")
    page = client.get("/staff/import", headers=ZH).get_data(as_text=True)
    token = csrf_from(page)
    csv_text = ("category,given_name,family_name,organisation,position,country,email,phone\n"
                "government,Li,Wei,MPS,Officer,CN,li@example.cn,+86 138 0013 8000\n"
                "expert,Ana,Silva,Uni,Prof,XX,ana@example,12\n")
    response = client.post("/staff/import", headers=ZH, data={
        "csrf_token": token, "file": (io.BytesIO(csv_text.encode()), "d.csv")},
        content_type="multipart/form-data")
    report = response.get_data(as_text=True)
    assert english_left(report, ["Li", "Wei", "MPS", "Officer", "Ana", "Silva", "Uni", "Prof",
                                 "XX", "ana@example", "d.csv"]) == []
