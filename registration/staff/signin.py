"""Staff sign-in and sign-out, and where each role lands afterwards."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import end_session, roles_required, start_session
from ..i18n import local_datetime
from ..models import Role, StaffUser
from ..ratelimits import staff_login_limit
from ..services import signin_links, staff_accounts
from ..web import safe_next
from . import bp
from .forms import LoginForm


def home_for(staff: StaffUser) -> str:
    if staff.role == Role.VETTING.value:
        return url_for("staff.vetting")
    return "/checkin" if staff.role == Role.SCANNER.value else url_for("staff.delegates")


@bp.app_template_global("staff_home_url")
def staff_home_url() -> str:
    if current_user.is_authenticated:
        return home_for(current_user)
    return url_for("staff.login")


def _lock_minutes() -> int:
    return int(current_app.config.get("LOGIN_LOCK_MINUTES", staff_accounts.LOGIN_LOCK_MINUTES))


LOCK_TIME = "HH:mm (ZZZZ)"  # in the forum's time zone, e.g. 09:45 (GMT+08:00)


def _seconds_until(until: datetime | None) -> int:
    if until is None:
        return 1
    return max(1, math.ceil((until - datetime.now(UTC)).total_seconds()))


LOGIN_MESSAGES = {
    "invalid": lambda until: _("The email or password is not right."),
    "disabled": lambda until: _("This account is disabled. Ask an administrator."),
    "locked": lambda until: _(
        "Too many failed sign-ins for this account from this computer. Signing in to it "
        "from here is locked for %(minutes)d minutes, until %(time)s; other computers "
        "are not affected.", minutes=_lock_minutes(), time=local_datetime(until, LOCK_TIME)),
    "slow_down": lambda until: _(
        "Too many failed sign-ins for this account from this computer. Wait %(seconds)d "
        "seconds before trying again.", seconds=_seconds_until(until)),
    "link_sent": lambda until: _(
        "There have been many failed sign-ins to this account, so for a while the password "
        "alone is not enough. We have emailed you a one-time sign-in link: open it to "
        "continue."),
}
LOGIN_STATUS = {"invalid": 401, "disabled": 403, "locked": 429, "slow_down": 429,
                "link_sent": 202}


@bp.route("/login", methods=["GET", "POST"])
@staff_login_limit
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if current_user.is_authenticated:
            return redirect(form.next.data or home_for(current_user))
    error, status, headers = None, 200, {}
    if request.method == "POST":
        if form.validate():
            try:
                staff = staff_accounts.authenticate(form.email.data, form.password.data,
                                                    request.remote_addr)
            except staff_accounts.LoginRefused as refused:
                error = LOGIN_MESSAGES[refused.reason](refused.until)
                status = LOGIN_STATUS[refused.reason]
                if status == 429:
                    headers["Retry-After"] = str(_seconds_until(refused.until))
            else:
                start_session(staff)
                return redirect(safe_next(form.next.data) or home_for(staff), code=303)
        else:
            status = 422
    return render_template("staff/login.html", form=form, error=error), status, headers


@bp.route("/login/link/<token>", methods=["GET", "POST"])
def login_link(token: str):
    """The emailed one-time sign-in link: a page with a button (GET uses nothing up, so a
    mail scanner that follows links does not spend it); the POST signs in."""
    try:
        staff = (signin_links.consume(token) if request.method == "POST"
                 else signin_links.resolve(token))
    except signin_links.SigninLinkInvalid:
        return render_template(
            "error.html", code=410, title=_("This sign-in link no longer works"),
            message=_("It was used already, is older than %(minutes)d minutes, or the "
                      "account changed since. Sign in again to get a new one.",
                      minutes=int(signin_links.max_age().total_seconds() // 60))), 410
    if request.method == "POST":
        start_session(staff)
        return redirect(home_for(staff), code=303)
    return render_template("staff/login_link.html", email=staff.email)


@bp.post("/logout")
def logout():
    # CSRFProtect checked the token before the view: no cross-site sign-out.
    end_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("staff.login"), code=303)


@bp.post("/logout-everywhere")
@roles_required(Role.ADMIN, Role.DESK, Role.SCANNER, Role.VETTING)
def logout_everywhere():
    staff_accounts.end_all_sessions(current_user._get_current_object())
    end_session()
    flash(_("You are signed out on every device."), "info")
    return redirect(url_for("staff.login"), code=303)
