"""One delegate's record as the desk reads it: found by public id or email, with its
check-ins, audit trail, status history and any change the delegate asked for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import CheckIn, Delegate
from ..validation import email_keys
from . import accreditation, self_service
from .delegate_edit import form_data


def by_public_id(public_id: uuid.UUID) -> Delegate | None:
    return db.session.scalar(select(Delegate).where(Delegate.public_id == public_id))


def by_email(email: str) -> Delegate | None:
    """The delegate registered with this address (validation.email_key: case, +tags and
    Gmail dots folded; rows keyed by the older rule found too), if any."""
    return db.session.scalar(select(Delegate).where(Delegate.email_key.in_(email_keys(email)))
                             .limit(1))


def check_ins(delegate: Delegate) -> list[tuple[str, datetime]]:
    """(checkpoint id, when) for each check-in, oldest first."""
    rows = db.session.execute(
        select(CheckIn.checkpoint_id, CheckIn.checked_in_at)
        .where(CheckIn.delegate_id == delegate.id).order_by(CheckIn.checked_in_at)
    ).all()
    return [(checkpoint, at) for checkpoint, at in rows]


@dataclass
class Record:
    """Everything the desk's record page shows besides the delegate's own fields."""

    trail: list[accreditation.TrailItem]
    history: list[tuple[datetime, str, str, str]]
    allowed: dict[str, bool]
    checkins: list[tuple[str, datetime]]
    change_request: dict[str, Any] | None
    current_values: dict[str, Any]


def load(delegate: Delegate) -> Record:
    trail = accreditation.audit_trail(delegate)
    return Record(
        trail=trail,
        history=accreditation.status_history(trail, delegate),
        allowed=accreditation.allowed_actions(delegate),
        checkins=check_ins(delegate),
        change_request=self_service.pending_change_request(delegate),
        current_values=form_data(delegate),
    )
