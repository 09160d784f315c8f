"""Badge printers over IPP: the registry (CLI, page), desk print and reprint to a real IPP
printer (ippeveprinter), job states, failures that leave the badge unprinted."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

import badges
from registration.badge_token import BadgeTokenError
from registration.extensions import db
from registration.models import AuditEntry, Delegate, Printer, PrintJob, Status
from registration.services import badge_signing

try:
    import pypdfium2 as pdfium
    import zxingcpp
except ImportError:  # pragma: no cover - dev requirements
    pdfium = zxingcpp = None

needs_qr = pytest.mark.skipif(pdfium is None or zxingcpp is None,
                              reason="pypdfium2 and zxing-cpp are needed to read the PDF's QR")
MM = 72 / 25.4


def pages(pdf: bytes) -> list[tuple[float, float]]:
    return [tuple(page.get_size()) for page in pdfium.PdfDocument(pdf)]


def qr_codes(pdf: bytes) -> list[str]:
    codes = []
    for page in pdfium.PdfDocument(pdf):
        image = page.render(scale=300 / 72).to_pil().convert("L")
        codes += [r.text for r in zxingcpp.read_barcodes(image)
                  if r.format == zxingcpp.BarcodeFormat.QRCode]
    return codes


def assert_page_size(pdf: bytes, layout: str) -> None:
    spec = badges.LAYOUTS[layout]
    for width, height in pages(pdf):
        assert width == pytest.approx(spec.page_width * MM, abs=0.5)
        assert height == pytest.approx(spec.page_height * MM, abs=0.5)


def add_printer(runner, name: str, uri: str, layout: str = "a6"):
    return runner.invoke(args=["printers", "add", name, uri, "--layout", layout])


def flashes(client) -> str:
    with client.session_transaction() as session:
        return " ".join(message for _, message in session.get("_flashes", []))


def follow(client, job_url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        info = client.get(job_url + ".json").get_json()
        if info["state"] != "sent" or time.monotonic() > deadline:
            return info
        time.sleep(0.1)


@pytest.fixture
def desk(client, login, csrf_from):
    login("desk")
    return csrf_from(client.get("/staff/print").get_data(as_text=True))


def choose(client, csrf, app, name: str) -> None:
    with app.app_context():
        printer_id = db.session.scalar(select(Printer.id).where(Printer.name == name))
    response = client.post("/staff/printers/choose",
                           data={"csrf_token": csrf, "printer": printer_id,
                                 "next": "/staff/delegates"})
    assert response.status_code == 303


def test_cli_add_list_test_remove(app, runner, ipp_printer):
    printer = ipp_printer()
    result = add_printer(runner, "Desk 1", printer.uri, "cr80")
    assert result.exit_code == 0, result.output
    assert "Desk 1" in result.output
    listed = runner.invoke(args=["printers", "list"])
    assert listed.exit_code == 0 and "Desk 1" in listed.output and "idle" in listed.output
    tested = runner.invoke(args=["printers", "test", "Desk 1"])
    assert tested.exit_code == 0, tested.output
    assert "Test badge printed" in tested.output
    [pdf] = printer.pdfs()
    assert_page_size(pdf.read_bytes(), "cr80")
    assert runner.invoke(args=["printers", "remove", "Desk 1"]).exit_code == 0
    assert "No printers" in runner.invoke(args=["printers", "list"]).output


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_test_badge_has_a_test_band_and_no_warning(runner, ipp_printer):
    printer = ipp_printer()
    add_printer(runner, "Desk 1", printer.uri, "a6")
    logger, handler = logging.getLogger("badges"), _Records()
    was_disabled, logger.disabled = logger.disabled, False
    logger.addHandler(handler)
    try:
        tested = runner.invoke(args=["printers", "test", "Desk 1"])
    finally:
        logger.removeHandler(handler)
        logger.disabled = was_disabled
    assert tested.exit_code == 0, tested.output
    assert [r.getMessage() for r in handler.records] == []
    [pdf] = printer.pdfs()
    words = pdfium.PdfDocument(pdf.read_bytes())[0].get_textpage().get_text_range().split()
    assert "TEST" in words and "T" in words  # the label and the band's letter tile
    assert "?" not in words


def test_cli_refuses_bad_input(runner):
    bad_uri = add_printer(runner, "X", "http://printer/", "a6")
    assert bad_uri.exit_code == 1 and "ipp://" in bad_uri.output
    bad_layout = add_printer(runner, "X", "ipp://printer/ipp/print", "a5")
    assert bad_layout.exit_code == 1
    assert add_printer(runner, "X", "ipp://printer:631/ipp/print").exit_code == 0
    taken = add_printer(runner, "X", "ipp://printer:631/ipp/print")
    assert taken.exit_code == 1 and "already exists" in taken.output
    assert runner.invoke(args=["printers", "remove", "Nope"]).exit_code == 1
    unreachable = runner.invoke(args=["printers", "test", "X"])
    assert unreachable.exit_code == 1 and "cannot be reached" in unreachable.output


@needs_qr
def test_desk_print_and_reprint_arrive_in_the_spool(app, client, runner, desk, make_delegate,
                                                    ipp_printer):
    printer = ipp_printer()
    add_printer(runner, "Desk 1", printer.uri, "a6")
    delegate = make_delegate(status=Status.APPROVED)
    choose(client, desk, app, "Desk 1")
    page = client.get(f"/staff/delegates/{delegate.public_id}").get_data(as_text=True)
    assert "Print on Desk 1" in page and "Download PDF" in page

    response = client.post(f"/staff/delegates/{delegate.public_id}/print-on-printer",
                           data={"csrf_token": desk, "kind": "print"})
    assert response.status_code == 303
    job_url = response.headers["Location"]
    info = follow(client, job_url)
    assert info["state"] == "completed", info
    [pdf] = printer.pdfs()
    assert_page_size(pdf.read_bytes(), "a6")
    [token] = qr_codes(pdf.read_bytes())
    with app.app_context():
        stored = db.session.get(Delegate, delegate.id)
        assert stored.status == Status.BADGE_PRINTED.value and stored.print_count == 1
        assert badge_signing.verify_code(token).serial == 1
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "printed"))
        assert entry.details["printer"] is not None
    assert "printed" in client.get(job_url).get_data(as_text=True)

    # A second first print is refused; a reprint goes to the printer with a new serial.
    again = client.post(f"/staff/delegates/{delegate.public_id}/print-on-printer",
                        data={"csrf_token": desk, "kind": "print"})
    assert again.status_code == 303 and "already printed" in flashes(client)
    response = client.post(f"/staff/delegates/{delegate.public_id}/print-on-printer",
                           data={"csrf_token": desk, "kind": "reprint", "reason": "lost"})
    info = follow(client, response.headers["Location"])
    assert info["state"] == "completed", info
    _first, second = printer.pdfs()
    [new_token] = qr_codes(second.read_bytes())
    with app.app_context():
        assert db.session.get(Delegate, delegate.id).badge_serial == 2
        assert badge_signing.verify_code(new_token).serial == 2
        with pytest.raises(BadgeTokenError):
            badge_signing.verify_code(token)


def test_a_job_nobody_follows_is_recorded_by_the_periodic_sweep(app, client, runner, desk,
                                                                make_delegate, ipp_printer):
    """The desk's tab is closed right after "Print on": the badge comes out, and the
    follow-print-jobs task (on the beat schedule) records it printed; a job on a printer
    that has gone is left waiting, asked about once per run."""
    from registration.tasks.definitions import FOLLOW_PRINT_JOBS, follow_print_jobs
    from registration.tasks.dispatch import schedule

    assert schedule(app)["follow-print-jobs"] == (FOLLOW_PRINT_JOBS, 5.0)
    printer = ipp_printer()
    add_printer(runner, "Desk 1", printer.uri, "a6")
    delegate = make_delegate(status=Status.APPROVED)
    choose(client, desk, app, "Desk 1")
    response = client.post(f"/staff/delegates/{delegate.public_id}/print-on-printer",
                           data={"csrf_token": desk, "kind": "print"})
    assert response.status_code == 303  # ... and nobody opens the job page
    deadline = time.monotonic() + 30
    while not printer.pdfs():
        assert time.monotonic() < deadline, "the job never reached the printer"
        time.sleep(0.05)
    with app.app_context():
        assert db.session.get(Delegate, delegate.id).status == Status.APPROVED.value
        counts = follow_print_jobs()
        while counts["waiting"] and time.monotonic() < deadline:
            time.sleep(0.1)  # the printer has the document but is still "processing" it
            counts = follow_print_jobs()
        assert counts["completed"] == 1, counts
        stored = db.session.get(Delegate, delegate.id)
        assert stored.status == Status.BADGE_PRINTED.value and stored.print_count == 1
        assert follow_print_jobs() == {"completed": 0, "failed": 0, "waiting": 0}

    # A printer that went away: its jobs stay "sent" (printing) and nothing is marked
    # printed; it is asked about one job per run, not one timeout per job.
    printer.stop()
    others = [make_delegate(status=Status.APPROVED) for _ in range(2)]
    with app.app_context():
        gone = db.session.scalar(select(Printer).where(Printer.name == "Desk 1"))
        for number, other in enumerate(others, start=100):
            db.session.add(PrintJob(printer_id=gone.id, kind="print", delegate_ids=[other.id],
                                    layout="a6", details={}, ipp_job_id=number))
        db.session.commit()
        assert follow_print_jobs() == {"completed": 0, "failed": 0, "waiting": 2}
        jobs = db.session.scalars(select(PrintJob).where(PrintJob.ipp_job_id >= 100)
                                  .order_by(PrintJob.id)).all()
        assert [job.state for job in jobs] == ["sent", "sent"]
        assert [job.reason for job in jobs] == ["unreachable", ""]
        assert {db.session.get(Delegate, o.id).status for o in others} == {"approved"}


def test_the_sweep_goes_past_a_delegate_cancelled_while_the_badge_printed(
        app, make_delegate, monkeypatch):
    """A reprint completed for a delegate cancelled meanwhile is recorded as discarded (no
    status change, no new serial), and the jobs after it are still recorded printed."""
    from registration.services import ipp
    from registration.tasks.definitions import follow_print_jobs

    monkeypatch.setattr(ipp, "job_status",
                        lambda uri, job_id, timeout=None: ipp.JobStatus("completed"))
    cancelled = make_delegate(status=Status.CANCELLED)
    waiting = make_delegate(status=Status.APPROVED)
    with app.app_context():
        printer = Printer(name="Desk 9", uri="ipp://127.0.0.1:9/ipp/print", layout="a6")
        db.session.add(printer)
        db.session.flush()
        db.session.add(PrintJob(printer_id=printer.id, kind="reprint", layout="a6",
                                delegate_ids=[cancelled.id], ipp_job_id=1,
                                details={"reason": "lost", "reason_text": "", "serial": 2}))
        db.session.add(PrintJob(printer_id=printer.id, kind="print", layout="a6",
                                delegate_ids=[waiting.id], ipp_job_id=2, details={}))
        db.session.commit()
        assert follow_print_jobs() == {"completed": 2, "failed": 0, "waiting": 0}
        assert db.session.get(Delegate, waiting.id).status == Status.BADGE_PRINTED.value
        stored = db.session.get(Delegate, cancelled.id)
        assert stored.status == Status.CANCELLED.value and stored.badge_serial == 1
        discarded = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "print_discarded")).one()
        assert discarded.delegate_id == cancelled.id and "cancelled" in discarded.details["why"]


def test_unreachable_printer_is_a_clear_error_and_the_badge_stays_unprinted(
        app, client, runner, desk, make_delegate, ipp_printer):
    printer = ipp_printer()
    add_printer(runner, "Desk 1", printer.uri, "a6")
    printer.stop()
    delegate = make_delegate(status=Status.APPROVED)
    choose(client, desk, app, "Desk 1")
    response = client.post(f"/staff/delegates/{delegate.public_id}/print-on-printer",
                           data={"csrf_token": desk, "kind": "print"})
    assert response.status_code == 303
    assert "cannot be reached" in flashes(client)
    with app.app_context():
        stored = db.session.get(Delegate, delegate.id)
        assert stored.printed_at is None and stored.status == Status.APPROVED.value


class StalledPrinter:
    """An "IPP printer" that accepts every connection and reads the request, then (with
    `headers`) sends the answer's HTTP headers and no body, or (without) nothing at all —
    as the hung simulator did; it hangs up after `stall` seconds. `requests` holds the
    request heads received."""

    def __init__(self, *, headers: bool, stall: float = 20) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.uri = f"ipp://127.0.0.1:{self.server.getsockname()[1]}/ipp/print"
        self.headers, self.stall = headers, stall
        self.requests: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(self.stall)
            try:
                self.requests.append(conn.recv(65536).split(b"\r\n\r\n")[0].decode())
                if self.headers:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\n"
                                 b"Content-Length: 512\r\n\r\n")
                conn.recv(1)  # wait for the client to give up, or the stall to end
            except OSError:
                pass


@pytest.fixture
def stalled() -> Iterator[list[StalledPrinter]]:
    started: list[StalledPrinter] = []
    yield started
    for printer in started:
        printer.server.close()


@pytest.mark.parametrize("headers", [True, False], ids=["headers-then-silence", "silence"])
def test_a_printer_that_never_answers_is_unreachable_within_the_timeout(
        app, client, runner, desk, make_delegate, ipp_printer, stalled, headers):
    app.config["IPP_TIMEOUT_SECONDS"] = 1
    hung = StalledPrinter(headers=headers)
    stalled.append(hung)
    add_printer(runner, "Desk 1", hung.uri, "a6")
    delegate = make_delegate(status=Status.APPROVED)
    choose(client, desk, app, "Desk 1")
    started = time.monotonic()
    response = client.post(f"/staff/delegates/{delegate.public_id}/print-on-printer",
                           data={"csrf_token": desk, "kind": "print"})
    assert time.monotonic() - started < 4
    assert response.status_code == 303 and "cannot be reached" in flashes(client)
    # Every request asked the printer to close the connection once it has answered.
    assert hung.requests and all("connection: close" in r.lower() for r in hung.requests)

    # A job already sent, whose printer then stops answering: following it gives up within
    # the timeout, says why, and leaves the badge unprinted (the printer may come back).
    printer = ipp_printer()
    with app.app_context():
        db.session.execute(Printer.__table__.update().values(uri=printer.uri))
        db.session.commit()
    response = client.post(f"/staff/delegates/{delegate.public_id}/print-on-printer",
                           data={"csrf_token": desk, "kind": "print"})
    job_url = response.headers["Location"]
    with app.app_context():
        db.session.execute(Printer.__table__.update().values(uri=hung.uri))
        db.session.commit()
    started = time.monotonic()
    info = client.get(job_url + ".json").get_json()
    assert time.monotonic() - started < 4
    assert info["state"] == "sent" and info["reason"] == "unreachable"
    assert "cannot be reached" in info["message"]
    with app.app_context():
        stored = db.session.get(Delegate, delegate.id)
        assert stored.printed_at is None and stored.status == Status.APPROVED.value


def test_a_job_the_printer_aborts_fails_with_its_reason_and_can_be_retried(
        app, client, runner, desk, make_delegate, ipp_printer):
    jammed = ipp_printer(command="/bin/false")
    add_printer(runner, "Desk 1", jammed.uri, "a6")
    delegate = make_delegate(status=Status.APPROVED)
    choose(client, desk, app, "Desk 1")
    response = client.post(f"/staff/delegates/{delegate.public_id}/print-on-printer",
                           data={"csrf_token": desk, "kind": "print"})
    job_url = response.headers["Location"]
    info = follow(client, job_url)
    assert info["state"] == "failed" and info["reason"] == "aborted"
    assert "gave up on the job" in info["message"]
    page = client.get(job_url).get_data(as_text=True)
    assert "Try again" in page and "Download PDF instead" in page
    with app.app_context():
        assert db.session.get(Delegate, delegate.id).printed_at is None
        # The printer is fixed: the same job is tried again on it and completes.
        working = ipp_printer()
        db.session.execute(Printer.__table__.update().values(uri=working.uri))
        db.session.commit()
    retry = client.post(job_url + "/retry", data={"csrf_token": desk})
    assert retry.status_code == 303 and retry.headers["Location"] != job_url
    assert follow(client, retry.headers["Location"])["state"] == "completed"
    with app.app_context():
        assert db.session.get(Delegate, delegate.id).printed_at is not None
        assert len(db.session.scalars(select(PrintJob)).all()) == 2


def test_printers_page_shows_live_state(app, client, login, csrf_from, runner, ipp_printer):
    printer = ipp_printer()
    add_printer(runner, "Desk 1", printer.uri, "a6")
    add_printer(runner, "Gone", "ipp://127.0.0.1:9/ipp/print", "cr80")
    login("admin")
    page = client.get("/staff/printers")
    assert page.status_code == 200 and "Desk 1" in page.get_data(as_text=True)
    states = {p["name"]: p for p in client.get("/staff/printers/status.json")
              .get_json()["printers"]}
    assert states["Desk 1"]["state"] == "idle" and states["Desk 1"]["ready"]
    assert states["Gone"]["state"] == "unreachable" and not states["Gone"]["ready"]
    csrf = csrf_from(page.get_data(as_text=True))
    bad = client.post("/staff/printers", data={"csrf_token": csrf, "name": "Y",
                                               "uri": "lpd://x", "layout": "a6"})
    assert bad.status_code == 422 and "ipp://" in bad.get_data(as_text=True)
    added = client.post("/staff/printers", data={"csrf_token": csrf, "name": "Y",
                                                 "uri": printer.uri, "layout": "a4-4up"})
    assert added.status_code == 303
    with app.app_context():
        y = db.session.scalar(select(Printer).where(Printer.name == "Y"))
        assert y is not None and y.layout == "a4-4up"


@needs_qr
def test_cli_batch_of_100_goes_to_the_printer_in_chunks(app, runner, make_delegate,
                                                       ipp_printer):
    printer = ipp_printer()
    add_printer(runner, "Sheets", printer.uri, "a4-4up")
    people = [make_delegate(status=Status.APPROVED) for _ in range(100)]
    make_delegate(status=Status.SUBMITTED)  # not accredited: not printed
    result = runner.invoke(args=["badges", "print", "--printer", "Sheets"])
    assert result.exit_code == 0, result.output
    assert "100 badges printed on 'Sheets'" in result.output
    pdfs = printer.pdfs()
    assert len(pdfs) == 5  # chunks of 24 badges: 6 sheets each, the last 1 sheet
    tokens = []
    for pdf in pdfs:
        assert_page_size(pdf.read_bytes(), "a4-4up")
        tokens += qr_codes(pdf.read_bytes())
    assert len(tokens) == 100
    with app.app_context():
        ids = {badge_signing.verify_code(t).badge_id for t in tokens}
        assert ids == {db.session.get(Delegate, p.id).public_id for p in people}
        assert all(db.session.get(Delegate, p.id).printed_at is not None for p in people)
        assert len(db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "printed")).all()) == 100
    again = runner.invoke(args=["badges", "print", "--printer", "Sheets", "--unprinted"])
    assert again.exit_code == 1 and "Nothing printed" in again.output
    both = runner.invoke(args=["badges", "print", "--printer", "Sheets", "-o", "x.pdf"])
    assert both.exit_code == 1
    # A misspelt printer is named as such, even with nothing left to print.
    unknown = runner.invoke(args=["badges", "print", "--printer", "Sheet", "--unprinted"])
    assert unknown.exit_code == 1 and "No printer named 'Sheet'" in unknown.output


def test_cli_batch_to_a_failing_printer_marks_nothing(app, runner, make_delegate, ipp_printer):
    jammed = ipp_printer(command="/bin/false")
    add_printer(runner, "Jammed", jammed.uri, "cr80")
    person = make_delegate(status=Status.APPROVED)
    result = runner.invoke(args=["badges", "print", "--printer", "Jammed"])
    assert result.exit_code == 1 and "0 of 1 badges printed" in result.output
    assert "gave up on the job" in result.output
    with app.app_context():
        assert db.session.get(Delegate, person.id).printed_at is None


@needs_qr
def test_desk_batch_to_the_desk_printer_shows_rendering_and_printing(
        app, client, runner, desk, make_delegate, ipp_printer):
    printer = ipp_printer()
    add_printer(runner, "Cards", printer.uri, "cr80")
    people = [make_delegate(status=Status.APPROVED) for _ in range(30)]
    choose(client, desk, app, "Cards")
    page = client.get("/staff/print").get_data(as_text=True)
    assert "Print on Cards" in page
    response = client.post("/staff/print/on-printer", data={"csrf_token": desk,
                                                            "order": "family_name"})
    assert response.status_code == 303
    url = response.headers["Location"]
    deadline = time.monotonic() + 60
    while True:
        state = client.get(url + ".json").get_json()
        if state["state"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state["state"] == "done", state
    assert (state["rendered"], state["printed"], state["total"]) == (30, 30, 30)
    assert state["chunks"] == 2
    assert "Printed" in client.get(url).get_data(as_text=True)
    assert sum(len(pdfium.PdfDocument(p.read_bytes())) for p in printer.pdfs()) == 30
    with app.app_context():
        assert all(db.session.get(Delegate, p.id).printed_at is not None for p in people)
