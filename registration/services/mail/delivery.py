"""Delivery: one run over the due messages (`deliver_pending`, also `mail send-pending`),
the background thread that runs it after requests that queued mail and every
MAIL_POLL_SECONDS, and `init_app`, which wires the outbox into an app.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Flask, Response, g

from ...editions import edition_scope_id
from ...extensions import db, real_app
from ...models.types import utcnow
from . import outbox
from .transport import ConnectionFailure, transport_for

# One logger for all of mail, whichever module writes.
log = logging.getLogger(__package__)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0  # failed this time, will be retried
    failed: int = 0  # given up
    waiting: int = 0  # pending but not due yet (after backoff)

    def __str__(self) -> str:
        return (f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, "
                f"{self.waiting} waiting")


_delivery_lock = threading.Lock()


def deliver_pending(*, include_waiting: bool = False, limit: int = 1000,
                    now: datetime | None = None) -> DeliveryReport:
    """Send what is due (or, with include_waiting, every pending message). Needs an app
    context; commits per message."""
    app = real_app()
    report = DeliveryReport()
    transport = transport_for(app)
    last_id = 0
    db.session.commit()  # start from a clean transaction
    with _delivery_lock:  # one run at a time per process; other processes: row claims
        try:
            for _ in range(limit):
                now_ = now or utcnow()
                row = outbox.claim(now_, include_waiting, last_id)
                if row is None:
                    break
                last_id = row.id
                try:
                    with edition_scope_id(row.edition_id):  # the message's own edition
                        outbox.materialise(row)
                    transport.send(row)
                except Exception as exc:  # noqa: BLE001 - every failure is recorded
                    if outbox.record_failure(row, exc, now_):
                        report.retrying += 1
                    else:
                        report.failed += 1
                    db.session.commit()
                    if isinstance(exc, ConnectionFailure):
                        break  # the server is down: leave the rest for the next run
                    continue
                outbox.record_sent(row)
                db.session.commit()
                report.sent += 1
        finally:
            db.session.rollback()
            transport.close()
    report.waiting = outbox.pending_count()
    db.session.commit()
    return report


class DeliveryWorker:
    """Delivers after requests that queued mail, and every `poll` seconds if > 0."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        poll = app.config.get("MAIL_POLL_SECONDS")
        self.poll = (0 if app.config.get("TESTING") else 60) if poll is None else poll
        self.wake = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def ensure_started(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.pid = os.getpid()  # after a fork (gunicorn) each worker gets its own
                self.thread = threading.Thread(target=self._run, name="mail-delivery",
                                               daemon=True)
                self.thread.start()

    def notify(self) -> None:
        self.idle.clear()
        self.ensure_started()
        self.wake.set()

    def wait_idle(self, timeout: float = 10) -> bool:
        """Block until queued deliveries are done (tests, shutdown)."""
        return self.idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self.wake.wait(timeout=self.poll or None)
            self.wake.clear()
            self.idle.clear()
            try:
                with self.app.app_context():
                    report = deliver_pending()
                    if report.sent or report.retrying or report.failed:
                        log.info("mail delivery: %s", report)
            except Exception:
                log.exception("mail delivery run failed")
            finally:
                if not self.wake.is_set():
                    self.idle.set()


def worker(app: Flask | None = None) -> DeliveryWorker:
    app = app or real_app()
    return app.extensions["mail_outbox"]


def init_app(app: Flask) -> None:
    """Connect the signal receivers and the after-request delivery."""
    for signal, receiver in outbox.WRAPPED_RECEIVERS:
        signal.connect(receiver, weak=False)  # idempotent: blinker keeps one per receiver
    app.extensions["mail_outbox"] = DeliveryWorker(app)
    if app.config.get("APP_ENV") == "production":
        if not app.config.get("PUBLIC_BASE_URL"):
            log.warning("PUBLIC_BASE_URL is not set: emailed links use the Host header of the "
                        "request that caused them; set it to the site's public address")
        if not app.config.get("MAIL_SERVER"):
            log.warning("MAIL_SERVER is not set: mail is written to %s, not sent",
                        Path(app.config["INSTANCE_DIR"]) / "mail")

    background = app.config.get("MAIL_BACKGROUND")
    if background is None:
        background = not app.config.get("TESTING")

    @app.after_request
    def deliver_after_request(response: Response) -> Response:
        if background:
            if g.pop("mail_queued", False):
                worker(app).notify()
            elif worker(app).poll:
                worker(app).ensure_started()
        return response
