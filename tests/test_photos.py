"""Badge photos at the desk: checks, normalisation, storage, webcam endpoint, roles."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from registration.extensions import db
from registration.models import AuditEntry, Delegate, DelegatePhoto, Status
from registration.services import photos, printing
from registration.services.photos import PhotoRejected, process_photo

FACE = Path(__file__).parent / "data" / "face.jpg"  # public domain, see data/README.md


def image_bytes(fmt: str = "JPEG", size=(1200, 900), color=(200, 30, 30), face=True,
                **save) -> bytes:
    """A photo of `size` on a plain background with the test face in the middle (every
    upload must show exactly one face)."""
    mode = "RGBA" if fmt == "PNG" else "RGB"
    image = Image.new(mode, size, color + ((255,) if mode == "RGBA" else ()))
    if face:
        portrait = Image.open(FACE).convert(mode)
        scale = 0.7 * min(size[0] / portrait.width, size[1] / portrait.height)
        portrait = portrait.resize((round(portrait.width * scale),
                                    round(portrait.height * scale)))
        image.paste(portrait, ((size[0] - portrait.width) // 2,
                               (size[1] - portrait.height) // 2))
    buf = io.BytesIO()
    image.save(buf, fmt, **save)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


def aspect_ok(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    assert image.width <= 600 and image.height <= 800
    assert abs(image.width / image.height - photos.photo_aspect()) < 0.01
    return image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_process_photo_crops_to_badge_aspect(app_ctx, fmt):
    image = aspect_ok(process_photo(image_bytes(fmt, size=(2000, 1000))))
    assert image.height == 760 or image.height < 800
    aspect_ok(process_photo(image_bytes(fmt, size=(500, 2000))))


def test_exif_orientation_applied_then_stripped(app_ctx):
    image = Image.new("RGB", (1600, 800), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 800, 800))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    exif[0x010F] = "SecretCam"
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes())
    # Orientation only (a plain image): the face check is tested in test_face_check.py.
    out = Image.open(io.BytesIO(process_photo(buf.getvalue(), check_face=False)))
    assert out.height > out.width  # portrait after rotation: 800×1600 → cropped portrait
    assert not out.getexif() and "exif" not in out.info
    top, bottom = out.getpixel((out.width // 2, 5)), out.getpixel((out.width // 2, out.height - 5))
    assert top[0] > 200 and top[2] < 60  # red on top after the 90° turn
    assert bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (b"hello, this is text, not a photo\n" * 10, "not_image"),
    (b"GIF89a" + b"\x00" * 100, "not_image"),
    (png_declaring(100_000, 100_000), "too_many_pixels"),
    (png_declaring(8_000, 6_000), "too_many_pixels"),
    (png_declaring(5_000, 4_000), "too_many_pixels"),  # 20 MP: fine as JPEG, not as PNG
    (png_declaring(50, 50), "too_small"),
])
def test_bad_uploads_are_rejected(app_ctx, data, reason):
    with pytest.raises(PhotoRejected) as exc:
        process_photo(data)
    assert exc.value.reason == reason and exc.value.message


def test_a_large_camera_jpeg_is_accepted_and_shrunk(app_ctx):
    out = Image.open(io.BytesIO(process_photo(image_bytes("JPEG", size=(5000, 4000)))))
    assert out.width <= 600 and out.height <= 800


def test_truncated_image_is_rejected(app_ctx):
    with pytest.raises(PhotoRejected) as exc:
        process_photo(image_bytes("PNG")[:300])
    assert exc.value.reason == "not_image"


def test_size_limit(app_ctx, monkeypatch):
    monkeypatch.setattr(photos, "MAX_BYTES", 1000)
    with pytest.raises(PhotoRejected) as exc:
        process_photo(image_bytes("JPEG"))
    assert exc.value.reason == "too_large" and exc.value.status == 413


@pytest.fixture
def desk(client, login, csrf_from):
    staff = login("desk")
    page = client.get("/staff/print").get_data(as_text=True)
    return staff, csrf_from(page)


def upload(client, delegate, csrf, data, name="photo.jpg", json=False, **extra):
    headers = {"Accept": "application/json"} if json else {}
    return client.post(f"/staff/delegates/{delegate.public_id}/photo", headers=headers,
                       data={"csrf_token": csrf, "photo": (io.BytesIO(data), name), **extra},
                       content_type="multipart/form-data")


def fresh(delegate: Delegate) -> Delegate:
    """The delegate as stored now, in the current app context's session."""
    return db.session.get(Delegate, delegate.id)


