"""Changing an edition's settings (the admin's /staff/settings page): the logo check, the
registration window in the edition's time zone, and the audit of every change.

A logo goes through the same kind of gate as badge photos (services/photos.py): real PNG or
JPEG content only (the file name and the declared type are ignored), a byte limit, a pixel
limit read from the header before decoding, then re-encoded (no metadata kept) and shrunk to
at most LOGO_MAX_SIDE pixels. PNG stays PNG (transparency), JPEG stays JPEG.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from ..extensions import db
from ..i18n import plain
from ..models import Edition, StaffUser
from . import audit

LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 25_000_000
LOGO_MAX_SIDE = 1200
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


class LogoRejected(ValueError):
    """An upload that is not a usable logo; the message is for the admin."""

    def __init__(self, message: object) -> None:
        self.message = plain(message)
        super().__init__(self.message)


def process_logo(data: bytes) -> tuple[bytes, str]:
    """Check and re-encode an uploaded logo; returns (bytes, mime type) or raises."""
    if not data:
        raise LogoRejected(_l("The file is empty. Choose a PNG or JPEG image."))
    if len(data) > LOGO_MAX_BYTES:
        raise LogoRejected(_l("The image is larger than %(mb)d MB. Use a smaller one.",
                              mb=LOGO_MAX_BYTES // (1024 * 1024)))
    not_image = _l("This file is not a PNG or JPEG image. Choose one of those.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=tuple(LOGO_FORMATS))
            if image.width * image.height > LOGO_MAX_PIXELS:
                raise LogoRejected(_l("This image has too many pixels. Use a smaller one."))
            fmt = str(image.format)
            image.load()
            image.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if fmt == "PNG":
                keep = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
                image.convert(keep).save(out, "PNG", optimize=True)
            else:
                image.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
    except LogoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LogoRejected(_l("This image has too many pixels. Use a smaller one.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise LogoRejected(not_image) from None
    return out.getvalue(), LOGO_FORMATS[fmt]


def logo_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def to_utc(local: datetime | None, timezone: str) -> datetime | None:
    """A date-time typed on the page (the edition's local time) as stored (UTC)."""
    if local is None:
        return None
    return local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def to_local(value: datetime | None, timezone: str) -> datetime | None:
    """A stored time as the page shows it: the edition's local time, without the zone."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def save_settings(edition: Edition, values: dict[str, Any], *,
                  logo: tuple[bytes, str] | None = None, remove_logo: bool = False,
                  staff: StaffUser | None = None) -> dict[str, list[Any]]:
    """Apply `values` (column name → value, already validated; times in UTC) and a new
    logo (as process_logo returned it) or its removal; record what changed in the audit
    trail and commit. Returns the changes (name → [before, after])."""
    before = edition.settings()
    for key, value in values.items():
        setattr(edition, key, value)
    if logo is not None:
        data, mime = logo
        edition.logo, edition.logo_mime, edition.logo_digest = data, mime, logo_digest(data)
    elif remove_logo:
        edition.logo, edition.logo_mime, edition.logo_digest = None, "", ""
    after = edition.settings()
    changes = {k: [before.get(k), after[k]] for k in after if before.get(k) != after[k]}
    if changes:
        audit.record(None, "edition_settings", staff=staff, edition=edition.slug,
                     changes=changes)
    if "identity_categories" in changes:  # who waits as `incomplete` changed
        from .identity import refresh_edition

        refresh_edition(edition)
    db.session.commit()
    return changes
