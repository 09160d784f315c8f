"""Staff desk pages: sign-in, accounts, the delegates list and record, accreditation,
edits and walk-ins. Views stay thin: the rules live in registration/services."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from ..auth import roles_required
from ..countries import country_choices
from ..extensions import db, login_manager
from ..fields import CATEGORIES, CATEGORY_FIELDS
from ..i18n import current_language
from ..models import STATUS_LABELS, CheckIn, Delegate, InvalidTransition, Role, StaffUser, Status
from ..services import accreditation, delegate_search, self_service, staff_accounts
from ..services.delegate_edit import EditRefused, edit_delegate, form_data
from ..services.registration import RegistrationRefused
from ..validation import email_key
from ..web import safe_next
from . import bp
from .forms import (
    DeskEditForm,
    LoginForm,
    PasswordForm,
    RejectForm,
    StaffCreateForm,
    WalkInForm,
)

SESSION_LIFETIME = timedelta(hours=12)
SIGNED_IN_AT = "staff_signed_in_at"


@bp.record_once
def _configure(state) -> None:
    app = state.app
    login_manager.login_view = "staff.login"
    login_manager.login_message = "Please sign in to use the staff desk."
    login_manager.login_message_category = "info"
    login_manager.localize_callback = _  # translated when flashed (a plain str in the session)
    lifetime = app.config.get("STAFF_SESSION_LIFETIME", SESSION_LIFETIME)
    app.permanent_session_lifetime = (
        lifetime if isinstance(lifetime, timedelta) else timedelta(seconds=int(lifetime))
    )

    @app.before_request
    def _staff_session_checks() -> None:
        # A staff session ends a fixed time after sign-in, however busy it has been (the
        # cookie's own expiry slides with every request).
        since = session.get(SIGNED_IN_AT)
        if since is not None and time.time() - since > app.permanent_session_lifetime \
                .total_seconds():
            session.pop("_user_id", None)
            session.pop(SIGNED_IN_AT, None)


def home_for(staff: StaffUser) -> str:
    return "/checkin" if staff.role == Role.SCANNER.value else url_for("staff.delegates")


def _delegate_or_404(public_id: uuid.UUID) -> Delegate:
    delegate = db.session.scalar(select(Delegate).where(Delegate.public_id == public_id))
    if delegate is None:
        abort(404)
    return delegate


def _record_url(delegate: Delegate) -> str:
    return url_for("staff.delegate", public_id=delegate.public_id)


# --- signing in and out ---------------------------------------------------------------------

LOGIN_MESSAGES = {
    "invalid": lambda until: _("The email or password is not right."),
    "disabled": lambda until: _("This account is disabled. Ask an administrator."),
    "locked_account": lambda until: _(
        "Too many failed sign-ins for this account. It is locked for %(minutes)d minutes, "
        "until %(time)s UTC.", minutes=_lock_minutes(), time=until.strftime("%H:%M")),
    "locked_ip": lambda until: _(
        "Too many failed sign-ins from this computer. Sign-in from here is locked for "
        "%(minutes)d minutes, until %(time)s UTC.", minutes=_lock_minutes(),
        time=until.strftime("%H:%M")),
}


def _lock_minutes() -> int:
    return int(current_app.config.get("LOGIN_LOCK_MINUTES", staff_accounts.LOGIN_LOCK_MINUTES))
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
                lang = session.get("lang")
                session.clear()  # no session fixation: a fresh session for the new identity
                if lang:
                    session["lang"] = lang
                session.permanent = True
                session[SIGNED_IN_AT] = int(time.time())
                login_user(staff)
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


# --- accounts (admin) -----------------------------------------------------------------------

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
                        role=staff.role), "success")
                return redirect(url_for("staff.accounts"), code=303)
        status = 422
    return render_template("staff/accounts.html", form=form, staff=staff_accounts.list_staff(),
                           password_form=PasswordForm(formdata=None)), status


@bp.route("/password", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.DESK, Role.SCANNER)
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


def _account_action(staff_id: int, action) -> object:
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


# --- delegates list -------------------------------------------------------------------------

@bp.get("/")
@roles_required(Role.DESK)
def index():
    return redirect(url_for("staff.delegates"))


@bp.get("/delegates")
@roles_required(Role.DESK)
def delegates():
    flt = delegate_search.DelegateFilter.from_args(request.args)
    page = delegate_search.paginate(flt, delegate_search.parse_page(request.args.get("page")))
    ids = [d.id for d in page.items]
    checked_in = set(db.session.scalars(
        select(CheckIn.delegate_id).where(CheckIn.delegate_id.in_(ids)).distinct()
    )) if ids else set()
    countries = country_choices(current_language())
    return render_template(
        "staff/delegates.html", flt=flt, page=page, counts=delegate_search.counts(flt),
        checked_in=checked_in, categories=CATEGORIES, statuses=STATUS_LABELS,
        sorts=delegate_search.SORTS, countries=countries, country_names=dict(countries),
        category_labels={k: str(v) for k, v in CATEGORIES.items()},
        status_labels={k.value: str(v) for k, v in STATUS_LABELS.items()},
        list_url=request.full_path.rstrip("?"),
    )


@bp.post("/delegates/bulk")
@roles_required(Role.DESK)
def bulk_action():
    back = safe_next(request.form.get("next")) or url_for("staff.delegates")
    ids = accreditation.ids_for_public_ids(request.form.getlist("selected"))
    action = request.form.get("action")
    if action not in ("approve", "reject"):
        flash(_("Choose an action."), "error")
        return redirect(back, code=303)
    if not ids:
        flash(_("Select at least one delegate."), "error")
        return redirect(back, code=303)
    staff = current_user._get_current_object()
    if action == "approve":
        result = accreditation.approve_many(ids, staff)
        flash(_("%(n)d delegate(s) approved.", n=len(result.done)), "success")
    else:
        try:
            result = accreditation.reject_many(ids, staff, request.form.get("reason", ""))
        except accreditation.ReasonRequired as exc:
            flash(str(exc), "error")
            return redirect(back, code=303)
        flash(_("%(n)d delegate(s) rejected.", n=len(result.done)), "success")
    if result.skipped:
        flash(_("%(n)d left unchanged because their status does not allow it: %(refs)s",
                n=len(result.skipped),
                refs=", ".join(f"{d.reference} ({d.status})" for d in result.skipped[:20])),
              "error")
    return redirect(back, code=303)


# --- one delegate ---------------------------------------------------------------------------

def _render_record(delegate: Delegate, reject_form: RejectForm | None = None, status: int = 200):
    try:  # the printing partial's choices, when the printing module is installed
        from ..services.printing import REPRINT_REASONS as reprint_reasons
    except ImportError:
        reprint_reasons = {}
    trail = accreditation.audit_trail(delegate)
    checkins = db.session.execute(
        select(CheckIn.checkpoint_id, CheckIn.checked_in_at)
        .where(CheckIn.delegate_id == delegate.id).order_by(CheckIn.checked_in_at)
    ).all()
    return render_template(
        "staff/delegate.html", delegate=delegate, trail=trail,
        history=accreditation.status_history(trail, delegate),
        allowed=accreditation.allowed_actions(delegate),
        reject_form=reject_form or RejectForm(), category_fields=CATEGORY_FIELDS,
        categories=CATEGORIES, statuses=STATUS_LABELS, checkins=checkins,
        reprint_reasons=reprint_reasons, Status=Status,
        change_request=self_service.pending_change_request(delegate),
        current_values=form_data(delegate),
    ), status


@bp.get("/delegates/<uuid:public_id>")
@roles_required(Role.DESK)
def delegate(public_id: uuid.UUID):
    return _render_record(_delegate_or_404(public_id))


@bp.post("/delegates/<uuid:public_id>/approve")
@roles_required(Role.DESK)
def approve(public_id: uuid.UUID):
    delegate = _delegate_or_404(public_id)
    try:
        accreditation.approve(delegate, current_user._get_current_object())
    except InvalidTransition:
        flash(_("%(ref)s cannot be approved: the status is %(status)s.",
                ref=delegate.reference, status=delegate.status_label), "error")
        return _render_record(delegate, status=409)
    flash(_("%(ref)s is accredited.", ref=delegate.reference), "success")
    return redirect(_record_url(delegate), code=303)


@bp.post("/delegates/<uuid:public_id>/reject")
@roles_required(Role.DESK)
def reject(public_id: uuid.UUID):
    delegate = _delegate_or_404(public_id)
    form = RejectForm()
    if not form.validate():
        return _render_record(delegate, reject_form=form, status=422)
    try:
        accreditation.reject(delegate, current_user._get_current_object(), form.reason.data)
    except accreditation.ReasonRequired as exc:
        form.reason.errors = [str(exc)]
        return _render_record(delegate, reject_form=form, status=422)
    except InvalidTransition:
        flash(_("%(ref)s cannot be rejected: the status is %(status)s.",
                ref=delegate.reference, status=delegate.status_label), "error")
        return _render_record(delegate, status=409)
    flash(_("%(ref)s is not accredited; the reason was recorded.", ref=delegate.reference),
          "success")
    return redirect(_record_url(delegate), code=303)


@bp.post("/delegates/<uuid:public_id>/decline-request")
@roles_required(Role.DESK)
def decline_request(public_id: uuid.UUID):
    delegate = _delegate_or_404(public_id)
    form = FlaskForm()  # CSRF only
    if not form.validate_on_submit():
        abort(400)
    if self_service.decline_change_request(delegate, current_user._get_current_object()):
        flash(_("The delegate's requested change was declined."), "success")
    return redirect(_record_url(delegate), code=303)


@bp.route("/delegates/<uuid:public_id>/edit", methods=["GET", "POST"])
@roles_required(Role.DESK)
def edit(public_id: uuid.UUID):
    delegate = _delegate_or_404(public_id)
    if request.method == "GET":
        data = form_data(delegate)
        if request.args.get("apply_request"):
            # Prefill what the delegate asked for after printing; saving applies and audits it.
            data.update(self_service.pending_change_request(delegate) or {})
        form = DeskEditForm(data=data, lang=current_language())
        return render_template("staff/edit.html", form=form, delegate=delegate)
    form = DeskEditForm(lang=current_language())
    if form.validate():
        try:
            changes = edit_delegate(delegate, form.cleaned, current_user._get_current_object())
        except EditRefused:
            form.email.errors = [_("Another delegate is registered with this email address.")]
        else:
            if not changes:
                flash(_("Nothing was changed."), "info")
            elif delegate.needs_reprint and any(n in changes for n in Delegate.BADGE_FIELDS):
                flash(_("Saved. The badge was already printed and shows changed details: "
                        "reprint it."), "error")
            else:
                flash(_("Saved: %(fields)s.", fields=", ".join(changes)), "success")
            return redirect(_record_url(delegate), code=303)
    return render_template("staff/edit.html", form=form, delegate=delegate), 422


# --- walk-ins -------------------------------------------------------------------------------

@bp.route("/walk-in", methods=["GET", "POST"])
@roles_required(Role.DESK)
def walk_in():
    form = WalkInForm(lang=current_language())
    if request.method == "GET":
        return render_template("staff/walk_in.html", form=form)
    if form.validate():
        try:
            delegate = accreditation.register_walk_in(
                form.cleaned, current_user._get_current_object(), locale=current_language()
            )
        except RegistrationRefused as refused:
            if refused.reason == "duplicate_email":
                existing = db.session.scalar(
                    select(Delegate).where(Delegate.email_key == email_key(form.cleaned["email"]))
                )
                form.email.errors = [_("A delegate with this email address is already "
                                       "registered%(ref)s.",
                                       ref=f" ({existing.reference})" if existing else "")]
            else:  # limits are off for the desk; kept for completeness
                form.category.errors = [_("Registration refused: %(reason)s",
                                          reason=refused.reason)]
        else:
            flash(_("%(ref)s registered and accredited. Print the badge below.",
                    ref=delegate.reference), "success")
            return redirect(_record_url(delegate) + "#badge", code=303)
    return render_template("staff/walk_in.html", form=form), 422


@bp.app_template_global("staff_home_url")
def staff_home_url() -> str:
    if current_user.is_authenticated:
        return home_for(current_user)
    return url_for("staff.login")
