"""Admin page for scanner devices: issue a device token (shown once), revoke one."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..auth import roles_required
from ..models import Role
from ..services import devices as device_service
from . import bp


class IssueDeviceForm(FlaskForm):
    name = StringField(_l("Device name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("e.g. Main entrance phone 3"))


class RevokeDeviceForm(FlaskForm):
    """Only the CSRF token: the device is in the URL."""


@bp.route("/devices", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def devices() -> ResponseReturnValue:
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
    # The page can show a new device's token: never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/devices/<int(max=2147483647):device_id>/revoke")  # INTEGER column range
@roles_required(Role.ADMIN)
def revoke_device(device_id: int) -> ResponseReturnValue:
    form = RevokeDeviceForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        device = device_service.revoke_by_id(device_id, staff=current_user)
    except device_service.DeviceError:
        abort(404)
    flash(_("Device %(name)s revoked: its token no longer works.", name=device.name))
    return redirect(url_for("staff.devices"), code=303)
