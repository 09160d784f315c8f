"""The app's Celery object, sending tasks (to the broker or to the embedded pool), and the
periodic schedule."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask, Response, g
from kombu import Queue

from ..extensions import db, real_app
from ..heap import freeze_startup_heap
from . import definitions
from .local import LocalExecutor

log = logging.getLogger(__name__)
# Requests that queue mail send one deliver_mail per this many seconds (per process).
MAIL_COALESCE_SECONDS = 0.25


def broker_url(app: Flask) -> str:
    """CELERY_BROKER_URL, else REDIS_URL, else "" (embedded: the local pool)."""
    return str(app.config.get("CELERY_BROKER_URL") or app.config.get("REDIS_URL") or "")


def schedule(app: Flask) -> dict[str, tuple[str, float]]:
    """Periodic tasks: name → (task, seconds)."""
    return {
        "deliver-mail": (definitions.DELIVER_MAIL, float(app.config.get("MAIL_POLL_SECONDS")
                                                          or 60)),
        "sweep-jobs": (definitions.SWEEP_JOBS, float(app.config.get("JOB_SWEEP_SECONDS")
                                                      or 15)),
        "follow-print-jobs": (definitions.FOLLOW_PRINT_JOBS,
                              float(app.config.get("PRINT_FOLLOW_SECONDS") or 5)),
        "prune-jobs": (definitions.PRUNE_JOBS, 3600.0),
        "retention-purge": (definitions.PURGE_EXPIRED, 6 * 3600.0),
        "identity-purge": (definitions.PURGE_IDENTITY, 6 * 3600.0),
    }


def make_celery(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask, set_as_current=False)
    broker = broker_url(app)
    redis = str(app.config.get("REDIS_URL") or "")
    celery.conf.update(
        broker_url=broker or "memory://",
        result_backend=redis or None,
        task_ignore_result=True,
        task_acks_late=True,  # a worker killed mid-task leaves the message to be redelivered
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # A request sending a task while the broker is down fails fast (the sweep resends).
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1,
                                   "interval_step": 0.2, "interval_max": 0.5},
        broker_transport_options={"socket_timeout": 5, "socket_connect_timeout": 2},
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=False,
        task_default_queue=definitions.MAIL_QUEUE,
        task_queues=(Queue(definitions.MAIL_QUEUE), Queue(definitions.JOBS_QUEUE)),
        task_routes={name: {"queue": definitions.JOBS_QUEUE}
                     for name in definitions.JOB_TASKS.values()},
        # A periodic run not started within its period is dropped: the next one is due
        # (a sweep slowed by a silent printer must not pile up in the broker).
        beat_schedule={name: {"task": task, "schedule": timedelta(seconds=every),
                              "options": {"expires": every}}
                       for name, (task, every) in schedule(app).items()},
        **dict(app.config.get("CELERY_CONFIG") or {}),
    )
    definitions.register(celery)
    return celery


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """A forked pool process must not share the parent's database connections; and, ready
    to work, it keeps its start-up objects out of the garbage collector's full collections
    (registration/heap.py)."""
    for app in list(_APPS):
        with app.app_context():
            db.engine.dispose(close=False)
    freeze_startup_heap()


_APPS: list[Flask] = []


def celery_for(app: Flask | None = None) -> Celery:
    return (app or real_app()).extensions["celery"]


def local_executor(app: Flask | None = None) -> LocalExecutor:
    return (app or real_app()).extensions["task_executor"]


def dispatch(name: str, *args: Any, app: Flask | None = None) -> None:
    """Run task `name` in the background: on a Celery worker when a broker is configured,
    else on this process's pool. Never raises: work a broker outage kept from being sent is
    picked up by the periodic sweeps."""
    app = app or real_app()
    if not broker_url(app):
        local_executor(app).submit(name, args)
        return
    try:
        # ignore_result: send_task does not read task_ignore_result, and without it the
        # Redis result store subscribes for the answer, retrying a Redis that is down 20
        # times a second apart: each request that queued mail then hung for 20 s.
        celery_for(app).send_task(name, args=args, ignore_result=True)
    except Exception:
        log.warning("could not send task %s: left to the periodic sweep", name, exc_info=True)


class _Coalesce:
    """At most one send of task `name` per `window` seconds and process, the last one
    trailing: the first request after a quiet window sends at once; one in the window
    leaves the send to a long-lived thread, which makes it when the window ends.

    That thread used to be a new `threading.Timer` each time, and each new thread built its
    own Celery result store (Celery keeps one per thread; building it reads package
    metadata): ~1 % of a gunicorn worker's CPU under bench/register.py (py-spy)."""

    def __init__(self, name: str, app: Flask, window: float) -> None:
        self.name, self.app, self.window = name, app, window
        self._start_afresh()

    def _start_afresh(self) -> None:
        """State of this process's own: a forked web worker inherits the parent's object but
        not its thread (nor, safely, its lock)."""
        self.pid = os.getpid()
        self.lock = threading.Condition()
        self.last = -self.window
        self.pending = False  # a trailing send is on its way
        self.thread: threading.Thread | None = None

    def request(self) -> None:
        if self.pid != os.getpid():
            self._start_afresh()
        with self.lock:
            if self.pending:
                return
            if self.last + self.window > time.monotonic() and self._sender_running():
                self.pending = True
                self.lock.notify()
                return
            self.last = time.monotonic()
        dispatch(self.name, app=self.app)

    def _sender_running(self) -> bool:
        """The trailing sender's thread, started if need be; False if none can be had (the
        interpreter shutting down): the request then sends at once."""
        if self.thread is not None and self.thread.is_alive():
            return True
        thread = threading.Thread(target=self._send_trailing, daemon=True,
                                  name=f"dispatch {self.name}")
        try:
            thread.start()
        except RuntimeError:
            return False
        self.thread = thread
        return True

    def _send_trailing(self) -> None:
        while True:
            with self.lock:
                while not self.pending:
                    self.lock.wait()
                wait = self.last + self.window - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self.lock:
                self.pending = False
                self.last = time.monotonic()
            dispatch(self.name, app=self.app)  # never raises


def dispatch_soon(name: str, app: Flask, window: float = MAIL_COALESCE_SECONDS) -> None:
    """`dispatch`, coalesced: a burst of requests that each queued mail sends one
    deliver_mail per `window` (each run sends everything due), not one per request."""
    coalescers = app.extensions.setdefault("task_coalesce", {})
    coalescer = coalescers.get(name)
    if coalescer is None:
        coalescer = coalescers.setdefault(name, _Coalesce(name, app, window))
    coalescer.request()


def send_job(job_id: str, app: Flask | None = None) -> None:
    from ..services import jobs

    job = jobs.load(job_id)
    if job is not None:
        dispatch(definitions.JOB_TASKS[job.kind], job_id, app=app)


def init_app(app: Flask) -> None:
    app.extensions["celery"] = make_celery(app)
    app.extensions["task_executor"] = LocalExecutor(app, schedule(app))
    _APPS[:] = [app]  # the worker's app (wsgi.celery)

    background = app.config.get("MAIL_BACKGROUND")
    if background is None:
        background = not app.config.get("TESTING")
    local_beat = app.config.get("TASK_LOCAL_BEAT")
    if local_beat is None:
        local_beat = not app.config.get("TESTING")

    @app.after_request
    def after_request_tasks(response: Response) -> Response:
        if background and g.pop("mail_queued", False):
            dispatch_soon(definitions.DELIVER_MAIL, app)
        if local_beat and not broker_url(app):
            local_executor(app).ensure_beat()
        return response
