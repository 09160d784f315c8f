"""Handing a stored message to the world: SMTP in production, .eml files in development
(without MAIL_SERVER, into instance/mail/).

A transport sends the bytes stored on the row and classifies failures: PermanentFailure
(the server refused this message for good) or ConnectionFailure (try again later); any other
exception is a temporary problem with this message.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from flask import Flask

from ...models import OutboxMessage

# One logger for all of mail, whichever module writes.
log = logging.getLogger(__package__)


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
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self.conn = None


def transport_for(app: Flask) -> Transport:
    if app.config.get("MAIL_SERVER"):
        return SMTPTransport(app.config)
    return FileTransport(Path(app.config["INSTANCE_DIR"]) / "mail")
