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

Delivery is the `deliver_mail` task (registration/tasks/): sent after each request that
queued mail (the response never waits for SMTP), every MAIL_POLL_SECONDS by the beat, and on
demand with `flask --app wsgi mail send-pending`. Without MAIL_SERVER (development)
messages are written as .eml files into instance/mail/ and the path is logged.

One module per job, imports pointing down the list:
    delivery   deliver_pending (one run), init_app
    outbox     queue, drafts → stored messages, claims and outcomes, list / retry / prune
    transport  SMTP or .eml files; which failures are permanent
    compose    subject and bodies in the delegate's language; the complete message
Callers use the package (`from ..services import mail; mail.queue(...)`): the names below
are its interface.
"""

from .compose import KINDS, build_message, qr_png, render_mail
from .delivery import DeliveryReport, deliver_pending, init_app
from .outbox import (
    BuildFailure,
    is_draft,
    materialise,
    outbox_rows,
    prune_sent,
    queue,
    requeue,
)
from .transport import ConnectionFailure, PermanentFailure

__all__ = [
    "KINDS",
    "BuildFailure",
    "ConnectionFailure",
    "DeliveryReport",
    "PermanentFailure",
    "build_message",
    "deliver_pending",
    "init_app",
    "is_draft",
    "materialise",
    "outbox_rows",
    "prune_sent",
    "qr_png",
    "queue",
    "render_mail",
    "requeue",
]