def test_upload_stores_cropped_jpeg_and_audits(app, client, desk, make_delegate):
    _, csrf = desk
    delegate = make_delegate(status=Status.APPROVED)
    response = upload(client, delegate, csrf, image_bytes("PNG"), name="me.png")
    assert response.status_code == 303
    with app.app_context():
        delegate = fresh(delegate)
        aspect_ok(delegate.photo.jpeg)
    shown = client.get(f"/staff/delegates/{delegate.public_id}/photo.jpg")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    with app.app_context():
        delegate = fresh(delegate)
        assert shown.data == delegate.photo.jpeg
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "photo_changed"))
        assert entry.actor == "staff:desk@forum.test" and entry.details["source"] == "upload"
        assert delegate.needs_reprint is False  # not printed yet: nothing to reprint


def test_webcam_json_upload_and_errors(app, client, desk, make_delegate):
    _, csrf = desk
    delegate = make_delegate(status=Status.APPROVED)
    ok = upload(client, delegate, csrf, image_bytes("JPEG"), name="webcam.jpg", json=True,
                source="webcam")
    assert ok.status_code == 200 and ok.get_json()["ok"] is True
    bad = upload(client, delegate, csrf, b"plain text", name="evil.jpg", json=True)
    assert bad.status_code == 415 and bad.get_json()["error"] == "not_image"
    bomb = upload(client, delegate, csrf, png_declaring(100_000, 100_000), name="b.png",
                  json=True)
    assert bomb.status_code == 422 and "too many pixels" in bomb.get_json()["message"]
    html = upload(client, delegate, csrf, png_declaring(100_000, 100_000), name="b.png")
    assert html.status_code == 422 and "too many pixels" in html.get_data(as_text=True)
    with app.app_context():
        delegate = fresh(delegate)
        aspect_ok(delegate.photo.jpeg)  # the stored photo survived the refused uploads
    missing = client.post(f"/staff/delegates/{delegate.public_id}/photo",
                          data={"csrf_token": csrf}, headers={"Accept": "application/json"})
    assert missing.status_code == 400


def test_upload_size_limit_over_http(client, desk, monkeypatch, make_delegate):
    _, csrf = desk
    monkeypatch.setattr(photos, "MAX_BYTES", 2000)
    delegate = make_delegate(status=Status.APPROVED)
    response = upload(client, delegate, csrf, image_bytes("JPEG", size=(1600, 1200)),
                      json=True)
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"


def test_new_photo_after_printing_flags_reprint_and_prints(app, client, desk, make_delegate):
    staff, csrf = desk
    delegate = make_delegate(status=Status.APPROVED)
    with app.app_context():
        printing.print_badge(fresh(delegate), staff)
    assert upload(client, delegate, csrf, image_bytes("JPEG")).status_code == 303
    with app.app_context():
        delegate = fresh(delegate)
        assert delegate.needs_reprint is True
        data = printing.badge_data(delegate)
        assert data.photo == delegate.photo.jpeg
        pdf = printing.reprint_badge(delegate, staff, "damaged")
        assert b"/Subtype /Image" in pdf and delegate.needs_reprint is False


def test_delete_photo(app, client, desk, make_delegate):
    _, csrf = desk
    delegate = make_delegate(status=Status.SUBMITTED)
    upload(client, delegate, csrf, image_bytes("JPEG"))
    response = client.post(f"/staff/delegates/{delegate.public_id}/photo/delete",
                           data={"csrf_token": csrf})
    assert response.status_code == 303
    with app.app_context():
        delegate = fresh(delegate)
        assert delegate.photo is None and db.session.scalar(select(DelegatePhoto)) is None
    assert client.get(f"/staff/delegates/{delegate.public_id}/photo.jpg").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "photo_removed"))


def test_photo_panel_renders(app, client, desk, make_delegate):
    from flask import render_template

    delegate = make_delegate(status=Status.APPROVED)
    with app.test_request_context():
        html = render_template("staff/_photo_panel.html", delegate=fresh(delegate),
                               photo_aspect=photos.photo_aspect())
    assert "webcam.js" in html and 'enctype="multipart/form-data"' in html
    assert "style=" not in html and "<script>" not in html
