"""The desk's delegations page: quotas, nominations waiting (approve one or all), the letter,
focal points (add one: it is mailed a sign-in link), quota changes, and what a focal point
does for its delegates: substitute one, name or remove the head of delegation."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from .. import editions
from ..auth import roles_required
from ..delegation.forms import NominationForm
from ..fields import CATEGORIES
from ..i18n import current_language
from ..models import Delegate, Delegation, Role, Status
from ..services import accreditation, focal_signin
from ..services import delegations as service
from ..services.registration import RegistrationRefused
from . import bp
from .delegates import flash_no_photo


def _delegation_or_404(delegation_id: int) -> Delegation:
    delegation = service.get(delegation_id)
    if delegation is None or delegation.edition_id != editions.current_edition_id():
        abort(404)
    return delegation


def _back(delegation: Delegation) -> ResponseReturnValue:
    return redirect(url_for("staff.delegations") + f"#delegation-{delegation.id}", code=303)


@bp.get("/delegations")
@roles_required(Role.ADMIN, Role.DESK)
def delegations() -> ResponseReturnValue:
    rows = []
    for delegation in service.all_delegations():
        members = service.members(delegation)
        rows.append({
            "delegation": delegation, "quotas": service.quota_lines(delegation),
            "waiting": [m for m in members if m.status == Status.SUBMITTED.value],
            "members": members, "head": service.head_of(delegation),
            "focal_points": service.focal_points(delegation),
            "quota_text": ",".join(f"{k}={v}" for k, v in (delegation.quotas or {}).items()),
        })
    return render_template("staff/delegations.html", rows=rows, labels=dict(CATEGORIES),
                           cancelled=Status.CANCELLED.value)


def _active_member_or_404(delegation: Delegation, public_id: object) -> Delegate:
    delegate = service.member(delegation, public_id)
    if delegate is None or delegate.status == Status.CANCELLED.value:
        abort(404)
    return delegate


@bp.route("/delegations/<int:delegation_id>/substitute/<uuid:public_id>",
          methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.DESK)
def substitute_delegate(delegation_id: int, public_id: uuid.UUID) -> ResponseReturnValue:
    """The desk substitutes a delegate, as a focal point does: the old one is cancelled
    (badge refused at the door), the new one takes the place, waiting for approval. Without
    an email the nominee's mail goes to the delegation's first focal point."""
    delegation = _delegation_or_404(delegation_id)
    replaces = _active_member_or_404(delegation, public_id)
    focals = service.focal_points(delegation)
    form = NominationForm(lang=current_language(),
                          focal_email=focals[0].email if focals else "")
    offered = set(delegation.quotas or {}) | {replaces.category}
    form.category.choices = [c for c in form.category.choices if c.value in offered]
    status = 200
    if request.method == "GET":
        form.category.data = replaces.category
    elif form.validate():
        try:
            delegate = service.nominate(delegation, current_user._get_current_object(),
                                        form.cleaned, own_email=form.own_email,
                                        locale=current_language(), replaces=replaces)
        except RegistrationRefused as refused:
            form.refused(refused)
        else:
            flash(_("%(old)s is cancelled; %(name)s takes the place (reference %(ref)s), "
                    "waiting for approval.", old=replaces.full_name, name=delegate.full_name,
                    ref=delegate.reference), "success")
            return _back(delegation)
        status = 422
    else:
        status = 422
    return render_template("staff/delegation_substitute.html", form=form,
                           delegation=delegation, replaces=replaces), status


@bp.post("/delegations/<int:delegation_id>/head")
@roles_required(Role.ADMIN, Role.DESK)
def delegation_head(delegation_id: int) -> ResponseReturnValue:
    """Name the head of delegation (`delegate`: a public id) or none (`delegate=none`)."""
    delegation = _delegation_or_404(delegation_id)
    if not FlaskForm().validate():
        abort(400)
    choice = request.form.get("delegate", "")
    delegate = None if choice == "none" else _active_member_or_404(delegation, choice)
    try:
        service.set_head(delegation, delegate, "staff",
                         staff=current_user._get_current_object())
    except service.DelegationError as exc:
        flash(exc.message, "error")
        return _back(delegation)
    flash(_("Head of delegation of %(delegation)s: %(name)s.", delegation=delegation.name_en,
            name=delegate.full_name) if delegate is not None else
          _("%(delegation)s has no head of delegation now.", delegation=delegation.name_en),
          "success")
    return _back(delegation)


@bp.post("/delegations/<int:delegation_id>/approve")
@roles_required(Role.ADMIN, Role.DESK)
def approve_nominations(delegation_id: int) -> ResponseReturnValue:
    delegation = _delegation_or_404(delegation_id)
    if not FlaskForm().validate():
        abort(400)
    waiting = [m for m in service.members(delegation) if m.status == Status.SUBMITTED.value]
    wanted = set(request.form.getlist("selected"))
    chosen = waiting if request.form.get("all") else [
        m for m in waiting if str(m.public_id) in wanted]
    if not chosen:
        flash(_("No nomination chosen."), "error")
        return _back(delegation)
    result = accreditation.approve_many([m.id for m in chosen], current_user._get_current_object())
    flash(_("%(n)d nominations of %(name)s accredited.", n=len(result.done),
            name=delegation.name_en), "success")
    flash_no_photo(result.no_photo)
    return _back(delegation)


@bp.post("/delegations/<int:delegation_id>/quotas")
@roles_required(Role.ADMIN, Role.DESK)
def delegation_quotas(delegation_id: int) -> ResponseReturnValue:
    delegation = _delegation_or_404(delegation_id)
    if not FlaskForm().validate():
        abort(400)
    try:
        quotas = service.parse_quotas(request.form.get("quotas", ""))
        service.set_quotas(delegation, quotas, staff=current_user._get_current_object())
    except service.DelegationError as exc:
        flash(exc.message, "error")
        return _back(delegation)
    flash(_("Quotas of %(name)s changed.", name=delegation.name_en), "success")
    return _back(delegation)


@bp.post("/delegations/<int:delegation_id>/focal-points")
@roles_required(Role.ADMIN, Role.DESK)
def add_focal_point(delegation_id: int) -> ResponseReturnValue:
    delegation = _delegation_or_404(delegation_id)
    if not FlaskForm().validate():
        abort(400)
    try:
        focal = service.add_focal_point(delegation, request.form.get("email", ""))
    except service.DelegationError as exc:
        flash(exc.message, "error")
        return _back(delegation)
    focal_signin.send(focal, delegation)  # commits
    flash(_("%(email)s is a focal point of %(name)s; a sign-in link was mailed.",
            email=focal.email, name=delegation.name_en), "success")
    return _back(delegation)


@bp.post("/delegations/<int:delegation_id>/print")
@roles_required(Role.ADMIN, Role.DESK)
def print_delegation(delegation_id: int) -> ResponseReturnValue:
    """The delegation's accredited badges, head of delegation first, then the cover sheet
    (a delegation is small enough to render in the request)."""
    import io

    from flask import current_app

    from ..services.delegation_print import print_delegation as render
    from ..services.printing import BATCH_LAYOUTS

    delegation = _delegation_or_404(delegation_id)
    if not FlaskForm().validate():
        abort(400)
    layout = request.form.get("layout", "a4-4up")
    if layout not in BATCH_LAYOUTS:
        layout = "a4-4up"
    out = io.BytesIO()
    count = render(delegation, current_user._get_current_object(), layout, out,
                   actor="staff", unprinted=bool(request.form.get("unprinted")))
    if count == 0:
        flash(_("No accredited delegate of %(name)s to print.", name=delegation.name_en),
              "error")
        return _back(delegation)
    response = current_app.response_class(out.getvalue(), mimetype="application/pdf")
    response.headers["Content-Disposition"] = "attachment; filename=delegation-badges.pdf"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/delegations/<int:delegation_id>/letter.pdf")
@roles_required(Role.ADMIN, Role.DESK)
def delegation_letter(delegation_id: int) -> ResponseReturnValue:
    from flask import current_app

    delegation = _delegation_or_404(delegation_id)
    if not delegation.letter:
        abort(404)
    response = current_app.response_class(delegation.letter, mimetype="application/pdf")
    response.headers["Content-Disposition"] = "attachment; filename=letter.pdf"
    response.headers["Cache-Control"] = "no-store"
    return response
