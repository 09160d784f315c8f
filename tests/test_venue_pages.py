"""Smaller page defects found at the venue rehearsal: the English 404 page, the dashboard's
lone "1", the import report's table, the "submitted" pill's contrast, the Chinese
confirmation email's label column, and local times on the print job page."""

from __future__ import annotations

import io
import re
from pathlib import Path

from registration.extensions import db
from registration.services.badge_signing import token_for
from registration.services.checkin.scan import check_in

ROOT = Path(__file__).resolve().parent.parent


def test_english_404_is_the_apps_own_page(client):
    response = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page
    assert "There is no page at this address" in page
    assert "The requested URL was not found on the server" not in page  # Werkzeug's words
    assert 'class="site-header"' in page


def test_a_message_the_app_wrote_stays(client):
    # The manage link's own 404 explains itself; the generic text does not replace it.
    page = client.get("/manage/forged", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert "There is no page at this address" not in page


def test_dashboard_shows_no_scale_before_anyone_arrives(app, client, login, make_delegate):
    login("desk")
    page = client.get("/staff/dashboard").get_data(as_text=True)
    assert 'id="dash-peak"' not in page
    chart = re.search(r'<svg id="dash-chart".*?</svg>', page, re.S).group(0)
    assert not re.search(r">\s*1\s*</text>", chart)
    with app.app_context():
        delegate = make_delegate(status="badge_printed", printed=True)
        check_in(token_for(delegate), "main", "nonce-dashboard-0001")
    page = client.get("/staff/dashboard").get_data(as_text=True)
    assert re.search(r'<text[^>]*id="dash-peak">1</text>', page)
    # Times read in the forum's zone, not raw UTC ISO strings.
    assert not re.search(r"<title>\d{4}-\d\d-\d\dT", page)


def test_import_report_table_sits_inside_its_card(client, login, csrf_from):
    login("desk")
    token = csrf_from(client.get("/staff/import").get_data(as_text=True))
    data = ("category,given_name,family_name,organisation,position,country,email,phone\n"
            "expert,Ana,Silva,Uni,Prof,XX,ana@example,12\n")
    page = client.post("/staff/import", data={
        "csrf_token": token, "file": (io.BytesIO(data.encode()), "d.csv")},
        content_type="multipart/form-data").get_data(as_text=True)
    card = re.search(r'<section class="card import-report">(.*?)</section>', page, re.S)
    assert card, "the report is not in a card"
    assert re.search(r'<div class="table-scroll">\s*<table class="data report">.*?</table>\s*'
                     r"</div>", card.group(1), re.S)


def _luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_submitted_pill_and_reprint_flag_meet_aa_contrast():
    css = (ROOT / "static" / "css" / "staff.css").read_text(encoding="utf-8")
    pill = re.search(r"\.status-submitted \{ background: #(\w{6}); color: #(\w{6});", css)
    assert pill and _contrast(pill.group(1), pill.group(2)) >= 4.5
    flag = re.search(r"\.flag\.reprint \{[^}]*background: #(\w{6}); color: #fff;", css)
    assert flag and _contrast(flag.group(1), "ffffff") >= 4.5


def test_chinese_mail_label_column_does_not_wrap_per_character(app, make_delegate):
    from registration.services.mail.compose import render_mail

    with app.test_request_context():
        delegate = make_delegate(locale="zh")
        _subject, _text, html = render_mail("approved", delegate)  # the full summary
    labels = re.findall(r'<th style="([^"]*)">国家或地区</th>', html)
    assert labels and "white-space:nowrap" in labels[0]


def test_print_job_page_shows_the_events_time_zone(app, client, login):
    from registration.services import jobs

    staff = login("desk")
    with app.app_context():
        job_id = jobs.create(jobs.JobKind.PRINT, db.session.merge(staff), total=1).id
    page = client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    assert re.search(r"Started \d{4}-\d\d-\d\d \d\d:\d\d \(GMT\+08:00\) by desk@forum.test",
                     page)
