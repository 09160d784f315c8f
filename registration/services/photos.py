"""Badge photos: check an upload, normalise it to a small cropped JPEG, store it.

`process_photo` is the one gate every photo goes through (desk upload, desk webcam,
delegates' own uploads): real JPEG/PNG/WebP content only (the file name and the declared
type are ignored), a byte limit, a pixel limit checked from the header before anything is
decoded (decompression bombs), EXIF orientation applied and then every metadata block
dropped by re-encoding, centre-cropped to the badge's photo box, at most 600×800, and
then exactly one face must be visible (services/face_check.py, OpenCV): "no face found" and
"several faces" are said plainly. Only the desk may keep such a photo, with a reason that is
audited (`set_photo(..., face_override=...)`).
Photos live in the database (DelegatePhoto), never under the web root, each with a
thumbnail of at most THUMB_MAX_BYTES that door scanners keep for offline use.
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
from .face_check import FaceResult, check_faces

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel camera is the most a real photo needs
# PNG and WebP cannot be decoded at a reduced scale as JPEG can, so they are held whole in
# memory (4 bytes a pixel): keep them to what a screenshot or an edited photo needs.
MAX_PIXELS_LOSSLESS = 16_000_000
MIN_SIDE = 120
OUTPUT_BOX = (600, 800)  # the largest stored size (width, height)
FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_QUALITY = 85
THUMB_BOX = (150, 200)  # the door's offline copy: enough to compare a face
THUMB_MAX_BYTES = 8 * 1024
MAX_OVERRIDE_REASON = 300
# Upload refusals that the desk may override with a reason (the face check's).
FACE_REASONS = {FaceResult.NONE: "no_face", FaceResult.SEVERAL: "several_faces"}


def photo_aspect() -> float:
    """Width / height of the badge's photo box (the A6 design; CR80 is within 2%)."""
    box = badges.LAYOUTS["a6"].design.photo
    return box.w / box.h if box is not None and box.h else 3 / 4


class PhotoRejected(Exception):
    """An upload that is not stored. `reason` is a stable code, `status` the HTTP status."""

    STATUS: ClassVar[dict[str, int]] = {"empty": 400, "too_large": 413, "not_image": 415,
                                        "too_many_pixels": 422, "too_small": 422,
                                        "no_face": 422, "several_faces": 422}

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


def face_message(result: FaceResult) -> object:
    """What the delegate or the desk is told when the face check refuses a photo."""
    if result is FaceResult.SEVERAL:
        return _l("This photo shows several faces. Use a photo of one person only, the "
                  "delegate, looking at the camera.")
    return _l("No face was found in this photo. Use a recent photo of the delegate's face, "
              "looking at the camera, on a plain background.")


def process_photo(data: bytes, *, check_face: bool = True) -> bytes:
    """Check and normalise an uploaded photo; returns JPEG bytes or raises PhotoRejected.

    `check_face=False` skips the face check: only for the desk's override with a reason
    (see set_photo) and for callers that check faces themselves."""
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
    if check_face:
        result = check_faces(image)
        if result is not FaceResult.ONE:
            raise PhotoRejected(FACE_REASONS[result], face_message(result))
    out = io.BytesIO()
    # No exif/icc arguments: the re-encoded file carries no metadata (GPS, camera, ...).
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def thumbnail(jpeg: bytes) -> bytes:
    """A small JPEG of a stored photo for the door's offline list: at most THUMB_MAX_BYTES
    (quality lowered, then the size, until it fits)."""
    source = Image.open(io.BytesIO(jpeg))
    source.draft("RGB", THUMB_BOX)
    image = source.convert("RGB")
    box = THUMB_BOX
    while True:
        small = image.copy()
        small.thumbnail(box, Image.Resampling.LANCZOS)
        for quality in (75, 65, 55, 45, 35):
            out = io.BytesIO()
            small.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= THUMB_MAX_BYTES:
                return out.getvalue()
        box = (box[0] * 3 // 4, box[1] * 3 // 4)


def clean_override_reason(reason: str | None) -> str:
    """The desk's reason for keeping a photo the face check refused ("" when none)."""
    return " ".join((reason or "").split())[:MAX_OVERRIDE_REASON]


def set_photo(delegate: Delegate, jpeg: bytes, staff: StaffUser | None, *,
              source: str = "upload", actor: str = "system",
              face_override: tuple[str, str] | None = None) -> None:
    """Store an already processed photo (see process_photo) and its thumbnail; commit.

    `face_override`: (the face check's refusal code, the desk's reason) when the desk keeps
    a photo the face check refused; audited with the change."""
    photo = delegate.photo
    replaced = photo is not None
    thumb = thumbnail(jpeg)
    if photo is None:
        delegate.photo = DelegatePhoto(jpeg=jpeg, thumb=thumb)
    else:
        photo.jpeg, photo.thumb = jpeg, thumb
    delegate.updated_at = datetime.now(UTC)  # the badge changed (batch print compares it)
    if delegate.printed_at is not None:
        delegate.needs_reprint = True
    extra = ({"face_check": face_override[0], "face_override": face_override[1]}
             if face_override else {})
    audit.record(delegate, "photo_changed", actor=actor, staff=staff, source=source,
                 replaced=replaced, bytes=len(jpeg), needs_reprint=delegate.needs_reprint,
                 **extra)
    db.session.commit()


def process_for_desk(data: bytes, override_reason: str | None
                     ) -> tuple[bytes, tuple[str, str] | None]:
    """The desk's upload: the usual checks; a face-check refusal is kept only with a
    reason. Returns (jpeg, face_override for set_photo) or raises PhotoRejected."""
    reason = clean_override_reason(override_reason)
    try:
        return process_photo(data), None
    except PhotoRejected as exc:
        if exc.reason not in FACE_REASONS.values() or not reason:
            raise
        return process_photo(data, check_face=False), (exc.reason, reason)


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
