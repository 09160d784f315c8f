"""Background work on real Celery workers and a real Redis broker (127.0.0.1:6379, a
database number of the test run's own, flushed before each test): two app instances and
one worker; workers killed with SIGKILL half-way through a batch print and an import; mail
with the SMTP server down, then up. Skipped with the reason when Redis is not reachable
(.ci/run starts it)."""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.security import generate_password_hash

from registration import tasks
from registration.extensions import db
from registration.models import AuditEntry, Delegate, Job, OutboxMessage, StaffUser, Status
from registration.services import badge_signing
from registration.tasks import definitions

try:
    import pypdfium2 as pdfium
    import zxingcpp
except ImportError:  # pragma: no cover - dev requirements
    pdfium = zxingcpp = None

ROOT = Path(__file__).resolve().parent.parent
SIGNING_KEY = base64.b64encode(Ed25519PrivateKey.generate().private_bytes(
    Encoding.Raw, PrivateFormat.Raw, NoEncryption())).decode()


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        import redis
    except ImportError:  # pragma: no cover
        pytest.skip("the redis package is missing (requirements.txt)")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = 15 - int(worker.removeprefix("gw") or 0) % 6  # one database per test process
    url = f"redis://127.0.0.1:6379/{number}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379 ({exc}); .ci/run starts it")
    return url


