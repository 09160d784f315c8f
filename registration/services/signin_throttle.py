"""Failed staff sign-ins, counted so that an attacker cannot turn them against staff.

Counts live in the LoginThrottle table (every app server sees the same numbers) under two
keys:

* **the pair** — "pair:<account email>|<client address>": after LOGIN_DELAY_AFTER_FAILURES
  failures each further attempt must wait a growing delay (1 s, 2 s, 4 s …; an attempt
  that does not wait is refused unchecked and counted), and LOGIN_MAX_FAILURES_PAIR failures
  lock *that pair only* for LOGIN_LOCK_MINUTES. Someone hammering an account from one
  address never stops its owner signing in from another.
* **the account** — "email:<account email>", across all addresses: at
  LOGIN_MAX_FAILURES_ACCOUNT failures within LOGIN_WINDOW_MINUTES the right password no
  longer signs in directly; an emailed one-time link is sent instead (signin_links.py), so a
  distributed guesser gains nothing and the owner is still never refused.

Floods from one address across many accounts are stopped by the rate limit on the sign-in
form (RATELIMIT_STAFF_LOGIN), not by a lock that would shut out a whole office behind one
proxy. Every failure is logged (account, address, count) and shown on the accounts page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import LoginThrottle, StaffUser

log = logging.getLogger(__name__)

PAIR_PREFIX = "pair:"
ACCOUNT_PREFIX = "email:"

# Defaults, each overridable in the app config under the same name (config.py sets them).
DEFAULTS = {"LOGIN_MAX_FAILURES_PAIR": 5, "LOGIN_DELAY_AFTER_FAILURES": 3,
            "LOGIN_MAX_FAILURES_ACCOUNT": 10, "LOGIN_WINDOW_MINUTES": 15,
            "LOGIN_LOCK_MINUTES": 15}


@dataclass(frozen=True)
class ThrottleSettings:
    max_pair: int
    delay_after: int
    max_account: int
    window: timedelta
    lock: timedelta


def settings() -> ThrottleSettings:
    def get(name: str) -> int:
        value = current_app.config.get(name)
        return int(DEFAULTS[name] if value is None else value)

    return ThrottleSettings(
        max_pair=get("LOGIN_MAX_FAILURES_PAIR"),
        delay_after=get("LOGIN_DELAY_AFTER_FAILURES"),
        max_account=get("LOGIN_MAX_FAILURES_ACCOUNT"),
        window=timedelta(minutes=get("LOGIN_WINDOW_MINUTES")),
        lock=timedelta(minutes=get("LOGIN_LOCK_MINUTES")),
    )


@dataclass(frozen=True)
class PairState:
    """A pair that must wait: `locked` (the short lock) or only delayed until `until`."""

    until: datetime
    locked: bool


def now() -> datetime:
    return datetime.now(UTC)


def pair_key(email: str, ip: str | None) -> str:
    return f"{PAIR_PREFIX}{email[:200]}|{(ip or 'unknown')[:64]}"


def account_key(email: str) -> str:
    return f"{ACCOUNT_PREFIX}{email[:250]}"


def delay(failures: int, s: ThrottleSettings) -> timedelta:
    """The wait after the `failures`-th failure of a pair (0 before the delays start)."""
    if failures < s.delay_after:
        return timedelta(0)
    return timedelta(seconds=min(2 ** (failures - s.delay_after), 300))


def pair_state(email: str, ip: str | None, at: datetime) -> PairState | None:
    row = db.session.get(LoginThrottle, pair_key(email, ip))
    if row is None or row.locked_until is None or row.locked_until <= at:
        return None
    return PairState(until=row.locked_until, locked=row.failures >= settings().max_pair)


def account_over_ceiling(email: str, at: datetime) -> bool:
    s = settings()
    row = db.session.get(LoginThrottle, account_key(email))
    return (row is not None and row.window_started_at + s.window > at
            and row.failures >= s.max_account)


def _count(key: str, s: ThrottleSettings, at: datetime, *, pair: bool) -> LoginThrottle:
    row = db.session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(key=key, failures=0, window_started_at=at)
        db.session.add(row)
    lock_over = row.locked_until is None or row.locked_until <= at
    if (row.window_started_at + s.window <= at and lock_over) or (
            pair and row.failures >= s.max_pair and lock_over):
        row.failures = 0
        row.window_started_at = at
        row.locked_until = None
    row.failures += 1
    if pair:
        if row.failures >= s.max_pair:
            row.locked_until = at + s.lock
        elif row.failures >= s.delay_after:
            row.locked_until = at + delay(row.failures, s)
    return row


def forget_stale(s: ThrottleSettings, at: datetime) -> None:
    """Drop counters whose window and lock are over, so guessed emails do not pile up."""
    db.session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_started_at < at - s.window,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < at),
        )
    )


def record_failure(email: str, ip: str | None, staff: StaffUser | None) -> PairState | None:
    """Count a failed attempt (commits); the pair's state afterwards."""
    s = settings()
    for attempt in range(2):
        at = now()
        try:
            forget_stale(s, at)
            row = _count(pair_key(email, ip), s, at, pair=True)
            account = _count(account_key(email), s, at, pair=False)
            if staff is not None:
                staff.failed_logins = (staff.failed_logins or 0) + 1
            state = (PairState(until=row.locked_until, locked=row.failures >= s.max_pair)
                     if row.locked_until is not None else None)
            failures = row.failures
            db.session.commit()
            log.warning("failed staff sign-in for %s from %s (%d from there, %d in all)%s",
                        email[:254], ip, failures, account.failures,
                        " - locked for this address" if state and state.locked else "")
            return state
        except IntegrityError:  # another worker inserted the same key first: count again
            db.session.rollback()
            if attempt:
                raise
    return None  # pragma: no cover - the loop returns or raises


def clear(email: str, ip: str | None) -> None:
    """A successful sign-in: the pair and the account start over (the caller commits)."""
    for key in (pair_key(email, ip), account_key(email)):
        row = db.session.get(LoginThrottle, key)
        if row is not None:
            db.session.delete(row)


@dataclass(frozen=True)
class FailedAddress:
    address: str
    failures: int
    locked_until: datetime | None


def failures_by_account() -> dict[str, list[FailedAddress]]:
    """Recent failed sign-ins per account email: from which addresses, how many, and until
    when each pair must wait (for the accounts page)."""
    at = now()
    found: dict[str, list[FailedAddress]] = {}
    rows = db.session.scalars(select(LoginThrottle)
                              .where(LoginThrottle.key.startswith(PAIR_PREFIX))
                              .order_by(LoginThrottle.window_started_at.desc()))
    for row in rows:
        email, _, address = row.key[len(PAIR_PREFIX):].rpartition("|")
        until = row.locked_until if row.locked_until and row.locked_until > at else None
        found.setdefault(email, []).append(FailedAddress(address, row.failures, until))
    return found
