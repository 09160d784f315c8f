"""The offline snapshot: what a scanner keeps so that it can give a provisional answer when
the network is down. `registration/api/shapes.py` turns it into the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ...extensions import db
from ...models import Checkpoint, Delegate, Status
from ...models.status import ACCREDITED_VALUES
from ...models.types import utcnow
from ..badge_signing import public_keys_b64
from .checkpoints import list_checkpoints


@dataclass
class Snapshot:
    generated_at: datetime
    # Who may enter (an accredited status): public_id, badge_name, given_name, family_name,
    # native_name, honorific, category, country, status, badge_serial, details (no contact
    # data).
    delegates: list[Any]
    # Everyone else past submission (rejected, cancelled): public_id and badge_serial only,
    # so an offline scanner still refuses their badge but learns nothing about them.
    checkpoints: list[Checkpoint]  # the open ones
    public_keys: list[str]  # base64url raw, current first
    refused: list[Any] = field(default_factory=list)


def snapshot() -> Snapshot:
    """Every accredited delegate (public id, names, category, country, status and current
    badge serial); for the others past submission only public id and badge serial; the
    open checkpoints, and the public keys."""
    rows = db.session.execute(
        select(Delegate.public_id, Delegate.badge_name, Delegate.given_name,
               Delegate.family_name, Delegate.native_name, Delegate.honorific,
               Delegate.category, Delegate.country, Delegate.status, Delegate.badge_serial,
               Delegate.details)
        .where(Delegate.status.in_(ACCREDITED_VALUES))
        .order_by(Delegate.id)
    ).all()
    refused = db.session.execute(
        select(Delegate.public_id, Delegate.badge_serial)
        .where(Delegate.status.not_in((Status.SUBMITTED.value, *ACCREDITED_VALUES)))
        .order_by(Delegate.id)
    ).all()
    return Snapshot(generated_at=utcnow(), delegates=list(rows), refused=list(refused),
                    checkpoints=list_checkpoints(active_only=True),
                    public_keys=public_keys_b64())
