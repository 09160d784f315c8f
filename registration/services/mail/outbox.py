"""The outbox: what is queued (one row per event, in the transaction of the change), how a
draft becomes the stored message, how a deliverer claims a row and records the outcome, and
the operator's tools (list, retry, prune) behind `flask --app wsgi mail …`.

Rows move pending → sent, or pending → failed after MAIL_MAX_ATTEMPTS failed attempts
(or at once for a permanent refusal); `requeue` puts a failed row back to pending.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Any, cast

from flask import current_app, g, has_request_context
from sqlalchemy import CursorResult, Table, bindparam, func, insert, select, text, update

from ... import editions, signals
from ...editions import ALL_EDITIONS
from ...extensions import db
from ...models import Delegate, OutboxMessage
from ...models.outbox import OutboxStatus
from ...models.types import utcnow
from ...validation import email_keys
from .. import manage_links
from . import compose
from .transport import PermanentFailure

# One logger for all of mail, whichever module writes.
log = logging.getLogger(__package__)

# A delivery that crashed mid-way (SQLite lease) is retried after this long.
LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)

# A queued message starts as a draft (what to say, to whom); the worker that first picks it
# up renders the complete message and stores it, so every retry sends the same bytes. The
# change itself stays cheap: a bulk approval of a thousand delegates renders no PDF in the
# desk's request.
DRAFT_MAGIC = b"outbox-draft/1\n"


def is_draft(row: OutboxMessage) -> bool:
    return bytes(row.message or b"").startswith(DRAFT_MAGIC)


# Mail that anyone on the internet can cause (the registration form, "send me a new link"):
# at most MAIL_PUBLIC_PER_RECIPIENT_PER_HOUR of them per recipient address and hour.
PUBLIC_KINDS = frozenset({"registered", "manage_link"})


def lock_recipient(recipient: str) -> None:
    """Serialise mail to one address until the transaction ends, across processes: a
    transaction-scoped advisory lock on PostgreSQL; on SQLite, which has one writer at a
    time, a write that takes the database's write lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(recipient.strip().lower().encode()).digest()
        # On the connection, not through the ORM session: see registration's clash check.
        db.session.connection().execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                        {"key": int.from_bytes(digest[:8], "big", signed=True)})
    else:
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == -1)
                           .values(attempts=OutboxMessage.attempts))


# Asked on every registration, so built once. The cap protects a mailbox, whichever
# edition the mail is about: no edition condition, which also leaves PostgreSQL one sensible
# plan (the recipient index). With the edition condition, a planner without fresh statistics
# (a new edition, the first minute of a rush) sometimes read the edition's whole outbox
# through the edition index instead: 1.7 million rows read for 3,200 registrations in
# bench/register.py.
_RECENT_PUBLIC_MAIL = (
    select(OutboxMessage.kind, OutboxMessage.created_at)
    .where(func.lower(OutboxMessage.recipient) == bindparam("recipient"),
           OutboxMessage.kind.in_(sorted(PUBLIC_KINDS)),
           OutboxMessage.created_at > bindparam("since"))
    .order_by(OutboxMessage.id.desc())
    .execution_options(**ALL_EDITIONS))


def recent_public_mail(recipient: str, within: timedelta = timedelta(hours=1)) -> list[Any]:
    """(kind, created_at) of the public-flow mail to `recipient` in the last `within`, in
    any edition, newest first. Call lock_recipient first when deciding on it. Plain rows,
    read on the session's connection (as lock_recipient), with no autoflush: public mail
    is queued as plain INSERTs (`queue`), never as pending ORM objects."""
    return list(db.session.connection().execute(_RECENT_PUBLIC_MAIL, {
        "recipient": recipient.strip().lower(), "since": utcnow() - within}))


def _over_public_cap(kind: str, recipient: str) -> bool:
    if kind not in PUBLIC_KINDS:
        return False
    cap = int(current_app.config.get("MAIL_PUBLIC_PER_RECIPIENT_PER_HOUR") or 3)
    lock_recipient(recipient)
    if len(recent_public_mail(recipient)) >= cap:
        log.warning("not queued: %s mail to %s would exceed %d public mails an hour",
                    kind, recipient, cap)
        return True
    return False


# A message is queued with one plain INSERT on the session's connection, not as a new ORM
# object (as audit entries: the unit of work's bookkeeping cost more than the INSERT, on
# every registration); nothing reads a queued message back as an object in its transaction.
_INSERT = insert(cast(Table, OutboxMessage.__table__))


