"""Jobs in the database (embedded task pool, no broker): outputs stored and served in
chunks, the sweep ending a job whose worker stopped, "start again"; and what operations
need: /healthz, /readyz, /metrics, 503 while the database is away."""

from __future__ import annotations

import io
import threading
import tracemalloc
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from registration import tasks
from registration.extensions import db
from registration.models import Job, JobOutputChunk, Status
from registration.models.types import utcnow
from registration.services import job_storage, job_work, jobs
from registration.services.delegate_search import DelegateFilter


@pytest.fixture
def csrf(client, login, csrf_from):
    """A signed-in desk member's CSRF token."""
    login("desk")
    return csrf_from(client.get("/staff/print").get_data(as_text=True))


def print_job(total: int = 3) -> str:
    return jobs.create(jobs.JobKind.PRINT, None, total=total, params=job_work.print_params(
        DelegateFilter(), "a6", "category", True)).id


def test_output_is_stored_and_read_back_in_chunks(app_ctx, monkeypatch):
    job_id = print_job()
    store = job_storage.storage()
    writer = job_storage.ChunkWriter(db.engine, job_id, 1, chunk_bytes=1000)
    data = bytes(range(256)) * 17  # 4352 bytes: four full chunks and a short one
    for start in range(0, len(data), 300):
        writer.write(data[start:start + 300])
    writer.close()
    assert (writer.chunks, writer.size) == (5, len(data))
    assert db.session.scalar(select(func.max(func.length(JobOutputChunk.data)))) == 1000
    pieces = list(store.read(job_id, 1))
    assert [len(p) for p in pieces] == [1000, 1000, 1000, 1000, 352]
    assert b"".join(pieces) == data
    assert store.delete(job_id, keep=1) == 0 and store.delete(job_id) == 5


def test_a_big_output_never_sits_whole_in_memory(app_ctx):
    """16 MB written and read back through the store: memory stays at a few chunks."""
    job_id = print_job()
    block = b"x" * 65536
    tracemalloc.start()
    writer = job_storage.storage().writer(job_id, 1)
    for _ in range(256):
        writer.write(block)
    writer.close()
    total = sum(len(chunk) for chunk in job_storage.storage().read(job_id, 1))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == 16 * 1024 * 1024
    assert peak < 5 * 1024 * 1024, peak


