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
from ...models import OutboxMessage
from ...models.types import utcnow
from . import outbox
from .transport import ConnectionFailure, Transport, transport_for

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
    context. Claims messages a batch at a time (outbox.claim_batch) and records each
    outcome in its own commit, right after its own attempt: a run that dies sends at most
    the message in flight again."""
    app = real_app()
    report = DeliveryReport()
    transport = transport_for(app)
    last_id = 0
    db.session.commit()  # start from a clean transaction
    session = db.session()
    # The batch's rows and delegates stay loaded across the per-message commits (otherwise
    # each commit expires them all, and every next row would be read again).
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    with _delivery_lock:  # one run at a time per process; other processes: row claims
        try:
            while report.sent + report.retrying + report.failed < limit:
                now_ = now or utcnow()
                size = min(outbox.CLAIM_BATCH, limit - report.sent - report.retrying
                           - report.failed)
                batch = outbox.claim_batch(now_, include_waiting, last_id, size)
                if not batch:
                    break
                last_id = batch[-1].id
                if not _deliver_batch(batch, transport, report, now_, now is None):
                    break
        finally:
            db.session.rollback()
            session.expire_on_commit = expire_on_commit
            transport.close()
    report.waiting = outbox.pending_count()
    db.session.commit()
    return report


def _deliver_batch(batch: list[OutboxMessage], transport: Transport, report: DeliveryReport,
                   claimed_at: datetime, live_clock: bool) -> bool:
    """Send a claimed batch, one commit per message. False: stop the run (the server is
    down); what was not attempted is released."""
    delegates = outbox.delegates_of(batch)
    for index, row in enumerate(batch):
        now_ = utcnow() if live_clock else claimed_at
        if live_clock and now_ - claimed_at > outbox.LEASE / 2:
            # A slow server: the lease on the rest could run out while they wait, and
            # another worker take them too. Give them back; the next claim takes them.
            outbox.release(batch[index:])
            db.session.commit()
            return True
        try:
            with edition_scope_id(row.edition_id):  # the message's own edition
                outbox.materialise(row, delegates)
            transport.send(row)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded
            if outbox.record_failure(row, exc, now_):
                report.retrying += 1
            else:
                report.failed += 1
            if isinstance(exc, ConnectionFailure):
                outbox.release(batch[index + 1:])  # the rest wait for the next run
                db.session.commit()
                return False
            db.session.commit()
            continue
        outbox.record_sent(row)
        db.session.commit()
        report.sent += 1
    return True


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