def queue(kind: str, delegate: Delegate, **context: Any) -> int | None:
    """Add the message for `kind` to the current transaction (the caller commits) and
    return its id.

    `context` (e.g. a rejection's reason) must be JSON-serialisable. Returns None for a
    delegate without an email address, or when a public-flow message (PUBLIC_KINDS) would
    be one too many for the recipient this hour."""
    compose.check_kind(kind)
    if not delegate.email:
        return None
    if _over_public_cap(kind, delegate.email):
        return None
    if delegate.id is None:
        db.session.flush()
    draft = {"context": context, "base_url": manage_links.base_url()}
    now = utcnow()
    inserted = db.session.connection().execute(_INSERT, {
        "edition_id": editions.edition_id_for(delegate),
        "delegate_id": delegate.id, "kind": kind, "recipient": delegate.email,
        "subject": f"{kind} {delegate.reference}"[:300],
        "message": DRAFT_MAGIC + json.dumps(draft, ensure_ascii=False).encode(),
        "status": OutboxStatus.PENDING.value, "attempts": 0, "next_attempt_at": now,
        "last_error": "", "created_at": now,
    })
    if has_request_context():
        g.mail_queued = True
    return int(cast(Any, inserted.inserted_primary_key)[0])  # one row: never None


def queue_message(kind: str, recipient: str, msg: EmailMessage) -> OutboxMessage:
    """Queue a message built already (staff mail, not about a delegate; the caller
    commits). It is sent as stored, like a materialised draft."""
    row = OutboxMessage(
        delegate_id=None, kind=kind[:32], recipient=recipient, subject=str(msg["Subject"])[:300],
        message=msg.as_bytes(policy=SMTP_POLICY), status=OutboxStatus.PENDING.value,
        attempts=0, next_attempt_at=utcnow(), last_error="")
    db.session.add(row)
    if has_request_context():
        g.mail_queued = True
    return row


class BuildFailure(Exception):
    """The message could not be rendered (a bug or missing data, not an SMTP problem)."""


def materialise(row: OutboxMessage, delegates: Mapping[int, Delegate] | None = None) -> None:
    """Render a draft into the complete RFC 5322 message, stored on the row. `delegates`:
    the row's delegate as claimed with it (`claim_with_delegate`), else it is read here."""
    if not is_draft(row):
        return
    try:
        draft = json.loads(bytes(row.message)[len(DRAFT_MAGIC):])
        if delegates is None:
            delegates = _delegate_of(row)
        delegate = delegates.get(row.delegate_id) if row.delegate_id else None
        if delegate is None:
            raise BuildFailure("the delegate no longer exists")
        if delegate.mail_key is None or delegate.mail_key not in email_keys(row.recipient):
            # The address changed (or was erased) after this was queued: the message would
            # carry a working manage link to an inbox that no longer gets the delegate's
            # mail (their own, or a nominee's focal point's: Delegate.mail_key).
            raise BuildFailure("not sent: the delegate's email address changed since")
        if row.kind in compose.WITH_TICKET and not delegate.is_accredited:
            # Cancelled or rejected before the mail went out: no ticket for them.
            raise BuildFailure(f"not sent: the delegate is now {delegate.status}")
        msg = compose.build_message(row.kind, delegate, recipient=row.recipient,
                                    base_url=draft.get("base_url"),
                                    **draft.get("context", {}))
    except BuildFailure:
        raise
    except Exception as exc:
        log.exception("could not build %s mail %s", row.kind, row.id)
        raise BuildFailure(f"could not build the message: {exc!r}") from exc
    row.message = compose.message_bytes(msg)
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


WRAPPED_RECEIVERS = [(signal, _for_this_app(receiver)) for signal, receiver in RECEIVERS]


# ---------------------------------------------------------------------------------------
# Claiming rows and recording outcomes (used by delivery.deliver_pending)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    base = timedelta(seconds=current_app.config.get("MAIL_RETRY_BASE_SECONDS") or 60)
    return min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def _due(now: datetime, include_waiting: bool, after_id: int) -> Any:
    stmt = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING.value,
                                       OutboxMessage.id > after_id)
    if not include_waiting:
        stmt = stmt.where(OutboxMessage.next_attempt_at <= now)
    # Mail belongs to an edition, but delivery is one queue: a past edition's mail still goes.
    return stmt.order_by(OutboxMessage.id).limit(1).execution_options(**ALL_EDITIONS)


