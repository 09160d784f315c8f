"""Figures for the live check-in dashboard on the staff desk."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ...editions import timezone_name
from ...extensions import db
from ...fields import CATEGORY_KEYS
from ...i18n import category_label
from ...models import CheckIn, Checkpoint, Delegate, Device, Scan, StaffUser
from ...models.status import ACCREDITED_VALUES
from ...models.types import utcnow
from . import display_name, is_head_of_delegation, iso
from .checkpoints import list_checkpoints

BUCKET = timedelta(minutes=10)


def _bucket_start(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return value.replace(minute=value.minute - value.minute % 10, second=0, microsecond=0)


def dashboard(*, now: datetime | None = None, hours: int = 4, last: int = 15) -> dict[str, Any]:
    """Figures for the live dashboard: checked in vs accredited per category and per
    checkpoint, arrivals (first check-in anywhere) per 10 minutes, the last scans."""
    now = now or utcnow()
    accredited: Counter[str] = Counter(dict(db.session.execute(
        select(Delegate.category, func.count(Delegate.id))
        .where(Delegate.status.in_(ACCREDITED_VALUES))
        .group_by(Delegate.category)
    ).tuples().all()))
    arrivals_q = (
        select(CheckIn.delegate_id, func.min(CheckIn.checked_in_at).label("first"))
        .group_by(CheckIn.delegate_id).subquery()
    )
    arrived: Counter[str] = Counter(dict(db.session.execute(
        select(Delegate.category, func.count(arrivals_q.c.delegate_id))
        .join(arrivals_q, arrivals_q.c.delegate_id == Delegate.id)
        .group_by(Delegate.category)
    ).tuples().all()))
    categories = [
        {"key": key, "label": category_label(key), "checked_in": arrived.get(key, 0),
         "accredited": accredited.get(key, 0)}
        for key in CATEGORY_KEYS
    ]

    per_checkpoint: dict[str, int] = dict(db.session.execute(
        select(CheckIn.checkpoint_id, func.count(CheckIn.id)).group_by(CheckIn.checkpoint_id)
    ).tuples().all())
    heads_by_category: Counter[str] | None = None
    checkpoints = []
    total_accredited = sum(accredited.values())
    for cp in list_checkpoints():
        if cp.allowed_categories is None:
            eligible = total_accredited
        else:
            eligible = sum(accredited.get(c, 0) for c in cp.allowed_categories)
            if cp.admit_heads_of_delegation:
                if heads_by_category is None:
                    heads_by_category = Counter(
                        category for category, details in db.session.execute(
                            select(Delegate.category, Delegate.details)
                            .where(Delegate.status.in_(ACCREDITED_VALUES))
                        ) if is_head_of_delegation(details)
                    )
                eligible += sum(n for c, n in heads_by_category.items()
                                if c not in cp.allowed_categories)
        checkpoints.append({"id": cp.id, "name": cp.name, "active": cp.active,
                            "checked_in": per_checkpoint.get(cp.id, 0), "eligible": eligible})

    end = _bucket_start(now) + BUCKET
    start = end - timedelta(hours=hours)
    firsts = db.session.scalars(
        select(arrivals_q.c.first).where(arrivals_q.c.first >= start)
    ).all()
    counts: Counter[datetime] = Counter()
    for first in firsts:
        if first.tzinfo is None:  # SQLite returns aggregates without the column type
            first = first.replace(tzinfo=UTC)
        counts[_bucket_start(first)] += 1
    buckets = []
    cursor = start
    while cursor < end:
        buckets.append({"start": iso(cursor), "count": counts.get(cursor, 0)})
        cursor += BUCKET

    scans = db.session.execute(
        select(Scan, Checkpoint.name, Delegate, Device.name, StaffUser.email)
        .join(Checkpoint, (Checkpoint.id == Scan.checkpoint_id)
              & (Checkpoint.edition_id == Scan.edition_id))
        .outerjoin(Delegate, Delegate.id == Scan.delegate_id)
        .outerjoin(Device, Device.id == Scan.device_id)
        .outerjoin(StaffUser, StaffUser.id == Scan.staff_id)
        .order_by(Scan.id.desc()).limit(last)
    ).all()
    last_scans = [
        {"scanned_at": iso(scan.scanned_at), "checkpoint": scan.checkpoint_id,
         "checkpoint_name": cp_name, "result": scan.result, "offline": scan.offline,
         "name": display_name(d) if d is not None else None,
         "category": d.category if d is not None else None,
         "device": device_name or staff_email}
        for scan, cp_name, d, device_name, staff_email in scans
    ]
    return {
        "generated_at": iso(now),
        "timezone": timezone_name(),
        "totals": {"checked_in": sum(arrived.values()), "accredited": total_accredited},
        "categories": categories,
        "checkpoints": checkpoints,
        "arrivals": {"bucket_minutes": 10, "buckets": buckets},
        "last_scans": last_scans,
    }
