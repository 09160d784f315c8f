"""Checkpoints (zones) at the doors: listing, saving, and whom each one admits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select

from ...editions import current_edition_id
from ...extensions import db
from ...fields import CATEGORY_KEYS
from ...models import Checkpoint, StaffUser
from .. import audit
from . import CheckinError, is_head_of_delegation

_C = Checkpoint.__table__
# The scan path reads the checkpoint as a Core row (no ORM entity: see scan.py).
_CHECKPOINT_SELECT = select(
    _C.c.id, _C.c.name, _C.c.allowed_categories, _C.c.admit_heads_of_delegation, _C.c.active
).where(_C.c.id == bindparam("checkpoint_id"), _C.c.edition_id == bindparam("edition_id"))


def list_checkpoints(*, active_only: bool = False) -> list[Checkpoint]:
    query = select(Checkpoint).order_by(Checkpoint.id != "main", Checkpoint.name)
    if active_only:
        query = query.where(Checkpoint.active.is_(True))
    return list(db.session.scalars(query))


def find_checkpoint(checkpoint_id: str) -> Checkpoint | None:
    """The current edition's checkpoint `checkpoint_id`, open or closed (for the admin
    page's edit form). Its key is (edition, id)."""
    return db.session.scalar(select(Checkpoint).where(Checkpoint.id == checkpoint_id))


def get_checkpoint(checkpoint_id: str) -> Any:
    """The open checkpoint `checkpoint_id` (a row: id, name, allowed_categories,
    admit_heads_of_delegation, active); CheckinError if unknown or closed."""
    row = db.session.execute(_CHECKPOINT_SELECT, {
        "checkpoint_id": checkpoint_id, "edition_id": current_edition_id()}).first() \
        if checkpoint_id else None
    if row is None or not row.active:
        raise CheckinError("unknown_checkpoint", f"No open checkpoint {checkpoint_id!r}.")
    return row


def save_checkpoint(checkpoint_id: str, name: str, allowed_categories: Iterable[str] | None,
                    admit_heads_of_delegation: bool, *, active: bool = True,
                    staff: StaffUser | None = None) -> Checkpoint:
    """Create or update a checkpoint. `allowed_categories` None (or every category) admits
    every accredited delegate."""
    checkpoint_id = checkpoint_id.strip().lower()
    if not checkpoint_id or len(checkpoint_id) > 32 or not all(
        c.isascii() and (c.isalnum() or c in "-_") for c in checkpoint_id
    ):
        raise CheckinError("invalid_checkpoint_id",
                           "Use 1 to 32 letters, digits, '-' or '_' for the checkpoint id.")
    name = name.strip()
    if not name or len(name) > 100:
        raise CheckinError("invalid_name", "A checkpoint name of 1 to 100 characters is needed.")
    categories: list[str] | None = None
    if allowed_categories is not None:
        chosen = set(allowed_categories)
        unknown = chosen - set(CATEGORY_KEYS)
        if unknown:
            raise CheckinError("unknown_category", f"Unknown categories: {sorted(unknown)}")
        categories = None if chosen == set(CATEGORY_KEYS) else [
            c for c in CATEGORY_KEYS if c in chosen]
    if checkpoint_id == "main" and (categories is not None or not active):
        raise CheckinError("main_is_open",
                           "The main entrance admits every accredited delegate and stays open.")
    found = find_checkpoint(checkpoint_id)
    created = found is None
    checkpoint = Checkpoint(id=checkpoint_id) if found is None else found
    if created:
        db.session.add(checkpoint)
    checkpoint.name = name
    checkpoint.allowed_categories = categories
    checkpoint.admit_heads_of_delegation = bool(admit_heads_of_delegation)
    checkpoint.active = active
    audit.record(None, "checkpoint_saved", staff=staff, checkpoint=checkpoint_id,
                 created=created, allowed_categories=categories,
                 admit_heads_of_delegation=bool(admit_heads_of_delegation), active=active)
    db.session.commit()
    return checkpoint


def admits(checkpoint: Any, delegate: Any) -> bool:
    """Whether the zone lets this (accredited) delegate in."""
    if checkpoint.allowed_categories is None:
        return True
    if delegate.category in checkpoint.allowed_categories:
        return True
    return bool(checkpoint.admit_heads_of_delegation
                and is_head_of_delegation(delegate.details))