def claim(now: datetime, include_waiting: bool, after_id: int) -> OutboxMessage | None:
    """The next message to send, claimed so no other worker or process sends it too."""
    claimed = claim_with_delegate(now, include_waiting, after_id)
    return claimed[0] if claimed is not None else None


def claim_with_delegate(now: datetime, include_waiting: bool, after_id: int
                        ) -> tuple[OutboxMessage, dict[int, Delegate] | None] | None:
    """`claim`, and the delegate the message is about as `materialise` takes it: read in
    the same statement on PostgreSQL (one round trip per message fewer); None on SQLite,
    where materialise reads it (in the message's own edition)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # The row lock is held until the commit that records the outcome.
        found = db.session.execute(
            _due(now, include_waiting, after_id)
            .add_columns(Delegate)
            .outerjoin(Delegate, Delegate.id == OutboxMessage.delegate_id)
            .with_for_update(of=OutboxMessage, skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()
        if found is None:
            return None
        row, delegate = found
        return row, ({delegate.id: delegate} if delegate is not None else {})
    row = _claim_sqlite(now, include_waiting, after_id)
    return (row, None) if row is not None else None


def _delegate_of(row: OutboxMessage) -> dict[int, Delegate]:
    delegate = db.session.get(Delegate, row.delegate_id) if row.delegate_id else None
    return {delegate.id: delegate} if delegate is not None else {}


def _claim_sqlite(now: datetime, include_waiting: bool, after_id: int) -> OutboxMessage | None:
    while True:
        row = db.session.scalars(_due(now, include_waiting, after_id)).first()
        if row is None:
            db.session.commit()
            return None
        claimed = cast(CursorResult, db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id,
                   OutboxMessage.status == OutboxStatus.PENDING.value,
                   OutboxMessage.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False, **ALL_EDITIONS)
        )).rowcount
        db.session.commit()
        if claimed == 1:
            db.session.refresh(row)
            return row
        after_id = row.id  # someone else took it


def record_sent(row: OutboxMessage) -> None:
    row.status = OutboxStatus.SENT.value
    row.sent_at = utcnow()
    row.attempts += 1
    row.last_error = ""


def record_failure(row: OutboxMessage, exc: Exception, now: datetime) -> bool:
    """Count a failed attempt; True if the message will be retried."""
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    max_attempts = current_app.config.get("MAIL_MAX_ATTEMPTS") or 8
    if isinstance(exc, PermanentFailure | BuildFailure) or row.attempts >= max_attempts:
        row.status = OutboxStatus.FAILED.value
        log.error("mail %s to %s failed for good: %s", row.id, row.recipient, row.last_error)
        return False
    row.next_attempt_at = now + backoff(row.attempts)
    log.warning("mail %s to %s not sent (attempt %s), retry at %s: %s", row.id,
                row.recipient, row.attempts, row.next_attempt_at.isoformat(), row.last_error)
    return True


def pending_count() -> int:
    return db.session.scalar(
        select(func.count(OutboxMessage.id))
        .where(OutboxMessage.status == OutboxStatus.PENDING.value)
        .execution_options(**ALL_EDITIONS)) or 0


# ---------------------------------------------------------------------------------------
# The operator's tools (`flask --app wsgi mail list | retry | prune`)


def outbox_rows(status: OutboxStatus | str | None = None,
                limit: int = 50) -> Iterator[OutboxMessage]:
    """The latest messages, newest first (only those in `status` if given)."""
    stmt = (select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
            .execution_options(**ALL_EDITIONS))
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    yield from db.session.scalars(stmt)


def requeue(message_id: int) -> bool:
    """A failed message goes back to pending, due now, with a fresh attempt count."""
    row = db.session.get(OutboxMessage, message_id, execution_options=ALL_EDITIONS)
    if row is None or row.status != OutboxStatus.FAILED or not row.message:
        return False
    row.status = OutboxStatus.PENDING.value
    row.attempts = 0
    row.next_attempt_at = utcnow()
    db.session.commit()
    return True


def prune_sent(older_than: timedelta, now: datetime | None = None) -> int:
    """Drop the stored bytes of messages sent before `older_than` ago (the row — who, what,
    when — stays). A registration's e-ticket mail is ~50 kB: 5,000 delegates add up."""
    cutoff = (now or utcnow()) - older_than
    result = cast(CursorResult, db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENT.value,
               OutboxMessage.sent_at < cutoff,
               func.length(OutboxMessage.message) > 0)
        .values(message=b"")
        .execution_options(synchronize_session=False, **ALL_EDITIONS)))
    db.session.commit()
    return result.rowcount or 0
