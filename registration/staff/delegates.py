"""The desk's delegates: the filtered list with bulk decisions, and one delegate's record
with approve, reject, edit and the delegate's change requests."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from ..auth import may_see_identity, roles_required
from ..countries import country_choices
from ..fields import CATEGORIES, CATEGORY_FIELDS, HONORIFIC_LABELS, THEMES
from ..i18n import current_language
from ..identity_rules import identity_asked
from ..models import STATUS_LABELS, Delegate, InvalidTransition, Role, Status
from ..services import accreditation, delegate_record, delegate_search, self_service
from ..services import delegations as delegation_service
from ..services.audit_text import field_label
from ..services.delegate_edit import EditRefused, edit_delegate, form_data
from ..services.identity import identity_lines, stored_hints
from ..services.photos import photo_aspect
from ..services.printing import REPRINT_REASONS
from ..validation import phone_is_verified
from ..web import safe_next
from . import bp
from .forms import DeskEditForm, RejectForm


def delegate_or_404(public_id: uuid.UUID) -> Delegate:
    delegate = delegate_record.by_public_id(public_id)
    if delegate is None:
        abort(404)
    return delegate


def record_url(delegate: Delegate) -> str:
    """The desk's page for one delegate."""
    return url_for("staff.delegate", public_id=delegate.public_id)


# --- the list -------------------------------------------------------------------------------

@bp.get("/")
@roles_required(Role.DESK, Role.VETTING)
def index():
    if current_user.role == Role.VETTING:  # the vetting role sees its queue and nothing else
        return redirect(url_for("staff.vetting"))
    return redirect(url_for("staff.delegates"))


@bp.get("/delegates")
@roles_required(Role.DESK)
def delegates():
    flt = delegate_search.DelegateFilter.from_args(request.args)
    lang = current_language()
    page = delegate_search.paginate(flt, delegate_search.parse_page(request.args.get("page")),
                                    lang=lang)
    countries = country_choices(lang)
    return render_template(
        "staff/delegates.html", flt=flt, page=page, counts=delegate_search.counts(flt),
        checked_in=delegate_search.checked_in_ids(d.id for d in page.items),
        categories=CATEGORIES, statuses=STATUS_LABELS,
        sorts=delegate_search.SORTS, countries=countries, country_names=dict(countries),
        category_labels={k: str(v) for k, v in CATEGORIES.items()},
        status_labels={k.value: str(v) for k, v in STATUS_LABELS.items()},
        list_url=request.full_path.rstrip("?"), delegations=delegation_service.all_delegations(),
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
        flash_no_photo(result.no_photo)
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


def flash_no_photo(waiting: list[Delegate]) -> None:
    """The desk's message for delegates whose approval waits for a photo."""
    if waiting:
        flash(_("%(n)d not approved: this edition requires a photo for accreditation and "
                "they have none yet: %(refs)s", n=len(waiting),
                refs=", ".join(d.reference for d in waiting[:20])), "error")


# --- one delegate ---------------------------------------------------------------------------

def _render_record(delegate: Delegate, reject_form: RejectForm | None = None,
                   status: int = 200) -> tuple[str, int]:
    record = delegate_record.load(delegate)
    return render_template(
        "staff/delegate.html", delegate=delegate, trail=record.trail, history=record.history,
        allowed=record.allowed, reject_form=reject_form or RejectForm(),
        category_fields=CATEGORY_FIELDS, categories=CATEGORIES, themes=THEMES,
        statuses=STATUS_LABELS, checkins=record.checkins, badge_reprint_reasons=REPRINT_REASONS,
        Status=Status, change_request=record.change_request,
        current_values=record.current_values, photo_aspect=photo_aspect(),
        honorifics=HONORIFIC_LABELS, field_label=field_label,
        phone_verified=phone_is_verified(delegate.phone) if delegate.phone else True,
        identity_lines=identity_lines(delegate.identity, lang=current_language(),
                                      reveal=may_see_identity(current_user)),
        identity_asked=identity_asked(delegate.category),
    ), status


@bp.get("/delegates/<uuid:public_id>")
@roles_required(Role.DESK)
def delegate(public_id: uuid.UUID):
    return _render_record(delegate_or_404(public_id))


@bp.post("/delegates/<uuid:public_id>/approve")
@roles_required(Role.DESK)
def approve(public_id: uuid.UUID):
    delegate = delegate_or_404(public_id)
    try:
        accreditation.approve(delegate, current_user._get_current_object())
    except InvalidTransition:
        flash(_("%(ref)s cannot be approved: the status is %(status)s.",
                ref=delegate.reference, status=delegate.status_label), "error")
        return _render_record(delegate, status=409)
    except accreditation.PhotoRequired:
        flash(_("%(ref)s cannot be approved yet: this edition requires a photo for "
                "accreditation. Add the photo, then approve.", ref=delegate.reference), "error")
        return _render_record(delegate, status=409)
    flash(_("%(ref)s is accredited.", ref=delegate.reference), "success")
    return redirect(record_url(delegate), code=303)


@bp.post("/delegates/<uuid:public_id>/reject")
@roles_required(Role.DESK)
def reject(public_id: uuid.UUID):
    delegate = delegate_or_404(public_id)
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
    return redirect(record_url(delegate), code=303)


@bp.post("/delegates/<uuid:public_id>/decline-request")
@roles_required(Role.DESK)
def decline_request(public_id: uuid.UUID):
    delegate = delegate_or_404(public_id)
    form = FlaskForm()  # CSRF only
    if not form.validate_on_submit():
        abort(400)
    if self_service.decline_change_request(delegate, current_user._get_current_object()):
        flash(_("The delegate's requested change was declined."), "success")
    return redirect(record_url(delegate), code=303)


@bp.route("/delegates/<uuid:public_id>/edit", methods=["GET", "POST"])
@roles_required(Role.DESK)
def edit(public_id: uuid.UUID):
    delegate = delegate_or_404(public_id)
    if request.method == "GET":
        data = form_data(delegate)
        if request.args.get("apply_request"):
            # Prefill what the delegate asked for after printing; saving applies and audits it.
            data.update(self_service.pending_change_request(delegate) or {})
        form = DeskEditForm(data=data, lang=current_language())
        form.show_stored_identity(stored_hints(delegate.identity))
        return render_template("staff/edit.html", form=form, delegate=delegate)
    form = DeskEditForm(lang=current_language())
    form.show_stored_identity(stored_hints(delegate.identity), empty=False)
    if form.validate():
        try:
            changes = edit_delegate(delegate, form.cleaned, current_user._get_current_object())
        except EditRefused as refused:
            if refused.reason == "second_head" and hasattr(form, "head_of_delegation"):
                form.head_of_delegation.errors = [refused.message]
            elif refused.reason == "second_head":
                flash(refused.message, "error")
            else:
                form.email.errors = [_("Another delegate is registered with this email "
                                       "address.")]
        else:
            if not changes:
                flash(_("Nothing was changed."), "info")
            elif delegate.needs_reprint and any(n in changes for n in Delegate.BADGE_FIELDS):
                flash(_("Saved. The badge was already printed and shows changed details: "
                        "reprint it."), "error")
            else:
                flash(_("Saved: %(fields)s.", fields=", ".join(changes)), "success")
            return redirect(record_url(delegate), code=303)
    return render_template("staff/edit.html", form=form, delegate=delegate), 422
