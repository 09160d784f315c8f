"""Delivery: one run over the due messages (`deliver_pending`: the `deliver_mail` task,
sent after requests that queued mail and every MAIL_POLL_SECONDS; also `mail
send-pending`), and `init_app`, which wires the outbox into an app.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Flask

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
                claimed = outbox.claim_with_delegate(now_, include_waiting, last_id)
                if claimed is None:
                    break
                row, delegates = claimed
                last_id = row.id
                try:
                    with edition_scope_id(row.edition_id):  # the message's own edition
                        outbox.materialise(row, delegates)
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


def init_app(app: Flask) -> None:
    """Connect the signal receivers. Delivery is a task (registration/tasks/): sent after
    each request that queued mail, and periodically for retries."""
    for signal, receiver in outbox.WRAPPED_RECEIVERS:
        signal.connect(receiver, weak=False)  # idempotent: blinker keeps one per receiver
    app.extensions["mail_outbox"] = True  # this app queues mail (outbox._for_this_app)
    if app.config.get("APP_ENV") == "production":
        if not app.config.get("PUBLIC_BASE_URL"):
            log.warning("PUBLIC_BASE_URL is not set: emailed links use the Host header of the "
                        "request that caused them; set it to the site's public address")
        if not app.config.get("MAIL_SERVER"):
            log.warning("MAIL_SERVER is not set: mail is written to %s, not sent",
                        Path(app.config["INSTANCE_DIR"]) / "mail")

