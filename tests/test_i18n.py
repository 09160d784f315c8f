"""English and Simplified Chinese: every user-visible string of the public side is wrapped in
a translation call and translated, the compiled catalogue matches its source, and pages come
out in the language the browser asks for or the delegate chose."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract
from sqlalchemy import select

from registration.extensions import db
from registration.models import Delegate
from registration.services import manage_links

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PO = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# What delegates see: these templates and the Python modules whose strings reach them.
PUBLIC_TEMPLATES = sorted(
    [*TEMPLATES.glob("public/*.html"), *TEMPLATES.glob("self_service/*.html"),
     *TEMPLATES.glob("mail/*.html"), *TEMPLATES.glob("mail/*.txt"),
     TEMPLATES / "base.html", TEMPLATES / "error.html", TEMPLATES / "_form.html"]
)
PUBLIC_MODULES = [
    ROOT / "registration" / name for name in (
        "validation.py", "fields.py", "web.py", "models/status.py", "public/forms.py",
        "public/views.py", "self_service/forms.py", "self_service/views.py",
        "services/self_service.py", "services/eticket.py", "services/mail/compose.py",
        "services/photos.py",
    )
]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}

# Text a reader sees inside tags.
VISIBLE_ATTRIBUTES = re.compile(
    r'\b(?:alt|title|placeholder|aria-label|label)\s*=\s*"([^"]*)"', re.IGNORECASE)


def untranslated_text(source: str) -> list[str]:
    """Literal text left in a template once Jinja and HTML markup are removed."""
    text = re.sub(r"{#.*?#}", " ", source, flags=re.S)
    text = re.sub(r"{%.*?%}", " ", text, flags=re.S)
    text = re.sub(r"{{.*?}}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    found = [value for value in VISIBLE_ATTRIBUTES.findall(text) if _has_letters(value)]
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    text = re.sub(r"&[#a-zA-Z0-9]+;", " ", text)
    found += [chunk.strip() for chunk in re.split(r"\s{2,}|\n", text)
              if _has_letters(chunk)]
    return found


def _has_letters(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def test_the_literal_text_check_finds_literals():
    assert untranslated_text("<p>{{ _('Hello') }}</p>") == []
    assert untranslated_text("<p>Hello</p>") == ["Hello"]
    assert untranslated_text('<img alt="Photo" src="{{ x }}">') == ["Photo"]
    assert untranslated_text('<img alt="{{ _(\'Photo\') }}">') == []
    assert untranslated_text("{% if a %}<b>你好</b>{% endif %}") == ["你好"]
    assert untranslated_text("{# a comment #}<p>·&nbsp;—</p>") == []


@pytest.mark.parametrize("path", PUBLIC_TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_public_templates_have_no_untranslated_text(path):
    assert untranslated_text(path.read_text(encoding="utf-8")) == []


def _public_msgids() -> dict[str, str]:
    """msgid → where it is used, extracted from the sources themselves (not the .pot)."""
    found: dict[str, str] = {}
    for path in PUBLIC_TEMPLATES:
        for lineno, message, _comments, _context in extract_from_file(
                babel_extract, str(path), keywords=KEYWORDS,
                options={"extensions": "jinja2.ext.do"}):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault(msgid, f"{path.relative_to(ROOT)}:{lineno}")
    for path in PUBLIC_MODULES:
        for lineno, message, _comments, _context in extract_from_file(
                "python", str(path), keywords=KEYWORDS):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault(msgid, f"{path.relative_to(ROOT)}:{lineno}")
    return found


def test_every_public_string_has_a_chinese_translation():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    missing = []
    for msgid, where in sorted(_public_msgids().items()):
        message = catalog.get(msgid)
        strings = [] if message is None else (
            [message.string] if isinstance(message.string, str) else list(message.string))
        if message is None or message.fuzzy or not all(s.strip() for s in strings) \
                or not strings:
            missing.append(f"{where}: {msgid!r}")
    assert not missing, ("not translated into Chinese (run the extract/update commands in "
                         "translations/README and translate):\n" + "\n".join(missing))
    assert len(_public_msgids()) > 200


def test_translations_keep_their_placeholders():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert problems == []


def _as_dict(catalog) -> dict:
    def key(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    return {key(m.id): key(m.string) for m in catalog if m.id}


def test_compiled_catalogue_is_up_to_date():
    with PO.open("rb") as fh:
        source = read_po(fh, locale="zh")
    compiled = io.BytesIO()
    write_mo(compiled, source)
    compiled.seek(0)
    fresh = _as_dict(read_mo(compiled))
    with MO.open("rb") as fh:
        committed = _as_dict(read_mo(fh))
    assert committed == fresh, "translations/zh/LC_MESSAGES/messages.mo is stale: recompile it"


# --- pages in Chinese ------------------------------------------------------------------------

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


def test_pages_follow_accept_language(client):
    home = client.get("/", headers=ZH).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in home
    assert "全球公共安全合作论坛" in home
    assert "政府官员" in home and "非政府组织代表" in home
    form = client.get("/register", headers=ZH).get_data(as_text=True)
    for text in ("注册认证申请", "参会身份", "安全专家", "学者", "手机号码", "提交注册",
                 "隐私声明", '<option value="CN">中国</option>'):
        assert text in form, text
    english = client.get("/register", headers={"Accept-Language": "en-US"}).get_data(
        as_text=True)
    assert "Register for accreditation" in english and "注册认证申请" not in english


def test_validation_messages_in_chinese(client, csrf_from, form_data):
    token = csrf_from(client.get("/register", headers=ZH).get_data(as_text=True))
    response = client.post("/register", headers=ZH,
                           data=form_data(token, phone="call me", email="nope"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请按国际格式输入号码" in page
    assert "请输入有效的电子邮箱" in page
    assert "请修改下方标出的内容" in page


def test_language_switch_is_remembered(client):
    response = client.get("/lang/zh?next=/privacy", headers={"Accept-Language": "en"})
    assert response.status_code == 302 and response.headers["Location"] == "/privacy"
    privacy = client.get("/privacy", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "您的权利" in privacy
    # Every page keeps it, until switched back.
    assert "注册认证申请" in client.get("/register", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    client.get("/lang/en", headers=ZH)
    assert "Register for accreditation" in client.get("/register", headers=ZH).get_data(
        as_text=True)


def test_every_page_offers_the_switch(client):
    for path in ("/", "/register", "/privacy", "/manage/", "/no-such-page"):
        page = client.get(path, headers=ZH).get_data(as_text=True)
        assert 'href="/lang/en?next=' in page, path


def test_registration_stores_the_language_and_confirmation_is_chinese(app, client, csrf_from,
                                                                     form_data):
    token = csrf_from(client.get("/register", headers=ZH).get_data(as_text=True))
    assert client.post("/register", headers=ZH, data=form_data(token)).status_code == 303
    page = client.get("/register/confirmation", headers=ZH).get_data(as_text=True)
    assert "谢谢，您的注册已收到" in page
    assert "确认邮件" in page
    assert "已提交 — 等待审核" in page
    assert "(GMT+08:00)" in page
    with app.app_context():
        assert db.session.scalars(select(Delegate.locale)).one() == "zh"


def test_manage_pages_and_errors_in_chinese(app, client, csrf_from, form_data):
    token = csrf_from(client.get("/register", headers=ZH).get_data(as_text=True))
    client.post("/register", headers=ZH, data=form_data(token))
    with app.app_context():
        delegate = db.session.scalars(select(Delegate)).one()
        link = f"/manage/{manage_links.make_token(delegate)}"
    page = client.get(link, headers=ZH).get_data(as_text=True)
    for text in ("您的注册", "修改我的信息", "导出我的数据（JSON）", "取消我的注册",
                 "删除我的个人数据", "国家或地区", "中国"):
        assert text in page, text
    assert "此链接无效" in client.get("/manage/forged", headers=ZH).get_data(as_text=True)
    assert "页面不存在" in client.get("/no-such-page", headers=ZH).get_data(as_text=True)
    edit = client.get(f"{link}/edit", headers=ZH).get_data(as_text=True)
    assert "保存修改" in edit and "姓" in edit
