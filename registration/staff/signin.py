"""Staff sign-in and sign-out, and where each role lands afterwards."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..auth import roles_required, start_session
from ..i18n import local_datetime
from ..models import Role, StaffUser
from ..services import staff_accounts
from ..web import safe_next
from . import bp
from .forms import LoginForm


def home_for(staff: StaffUser) -> str:
    return "/checkin" if staff.role == Role.SCANNER.value else url_for("staff.delegates")


@bp.app_template_global("staff_home_url")
def staff_home_url() -> str:
    if current_user.is_authenticated:
        return home_for(current_user)
    return url_for("staff.login")


def _lock_minutes() -> int:
    return int(current_app.config.get("LOGIN_LOCK_MINUTES", staff_accounts.LOGIN_LOCK_MINUTES))


LOCK_TIME = "HH:mm (ZZZZ)"  # in the forum's time zone, e.g. 09:45 (GMT+08:00)
LOGIN_MESSAGES = {
    "invalid": lambda until: _("The email or password is not right."),
    "disabled": lambda until: _("This account is disabled. Ask an administrator."),
    "locked_account": lambda until: _(
        "Too many failed sign-ins for this account. It is locked for %(minutes)d minutes, "
        "until %(time)s.", minutes=_lock_minutes(), time=local_datetime(until, LOCK_TIME)),
    "locked_ip": lambda until: _(
        "Too many failed sign-ins from this computer. Sign-in from here is locked for "
        "%(minutes)d minutes, until %(time)s.", minutes=_lock_minutes(),
        time=local_datetime(until, LOCK_TIME)),
}
LOGIN_STATUS = {"invalid": 401, "disabled": 403, "locked_account": 429, "locked_ip": 429}


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if current_user.is_authenticated:
            return redirect(form.next.data or home_for(current_user))
    error, status = None, 200
    if request.method == "POST":
        if form.validate():
            try:
                staff = staff_accounts.authenticate(form.email.data, form.password.data,
                                                    request.remote_addr)
            except staff_accounts.LoginRefused as refused:
                error = LOGIN_MESSAGES[refused.reason](refused.until)
                status = LOGIN_STATUS[refused.reason]
            else:
                start_session(staff)
                return redirect(safe_next(form.next.data) or home_for(staff), code=303)
        else:
            status = 422
    return render_template("staff/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    # CSRFProtect checked the token before the view: no cross-site sign-out.
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("staff.login"), code=303)


@bp.post("/logout-everywhere")
@roles_required(Role.ADMIN, Role.DESK, Role.SCANNER)
def logout_everywhere():
    staff_accounts.end_all_sessions(current_user._get_current_object())
    logout_user()
    session.clear()
    flash(_("You are signed out on every device."), "info")
    return redirect(url_for("staff.login"), code=303)
