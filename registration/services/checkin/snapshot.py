"""The offline snapshot: what a scanner keeps so that it can give a provisional answer when
the network is down. `registration/api/shapes.py` turns it into the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ...editions import current_edition_id, first_edition_id
from ...extensions import db
from ...models import Checkpoint, Delegate, Status
from ...models.types import utcnow
from ..badge_signing import public_keys_b64
from .checkpoints import list_checkpoints


@dataclass
class Snapshot:
    generated_at: datetime
    # Rows: public_id, badge_name, given_name, family_name, native_name, honorific,
    # category, country, status, badge_serial, details (no contact data).
    delegates: list[Any]
    checkpoints: list[Checkpoint]  # the open ones
    public_keys: list[str]  # base64url raw, current first
    # Badges carry their edition: another edition's is refused offline too. Tokens printed
    # before editions (without one) belong to `legacy_edition`, the first.
    edition: int | None = None
    legacy_edition: int | None = None


def snapshot() -> Snapshot:
    """Every delegate past submission (public id, names, category, country, status and
    current badge serial), the open checkpoints, and the public keys."""
    rows = db.session.execute(
        select(Delegate.public_id, Delegate.badge_name, Delegate.given_name,
               Delegate.family_name, Delegate.native_name, Delegate.honorific,
               Delegate.category, Delegate.country, Delegate.status, Delegate.badge_serial,
               Delegate.details)
        .where(Delegate.status.not_in((Status.SUBMITTED.value,)))
        .order_by(Delegate.id)
    ).all()
    return Snapshot(generated_at=utcnow(), delegates=list(rows),
                    checkpoints=list_checkpoints(active_only=True),
                    public_keys=public_keys_b64(), edition=current_edition_id(),
                    legacy_edition=first_edition_id())
