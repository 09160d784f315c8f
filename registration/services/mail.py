"""Email to delegates: building messages, the outbox, and delivery with retries.

Nothing lost: a receiver of each domain signal (registration.signals) adds an OutboxMessage
to the session of the change it reports — it is committed with the change or not at all.
The row starts as a small draft; the first delivery attempt renders the complete RFC 5322
message in the delegate's language (HTML + text, inline QR, e-ticket PDF) and stores it on
the row, so retries send exactly the same bytes and the change itself stays cheap.

Nothing sent twice: delivery claims one row at a time (PostgreSQL: SELECT … FOR UPDATE SKIP
LOCKED held while sending; SQLite, which serialises writers: a compare-and-swap UPDATE that
leases the row) and marks it sent in the transaction that follows the SMTP server's
acceptance. Failures are retried with exponential backoff and marked failed after
MAIL_MAX_ATTEMPTS (or at once when the server refuses the message permanently, 5xx).

Delivery happens after each request that queued mail, in a background thread (the response
never waits for SMTP), every MAIL_POLL_SECONDS in the web process, and on demand with
`flask --app wsgi mail send-pending`. Without MAIL_SERVER (development) messages are written
as .eml files into instance/mail/ and the path is logged.
"""

from __future__ import annotations

import io
import json
import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime as rfc2822_date
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from .. import signals
from ..countries import country_name
from ..extensions import db
from ..i18n import category_label, event_texts, local_datetime
from ..models import Delegate, OutboxMessage
from ..models.types import utcnow
from ..validation import email_key

log = logging.getLogger(__name__)

KINDS = ("registered", "approved", "rejected", "reprinted", "cancelled", "manage_link")
SUBJECTS: dict[str, Any] = {
    "registered": _l("Registration received — %(reference)s"),
    "approved": _l("You are accredited — %(reference)s"),
    "rejected": _l("Your accreditation request — %(reference)s"),
    "reprinted": _l("Your new badge QR code — %(reference)s"),
    "cancelled": _l("Registration cancelled — %(reference)s"),
    "manage_link": _l("Your link to manage your registration — %(reference)s"),
}
# Kinds whose message carries the current QR code and e-ticket.
WITH_TICKET = frozenset({"approved", "reprinted"})
# A delivery that crashed mid-way (SQLite lease) is retried after this long.
LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)


# ---------------------------------------------------------------------------------------
# Building messages


def qr_png(payload: str, scale: int = 8, border: int = 4) -> bytes:
    """The QR code for `payload` as a PNG (for email, where a vector PDF does not display),
    drawn from the badge engine's own encoder so email, e-ticket and badge agree."""
    from PIL import Image

    from badges.qr import matrix

    modules = matrix(payload)
    n = len(modules)
    size = n + 2 * border
    image = Image.new("1", (size, size), 1)
    image.putdata([0 if (border <= y < n + border and border <= x < n + border
                         and modules[y - border][x - border]) else 1
                   for y in range(size) for x in range(size)])
    image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _sender() -> str:
    return current_app.config.get("MAIL_DEFAULT_SENDER") or "accreditation@localhost"


def _msgid_domain() -> str:
    address = parseaddr(_sender())[1]
    return address.rpartition("@")[2] or "localhost"


def render_mail(kind: str, delegate: Delegate, *, base_url: str | None = None,
                **context: Any) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of `kind` for `delegate`, in the delegate's language."""
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    from . import manage_links

    locale = delegate.locale if delegate.locale in current_app.config["LANGUAGES"] else "en"
    with force_locale(locale):
        values = {
            "delegate": delegate,
            **event_texts(locale),
            "current_lang": locale,
            "category_label": category_label(delegate.category, locale),
            "country_label": country_name(delegate.country, locale),
            "registered_at": local_datetime(delegate.created_at),
            **context,
        }
        if "manage_url" not in values and delegate.email_key is not None:
            values["manage_url"] = manage_links.manage_url(delegate, base_url)
            values["manage_link_days"] = manage_links.max_age().days
        subject = str(SUBJECTS[kind]) % {"reference": delegate.reference}
        values["subject"] = subject
        text = render_template(f"mail/{kind}.txt", **values)
        html = render_template(f"mail/{kind}.html", **values)
    return subject, text, html


