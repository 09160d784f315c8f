"""Operations: reads repeated when the database connection was lost (writes never), and
/metrics adding up several gunicorn workers (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from registration.data_crypto import new_key
from registration.extensions import db
from registration.models import Delegate
from registration.services import devices

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def connection_lost(app, matches: str, times: int) -> Iterator[list[str]]:
    """The next `times` statements containing `matches` fail as a dropped connection does
    (the driver's OperationalError); yields the statements that were attempted."""
    attempted: list[str] = []
    with app.app_context():
        engine = db.engine
    dbapi = engine.dialect.dbapi

    def fail(cursor, statement, parameters, context):
        if matches in statement:
            attempted.append(statement)
            if len(attempted) <= times:
                raise dbapi.OperationalError("server closed the connection unexpectedly")
        return None  # not handled here: the driver runs it

    event.listen(engine, "do_execute", fail)
    try:
        yield attempted
    finally:
        event.remove(engine, "do_execute", fail)


def test_a_read_that_lost_its_connection_is_run_again(app, client):
    with app.app_context():
        token = devices.issue("Door 1")[1]
    headers = {"Authorization": f"Bearer {token}"}
    with connection_lost(app, "FROM checkpoint", times=1) as attempted:
        response = client.get("/api/v1/checkin-snapshot", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [c["id"] for c in response.get_json()["checkpoints"]] == ["main"]
    assert len(attempted) == 2  # the failed try and the repeat


def test_a_read_is_repeated_a_bounded_number_of_times_then_503(make_app):
    app = make_app(DB_RETRY_ATTEMPTS=2)
    with app.app_context():
        token = devices.issue("Door 1")[1]
    client = app.test_client()
    with connection_lost(app, "FROM checkpoint", times=100) as attempted:
        started = time.monotonic()
        response = client.get("/api/v1/checkin-snapshot",
                              headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json()["error"] == "database_unavailable"
    assert len(attempted) == 3  # once and twice again, no more
    assert time.monotonic() - started < 5


def test_a_write_is_never_repeated(app, client, csrf_from, form_data):
    token = csrf_from(client.get("/register").get_data(as_text=True))
    with connection_lost(app, "INSERT INTO delegate", times=1) as attempted:
        response = client.post("/register", data=form_data(token))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert len(attempted) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delegate)) == 0
    again = client.post("/register", data=form_data(token))  # the visitor tries again
    assert again.status_code == 303


# ------------------------------------------------------------------ metrics, 2 workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, headers={"Connection": "close", **(  # noqa: S310
        {"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, response.read().decode()


@pytest.mark.usefixtures("_migrated")
def test_metrics_add_up_the_requests_of_every_gunicorn_worker(base_config, tmp_path):
    """A real gunicorn (gunicorn.conf.py) with two workers and PROMETHEUS_MULTIPROC_DIR:
    the latency histogram /metrics reports counts the requests both workers answered."""
    metrics_dir = tmp_path / "metrics"
    port = _free_port()
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "t" * 40,
           "DATA_ENCRYPTION_KEY": new_key(),
           "DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"],
           "INSTANCE_PATH": str(tmp_path / "instance"), "PUBLIC_BASE_URL": "http://127.0.0.1",
           "SESSION_COOKIE_SECURE": "false", "METRICS_TOKEN": "metrics-token",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "WEB_CONCURRENCY": "2",
           "GUNICORN_THREADS": "1", "PORT": str(port), "REDIS_URL": "",
           "CELERY_BROKER_URL": ""}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen([str(gunicorn), "wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:  # both workers booted: each answers its first request
            with contextlib.suppress(OSError):
                if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                    break
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        def healthz_count() -> float:
            status, text = _get(f"http://127.0.0.1:{port}/metrics", "metrics-token")
            assert status == 200
            count = re.search(r'forum_http_request_duration_seconds_count\{'
                              r'endpoint="ops.healthz",method="GET"\} ([0-9.e+]+)', text)
            assert count is not None, text[:2000]
            return float(count.group(1))

        # Counted from here: a start-up probe that timed out on a loaded machine may still
        # have been answered (and counted) by the server.
        before = healthz_count()
        sent: list[int] = []

        def burst() -> None:
            for _ in range(15):
                assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
                sent.append(1)

        for _ in range(20):  # until both workers have answered some (usually at once)
            threads = [threading.Thread(target=burst) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            pids = {m.group(1) for m in (re.search(r"_(\d+)\.db$", p.name)
                                         for p in metrics_dir.glob("histogram_*.db")) if m}
            if len(pids) >= 2:
                break
        assert len(pids) == 2, f"one worker answered everything: {pids}"
        assert healthz_count() == before + len(sent)  # every request, whichever worker
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_an_error_page_drawn_during_an_outage_is_the_503_not_a_500(app, client, login):
    """A signed-in form with a stale CSRF token while the database is down: the error page
    asks who is signed in, which fails too; the answer is the outage's 503."""
    login("desk")
    with connection_lost(app, "FROM staff_user", times=100) as attempted:
        response = client.post("/staff/logout", data={"csrf_token": "stale"})
    assert attempted, "the page did ask the database"
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "Back in a moment" in response.get_data(as_text=True)
    # With the database back, the same mistake is the form's own 400.
    response = client.post("/staff/logout", data={"csrf_token": "stale"})
    assert response.status_code == 400 and "This form has expired" in response.get_data(
        as_text=True)


@pytest.mark.parametrize("hook", ["gunicorn post_worker_init", "celery worker_process_init"])
def test_a_started_server_process_freezes_its_start_up_heap(app, hook):
    """gunicorn's worker and Celery's pool process, once started, take their start-up objects
    out of the garbage collector's full collections (registration/heap.py)."""
    import gc
    import importlib
    import runpy

    dispatch = importlib.import_module("registration.tasks.dispatch")

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        if hook.startswith("gunicorn"):
            runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"](None)
        else:
            dispatch._fresh_connections()
        # everything alive at start-up: the app, its modules, SQLAlchemy's mappers …
        assert gc.get_freeze_count() > 10_000
        assert gc.get_freeze_count() >= len(gc.get_objects()) // 2
    finally:
        gc.unfreeze()


def test_a_gunicorn_worker_hands_the_gil_over_within_half_a_millisecond(monkeypatch):
    """gunicorn.conf.py shortens the GIL switch interval in each worker (GIL_SWITCH_INTERVAL_MS
    overrides the default)."""
    import runpy
    import sys

    before = sys.getswitchinterval()
    monkeypatch.setattr("registration.heap.freeze_startup_heap", lambda: None)
    try:
        runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"](None)
        assert sys.getswitchinterval() == pytest.approx(0.0005)
        monkeypatch.setenv("GIL_SWITCH_INTERVAL_MS", "2")
        runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"](None)
        assert sys.getswitchinterval() == pytest.approx(0.002)
    finally:
        sys.setswitchinterval(before)