def test_print_job_output_is_streamed_from_the_database(app, client, csrf, make_delegate,
                                                        wait_for_job, monkeypatch):
    monkeypatch.setattr(job_storage, "CHUNK_BYTES", 4096)  # several chunks for a small PDF
    for _ in range(3):
        make_delegate(status=Status.APPROVED)
    response = client.post("/staff/print", data={"csrf_token": csrf, "layout": "a6",
                                                 "unprinted": "1"})
    data = wait_for_job(client, response.headers["Location"])
    assert data["state"] == "done" and data["result"]["count"] == 3
    pdf = client.get(data["download_url"])
    assert pdf.is_streamed and pdf.data.startswith(b"%PDF")
    assert int(pdf.headers["Content-Length"]) == len(pdf.data)
    with app.app_context():
        chunks = db.session.scalar(select(func.count()).select_from(JobOutputChunk))
    assert chunks == -(-len(pdf.data) // 4096) > 1


def test_a_claimed_job_is_not_run_twice(app_ctx):
    job_id = print_job()
    run = jobs.claim(job_id)
    try:
        assert run is not None and run.attempt == 1
        assert jobs.claim(job_id) is None  # running, heartbeat fresh: a duplicate task
    finally:
        run.stop()


def test_a_job_whose_worker_stopped_ends_failed_and_can_be_started_again(
        app, client, csrf, make_delegate):
    make_delegate(status=Status.APPROVED)
    with app.app_context():
        job_id = print_job(total=1)
        # Its worker took it twice and died: running, heartbeat two minutes old.
        db.session.execute(update(Job).where(Job.id == job_id).values(
            state="running", attempts=2, heartbeat_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
        assert jobs.reap() == []
        job = db.session.get(Job, job_id)
        assert job.state == "failed" and "stopped" in job.message
    data = client.get(f"/staff/jobs/{job_id}.json").get_json()
    assert data["stalled"] and data["restart_url"].endswith("/restart")
    page = client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    assert "stopped responding" in page and "Start again" in page
    response = client.post(f"/staff/jobs/{job_id}/restart", data={"csrf_token": csrf})
    assert response.status_code == 303
    new_url = response.headers["Location"]
    assert job_id not in new_url
    assert tasks.local_executor(app).wait_idle(30)
    data = client.get(new_url + ".json").get_json()
    assert data["state"] == "done" and data["result"]["count"] == 1
    # Only a failed job is started again.
    again = client.post(new_url + "/restart", data={"csrf_token": csrf})
    assert again.status_code == 409


def test_a_stalled_job_with_attempts_left_is_requeued(app_ctx):
    job_id = print_job()
    db.session.execute(update(Job).where(Job.id == job_id).values(
        state="running", attempts=1, heartbeat_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    assert jobs.reap() == [job_id]
    db.session.expire_all()
    assert db.session.get(Job, job_id).state == "queued"
    run = jobs.claim(job_id)
    assert run is not None and run.attempt == 2
    run.stop()


def test_a_run_that_was_taken_over_cannot_finish_the_job(app_ctx):
    job_id = print_job()
    run = jobs.claim(job_id)
    run.stop()
    db.session.execute(update(Job).where(Job.id == job_id).values(
        heartbeat_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    second = jobs.claim(job_id)  # another worker took it over
    second.stop()
    with pytest.raises(jobs.JobLost):
        run.finish({"count": 1})
    db.session.rollback()
    second.finish({"count": 1})
    db.session.commit()
    assert db.session.get(Job, job_id).state == "done"


def test_prune_drops_old_jobs_and_their_chunks(app_ctx):
    old, fresh = print_job(), print_job()
    for job_id in (old, fresh):
        writer = job_storage.storage().writer(job_id, 1)
        writer.write(b"%PDF-1.4 ...")
        writer.close()
    db.session.execute(update(Job).where(Job.id == old).values(
        state="done", output_attempt=1, finished_at=utcnow() - timedelta(days=3)))
    db.session.commit()
    assert jobs.prune() == 1
    assert db.session.get(Job, old) is None and db.session.get(Job, fresh) is not None
    assert set(db.session.scalars(select(JobOutputChunk.job_id))) == {fresh}


def test_the_embedded_pool_runs_tasks_outside_the_request(app):
    started, release = threading.Event(), threading.Event()
    executor = tasks.local_executor(app)
    with app.app_context():
        celery = tasks.celery_for(app)

        @celery.task(name="test.block")
        def block() -> None:
            started.set()
            release.wait(5)

        tasks.dispatch("test.block")
    assert started.wait(5)
    assert not executor.wait_idle(0.1)
    release.set()
    assert executor.wait_idle(5)


def test_a_periodic_task_is_not_queued_again_while_it_runs(app):
    """The embedded beat does not pile up a sweep behind itself (a silent printer can make
    follow-print-jobs slow); on Celery the beat's runs expire after their period."""
    from registration.tasks.dispatch import make_celery

    started, release = threading.Event(), threading.Event()
    runs: list[int] = []
    executor = tasks.local_executor(app)
    with app.app_context():
        celery = tasks.celery_for(app)

        @celery.task(name="test.slow_sweep")
        def slow_sweep() -> None:
            runs.append(1)
            started.set()
            release.wait(5)

    executor.submit("test.slow_sweep", periodic=True)
    assert started.wait(5)
    executor.submit("test.slow_sweep", periodic=True)  # still running: not queued
    release.set()
    assert executor.wait_idle(5) and runs == [1]
    started.clear()
    executor.submit("test.slow_sweep", periodic=True)  # finished: due again
    assert started.wait(5) and executor.wait_idle(5) and runs == [1, 1]
    beat = make_celery(app).conf.beat_schedule["follow-print-jobs"]
    assert beat["options"]["expires"] == beat["schedule"].total_seconds() == 5


# --- health, readiness, metrics, database outages -----------------------------------------


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_names_what_is_down(app, make_app):  # `app` first: its tables get emptied
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:9/none",
                   SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 1}},
                   CELERY_BROKER_URL="redis://127.0.0.1:9/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("down")
    assert body["checks"]["broker"].startswith("down")
    assert app.test_client().get("/healthz").status_code == 200


def test_database_outage_is_a_503_with_retry_after(app, make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:9/none",
                   SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 1}})
    client = app.test_client()
    api = client.get("/api/v1/checkin-snapshot", headers={"Authorization": "Bearer nope"})
    assert api.status_code == 503 and api.headers["Retry-After"] == "5"
    assert api.get_json()["error"] == "database_unavailable"
    with client.session_transaction() as session:  # a signed-in desk: its account is read
        session["_user_id"] = "1:0"
    page = client.get("/staff/delegates")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "Back in a moment" in page.get_data(as_text=True)


def test_metrics_need_the_token(make_app, client, make_delegate):
    assert client.get("/metrics").status_code == 404  # no METRICS_TOKEN: not there
    app = make_app(METRICS_TOKEN="s3cret-token")
    metrics = app.test_client()
    make_delegate(status=Status.APPROVED)
    make_delegate(status=Status.SUBMITTED)
    assert metrics.get("/metrics").status_code == 401
    assert metrics.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    metrics.get("/healthz")
    response = metrics.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'forum_delegates{status="approved"} 1.0' in text
    assert 'forum_delegates{status="submitted"} 1.0' in text
    assert "forum_outbox_messages" in text and "forum_checkin_scans" in text
    assert 'forum_http_request_duration_seconds_count{endpoint="ops.healthz",method="GET"}' \
        in text


def test_job_durations_are_in_the_metrics(app, make_app):
    with app.app_context():
        job_id = print_job()
        now = utcnow()
        db.session.execute(update(Job).where(Job.id == job_id).values(
            state="done", started_at=now - timedelta(seconds=12), finished_at=now))
        db.session.commit()
    metrics = make_app(METRICS_TOKEN="t").test_client()
    text = metrics.get("/metrics", headers={"Authorization": "Bearer t"}).get_data(
        as_text=True)
    assert 'forum_job_duration_seconds_bucket{kind="print",le="5.0"} 0.0' in text
    assert 'forum_job_duration_seconds_bucket{kind="print",le="15.0"} 1.0' in text
    assert 'forum_jobs{kind="print",state="done"} 1.0' in text


def test_an_upload_is_kept_with_its_job(app_ctx):
    data = b"category,given_name\n" * 100000  # 2 MB: three chunks
    job = jobs.create(jobs.JobKind.IMPORT, None, total=1, params={"filename": "x.csv"},
                      input_data=data)
    assert job_storage.storage().read_all(job.id, job_storage.INPUT) == data
    job.state = "failed"
    db.session.commit()
    again, started = jobs.restart(job, None)
    assert started
    assert io.BytesIO(job_storage.storage().read_all(again.id, 0)).getvalue() == data


def test_a_failed_job_is_started_again_once_however_many_clicks(app, client, csrf):
    """Two clicks on "Start again" (a double click, or two desks on two servers: the claim
    is in the database): one new job; the second click lands on it, and the failed job's
    page links to it instead of the button."""
    with app.app_context():
        failed = print_job()
        db.session.execute(update(Job).where(Job.id == failed).values(
            state="failed", message="The worker stopped."))
        db.session.commit()
    first = client.post(f"/staff/jobs/{failed}/restart", data={"csrf_token": csrf})
    second = client.post(f"/staff/jobs/{failed}/restart", data={"csrf_token": csrf})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Job.id))) == 2  # the failed one + one new
        new_id = db.session.get(Job, failed).restarted_as
    assert first.headers["Location"].endswith(f"/staff/jobs/{new_id}")
    status = client.get(f"/staff/jobs/{failed}.json").get_json()
    assert "restart_url" not in status and status["restarted_url"].endswith(new_id)
    page = client.get(f"/staff/jobs/{failed}").get_data(as_text=True)
    assert "Started again: follow the new job" in page and ">Start again<" not in page
    assert page.count("The worker stopped.") == 1  # the reason once, not twice


