"""Badge photos: check an upload, normalise it to a small cropped JPEG, store it.

`process_photo` is the one gate every photo goes through (desk upload, desk webcam,
delegates' own uploads): real JPEG/PNG/WebP content only (the file name and the declared
type are ignored), a byte limit, a pixel limit checked from the header before anything is
decoded (decompression bombs), EXIF orientation applied and then every metadata block
dropped by re-encoding, centre-cropped to the badge's photo box, at most 600×800.
Photos live in the database (DelegatePhoto), never under the web root.
"""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime
from typing import ClassVar

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

import badges

from ..extensions import db
from ..i18n import plain
from ..models import Delegate, DelegatePhoto, StaffUser
from . import audit

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel camera is the most a real photo needs
# PNG and WebP cannot be decoded at a reduced scale as JPEG can, so they are held whole in
# memory (4 bytes a pixel): keep them to what a screenshot or an edited photo needs.
MAX_PIXELS_LOSSLESS = 16_000_000
MIN_SIDE = 120
OUTPUT_BOX = (600, 800)  # the largest stored size (width, height)
FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_QUALITY = 85


def photo_aspect() -> float:
    """Width / height of the badge's photo box (the A6 design; CR80 is within 2%)."""
    box = badges.LAYOUTS["a6"].design.photo
    return box.w / box.h if box is not None and box.h else 3 / 4


class PhotoRejected(Exception):
    """An upload that is not stored. `reason` is a stable code, `status` the HTTP status."""

    STATUS: ClassVar[dict[str, int]] = {"empty": 400, "too_large": 413, "not_image": 415,
                                        "too_many_pixels": 422, "too_small": 422}

    def __init__(self, reason: str, message: object) -> None:
        self.reason = reason
        self.message = plain(message)
        self.status = self.STATUS.get(reason, 400)
        super().__init__(self.message)


def _open(data: bytes) -> Image.Image:
    """Open (header only) with Pillow's own bomb check turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoRejected("too_many_pixels", _l(
                "This image has too many pixels to be a photo. Use a photo of at most "
                "%(mp)d megapixels.", mp=MAX_PIXELS // 1_000_000)) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise PhotoRejected("not_image", _l(
                "This file is not a JPEG, PNG or WebP image. Choose a photo file.")) from None


def _crop_box(width: int, height: int, aspect: float) -> tuple[int, int, int, int]:
    if width / height > aspect:  # too wide: trim the sides
        new_w = max(1, round(height * aspect))
        left = (width - new_w) // 2
        return left, 0, left + new_w, height
    new_h = max(1, round(width / aspect))  # too tall: trim top and bottom evenly
    top = (height - new_h) // 2
    return 0, top, width, top + new_h


def process_photo(data: bytes) -> bytes:
    """Check and normalise an uploaded photo; returns JPEG bytes or raises PhotoRejected."""
    if not data:
        raise PhotoRejected("empty", _l("The file is empty. Choose a photo."))
    if len(data) > MAX_BYTES:
        raise PhotoRejected("too_large", _l(
            "This photo is larger than %(mb)d MB. Use a smaller photo.",
            mb=MAX_BYTES // (1024 * 1024)))
    image = _open(data)
    width, height = image.size
    if width * height > (MAX_PIXELS if image.format == "JPEG" else MAX_PIXELS_LOSSLESS):
        raise PhotoRejected("too_many_pixels", _l(
            "This image has too many pixels to be a photo. Use a photo of at most "
            "%(mp)d megapixels.", mp=(MAX_PIXELS if image.format == "JPEG"
                                      else MAX_PIXELS_LOSSLESS) // 1_000_000))
    if min(width, height) < MIN_SIDE:
        raise PhotoRejected("too_small", _l(
            "This photo is too small to print (at least %(n)d pixels on each side).",
            n=MIN_SIDE))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Work at a few times the stored size, not the camera's: a JPEG decodes straight
            # to a reduced scale (draft), anything else is shrunk right after loading, so a
            # 40-megapixel upload does not hold hundreds of MB through the conversions.
            work_box = (OUTPUT_BOX[0] * 3, OUTPUT_BOX[1] * 3)
            image.draft("RGB", work_box)
            image.load()
            image.thumbnail(work_box, Image.Resampling.BILINEAR)
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P"
                                                       and "transparency" in image.info):
                rgba = image.convert("RGBA")
                background = Image.new("RGB", rgba.size, (255, 255, 255))
                background.paste(rgba, mask=rgba.getchannel("A"))
                image = background
            else:
                image = image.convert("RGB")
    except PhotoRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        raise PhotoRejected("not_image", _l(
            "This image is damaged or incomplete. Take or choose the photo again.")) from None
    image = image.crop(_crop_box(image.width, image.height, photo_aspect()))
    image.thumbnail(OUTPUT_BOX, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # No exif/icc arguments: the re-encoded file carries no metadata (GPS, camera, ...).
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def set_photo(delegate: Delegate, jpeg: bytes, staff: StaffUser | None, *,
              source: str = "upload", actor: str = "system") -> None:
    """Store an already processed photo (see process_photo) and commit."""
    photo = delegate.photo
    replaced = photo is not None
    if photo is None:
        delegate.photo = DelegatePhoto(jpeg=jpeg)
    else:
        photo.jpeg = jpeg
    delegate.updated_at = datetime.now(UTC)  # the badge changed (batch print compares it)
    if delegate.printed_at is not None:
        delegate.needs_reprint = True
    audit.record(delegate, "photo_changed", actor=actor, staff=staff, source=source,
                 replaced=replaced, bytes=len(jpeg), needs_reprint=delegate.needs_reprint)
    db.session.commit()


def delete_photo(delegate: Delegate, staff: StaffUser | None, *, actor: str = "system"
                 ) -> bool:
    """Remove the photo (False when there was none) and commit."""
    if delegate.photo is None:
        return False
    delegate.photo = None
    delegate.updated_at = datetime.now(UTC)
    if delegate.printed_at is not None:
        delegate.needs_reprint = True
    audit.record(delegate, "photo_removed", actor=actor, staff=staff,
                 needs_reprint=delegate.needs_reprint)
    db.session.commit()
    return True