def build_message(kind: str, delegate: Delegate, *, recipient: str | None = None,
                  base_url: str | None = None, **context: Any) -> EmailMessage:
    """A complete message: plain text + HTML alternatives; for approval and reprint the QR
    code as an inline image (cid) and the e-ticket PDF as an attachment."""
    from .self_service import eticket_filename, eticket_pdf

    qr_cid = make_msgid(domain=_msgid_domain()) if kind in WITH_TICKET else None
    subject, text, html = render_mail(kind, delegate, base_url=base_url,
                                      qr_cid=qr_cid[1:-1] if qr_cid else None, **context)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = _sender()
    msg["To"] = recipient or delegate.email
    msg["Date"] = rfc2822_date(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=_msgid_domain())
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if qr_cid:
        from .badge_signing import token_for

        html_part = msg.get_payload()[1]
        html_part.add_related(qr_png(token_for(delegate)), "image", "png", cid=qr_cid,
                              disposition="inline", filename="qr-code.png")
        msg.add_attachment(eticket_pdf(delegate), maintype="application", subtype="pdf",
                           filename=eticket_filename(delegate))
    # Last: set_content and multipart conversions move Content-* headers into the parts.
    msg["Content-Language"] = "zh-Hans" if delegate.locale == "zh" else "en"
    return msg


# A queued message starts as a draft (what to say, to whom); the worker that first picks it
# up renders the complete message and stores it, so every retry sends the same bytes. The
# change itself stays cheap: a bulk approval of a thousand delegates renders no PDF in the
# desk's request.
DRAFT_MAGIC = b"outbox-draft/1\n"


def is_draft(row: OutboxMessage) -> bool:
    return bytes(row.message or b"").startswith(DRAFT_MAGIC)


def queue(kind: str, delegate: Delegate, **context: Any) -> OutboxMessage | None:
    """Add the message for `kind` to the current transaction (the caller commits).

    `context` (e.g. a rejection's reason) must be JSON-serialisable. Returns None for a
    delegate without an email address."""
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    if not delegate.email:
        return None
    from . import manage_links

    if delegate.id is None:
        db.session.flush()
    draft = {"context": context, "base_url": manage_links.base_url()}
    row = OutboxMessage(
        delegate_id=delegate.id, kind=kind, recipient=delegate.email,
        subject=f"{kind} {delegate.reference}"[:300],
        message=DRAFT_MAGIC + json.dumps(draft, ensure_ascii=False).encode(),
        status="pending", attempts=0, next_attempt_at=utcnow(), last_error="",
    )
    db.session.add(row)
    if has_request_context():
        g.mail_queued = True
    return row


class BuildFailure(Exception):
    """The message could not be rendered (a bug or missing data, not an SMTP problem)."""


def materialise(row: OutboxMessage) -> None:
    """Render a draft into the complete RFC 5322 message, stored on the row."""
    if not is_draft(row):
        return
    try:
        draft = json.loads(bytes(row.message)[len(DRAFT_MAGIC):])
        delegate = db.session.get(Delegate, row.delegate_id) if row.delegate_id else None
        if delegate is None:
            raise BuildFailure("the delegate no longer exists")
        if delegate.email_key != email_key(row.recipient):
            # The address changed (or was erased) after this was queued: the message would
            # carry a working manage link to an inbox that is no longer the delegate's.
            raise BuildFailure("not sent: the delegate's email address changed since")
        if row.kind in WITH_TICKET and not delegate.is_accredited:
            # Cancelled or rejected before the mail went out: no ticket for them.
            raise BuildFailure(f"not sent: the delegate is now {delegate.status}")
        msg = build_message(row.kind, delegate, recipient=row.recipient,
                            base_url=draft.get("base_url"), **draft.get("context", {}))
    except BuildFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the row, visible in `mail list`
        log.exception("could not build %s mail %s", row.kind, row.id)
        raise BuildFailure(f"could not build the message: {exc!r}") from exc
    row.message = msg.as_bytes(policy=SMTP_POLICY)
    row.subject = str(msg["Subject"])[:300]


# ---------------------------------------------------------------------------------------
# Signal receivers: one message per event, stored with the change.


def _on_registered(sender: Any, delegate: Delegate, **_: Any) -> None:
    queue("registered", delegate)