def test_config_cli_hides_the_broker_password_and_the_metrics_token(make_app):
    app = make_app(REDIS_URL="redis://:hunter2@redis.internal:6379/0", METRICS_TOKEN="tok3n")
    output = app.test_cli_runner().invoke(args=["config"]).output
    assert "REDIS_URL = redis://:***@redis.internal:6379/0" in output
    assert "hunter2" not in output and "tok3n" not in output
    assert "METRICS_TOKEN = (set)" in output


def test_embedded_jobs_do_not_wait_behind_mail(app, monkeypatch):
    """No broker: a batch print starts at once even while mail delivery fills the pool (a
    1,200-row import's confirmations kept a print 'queued' for minutes)."""
    from registration.tasks import definitions

    executor = tasks.local_executor(app)
    celery = tasks.celery_for(app)
    release, printed = threading.Event(), threading.Event()
    monkeypatch.setattr(celery.tasks[definitions.DELIVER_MAIL], "run",
                        lambda *args: release.wait(20))
    monkeypatch.setattr(celery.tasks[definitions.PRINT_BADGES], "run",
                        lambda *args: printed.set())
    try:
        for _ in range(3):
            executor.submit(definitions.DELIVER_MAIL)
        executor.submit(definitions.PRINT_BADGES, ("job-id",))
        assert printed.wait(10), "the print waited behind the mail"
    finally:
        release.set()
    assert executor.wait_idle(30)


