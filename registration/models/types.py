"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Always-aware UTC datetimes, on SQLite (which has no zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedText(TypeDecorator):
    """Text kept encrypted at rest (AES-GCM, registration/data_crypto.py).

    The Python side is the clear text (or None); the database only ever sees the envelope.
    `purpose` (the column's name) is bound into each value, so a value copied into another
    column fails to decrypt. Key rotation: `privacy rotate-key` reads and writes every value."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect):
        if value is None:
            return None
        from ..data_crypto import app_keyring

        return app_keyring().encrypt(str(value), self.purpose)

    def process_result_value(self, value: str | None, dialect):
        if value is None:
            return None
        from ..data_crypto import app_keyring

        return app_keyring().decrypt(value, self.purpose)
