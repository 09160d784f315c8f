"""Admin page for devices: issue a device token (shown once) — a door scanner, or a
self-service kiosk with its printer (as `devices issue NAME --kiosk --printer P`) — and
revoke one."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..auth import roles_required
from ..models import Role
from ..services import devices as device_service
from ..services import printers as printer_service
from . import bp


class IssueDeviceForm(FlaskForm):
    name = StringField(_l("Device name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("e.g. Main entrance phone 3"))
    kiosk = BooleanField(_l("Self-service kiosk (prints delegates' badges at /kiosk; "
                            "cannot check anyone in)"))
    printer = SelectField(_l("Kiosk printer"), choices=[], validate_choice=False,
                          description=_l("Only for a kiosk: the printer its badges go to."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.printer.choices = [SelectChoice("", _l("— none (a door scanner) —"))] + [
            SelectChoice(str(p.id), p.name) for p in printer_service.list_printers()]

    def printer_id(self) -> int | None:
        """The chosen printer's id; adds the field's error (and returns None) when the
        choice does not fit the kind of device, as the command line refuses it."""
        raw = self.printer.data or ""
        printer = printer_service.get(int(raw)) if raw.isdigit() and len(raw) < 10 else None
        if raw and printer is None:
            self.printer.errors = [*self.printer.errors, _("No such printer.")]
        elif self.kiosk.data and printer is None:
            self.printer.errors = [*self.printer.errors, _("A kiosk needs its printer.")]
        elif printer is not None and not self.kiosk.data:
            self.printer.errors = [*self.printer.errors,
                                   _("A printer is only for a kiosk: tick “Self-service kiosk”.")]
        return printer.id if printer is not None and not self.printer.errors else None


class RevokeDeviceForm(FlaskForm):
    """Only the CSRF token: the device is in the URL."""


@bp.route("/devices", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def devices() -> ResponseReturnValue:
    form = IssueDeviceForm()
    token = issued = None
    if form.validate_on_submit():
        printer_id = form.printer_id()
        if not form.printer.errors:
            try:
                issued, token = device_service.issue(form.name.data, staff=current_user,
                                                     kiosk=bool(form.kiosk.data),
                                                     printer_id=printer_id)
            except device_service.DeviceError as exc:
                form.name.errors = [*form.name.errors, str(exc)]
            else:
                form = IssueDeviceForm(formdata=None)
    printers = {p.id: p.name for p in printer_service.list_printers()}
    response = current_app.make_response(render_template(
        "staff/devices.html", form=form, revoke_form=RevokeDeviceForm(),
        devices=device_service.list_devices(), token=token, issued=issued, printers=printers,
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