def _on_approved(sender: Any, delegate: Delegate, **_: Any) -> None:
    queue("approved", delegate)


def _on_rejected(sender: Any, delegate: Delegate, reason: str = "", **_: Any) -> None:
    queue("rejected", delegate, reason=reason)


def _on_reprinted(sender: Any, delegate: Delegate, reason: str = "", **_: Any) -> None:
    queue("reprinted", delegate, reason=reason)


def _on_cancelled(sender: Any, delegate: Delegate, **_: Any) -> None:
    queue("cancelled", delegate)


RECEIVERS = (
    (signals.delegate_registered, _on_registered),
    (signals.delegate_approved, _on_approved),
    (signals.delegate_rejected, _on_rejected),
    (signals.badge_reprinted, _on_reprinted),
    (signals.delegate_cancelled, _on_cancelled),
)


def _for_this_app(receiver: Any) -> Any:
    def wrapped(sender: Any, **kwargs: Any) -> None:
        # Signals are process-wide; only apps set up with init_app queue mail.
        if current_app and current_app.extensions.get("mail_outbox"):
            receiver(sender, **kwargs)

    wrapped.__name__ = receiver.__name__
    return wrapped


_WRAPPED = [(signal, _for_this_app(receiver)) for signal, receiver in RECEIVERS]


# ---------------------------------------------------------------------------------------
# Delivery


class PermanentFailure(Exception):
    """The server refused this message for good (5xx): retrying cannot help."""


class ConnectionFailure(Exception):
    """The server could not be reached or dropped the connection: retry later."""


class Transport:
    def send(self, row: OutboxMessage) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class FileTransport(Transport):
    """Development: each message becomes instance/mail/<time>-<id>-<kind>.eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, row: OutboxMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"{stamp}-{row.id:06d}-{row.kind}.eml"
        path.write_bytes(row.message)
        log.info("mail to %s (%s) written to %s", row.recipient, row.kind, path)


class SMTPTransport(Transport):
    """One SMTP connection per delivery run, opened on the first message."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        timeout = cfg.get("MAIL_TIMEOUT_SECONDS") or 15
        try:
            if cfg.get("MAIL_USE_SSL"):
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg["MAIL_SERVER"], cfg.get("MAIL_PORT") or 465, timeout=timeout,
                    context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(cfg["MAIL_SERVER"], cfg.get("MAIL_PORT") or 25,
                                    timeout=timeout)
                if cfg.get("MAIL_USE_TLS"):
                    conn.starttls(context=ssl.create_default_context())
            if cfg.get("MAIL_USERNAME"):
                conn.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionFailure(f"cannot connect to {cfg['MAIL_SERVER']}:"
                                    f"{cfg.get('MAIL_PORT')}: {exc}") from exc
        return conn

    def send(self, row: OutboxMessage) -> None:
        if self.conn is None:
            self.conn = self._connect()
        envelope_from = parseaddr(self.config.get("MAIL_DEFAULT_SENDER") or "")[1]
        try:
            self.conn.sendmail(envelope_from, [row.recipient], row.message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
            raise
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError):
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.conn = None
            raise ConnectionFailure(str(exc)) from exc

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.conn = None


def transport_for(app: Flask) -> Transport:
    if app.config.get("MAIL_SERVER"):
        return SMTPTransport(app.config)
    return FileTransport(Path(app.config["INSTANCE_DIR"]) / "mail")


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0  # failed this time, will be retried
    failed: int = 0  # given up
    waiting: int = 0  # pending but not due yet (after backoff)

    def __str__(self) -> str:
        return (f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, "
                f"{self.waiting} waiting")


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    base = timedelta(seconds=current_app.config.get("MAIL_RETRY_BASE_SECONDS") or 60)
    return min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def _due(now: datetime, include_waiting: bool, after_id: int) -> Any:
    stmt = select(OutboxMessage).where(OutboxMessage.status == "pending",
                                       OutboxMessage.id > after_id)
    if not include_waiting:
        stmt = stmt.where(OutboxMessage.next_attempt_at <= now)
    return stmt.order_by(OutboxMessage.id).limit(1)


