"""`flask --app wsgi mail …`: deliver the outbox and look into it.

The mail area has no pages, so its commands sit beside the collector (cli.py) rather than
in a blueprint package; the work is done by services.mail."""

from __future__ import annotations

from datetime import timedelta

import click

from .cli_base import CommandGroup
from .models.outbox import OUTBOX_STATUS_LABELS, OutboxStatus
from .services import mail
from .text import counted

mail_group = CommandGroup("mail", help="Outgoing email: the outbox and its delivery.")


@mail_group.command("send-pending")
@click.option("--all", "include_waiting", is_flag=True,
              help="Also send messages still waiting for their next retry time.")
@click.option("--limit", default=1000, show_default=True, help="At most this many messages.")
def send_pending(include_waiting: bool, limit: int) -> None:
    """Deliver the messages that are due (safe to run from cron and alongside the app)."""
    report = mail.deliver_pending(include_waiting=include_waiting, limit=limit)
    click.echo(str(report))
    if report.failed:
        click.echo("See `flask --app wsgi mail list --status failed` for the reasons.")


@mail_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]), default=None,
              help="Only messages in this state: " + "; ".join(
                  f"{s.value} ({OUTBOX_STATUS_LABELS[s]})" for s in OutboxStatus) + ".")
@click.option("--limit", default=50, show_default=True)
def list_messages(status: str | None, limit: int) -> None:
    """The latest messages in the outbox, newest first."""
    rows = list(mail.outbox_rows(status, limit))
    if not rows:
        click.echo("The outbox is empty." if status is None else f"No {status} messages.")
        return
    for row in rows:
        when = (row.sent_at or row.next_attempt_at or row.created_at).isoformat(
            timespec="seconds")
        click.echo(f"{row.id:>6}  {row.status:<7}  {row.kind:<11}  attempts={row.attempts}  "
                   f"{when}  {row.recipient}  {row.subject}")
        if row.last_error and row.status != OutboxStatus.SENT:
            click.echo(f"        last error: {row.last_error}")


@mail_group.command("retry")
@click.argument("message_id", type=int)
def retry(message_id: int) -> None:
    """Put a failed message back in the queue (after fixing the cause)."""
    if not mail.requeue(message_id):
        raise click.ClickException(f"no failed message with id {message_id}")
    click.echo(f"Message {message_id} is pending again.")


@mail_group.command("prune")
@click.option("--days", default=30, show_default=True,
              help="Keep the full text of messages sent in the last DAYS days.")
def prune(days: int) -> None:
    """Drop the stored text of old sent messages (the record of sending stays)."""
    count = mail.prune_sent(timedelta(days=days))
    click.echo(f"{counted(count, 'sent message')} pruned.")


commands = [mail_group]