def test_a_job_nothing_looks_after_says_to_check_the_workers(app, client, csrf):
    """With every worker and the beat stopped nothing ends a job, and with no worker on the
    jobs queue nothing takes it (the sweep keeps resending it): the web server says so, by
    the job's own times, once longer than a heartbeat and two sweeps allow."""
    with app.app_context():
        forgotten, fresh, never_taken = print_job(), print_job(), print_job()
        db.session.execute(update(Job).where(Job.id == forgotten).values(
            state="running", attempts=1,
            heartbeat_at=utcnow() - timedelta(seconds=71)))  # 40 + 2 x 15
        db.session.execute(update(Job).where(Job.id == fresh).values(
            state="running", attempts=1, heartbeat_at=utcnow() - timedelta(seconds=65),
            message="Drawing badge 3 of 9"))
        # Queued ten minutes ago; the sweep resent it a moment ago (its heartbeat is new).
        db.session.execute(update(Job).where(Job.id == never_taken).values(
            created_at=utcnow() - timedelta(minutes=10),
            queued_at=utcnow() - timedelta(minutes=10), heartbeat_at=utcnow()))
        db.session.commit()
    data = client.get(f"/staff/jobs/{forgotten}.json").get_json()
    assert data["unattended"] and "the server's background pool" in data["message"]
    assert "background pool may have stopped" in client.get(
        f"/staff/jobs/{forgotten}").get_data(as_text=True)
    data = client.get(f"/staff/jobs/{fresh}.json").get_json()
    assert not data["unattended"] and data["message"] == "Drawing badge 3 of 9"
    assert client.get(f"/staff/jobs/{never_taken}.json").get_json()["unattended"]
    zh = client.get(f"/staff/jobs/{forgotten}.json", headers={"Accept-Language": "zh"})
    assert "后台" in zh.get_json()["message"]
    with app.app_context():  # with a broker: the jobs queue's worker is named
        message = jobs.status_message(db.session.get(Job, never_taken), embedded=False)
        assert "-Q jobs" in message and "beat" in message
        # Waiting behind a batch that is running (its heartbeat fresh) is not unattended.
        db.session.execute(update(Job).where(Job.id == fresh).values(heartbeat_at=utcnow()))
        db.session.commit()
    assert not client.get(f"/staff/jobs/{never_taken}.json").get_json()["unattended"]


def test_a_job_taken_back_from_a_stopped_worker_and_never_taken_again_says_so(app, client,
                                                                             csrf):
    """The sweep takes a job back from a worker that stopped ("another one takes it over")
    and keeps resending it; with no worker on the jobs queue nobody does: once longer than a
    heartbeat and two sweeps allow since it was taken back, the page says what to check."""
    with app.app_context():
        job_id = print_job()  # queued an hour ago, taken, then its worker stopped
        db.session.execute(update(Job).where(Job.id == job_id).values(
            state="running", attempts=1, created_at=utcnow() - timedelta(hours=1),
            queued_at=utcnow() - timedelta(hours=1),
            heartbeat_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        assert jobs.reap() == [job_id]  # taken back: queued again, sent again
        job = db.session.get(Job, job_id)
        db.session.refresh(job)
        assert job.state == "queued" and "takes it over" in job.message
        assert utcnow() - job.queued_at < timedelta(seconds=30)  # back in the queue now
    # Just taken back: waiting for a worker from now, not for an hour.
    assert not client.get(f"/staff/jobs/{job_id}.json").get_json()["unattended"]
    with app.app_context():
        # Ten minutes on: the sweep resent it a moment ago, no worker has taken it.
        db.session.execute(update(Job).where(Job.id == job_id).values(
            queued_at=utcnow() - timedelta(minutes=10), heartbeat_at=utcnow()))
        db.session.commit()
    data = client.get(f"/staff/jobs/{job_id}.json").get_json()
    assert data["unattended"] and "takes it over" not in data["message"]