def _claim(now: datetime, include_waiting: bool, after_id: int) -> OutboxMessage | None:
    """The next message to send, claimed so no other worker or process sends it too."""
    if db.session.get_bind().dialect.name == "postgresql":
        # The row lock is held until the commit that records the outcome.
        return db.session.scalars(
            _due(now, include_waiting, after_id).with_for_update(skip_locked=True)
        ).first()
    while True:
        row = db.session.scalars(_due(now, include_waiting, after_id)).first()
        if row is None:
            db.session.commit()
            return None
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.status == "pending",
                   OutboxMessage.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if claimed == 1:
            db.session.refresh(row)
            return row
        after_id = row.id  # someone else took it


def _record_failure(row: OutboxMessage, exc: Exception, now: datetime) -> bool:
    """Count a failed attempt; True if the message will be retried."""
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    max_attempts = current_app.config.get("MAIL_MAX_ATTEMPTS") or 8
    if isinstance(exc, PermanentFailure | BuildFailure) or row.attempts >= max_attempts:
        row.status = "failed"
        log.error("mail %s to %s failed for good: %s", row.id, row.recipient, row.last_error)
        return False
    row.next_attempt_at = now + backoff(row.attempts)
    log.warning("mail %s to %s not sent (attempt %s), retry at %s: %s", row.id,
                row.recipient, row.attempts, row.next_attempt_at.isoformat(), row.last_error)
    return True


_delivery_lock = threading.Lock()


def deliver_pending(*, include_waiting: bool = False, limit: int = 1000,
                    now: datetime | None = None) -> DeliveryReport:
    """Send what is due (or, with include_waiting, every pending message). Needs an app
    context; commits per message."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    report = DeliveryReport()
    transport = transport_for(app)
    last_id = 0
    db.session.commit()  # start from a clean transaction
    with _delivery_lock:  # one run at a time per process; other processes: row claims
        try:
            for _ in range(limit):
                now_ = now or utcnow()
                row = _claim(now_, include_waiting, last_id)
                if row is None:
                    break
                last_id = row.id
                try:
                    materialise(row)
                    transport.send(row)
                except Exception as exc:  # noqa: BLE001 - every failure is recorded
                    if _record_failure(row, exc, now_):
                        report.retrying += 1
                    else:
                        report.failed += 1
                    db.session.commit()
                    if isinstance(exc, ConnectionFailure):
                        break  # the server is down: leave the rest for the next run
                    continue
                row.status = "sent"
                row.sent_at = utcnow()
                row.attempts += 1
                row.last_error = ""
                db.session.commit()
                report.sent += 1
        finally:
            db.session.rollback()
            transport.close()
    report.waiting = db.session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")) or 0
    db.session.commit()
    return report


def outbox_rows(status: str | None = None, limit: int = 50) -> Iterator[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    yield from db.session.scalars(stmt)


# ---------------------------------------------------------------------------------------
# Automatic delivery: a background thread per app and process.


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
            except Exception:  # noqa: BLE001 - keep the thread alive
                log.exception("mail delivery run failed")
            finally:
                if not self.wake.is_set():
                    self.idle.set()


def worker(app: Flask | None = None) -> DeliveryWorker:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions["mail_outbox"]


def init_app(app: Flask) -> None:
    """Connect the signal receivers, the after-request delivery and the template filter."""
    for signal, receiver in _WRAPPED:
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
    def deliver_after_request(response):  # type: ignore[no-untyped-def]
        if background:
            if g.pop("mail_queued", False):
                worker(app).notify()
            elif worker(app).poll:
                worker(app).ensure_started()
        return response


def requeue(message_id: int) -> bool:
    """A failed message goes back to pending, due now, with a fresh attempt count."""
    row = db.session.get(OutboxMessage, message_id)
    if row is None or row.status != "failed" or not row.message:
        return False
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = utcnow()
    db.session.commit()
    return True


def prune_sent(older_than: timedelta, now: datetime | None = None) -> int:
    """Drop the stored bytes of messages sent before `older_than` ago (the row — who, what,
    when — stays). A registration's e-ticket mail is ~50 kB: 5,000 delegates add up."""
    cutoff = (now or utcnow()) - older_than
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sent", OutboxMessage.sent_at < cutoff,
               func.length(OutboxMessage.message) > 0)
        .values(message=b"")
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount or 0
