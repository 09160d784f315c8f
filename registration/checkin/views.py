"""Pages: the scanner at the doors (/checkin), the live dashboard, and the admin pages for
scanner devices and checkpoints. The logic lives in services/checkin.py and devices.py."""

from __future__ import annotations

import uuid

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from ..auth import roles_required
from ..editions import timezone_name
from ..extensions import db
from ..fields import CATEGORIES, CATEGORY_KEYS
from ..models import Checkpoint, Delegate, DelegatePhoto, Role
from ..services import checkin as checkin_service
from ..services import devices as device_service
from ..services.badge_tokens import public_keys_b64
from . import bp
from .forms import CheckpointForm, IssueDeviceForm, RevokeDeviceForm


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/checkin")
@roles_required(Role.SCANNER, Role.DESK)
def scanner():
    checkpoints = checkin_service.list_checkpoints(active_only=True)
    config = {
        "checkinUrl": url_for("api.post_checkin"),
        "snapshotUrl": url_for("api.get_snapshot"),
        "loginUrl": url_for("checkin.scanner"),
        "timezone": timezone_name(),
        "csrf": generate_csrf(),
        "publicKeys": public_keys_b64(),
        "checkpoints": [checkin_service.checkpoint_json(c) for c in checkpoints],
        "vendor": {
            "jsqr": url_for("static", filename="vendor/jsqr/jsQR.js"),
            "nacl": url_for("static", filename="vendor/tweetnacl/nacl-fast.min.js"),
        },
    }
    return _no_store(current_app.make_response(
        render_template("checkin/scanner.html", checkpoints=checkpoints, config=config)))


@bp.get("/checkin/photo/<uuid:public_id>.jpg")
@roles_required(Role.SCANNER, Role.DESK)
def photo(public_id: uuid.UUID):
    jpeg = db.session.scalar(
        select(DelegatePhoto.jpeg).join(Delegate, Delegate.id == DelegatePhoto.delegate_id)
        .where(Delegate.public_id == public_id)
    )
    if jpeg is None:
        abort(404)
    response = current_app.response_class(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def _result_labels() -> dict[str, str]:
    return {
        "checked_in": _("checked in"),
        "already_checked_in": _("already checked in"),
        "invalid": _("invalid code"),
        "revoked": _("revoked badge"),
        "not_accredited": _("not accredited"),
        "zone_denied": _("not allowed in this zone"),
        "offline": _("offline"),
    }


@bp.get("/staff/dashboard")
@roles_required(Role.DESK)
def dashboard():
    return render_template("staff/dashboard.html", data=checkin_service.dashboard(),
                           results=_result_labels())


@bp.get("/staff/dashboard.json")
@roles_required(Role.DESK)
def dashboard_json():
    return _no_store(jsonify(checkin_service.dashboard()))


@bp.route("/staff/devices", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def devices():
    form = IssueDeviceForm()
    token = issued = None
    if form.validate_on_submit():
        try:
            issued, token = device_service.issue(form.name.data, staff=current_user)
        except device_service.DeviceError as exc:
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            form = IssueDeviceForm(formdata=None)
    response = current_app.make_response(render_template(
        "staff/devices.html", form=form, revoke_form=RevokeDeviceForm(),
        devices=device_service.list_devices(), token=token, issued=issued,
    ))
    if form.errors:
        response.status_code = 422
    return _no_store(response)


@bp.post("/staff/devices/<int(max=2147483647):device_id>/revoke")  # INTEGER column range
@roles_required(Role.ADMIN)
def revoke_device(device_id: int):
    form = RevokeDeviceForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        device = device_service.revoke_by_id(device_id, staff=current_user)
    except device_service.DeviceError:
        abort(404)
    flash(_("Device %(name)s revoked: its token no longer works.", name=device.name))
    return redirect(url_for("checkin.devices"), code=303)


@bp.route("/staff/checkpoints", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def checkpoints():
    form = CheckpointForm()
    if request.method == "GET" and request.args.get("edit"):
        cp = db.session.scalar(select(Checkpoint).where(Checkpoint.id == request.args["edit"]))
        if cp is None:
            abort(404)
        form = CheckpointForm(formdata=None, id=cp.id, name=cp.name,
                              categories=cp.allowed_categories or list(CATEGORY_KEYS),
                              admit_heads_of_delegation=cp.admit_heads_of_delegation,
                              active=cp.active)
    status = 200
    if form.validate_on_submit():
        try:
            cp = checkin_service.save_checkpoint(
                form.id.data, form.name.data, form.categories.data or None,
                form.admit_heads_of_delegation.data, active=form.active.data,
                staff=current_user)
        except checkin_service.CheckinError as exc:
            form.id.errors = [*form.id.errors, str(exc)]
            status = 422
        else:
            flash(_("Checkpoint %(name)s saved.", name=cp.name))
            return redirect(url_for("checkin.checkpoints"), code=303)
    elif request.method == "POST":
        status = 422
    return render_template("staff/checkpoints.html", form=form,
                           checkpoints=checkin_service.list_checkpoints(),
                           labels=dict(CATEGORIES)), status
