"""Check-in at the doors, one module per job:

* `scan`: deciding and recording one scan (the rules are in its docstring);
* `checkpoints`: the zones (list, save, who each admits);
* `snapshot`: what an offline scanner keeps to give provisional answers;
* `dashboard`: the live figures for the desk.

This module holds the little they share: the error they raise and the time format they
write. The API's JSON shapes live in `registration/api/shapes.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class CheckinError(ValueError):
    """A request that cannot be decided (unknown checkpoint...); `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def iso(value: datetime | None) -> str | None:
    """A time as check-in writes it (API, dashboard, audit): UTC, milliseconds, "Z"."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_head_of_delegation(details: dict[str, Any] | None) -> bool:
    value = (details or {}).get("head_of_delegation")
    if isinstance(value, str):
        return value.strip().lower() in {"y", "yes", "true", "1", "on"}
    return bool(value)


def display_name(delegate: Any) -> str:
    """The name a door and the dashboard show: the badge name, else the full name."""
    return delegate.badge_name or delegate.full_name
