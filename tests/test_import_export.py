"""Import (all or nothing, re-import safe) and export (filters, formula neutralisation)."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, update

from registration.extensions import db
from registration.fields import EXCHANGE_COLUMNS
from registration.models import AuditEntry, Delegate, Status
from registration.services import delegate_import

HEADER = ["category", "honorific", "given_name", "family_name", "native_name", "organisation",
          "position", "country", "email", "phone"]
COUNTRIES = ["CN", "JP", "DE", "FR", "BR", "KE", "IN", "US"]
PHONES = {"CN": "+86 138 0013 8000", "JP": "+81 90 1234 5678", "DE": "+49 151 23456789",
          "FR": "+33 6 12 34 56 78", "BR": "+55 11 91234 5678", "KE": "+254 712 345678",
          "IN": "+91 98765 43210", "US": "+1 202 555 0143"}
CATEGORIES = ["government", "expert", "scholar", "ngo"]


def rows(n: int, start: int = 0) -> list[list[str]]:
    out = []
    for i in range(start, start + n):
        country = COUNTRIES[i % len(COUNTRIES)]
        out.append([CATEGORIES[i % 4], "Dr.", f"Given{i}", f"Family{i}", "王小明" if i % 3 else "",
                    f"Organisation {i % 50}", "Officer", country, f"person{i}@example.org",
                    PHONES[country]])
    return out


def csv_bytes(data: list[list[str]], header=HEADER, encoding="utf-8") -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *data])
    return buf.getvalue().encode(encoding)


def xlsx_bytes(data: list[list], header=HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in data:
        sheet.append(row)
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def count() -> int:
    return db.session.scalar(select(func.count(Delegate.id)))


def import_bytes(data: bytes, name: str = "file.csv", **kwargs) -> delegate_import.ImportReport:
    return delegate_import.import_file(data, name, None, actor="test", **kwargs)


# --- the shared sample ----------------------------------------------------------------------

def test_sample_file_imports_as_it_is_and_reimport_skips(app_ctx, runner, samples_csv):
    result = runner.invoke(args=["delegates", "import", str(samples_csv)])
    assert result.exit_code == 0, result.output
    assert count() == 12
    assert "12 delegates imported" in result.output
    delegates = db.session.scalars(select(Delegate)).all()
    assert {d.source for d in delegates} == {"import"}
    assert {d.status for d in delegates} == {Status.SUBMITTED.value}
    assert any(d.native_name == "王小明" for d in delegates)
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "imported", AuditEntry.actor == "cli")) == 12

    again = runner.invoke(args=["delegates", "import", str(samples_csv)])
    assert again.exit_code == 0, again.output
    assert again.output.count("— skipped") == 12
    assert count() == 12


# --- all or nothing -------------------------------------------------------------------------

def test_rows_with_errors_import_nothing_and_are_reported(app_ctx, runner, tmp_path):
    data = rows(6)
    data[1][7] = "XX"  # row 3: unknown country
    data[3][8] = "not-an-email"  # row 5
    data[4][0] = "press"  # row 6: unknown category
    data[5][8] = data[0][8].upper()  # row 7: same email as row 2
    report = import_bytes(csv_bytes(data))
    assert not report.ok and report.imported == 0 and count() == 0
    found = {(e.row, e.field) for e in report.errors}
    assert {(3, "country"), (5, "email"), (6, "category"), (7, "email")} <= found
    assert report.error_rows == 4
    assert any("row 2" in e.message for e in report.errors if e.row == 7)

    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(data))
    result = runner.invoke(args=["delegates", "import", str(path)])
    assert result.exit_code == 1
    assert "row 3: country:" in result.output and "Nothing imported" in result.output
    listed = [int(n) for n in re.findall(r"^row (\d+):", result.output, re.M)]
    assert listed == sorted(listed) and set(listed) == {3, 5, 6, 7}  # in row order
    assert count() == 0


def test_existing_email_with_different_data_is_an_error(app_ctx):
    assert import_bytes(csv_bytes(rows(3))).ok
    changed = rows(3)
    changed[2][5] = "Another Organisation"
    changed.append(rows(1, start=10)[0])
    report = import_bytes(csv_bytes(changed))
    assert not report.ok and count() == 3
    [error] = report.errors
    assert error.row == 4 and error.field == "email" and "organisation" in error.message


def test_approve_accredits_with_audit_and_signal(app, app_ctx):
    from registration.signals import delegate_approved

    seen = []
    with delegate_approved.connected_to(lambda sender, delegate: seen.append(delegate.email),
                                        app):
        report = import_bytes(csv_bytes(rows(4)), approve=True)
    assert report.ok and report.imported == 4 and report.approved
    assert {d.status for d in db.session.scalars(select(Delegate))} == {"approved"}
    assert len(seen) == 4
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "status")).all()
    assert len(entries) == 4 and entries[0].details["to"] == "approved"


def test_cli_approve_flag(app_ctx, runner, tmp_path):
    path = tmp_path / "d.xlsx"
    path.write_bytes(xlsx_bytes(rows(3)))
    result = runner.invoke(args=["delegates", "import", str(path), "--approve"])
    assert result.exit_code == 0, result.output
    assert {d.status for d in db.session.scalars(select(Delegate))} == {"approved"}


# --- file formats ---------------------------------------------------------------------------

def test_bom_semicolons_missing_columns_and_numeric_phones(app_ctx):
    data = "\ufeff" + "Category;Given Name;Family_Name;organisation;position;country;email;phone\n"
    data += "expert;Lars;Østergård;DEMA;Analyst;DK;lars@example.dk;+45 20 12 34 56\n\n"
    report = import_bytes(data.encode("utf-8"))
    assert report.ok and report.imported == 1, report.errors
    xlsx = xlsx_bytes([["scholar", "Ana", "Silva", "USP", "Prof", "BR", "ana@example.br",
                        5511912345678]],
                      header=["category", "given_name", "family_name", "organisation",
                              "position", "country", "email", "phone"])
    report = import_bytes(xlsx, "people.xlsx")
    assert report.ok and report.imported == 1, report.errors
    assert db.session.scalar(select(Delegate.phone).where(Delegate.email == "ana@example.br")
                             ) == "+5511912345678"


@pytest.mark.parametrize(("data", "name", "message"), [
    ("category,given_name,email\ngovernment,Zoë,z@example.org\n".encode("latin-1"),
     "x.csv", "not UTF-8"),
    ("category,given_name,email\ngovernment,王,w@example.org\n".encode("gbk"), "x.csv",
     "not UTF-8"),
    (b"category,given_name,emial\n", "x.csv", "Unknown column(s): emial"),
    (b"given_name,email\n", "x.csv", "no “category” column"),
    (b"", "x.csv", "empty"),
    (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old.xls", ".xls"),
    (b"PK\x03\x04garbage", "x.xlsx", "cannot be read"),
])
def test_unreadable_files_are_refused_clearly(app_ctx, data, name, message):
    report = import_bytes(data, name)
    assert not report.ok and message in report.file_error and count() == 0


def test_large_csv_and_xlsx_files(app_ctx):
    data = rows(2000)
    started = time.perf_counter()
    report = import_bytes(csv_bytes(data))
    csv_seconds = time.perf_counter() - started
    assert report.ok and report.imported == 2000 and count() == 2000
    started = time.perf_counter()
    again = import_bytes(xlsx_bytes(data), "same.xlsx")
    xlsx_seconds = time.perf_counter() - started
    assert again.ok and again.imported == 0 and len(again.skipped) == 2000
    assert count() == 2000
    fresh = import_bytes(xlsx_bytes(rows(2000, start=5000)), "new.xlsx")
    assert fresh.ok and fresh.imported == 2000 and count() == 4000
    print(f"\n2,000-row CSV import {csv_seconds:.2f} s; 2,000-row XLSX re-check "
          f"{xlsx_seconds:.2f} s; XLSX import {fresh.seconds:.2f} s")
    assert len(set(db.session.scalars(select(Delegate.reference)))) == 4000


# --- the desk pages -------------------------------------------------------------------------

@pytest.fixture
def desk_csrf(client, login, csrf_from):
    login("desk")
    return csrf_from(client.get("/staff/import").get_data(as_text=True))


def post_file(client, csrf, data: bytes, name: str, **form):
    return client.post("/staff/import", content_type="multipart/form-data",
                       data={"csrf_token": csrf, "file": (io.BytesIO(data), name), **form})


def test_web_import_small_file_and_error_report(app, client, desk_csrf):
    bad = rows(3)
    bad[2][9] = "12"
    response = post_file(client, desk_csrf, csv_bytes(bad), "bad.csv")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html
    assert '<td>4</td><td translate="no" class="mono">phone</td>' in html
    with app.app_context():
        assert count() == 0
    response = post_file(client, desk_csrf, csv_bytes(rows(3)), "ok.csv", approve="1")
    assert response.status_code == 200 and "3 delegates imported" in response.get_data(
        as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "imported")
                                 ) == "staff:desk@forum.test"
    nofile = client.post("/staff/import", data={"csrf_token": desk_csrf})
    assert nofile.status_code == 400 and "Choose a CSV" in nofile.get_data(as_text=True)
    latin = post_file(client, desk_csrf, "category,given_name,email\nngo,Zoë,z@x.org\n"
                      .encode("latin-1"), "l.csv")
    assert latin.status_code == 400 and "not UTF-8" in latin.get_data(as_text=True)


def test_import_to_accredit_waits_for_photos_when_the_edition_requires_them(
        app, runner, client, desk_csrf, edition_settings, tmp_path):
    edition_settings(photo_required=True)
    path = tmp_path / "d.csv"
    path.write_bytes(csv_bytes(rows(2)))
    result = runner.invoke(args=["delegates", "import", str(path), "--approve"])
    assert result.exit_code == 0, result.output
    assert "2 delegates imported, 0 already" in result.output
    assert "Not accredited yet: this edition requires a photo" in result.output
    page = post_file(client, desk_csrf, csv_bytes(rows(2, start=2)), "more.csv",
                     approve="1").get_data(as_text=True)
    assert "2 delegates imported." in page and "They are accredited." not in page
    assert "Not accredited yet: this edition requires a photo" in page
    with app.app_context():
        assert {d.status for d in db.session.scalars(select(Delegate))} == {"submitted"}
        assert count() == 4


def test_web_import_large_file_runs_as_job(app, client, desk_csrf, wait_for_job):
    response = post_file(client, desk_csrf, xlsx_bytes(rows(450)), "big.xlsx")
    assert response.status_code == 303
    job_url = response.headers["Location"]
    data = wait_for_job(client, job_url)
    assert data["state"] == "done" and data["kind"] == "import"
    with app.app_context():
        assert data["result"]["imported"] == 450 and count() == 450
    page = client.get(job_url)
    assert page.status_code == 200 and "450 delegates imported" in page.get_data(as_text=True)


# --- export ---------------------------------------------------------------------------------

def nasty_delegates(make_delegate) -> None:
    delegate = make_delegate("expert", Status.APPROVED, commit=False)
    delegate.organisation = "=cmd|' /C calc'!A0"
    delegate.position = "+1"
    delegate.dietary_needs = "-2"
    delegate.accessibility_needs = "@x"
    delegate.details = {"expertise": ["cybersecurity", "counter_terrorism"]}
    make_delegate("government", Status.SUBMITTED, commit=False)
    make_delegate("expert", Status.SUBMITTED)


def test_export_csv_with_filter_and_neutralised_cells(app, client, login, make_delegate):
    login("desk")
    with app.app_context():
        nasty_delegates(make_delegate)
    response = client.get("/staff/export.csv?category=expert&status=approved")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and ".csv" in disposition
    assert response.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert list(table[0]) == ["reference", "status", *EXCHANGE_COLUMNS, "country_name",
                              "delegation"]
    [row] = table
    assert row["organisation"] == "'=cmd|' /C calc'!A0"
    assert (row["position"], row["dietary_needs"], row["accessibility_needs"]) == (
        "'+1", "'-2", "'@x")
    assert row["expertise"] == "cybersecurity; counter_terrorism"
    assert row["phone"] == "'+8613800138000"
    everyone = client.get("/staff/export.csv").data.decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(everyone)))) == 3
    with app.app_context():
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "exported"))


def test_export_xlsx_has_no_formulas(app, client, login, make_delegate):
    login("desk")
    with app.app_context():
        nasty_delegates(make_delegate)
    response = client.get("/staff/export.xlsx?category=expert")
    assert response.status_code == 200 and ".xlsx" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["reference", "status", "category"]
    assert len(values) == 3
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert "'=cmd|' /C calc'!A0" in [v for row in values for v in row]


def test_exported_file_imports_again_without_duplicates(app_ctx, runner, tmp_path,
                                                         make_delegate):
    nasty_delegates(make_delegate)
    for fmt in ("csv", "xlsx"):
        path = tmp_path / f"all.{fmt}"
        result = runner.invoke(args=["delegates", "export", "-o", str(path)])
        assert result.exit_code == 0 and "3 delegates" in result.output
        again = runner.invoke(args=["delegates", "import", str(path)])
        assert again.exit_code == 0, again.output
        assert again.output.count("— skipped") == 3 and count() == 3


def test_cli_export_filters(app_ctx, runner, tmp_path, make_delegate):
    nasty_delegates(make_delegate)
    path = tmp_path / "gov.csv"
    result = runner.invoke(args=["delegates", "export", "-o", str(path), "--category",
                                 "government", "--status", "submitted"])
    assert result.exit_code == 0
    table = list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))
    assert [r["category"] for r in table] == ["government"]
    bad = runner.invoke(args=["delegates", "export", "-o", str(tmp_path / "x.pdf")])
    assert bad.exit_code == 1 and "must end in .csv or .xlsx" in bad.output


def test_cli_badges_print(app_ctx, runner, tmp_path, make_delegate):
    for n in range(6):
        make_delegate("government" if n < 5 else "ngo", Status.APPROVED, commit=False)
    make_delegate(status=Status.SUBMITTED)
    out = tmp_path / "gov.pdf"
    result = runner.invoke(args=["badges", "print", "--category", "government", "--unprinted",
                                 "--layout", "a4-4up", "--sort", "country", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 badges" in result.output and out.read_bytes().startswith(b"%PDF")
    printed = db.session.scalars(select(Delegate).where(Delegate.printed_at.is_not(None))).all()
    assert len(printed) == 5
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "printed", AuditEntry.actor == "cli")) == 5
    again = runner.invoke(args=["badges", "print", "--category", "government", "--unprinted",
                                "-o", str(out)])
    assert again.exit_code == 1 and "Nothing printed" in again.output


def test_cli_badges_print_on_two_processes_keeps_every_badge_in_order(app_ctx, runner, tmp_path,
                                                                     make_delegate):
    import pypdfium2

    for _ in range(9):
        make_delegate(status=Status.APPROVED, commit=False)
    one, two = tmp_path / "one.pdf", tmp_path / "two.pdf"
    assert runner.invoke(args=["badges", "print", "--layout", "a6", "-o", str(one)]).exit_code == 0
    db.session.execute(update(Delegate).values(printed_at=None))
    db.session.commit()
    result = runner.invoke(args=["badges", "print", "--layout", "a6", "--workers", "2",
                                 "-o", str(two)])
    assert result.exit_code == 0, result.output

    def names(path):
        pdf = pypdfium2.PdfDocument(str(path))
        return [next(line for line in pdf[i].get_textpage().get_text_range().splitlines()
                     if "Given" in line) for i in range(len(pdf))]  # the badge's name

    assert len(set(names(two))) == 9  # nine different badges
    assert names(two) == names(one)



def test_template_matches_exchange_columns(app_ctx):
    root = Path(__file__).resolve().parent.parent
    lines = (root / "static" / "import-template.csv").read_text("utf-8").splitlines()
    assert lines[0].split(",") == list(EXCHANGE_COLUMNS)
    report = import_bytes((root / "static" / "import-template.csv").read_bytes())
    assert report.ok and report.imported == 1


def test_export_page_links_keep_the_filter(app, client, login, make_delegate):
    login("desk")
    with app.app_context():
        nasty_delegates(make_delegate)
    page = client.get("/staff/export?category=expert&printed=no")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2 delegates match" in html
    assert "/staff/export.xlsx?" in html and "category=expert" in html and "printed=no" in html


def test_damaged_files_are_refused_with_a_message(app_ctx):
    from registration.services.delegate_import import ImportFileError, read_table

    with pytest.raises(ImportFileError, match="UTF-16"):
        read_table(b"\xff\xfe" + b"abc", "list.csv")
    # An .xlsx whose sheet XML is cut off.
    good = io.BytesIO()
    workbook = Workbook()
    workbook.active.append(["category", "given_name"])
    workbook.save(good)
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good.getvalue())) as src, \
            zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            dst.writestr(item, content)
    with pytest.raises(ImportFileError, match="cannot be read"):
        read_table(damaged.getvalue(), "list.xlsx")


def test_xlsx_declaring_a_huge_sheet_reads_only_our_columns(app_ctx):
    buffer = io.BytesIO()
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["category", "given_name", "family_name"])
    sheet.append(["ngo", "Aisha", "Bello"])
    sheet.cell(row=3000, column=16384, value="far away")  # declares A1:XFD3000
    workbook.save(buffer)
    rows = delegate_import._xlsx_rows(buffer.getvalue())  # before the column checks
    assert rows[0][:3] == ["category", "given_name", "family_name"]
    assert all(len(row) <= len(EXCHANGE_COLUMNS) + 10 for row in rows)
    assert rows[1][1] == "Aisha"
