"""Country and region names follow the host's protocol everywhere a country shows: the form,
badges, exports, staff pages, mail and the scanner's snapshot, in English and Chinese; and a
deployment can replace the names file (COUNTRY_NAMES_FILE)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from registration.api.shapes import snapshot_json
from registration.config import ConfigError
from registration.countries import country_choices, country_name
from registration.services import printing
from registration.services.checkin.snapshot import snapshot

try:
    import pypdfium2 as pdfium
except ImportError:  # pragma: no cover - dev requirement
    pdfium = None

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}
PROTOCOL = {
    "en": {"TW": "Taiwan, China", "HK": "Hong Kong, China", "MO": "Macao, China"},
    "zh": {"TW": "中国台湾", "HK": "中国香港", "MO": "中国澳门"},
}


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    return "\n".join(page.get_textpage().get_text_range() for page in doc)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_registration_form_offers_the_protocol_names(client, lang):
    page = client.get("/register", headers=ZH if lang == "zh" else EN).get_data(as_text=True)
    for code, name in PROTOCOL[lang].items():
        assert f'<option value="{code}">{name}</option>' in page
    for cldr in ("SAR China", "特别行政区", '<option value="TW">Taiwan</option>',
                 '<option value="TW">台湾</option>'):
        assert cldr not in page


def test_the_one_place_names_and_orders_them(app_ctx):
    for lang, names in PROTOCOL.items():
        for code, name in names.items():
            assert country_name(code, lang) == name
    english = [name for _code, name in country_choices("en")]
    assert english.index("Taiwan, China") < english.index("Tajikistan")
    assert english.index("Åland Islands") < english.index("Albania")  # not after Z


@pytest.mark.skipif(pdfium is None, reason="pypdfium2 is needed to read the badge's text")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_badge_prints_the_protocol_name(app_ctx, make_delegate, lang):
    from badges import render_badge

    delegate = make_delegate(status="approved", country="HK", phone="+852 5123 4567")
    pdf = render_badge(printing.badge_data(delegate, lang, photo=None),
                       printing.event_info(lang), "a6")
    text = pdf_text(pdf).replace("\r", "")
    assert PROTOCOL[lang]["HK"] in text
    assert "SAR" not in text and "特别行政区" not in text


def test_export_has_the_protocol_name_beside_the_code(client, login, make_delegate):
    login("desk")
    make_delegate(country="TW", phone="+886 912 345 678")
    data = client.get("/staff/export.csv").data.decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(data)))
    assert (row["country"], row["country_name"]) == ("TW", "Taiwan, China")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_staff_pages_and_snapshot_use_the_protocol_names(app, client, login, make_delegate,
                                                         lang):
    login("desk")
    delegate = make_delegate(status="badge_printed", country="MO", phone="+853 6612 3456")
    headers = ZH if lang == "zh" else EN
    record = client.get(f"/staff/delegates/{delegate.public_id}", headers=headers)
    assert f'{PROTOCOL[lang]["MO"]} (<span translate="no">MO</span>)' in record.get_data(
        as_text=True)
    listing = client.get("/staff/delegates", headers=headers).get_data(as_text=True)
    assert f'title="{PROTOCOL[lang]["MO"]}"' in listing
    with app.test_request_context(headers=headers):
        app.preprocess_request()
        assert snapshot_json(snapshot())["country_names"] == {"MO": PROTOCOL[lang]["MO"]}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_mail_uses_the_protocol_name(app, make_delegate, lang):
    from registration.services.mail.compose import render_mail

    with app.test_request_context():
        delegate = make_delegate(country="TW", phone="+886 912 345 678", locale=lang,
                                 commit=True)
        # the approval mail has the full summary (the registration mail names no country)
        _subject, text, html = render_mail("approved", delegate)
    assert PROTOCOL[lang]["TW"] in text and PROTOCOL[lang]["TW"] in html


def test_a_deployment_replaces_the_names_file(make_app, tmp_path):
    path = tmp_path / "names.json"
    path.write_text(json.dumps({"en": {"TW": "Chinese Taipei"}, "zh": {"TW": "中华台北"}}),
                    encoding="utf-8")
    app = make_app(COUNTRY_NAMES_FILE=str(path))
    page = app.test_client().get("/register", headers=EN).get_data(as_text=True)
    assert '<option value="TW">Chinese Taipei</option>' in page
    zh_page = app.test_client().get("/register", headers=ZH).get_data(as_text=True)
    assert '<option value="TW">中华台北</option>' in zh_page
    with app.app_context():
        assert country_name("TW", "zh") == "中华台北"
        assert country_name("HK", "en") == "Hong Kong SAR China"  # not in this file: CLDR's


def test_a_broken_names_file_stops_the_start(make_app, tmp_path):
    path = tmp_path / "names.json"
    path.write_text(json.dumps({"en": {"XX": "Nowhere"}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown codes"):
        make_app(COUNTRY_NAMES_FILE=str(path))
