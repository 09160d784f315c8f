"""The desk edits a delegate's details: audited field by field, reprint flagged when
something printed on the badge changes after printing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..fields import CATEGORY_FIELDS, COMMON_FIELDS
from ..models import Delegate, StaffUser
from ..validation import email_key
from . import audit
from .identity import save_identity


class EditRefused(Exception):
    """The edit cannot be saved: `reason` is "duplicate_email" or "second_head" (with the
    message naming the delegation's head)."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message


def form_data(delegate: Delegate) -> dict[str, Any]:
    """The delegate keyed like the DelegateForm (common fields and category answers): the
    initial data of the desk's and the delegate's own edit forms, and what a change request
    is compared with."""
    data: dict[str, Any] = {name: getattr(delegate, name) for name in COMMON_FIELDS}
    data.update(delegate.details or {})
    if delegate.identity is not None:  # never the secrets: forms show them masked
        data.update({name: getattr(delegate.identity, name) or "" for name in
                     ("nationality", "document_type", "document_country")})
    return data


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    return "" if value is None else value


def diff(delegate: Delegate, clean: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for every field `clean` would change (category answers by name)."""
    changes: dict[str, list[Any]] = {}
    for name in COMMON_FIELDS:
        old, new = _comparable(getattr(delegate, name)), _comparable(clean[name])
        if old != new:
            changes[name] = [old, new]
    old_details = dict(delegate.details or {})
    new_details = dict(clean.get("details") or {})
    known = [f.name for fs in CATEGORY_FIELDS.values() for f in fs]
    for name in [*known, *sorted((set(old_details) | set(new_details)) - set(known))]:
        if name not in old_details and name not in new_details:
            continue
        old, new = old_details.get(name), new_details.get(name)
        # A category answer that was never given and is now empty is not a change.
        if (old in (None, "", [], False)) and (new in (None, "", [], False)):
            continue
        if old != new:
            changes[name] = [old, new]
    return changes


def _apply_head(delegate: Delegate, staff: StaffUser | None) -> None:
    """A delegation's member: the head is the delegation's decision, under its one-head rule
    (delegations.apply_head_edit)."""
    from .delegations import DelegationError, apply_head_edit

    try:
        apply_head_edit(delegate, bool((delegate.details or {}).get("head_of_delegation")),
                        staff)
    except DelegationError as exc:
        db.session.rollback()
        raise EditRefused("second_head", exc.message) from None


def email_taken(delegate: Delegate, email: str) -> bool:
    """Whether another registration uses `email` (compared as email keys)."""
    return db.session.scalar(
        select(Delegate.id).where(Delegate.email_key == email_key(email),
                                  Delegate.id != delegate.id)
    ) is not None


def edit_delegate(delegate: Delegate, clean: dict[str, Any],
                  staff: StaffUser | None) -> dict[str, list[Any]]:
    """Apply values cleaned by validation.clean_record, audit the changes, commit.

    Returns the changes ({} when nothing changed: nothing is written); identity fields
    appear by name only, with no values. Raises EditRefused."""
    changes = diff(delegate, clean)
    if not changes:
        identity_changed = save_identity(delegate, clean.get("identity"),
                                         actor="staff", staff=staff)
        if identity_changed:
            db.session.commit()
        return {name: [None, None] for name in identity_changed}
    if "email" in changes and email_taken(delegate, clean["email"]):
        raise EditRefused("duplicate_email")
    for name in COMMON_FIELDS:
        if name in changes:
            setattr(delegate, name, clean[name])
    if "email" in changes:
        delegate.email_key = email_key(clean["email"])
    delegate.details = dict(clean.get("details") or {})
    if "head_of_delegation" in changes:
        _apply_head(delegate, staff)
    reprint = delegate.printed_at is not None and any(
        name in changes for name in Delegate.BADGE_FIELDS
    )
    if reprint:
        delegate.needs_reprint = True
    delegate.refresh_search_text()
    extra: dict[str, Any] = {"needs_reprint": True} if reprint else {}
    audit.record(delegate, "edited", staff=staff, changes=changes, **extra)
    identity_changed = save_identity(delegate, clean.get("identity"), actor="staff",
                                     staff=staff)
    try:
        db.session.commit()
    except IntegrityError:  # the address was taken between the check and the commit
        db.session.rollback()
        raise EditRefused("duplicate_email") from None
    return {**changes, **{name: [None, None] for name in identity_changed}}
