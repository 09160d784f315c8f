"""Desk routes for badge photos: upload or webcam capture, view, delete."""

from __future__ import annotations

import uuid

from flask import Response, abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import roles_required
from ..models import Role
from ..services import photos
from ..services.photos import PhotoRejected
from . import bp
from .delegates import _render_record as render_record
from .delegates import delegate_or_404, record_url


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/delegates/<uuid:public_id>/photo")
@roles_required(Role.DESK)
def photo_upload(public_id: uuid.UUID):
    """Multipart field `photo` (a file input, or the webcam's JPEG blob); optional
    `face_override`: the desk's reason for keeping a photo the face check refuses."""
    delegate = delegate_or_404(public_id)
    upload = request.files.get("photo")
    source = "webcam" if request.form.get("source") == "webcam" else "upload"
    try:
        data = upload.stream.read(photos.MAX_BYTES + 1) if upload else b""
        jpeg, override = photos.process_for_desk(data, request.form.get("face_override"))
    except PhotoRejected as exc:
        face = exc.reason in photos.FACE_REASONS.values()
        message = exc.message
        if face:
            message += " " + _("To keep it anyway, give the reason under “Keep a photo the "
                               "face check refused” and upload it again.")
        if _wants_json():
            return jsonify(error=exc.reason, message=message, override_allowed=face), exc.status
        if face:  # a plain form error on the record, where the override field is
            flash(message, "error")
            return render_record(delegate, status=exc.status)
        abort(exc.status, exc.message)
    photos.set_photo(delegate, jpeg, current_user, source=source, face_override=override)
    message = _("Photo saved.")
    if override:
        message += " " + _("The face check was overridden; your reason is in the record’s "
                           "history.")
    if delegate.needs_reprint:
        message += " " + _("The badge was already printed with the old photo: reprint it.")
    if _wants_json():
        return jsonify(ok=True, message=message,
                       photo_url=url_for("staff.photo", public_id=delegate.public_id))
    flash(message, "success")
    return redirect(record_url(delegate), 303)


@bp.post("/delegates/<uuid:public_id>/photo/delete")
@roles_required(Role.DESK)
def photo_delete(public_id: uuid.UUID):
    delegate = delegate_or_404(public_id)
    if photos.delete_photo(delegate, current_user):
        flash(_("Photo removed."), "success")
    return redirect(record_url(delegate), 303)


@bp.get("/delegates/<uuid:public_id>/photo.jpg")
@roles_required(Role.DESK)
def photo(public_id: uuid.UUID):
    delegate = delegate_or_404(public_id)
    if delegate.photo is None:
        abort(404)
    response = Response(delegate.photo.jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    return response
