"""Writing the audit trail. Every service that changes a delegate records it here."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert

from ..editions import edition_id_for
from ..extensions import db
from ..models import AuditEntry, Delegate, StaffUser


def actor_label(staff: StaffUser | None, fallback: str = "system") -> str:
    return f"staff:{staff.email}" if staff is not None else fallback


# Written with a plain INSERT on the session's connection, not as a new ORM object: the
# unit of work's bookkeeping for one more object cost 400 µs against 140 µs (an entry on
# every registration, bench/cpu_per_request.py), and nothing reads an entry back as an
# object in the transaction that writes it.
_INSERT = insert(cast(Table, AuditEntry.__table__))


def record(delegate: Delegate | None, action: str, *, actor: str = "system",
           staff: StaffUser | None = None, **details: Any) -> None:
    """Add an audit entry to the current transaction (the caller commits; a rollback takes
    it back with the rest). It belongs to the delegate's edition, else the current one."""
    db.session.connection().execute(_INSERT, {
        "edition_id": edition_id_for(delegate),
        "delegate_id": delegate.id if delegate is not None else None,
        "staff_id": staff.id if staff is not None else None,
        "actor": actor_label(staff, actor) if staff is not None else actor,
        "action": action,
        "details": details,
    })
