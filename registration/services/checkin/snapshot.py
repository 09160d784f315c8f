"""The offline snapshot: what a scanner keeps so that it can give a provisional answer when
the network is down. `registration/api/shapes.py` turns it into the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, literal, or_, select

from ...editions import current_edition_id, first_edition_id
from ...extensions import db
from ...models import Checkpoint, Delegate, DelegatePhoto, Status
from ...models.status import ACCREDITED_VALUES
from ...models.types import utcnow
from ...text import reference_key
from ..admission import REASON_VETTING, admitted_clause, held_by_vetting_clause
from ..badge_signing import public_keys_b64
from .checkpoints import list_checkpoints


@dataclass
class Snapshot:
    generated_at: datetime
    # Who may enter (an accredited status): public_id, badge_name, given_name, family_name,
    # native_name, honorific, category, country, status, badge_serial, details,
    # delegation_id (no contact data), photo_at (the photo's version: its updated_at, None
    # without a photo; the door keeps the photo's thumbnail for offline use).
    delegates: list[Any]
    # Everyone else past submission (rejected, cancelled, or accredited but not cleared
    # where vetting is required): public_id, badge_serial and reason ("status" or
    # "vetting") only, so an offline scanner still refuses their badge but learns nothing
    # about them.
    checkpoints: list[Checkpoint]  # the open ones
    public_keys: list[str]  # base64url raw, current first
    # Typed reference code (its key, text.reference_key) → public id, for accredited
    # delegates only: the door finds the delegate of a typed code offline. Delegates who
    # may not enter are not findable by a code anyone can read off a badge.
    references: dict[str, str] = field(default_factory=dict)
    # Badges carry their edition: another edition's is refused offline too. Tokens printed
    # before editions (without one) belong to `legacy_edition`, the first.
    edition: int | None = None
    legacy_edition: int | None = None
    refused: list[Any] = field(default_factory=list)


def snapshot() -> Snapshot:
    """Every accredited delegate (public id, names, category, country, status and current
    badge serial); for the others past submission only public id and badge serial; the
    open checkpoints, and the public keys."""
    rows = db.session.execute(
        select(Delegate.public_id, Delegate.badge_name, Delegate.given_name,
               Delegate.family_name, Delegate.native_name, Delegate.honorific,
               Delegate.category, Delegate.country, Delegate.status, Delegate.badge_serial,
               Delegate.details, Delegate.delegation_id,
               DelegatePhoto.updated_at.label("photo_at"))
        .outerjoin(DelegatePhoto, DelegatePhoto.delegate_id == Delegate.id)
        .where(admitted_clause())
        .order_by(Delegate.id)
    ).all()
    # Why each is refused: "vetting" (accredited, not cleared) or "status".
    reason = case((Delegate.status.in_(ACCREDITED_VALUES), literal(REASON_VETTING)),
                  else_=literal("status"))
    refused = db.session.execute(
        select(Delegate.public_id, Delegate.badge_serial, reason.label("reason"))
        .where(or_(Delegate.status.not_in((Status.SUBMITTED.value, *ACCREDITED_VALUES)),
                   held_by_vetting_clause()))
        .order_by(Delegate.id)
    ).all()
    return Snapshot(generated_at=utcnow(), delegates=list(rows), refused=list(refused),
                    checkpoints=list_checkpoints(active_only=True),
                    public_keys=public_keys_b64(), references=_references(),
                    edition=current_edition_id(), legacy_edition=first_edition_id())


def _references() -> dict[str, str]:
    """Reference key → public id of every admitted delegate (Snapshot.references)."""
    rows = db.session.execute(select(Delegate.reference, Delegate.public_id)
                              .where(admitted_clause()))
    return {key: str(public_id) for reference, public_id in rows
            if (key := reference_key(reference or "")) is not None}
