"""Single-use signed links (staff sign-in links, focal points' sign-in links): the one place
for how they are signed, how "used" is recorded and how a second use is refused.

A link carries a stamp of a timestamp column of its row (the last sign-in). Using it moves
that column to now with a compare-and-set, so a link works once, and every link made before
the use stops working too: its stamp no longer matches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from flask import current_app
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import CursorResult, update

from ..extensions import db


def serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def stamp(value: datetime | None) -> str:
    """What a link remembers of the row's last use."""
    return value.astimezone(UTC).isoformat() if value is not None else ""


def use_once(model: Any, row_id: int, column: str, previous: datetime | None,
             **values: Any) -> bool:
    """Move `model.column` of row `row_id` from `previous` to now (plus `values`) if nobody
    did first; True when this call did (the caller commits), False when the link was used."""
    col = getattr(model, column)
    stmt = update(model).where(model.id == row_id).where(
        col.is_(None) if previous is None else col == previous)
    result = db.session.execute(stmt.values(**{column: datetime.now(UTC)}, **values)
                                .execution_options(synchronize_session=False))
    return cast("CursorResult[Any]", result).rowcount == 1
