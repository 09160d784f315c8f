"""Phone numbers: impossible ones are refused, possible ones outside the ranges the metadata
knows are kept (E.164) with a quiet note for the desk, and an import never fails on them.
Names: the staff list sorts as a reader expects (Ø with O, Ł with L, one-name people among
the family names), in SQLite and PostgreSQL alike."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from registration.extensions import db
from registration.models import Delegate
from registration.services import delegate_import
from registration.validation import clean_phone, phone_is_verified

# +86 100… has the length of a Chinese mobile number but is in no range phonenumbers knows.
UNVERIFIED = "+86 100 0013 8000"
UNVERIFIED_E164 = "+8610000138000"


@pytest.mark.parametrize(("raw", "country", "stored", "verified"), [
    ("+86 138 0013 8000", "", "+8613800138000", True),
    ("138 0013 8000", "CN", "+8613800138000", True),
    (UNVERIFIED, "", UNVERIFIED_E164, False),
    ("+1 555 0100 123", "", "+15550100123", False),
])
def test_possible_numbers_are_kept_in_e164(raw, country, stored, verified):
    assert clean_phone(raw, country) == stored
    assert phone_is_verified(stored) is verified


@pytest.mark.parametrize("raw", ["+86 12", "+86 1380 0138 0001 2345", "+999 1234567", "12345",
                                 "call me"])
def test_impossible_numbers_are_refused(raw):
    with pytest.raises(ValueError, match=r"phone number|international format"):
        clean_phone(raw, "CN")


def test_registration_accepts_an_unverified_number(app, client, get_csrf, form_data):
    response = client.post("/register", data=form_data(get_csrf(), phone=UNVERIFIED))
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Delegate.phone)).one() == UNVERIFIED_E164


def test_registration_refuses_a_wrong_length(client, get_csrf, form_data):
    response = client.post("/register", data=form_data(get_csrf(), phone="+86 1380"))
    assert response.status_code == 422
    assert "not a valid phone number" in response.get_data(as_text=True)


def test_import_never_fails_on_an_unverified_number(app_ctx):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["category", "given_name", "family_name", "organisation", "position",
                     "country", "email", "phone"])
    writer.writerow(["government", "Li", "Wei", "MPS", "Officer", "CN", "li@example.cn",
                     UNVERIFIED])
    writer.writerow(["expert", "Ana", "Silva", "Uni", "Prof", "BR", "ana@example.br",
                     "+55 11 91234 5678"])
    report = delegate_import.import_file(buf.getvalue().encode(), "d.csv", None, actor="test")
    assert not report.errors, report.errors
    assert sorted(db.session.scalars(select(Delegate.phone))) == [
        "+5511912345678", UNVERIFIED_E164]


def test_desk_sees_a_quiet_note_on_unverified_numbers(client, login, make_delegate):
    login("desk")
    unverified = make_delegate(phone=UNVERIFIED)
    verified = make_delegate(phone="+86 138 0013 8000")
    page = client.get(f"/staff/delegates/{unverified.public_id}").get_data(as_text=True)
    assert re.search(r"\+8610000138000 <small class=\"hint unverified-phone\"[^>]*>"
                     r"unverified number</small>", page)
    page = client.get(f"/staff/delegates/{verified.public_id}").get_data(as_text=True)
    assert "unverified number" not in page
    zh = client.get(f"/staff/delegates/{unverified.public_id}",
                    headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "号码未经核实" in zh


# --- sorting -----------------------------------------------------------------------------------


def _listed_names(client, **args) -> list[str]:
    page = client.get("/staff/delegates", query_string=args,
                      headers={"Accept-Language": "en"}).get_data(as_text=True)
    return re.findall(r'<a href="/staff/delegates/[0-9a-f-]+">([^<]+)</a>', page)


def test_staff_list_sorts_names_as_a_reader_expects(client, login, make_delegate):
    login("desk")
    for given, family in [("Zoe", "Zimmermann"), ("Ola", "Øvergaard"), ("Jan", "Łukasiewicz"),
                          ("Suharto", ""), ("Anna", "Olsen"), ("Piotr", "Lukas"),
                          ("Eve", "adams"), ("Bob", "Müller"), ("Carl", "Muller")]:
        make_delegate(given_name=given, family_name=family)
    names = _listed_names(client)
    assert names == ["adams, Eve", "Lukas, Piotr", "Łukasiewicz, Jan", "Muller, Carl",
                     "Müller, Bob", "Olsen, Anna", "Øvergaard, Ola", "Suharto",
                     "Zimmermann, Zoe"]
    # Country order keeps the name order inside each country.
    make_delegate(given_name="Aaron", family_name="Zed", country="AR", phone="+54 9 11 2345 6789")
    assert _listed_names(client, sort="country")[0] == "Zed, Aaron"
