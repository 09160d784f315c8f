"""Scanner devices: per-device bearer tokens for the check-in API.

A token is `secrets.token_urlsafe(32)` shown once when issued; only its SHA-256 (hex) is
stored, so a stolen database does not yield usable tokens. Revoking sets `revoked_at`, and
`authenticate` checks it on every request (no cache), so a revoked token fails at once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, update

from ..editions import current_edition_id
from ..extensions import db
from ..models import Device, StaffUser
from ..models.types import utcnow
from . import audit

# `last_seen_at` is written at most this often per device, not on every scan.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


class DeviceError(ValueError):
    """A device operation that cannot be done; `code` is stable for callers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def list_devices() -> list[Device]:
    return list(db.session.scalars(select(Device).order_by(Device.revoked_at.is_not(None),
                                                           Device.name)))


def issue(name: str, *, staff: StaffUser | None = None, kiosk: bool = False,
          printer_id: int | None = None) -> tuple[Device, str]:
    """Create a device and return it with its token (the only time the token exists).
    A kiosk (`kiosk=True`) prints delegates' badges on `printer_id` and cannot check in.

    A revoked device's name may be reused: the old row is renamed so its scans keep
    pointing at it. An active device with the same name is an error."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DeviceError("invalid_name", "A device name of 1 to 100 characters is required.")
    if kiosk != (printer_id is not None):
        raise DeviceError("kiosk_printer", "A kiosk needs a printer, and only a kiosk has one.")
    existing = db.session.scalar(select(Device).where(Device.name == name))
    if existing is not None:
        if existing.revoked_at is None:
            raise DeviceError("name_taken", f"A device named {name!r} already exists.")
        suffix = existing.revoked_at.strftime("%Y%m%dT%H%M%S")
        existing.name = f"{name[:60]} (revoked {suffix}#{existing.id})"
        db.session.flush()
    token = secrets.token_urlsafe(32)
    device = Device(name=name, token_hash=hash_token(token), kiosk=kiosk, printer_id=printer_id)
    db.session.add(device)
    db.session.flush()
    audit.record(None, "device_issued", staff=staff, device=name, device_id=device.id,
                 kiosk=kiosk, printer_id=printer_id)
    db.session.commit()
    return device, token


def revoke(name: str, *, staff: StaffUser | None = None) -> Device:
    """Revoke the active device called `name`; its token stops working immediately."""
    device = db.session.scalar(
        select(Device).where(Device.name == name.strip(), Device.revoked_at.is_(None))
    )
    if device is None:
        raise DeviceError("unknown_device", f"No active device named {name!r}.")
    device.revoked_at = utcnow()
    _cache.clear()
    audit.record(None, "device_revoked", staff=staff, device=device.name, device_id=device.id)
    db.session.commit()
    return device


def revoke_by_id(device_id: int, *, staff: StaffUser | None = None) -> Device:
    device = db.session.get(Device, device_id)
    if device is None or device.revoked_at is not None:
        raise DeviceError("unknown_device", "No such active device.")
    return revoke(device.name, staff=staff)


@dataclass(frozen=True)
class DeviceIdentity:
    """The authenticated device of a request (read with one Core select per request)."""

    id: int
    name: str
    kiosk: bool = False
    printer_id: int | None = None


_BY_HASH = select(Device.__table__.c.id, Device.__table__.c.name, Device.__table__.c.revoked_at,
                  Device.__table__.c.last_seen_at, Device.__table__.c.kiosk,
                  Device.__table__.c.printer_id).where(
    Device.__table__.c.token_hash == bindparam("token_hash"),
    Device.__table__.c.edition_id == bindparam("edition_id"))  # a device works for its edition


# authenticate_cached: known tokens, per process, for the check-in fast path. A revocation
# clears this process's cache at once; other processes see it within DEVICE_CACHE_SECONDS.
DEVICE_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, DeviceIdentity]] = {}


def authenticate_cached(token: str) -> DeviceIdentity | None:
    """`authenticate`, remembered for DEVICE_CACHE_SECONDS (unknown tokens are not)."""
    if not token or len(token) > 200:
        return None
    key = hash_token(token)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    device = authenticate(token)
    if device is not None:
        if len(_cache) > 10000:
            _cache.clear()
        _cache[key] = (now + DEVICE_CACHE_SECONDS, device)
    else:
        _cache.pop(key, None)
    return device


def authenticate(token: str) -> DeviceIdentity | None:
    """The active device holding `token`, or None (unknown or revoked). Checked against the
    database on every request: a revoked token fails at once, in every worker."""
    if not token or len(token) > 200:
        return None
    row = db.session.execute(_BY_HASH, {"token_hash": hash_token(token),
                                        "edition_id": current_edition_id()}).first()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_seen_at is None or now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        # A conditional UPDATE (not an ORM change) so concurrent requests do not fight.
        db.session.execute(
            update(Device)
            .where(Device.id == row.id)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return DeviceIdentity(id=row.id, name=row.name, kiosk=bool(row.kiosk),
                          printer_id=row.printer_id)
