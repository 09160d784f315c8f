"""Staff accounts: the admin's list (create, disable, enable) and everyone's own password."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from werkzeug.wrappers import Response

from ..auth import roles_required
from ..extensions import db
from ..models import Role, StaffUser
from ..services import signin_throttle, staff_accounts
from . import bp
from .forms import PasswordForm, StaffCreateForm
from .signin import home_for


@bp.route("/accounts", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def accounts():
    form = StaffCreateForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                staff = staff_accounts.create_staff(form.email.data, form.password.data,
                                                    form.role.data)
            except staff_accounts.StaffAccountError as exc:
                form[exc.field].errors = [str(exc)]
            else:
                flash(_("Account %(email)s created (%(role)s).", email=staff.email,
                        role=staff.role_label), "success")
                return redirect(url_for("staff.accounts"), code=303)
        status = 422
    return render_template("staff/accounts.html", form=form, staff=staff_accounts.list_staff(),
                           failures=signin_throttle.failures_by_account(),
                           password_form=PasswordForm(formdata=None)), status


@bp.route("/password", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.DESK, Role.SCANNER, Role.VETTING)
def password():
    """Any staff member changes their own password; their other sessions end."""
    form = PasswordForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            staff = current_user._get_current_object()
            try:
                staff_accounts.change_password(staff, form.current_password.data,
                                               form.new_password.data)
            except staff_accounts.StaffAccountError as exc:
                target = form.current_password if exc.field == "current_password" \
                    else form.new_password
                target.errors = [str(exc)]
            else:
                login_user(staff)  # this session carries the new session version
                flash(_("Your password is changed; your other sessions have ended."), "success")
                return redirect(home_for(staff), code=303)
        status = 422
    return render_template("staff/accounts.html", password_form=form, staff=None,
                           form=None), status


def _account_action(staff_id: int, action: Callable[[str], object]) -> StaffUser | Response:
    """Run `action` on the account's email: the account, or the redirect that reports why
    it was refused."""
    staff = db.session.get(StaffUser, staff_id)
    if staff is None:
        abort(404)
    try:
        action(staff.email)
    except staff_accounts.StaffAccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("staff.accounts"), code=303)
    return staff


@bp.post("/accounts/<int(max=2147483647):staff_id>/disable")  # INTEGER column range
@roles_required(Role.ADMIN)
def disable_account(staff_id: int):
    staff = _account_action(staff_id, staff_accounts.disable_staff)
    if isinstance(staff, StaffUser):
        flash(_("%(email)s is disabled and signed out everywhere.", email=staff.email),
              "success")
        return redirect(url_for("staff.accounts"), code=303)
    return staff


@bp.post("/accounts/<int(max=2147483647):staff_id>/enable")
@roles_required(Role.ADMIN)
def enable_account(staff_id: int):
    staff = _account_action(staff_id, staff_accounts.enable_staff)
    if isinstance(staff, StaffUser):
        flash(_("%(email)s can sign in again.", email=staff.email), "success")
        return redirect(url_for("staff.accounts"), code=303)
    return staff
