"""Writing the audit trail. Every service that changes a delegate records it here."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AuditEntry, Delegate, StaffUser


def actor_label(staff: StaffUser | None, fallback: str = "system") -> str:
    return f"staff:{staff.email}" if staff is not None else fallback


def record(delegate: Delegate | None, action: str, *, actor: str = "system",
           staff: StaffUser | None = None, **details: Any) -> AuditEntry:
    """Append an audit entry to the current transaction (the caller commits)."""
    entry = AuditEntry(
        delegate_id=delegate.id if delegate is not None else None,
        staff_id=staff.id if staff is not None else None,
        actor=actor_label(staff, actor) if staff is not None else actor,
        action=action,
        details=details,
    )
    db.session.add(entry)
    return entry