@pytest.fixture
def broker(redis_url: str) -> str:
    """The test's broker, emptied first (nothing left over from an earlier test)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


@pytest.fixture
def celery_app(make_app: Callable[..., Flask], broker: str, tmp_path: Path
               ) -> Callable[..., Flask]:
    """An app instance sending its tasks to the test's broker, with an instance folder of
    its own (as on separate servers)."""

    def build(name: str = "a", **overrides: Any) -> Flask:
        return make_app(CELERY_BROKER_URL=broker, BADGE_SIGNING_KEY=SIGNING_KEY,
                        INSTANCE_DIR=str(tmp_path / name), **overrides)

    return build


@contextlib.contextmanager
def in_process_worker(app: Flask, queues: list[str] | None = None) -> Iterator[None]:
    """A real Celery worker (threads pool) consuming the broker, inside the test process:
    every queue, or only `queues` (`celery worker -Q`)."""
    from celery.contrib.testing.worker import start_worker

    only = {"queues": queues} if queues else {}
    with start_worker(tasks.celery_for(app), pool="threads", concurrency=2,
                      perform_ping_check=False, shutdown_timeout=10, **only):
        yield


def worker_process(database_url: str, broker: str, tmp_path: Path, *extra: str,
                   **env: str | float) -> subprocess.Popen:
    """`celery worker` as its own process, configured through the environment as in
    production (tests/celery_worker.py)."""
    environment = {
        **os.environ, "APP_ENV": "testing", "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker,
        "INSTANCE_PATH": str(tmp_path / f"worker-{time.monotonic_ns()}"),
        "BADGE_SIGNING_KEY": SIGNING_KEY, "JOB_STALE_SECONDS": "2", "JOB_SWEEP_SECONDS": "1",
        **{k: str(v) for k, v in env.items()},
    }
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "celery_worker.py"), *extra],
                            cwd=ROOT, env=environment)


@contextlib.contextmanager
def beat(app: Flask, every: float = 0.5) -> Iterator[None]:
    """What `celery beat` does for the job sweep, faster: send it every `every` seconds."""
    done = threading.Event()

    def run() -> None:
        while not done.wait(every):
            tasks.celery_for(app).send_task(definitions.SWEEP_JOBS)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sign_in(app: Flask, *clients: FlaskClient) -> None:
    with app.app_context():
        staff = StaffUser(email="desk@forum.test", role="desk", active=True,
                          password_hash=generate_password_hash(
                              "x", method=app.config["PASSWORD_HASH_METHOD"]),
                          session_version=0, failed_logins=0)
        db.session.add(staff)
        db.session.commit()
        user_id = staff.get_id()
    for client in clients:
        with client.session_transaction() as session:
            session["_user_id"] = user_id
            session["_fresh"] = True


@pytest.fixture
def approved_delegates(make_delegate: Callable[..., Delegate]) -> Callable[[Flask, int], set]:
    def make(app: Flask, count: int) -> set[str]:
        with app.app_context():
            delegates = [make_delegate(status=Status.APPROVED, commit=False)
                         for _ in range(count)]
            db.session.commit()
            return {str(d.public_id) for d in delegates}

    return make


def start_print(client: FlaskClient, csrf_from: Callable[[str], str]) -> str:
    token = csrf_from(client.get("/staff/print").get_data(as_text=True))
    response = client.post("/staff/print", data={"csrf_token": token, "layout": "a6",
                                                 "unprinted": "1", "order": "family_name"})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def poll(client: FlaskClient, job_url: str, until: Callable[[dict], bool],
         timeout: float = 90) -> dict:
    # Generous: it returns as soon as the job gets there, and a worker process booting on
    # a loaded machine took more than 40 s once.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = client.get(job_url + ".json").get_json()
        if until(data):
            return data
        time.sleep(0.1)
    raise AssertionError(f"job never got there: {data}")


def badges_in(pdf: bytes, app: Flask) -> list[str]:
    """The badge ids of the QR codes in the PDF, each verified with the signing key."""
    if pdfium is None:
        pytest.skip("pypdfium2 and zxing-cpp are needed to read the PDF's QR codes")
    ids = []
    with app.app_context():
        for page in pdfium.PdfDocument(pdf):
            image = page.render(scale=200 / 72).to_pil().convert("L")
            for result in zxingcpp.read_barcodes(image):
                if result.format == zxingcpp.BarcodeFormat.QRCode:
                    ids.append(str(badge_signing.verify_code(result.text).badge_id))
    return ids


def printed_state(app: Flask) -> tuple[set[str], int, int]:
    """(badge ids marked printed, the highest print count, "printed" audit entries)."""
    with app.app_context():
        printed = {str(p) for p in db.session.scalars(
            select(Delegate.public_id).where(Delegate.printed_at.is_not(None)))}
        most = db.session.scalar(select(func.max(Delegate.print_count))) or 0
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "printed")) or 0
    return printed, most, audits


# --- two app servers, one worker ----------------------------------------------------------


def test_print_started_on_one_server_is_followed_and_downloaded_on_another(
        celery_app, csrf_from, approved_delegates):
    a, b, w = celery_app("a"), celery_app("b"), celery_app("worker")
    ids = approved_delegates(a, 9)
    client_a, client_b = a.test_client(), b.test_client()
    sign_in(a, client_a, client_b)
    with in_process_worker(w):
        job_url = start_print(client_a, csrf_from)
        data = poll(client_b, job_url, lambda d: d["finished"])
    assert data["state"] == "done", data["message"]
    assert data["done"] == data["total"] == 9 and data["result"]["count"] == 9
    page = client_b.get(job_url)
    assert page.status_code == 200 and "Open the PDF" in page.get_data(as_text=True)
    pdf = client_b.get(data["download_url"])
    assert pdf.status_code == 200 and pdf.is_streamed
    assert int(pdf.headers["Content-Length"]) == len(pdf.data)
    assert pdf.data.startswith(b"%PDF") and pdf.data.rstrip().endswith(b"%%EOF")
    assert sorted(badges_in(pdf.data, b)) == sorted(ids)
    printed, most, audits = printed_state(a)
    assert printed == ids and most == 1 and audits == 9
    # Nothing of it lives in either instance folder.
    for name in ("a", "b", "worker"):
        folder = Path(a.config["INSTANCE_DIR"]).parent / name
        assert not list(folder.glob("**/*.pdf*")) and not (folder / "jobs").exists()


# --- workers killed half-way --------------------------------------------------------------


def test_worker_killed_mid_batch_the_job_completes_on_another_worker_exactly_once(
        celery_app, csrf_from, database_url, broker, tmp_path, approved_delegates):
    app = celery_app("a", JOB_STALE_SECONDS=2)
    ids = approved_delegates(app, 20)
    client = app.test_client()
    sign_in(app, client)
    first = worker_process(database_url, broker, tmp_path, SLOW_BADGE_SECONDS=0.1)
    try:
        job_url = start_print(client, csrf_from)
        half = poll(client, job_url, lambda d: d["state"] == "running" and d["done"] >= 4)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert half["done"] < 20
        assert printed_state(app)[0] == set()  # nothing marked by the killed run
        with in_process_worker(app), beat(app):  # a second worker takes over
            data = poll(client, job_url, lambda d: d["finished"], timeout=120)
    finally:
        stop(first)
    printed, most, audits = printed_state(app)
    if data["state"] == "failed":  # given up: with a message, and nothing marked printed
        assert data["message"] and printed == set() and audits == 0
        return
    assert data["state"] == "done" and data["attempts"] == 2, data
    pdf = client.get(data["download_url"])
    in_pdf = badges_in(pdf.data, app)
    assert sorted(in_pdf) == sorted(ids)  # every badge once in the delivered PDF
    assert printed == ids and most == 1 and audits == 20  # and marked printed once


def test_worker_killed_mid_import_imports_all_or_nothing_once(
        celery_app, database_url, broker, tmp_path, csrf_from):
    app = celery_app("a", JOB_STALE_SECONDS=2)
    client = app.test_client()
    sign_in(app, client)
    rows = 400  # above the size imported in the request
    body = ("category,honorific,given_name,family_name,organisation,position,country,email,"
            "phone\n") + "".join(f"ngo,Dr.,Given{n},Family,NGO {n},Officer,FR,"
                                 f"import{n}@example.org,+33 6 12 34 56 78\n"
                                 for n in range(rows))
    first = worker_process(database_url, broker, tmp_path, SLOW_AUDIT_SECONDS=0.01)

    def delegates() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(Delegate)) or 0

    try:
        token = csrf_from(client.get("/staff/import").get_data(as_text=True))
        response = client.post("/staff/import", data={
            "csrf_token": token, "file": (io.BytesIO(body.encode()), "big.csv")},
            content_type="multipart/form-data")
        assert response.status_code == 303
        job_url = response.headers["Location"]
        poll(client, job_url, lambda d: d["state"] == "running")
        time.sleep(1.5)  # half-way through writing the rows (about 4 s in all)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert delegates() == 0  # the killed run's transaction is gone
        with in_process_worker(app), beat(app):  # a second worker takes over
            data = poll(client, job_url, lambda d: d["finished"], timeout=120)
    finally:
        stop(first)
    if data["state"] == "failed":
        assert data["message"] and delegates() == 0
        return
    assert data["state"] == "done" and data["attempts"] == 2, data  # taken over
    assert data["result"]["imported"] == rows
    assert delegates() == rows
    with app.app_context():
        assert db.session.scalar(select(func.count(func.distinct(Delegate.email_key)))) == rows
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "imported")) == rows
    page = client.get(job_url).get_data(as_text=True)
    assert f"{rows} delegates imported" in page


# --- mail through the worker --------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_smtp_down_then_up_through_celery_nothing_lost_nothing_sent_twice(
        celery_app, csrf_from, form_data):
    port = free_port()  # nothing listens yet: connection refused
    app = celery_app("a", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_BACKGROUND=True,
                     MAIL_RETRY_BASE_SECONDS=1)
    client = app.test_client()

    def register(email: str) -> None:
        token = csrf_from(client.get("/register").get_data(as_text=True))
        response = client.post("/register", data=form_data(token, email=email))
        assert response.status_code == 303

    def rows() -> list[tuple[str, str, int]]:
        with app.app_context():
            return [tuple(r) for r in db.session.execute(select(
                OutboxMessage.recipient, OutboxMessage.status, OutboxMessage.attempts)
                .order_by(OutboxMessage.id))]

    def wait(until: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, rows()
            time.sleep(0.1)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    with in_process_worker(app):
        register("first@example.org")  # the request sends deliver_mail; SMTP is down
        wait(lambda: rows() == [("first@example.org", "pending", 1)])
        controller.start()
        try:
            register("second@example.org")
            time.sleep(1.2)  # the first message's retry is due now
            # What the beat does, several times at once: each message still goes once.
            senders = [threading.Thread(target=lambda: tasks.celery_for(app).send_task(
                definitions.DELIVER_MAIL)) for _ in range(4)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join()
            wait(lambda: all(status == "sent" for _, status, _ in rows()))
            time.sleep(0.5)  # late duplicates, if any, would arrive now
        finally:
            controller.stop()
    assert sorted(to[0] for to, _ in inbox.received) == ["first@example.org",
                                                         "second@example.org"]
    assert rows() == [("first@example.org", "sent", 2), ("second@example.org", "sent", 1)]


def test_mail_does_not_wait_behind_a_batch_print(celery_app, csrf_from, form_data,
                                                approved_delegates):
    """Batch prints and imports go to a queue of their own: a worker on the mail queue
    delivers a confirmation while a print waits for a jobs worker, so a long batch on one
    worker never holds up mail (deploy/ runs one worker per queue)."""
    app = celery_app("a", MAIL_BACKGROUND=True)
    approved_delegates(app, 3)
    desk, visitor = app.test_client(), app.test_client()
    sign_in(app, desk)

    def mail_states() -> list[str]:
        with app.app_context():
            return list(db.session.scalars(select(OutboxMessage.status)))

    with in_process_worker(app, queues=[definitions.MAIL_QUEUE]):
        job_url = start_print(desk, csrf_from)
        token = csrf_from(visitor.get("/register").get_data(as_text=True))
        response = visitor.post("/register", data=form_data(token, email="quick@example.org"))
        assert response.status_code == 303
        deadline = time.monotonic() + 30
        while mail_states() != ["sent"]:
            assert time.monotonic() < deadline, mail_states()
            time.sleep(0.1)
        assert desk.get(job_url + ".json").get_json()["state"] == "queued"  # not taken
    with in_process_worker(app, queues=[definitions.JOBS_QUEUE]):
        data = poll(desk, job_url, lambda d: d["finished"])
    assert data["state"] == "done" and data["result"]["count"] == 3, data


def test_a_job_whose_worker_vanished_is_taken_over_by_the_sweep(celery_app,
                                                               approved_delegates):
    """The reaper task (sent by the beat) requeues a job whose heartbeat stopped; a worker
    then runs it: job state lives in the database, not in the worker that died."""
    app = celery_app("a", JOB_STALE_SECONDS=1)
    approved_delegates(app, 3)
    with app.app_context():
        from registration.services import job_work, jobs
        from registration.services.delegate_search import DelegateFilter

        job = jobs.create(jobs.JobKind.PRINT, None, total=3, params=job_work.print_params(
            DelegateFilter(), "a6", "category", True))
        # A worker claimed it and died: running, attempt 1, heartbeat long ago.
        db.session.execute(update(Job).where(Job.id == job.id).values(
            state="running", attempts=1, heartbeat_at=job.created_at.replace(year=2000)))
        db.session.commit()
        job_id = job.id
    with in_process_worker(app):
        tasks.celery_for(app).send_task(definitions.SWEEP_JOBS)
        deadline = time.monotonic() + 30
        while True:
            with app.app_context():
                state = db.session.get(Job, job_id)
                if state.finished:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert (state.state, state.attempts, state.result["count"]) == ("done", 2, 3)


def test_with_redis_down_a_request_that_queues_mail_answers_at_once(make_app, tmp_path,
                                                                     form_data, csrf_from):
    """Broker and result store unreachable: the registration is stored and answered within
    seconds (the mail is left to the periodic sweep), not after the result store's 20
    reconnection attempts."""
    down = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once
    app = make_app(REDIS_URL=down, CELERY_BROKER_URL=down, RATELIMIT_ENABLED=False,
                   MAIL_BACKGROUND=True, INSTANCE_DIR=str(tmp_path / "down"))
    client = app.test_client()
    token = csrf_from(client.get("/register").get_data(as_text=True))
    started = time.monotonic()
    response = client.post("/register", data=form_data(token))
    took = time.monotonic() - started
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert took < 8, f"the registration took {took:.1f} s with Redis down"
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1  # kept for later


def test_a_burst_of_requests_sends_the_task_once_at_once_and_once_trailing(make_app,
                                                                          monkeypatch):
    """dispatch_soon: the first request of a quiet window sends at once, in its own thread;
    the rest of the burst gives one more send when the window ends, made by one long-lived
    thread (not a new thread per send)."""
    import importlib

    dispatching = importlib.import_module("registration.tasks.dispatch")  # the module
    app = make_app()
    sent: list[tuple[str, float, threading.Thread]] = []
    monkeypatch.setattr(dispatching, "dispatch", lambda name, *args, app=None: sent.append(
        (name, time.monotonic(), threading.current_thread())))

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 10
        while len(sent) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    window = 1.0
    started = time.monotonic()
    for _ in range(40):
        dispatching.dispatch_soon("deliver", app, window)
    assert [(name, thread) for name, _, thread in sent] == [
        ("deliver", threading.current_thread())]
    wait_for(2)
    assert len(sent) == 2 and sent[1][1] - started >= window
    trailing = sent[1][2]
    assert trailing is not threading.current_thread()
    for count in (3, 4):  # two more bursts, each just after the last send: inside its window
        for _ in range(20):
            dispatching.dispatch_soon("deliver", app, window)
        wait_for(count)
    assert len(sent) == 4
    assert all(thread is trailing for _, _, thread in sent[1:])  # one thread sends them all
    assert all(b[1] - a[1] >= window * 0.9 for a, b in itertools.pairwise(sent))
