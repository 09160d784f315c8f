"""The desk's invitations page: create one, see each one's state, resend or revoke it."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from .. import editions
from ..auth import roles_required
from ..fields import CATEGORIES
from ..i18n import current_language
from ..models import Invitation, InvitationState, Role
from ..services import delegations as delegation_service
from ..services import invitations as service
from . import bp


class InvitationForm(FlaskForm):
    email = StringField(_l("Email"))
    category = SelectField(_l("Category"),
                           choices=[SelectChoice(k, v) for k, v in CATEGORIES.items()])
    given_name = StringField(_l("Given name(s)"))
    family_name = StringField(_l("Family name"))
    language = SelectField(_l("Language of the invitation"),
                           choices=[SelectChoice("en", "English"), SelectChoice("zh", "中文")])
    expires = DateField(_l("Valid until (optional)"), validators=[Optional()])
    approve = BooleanField(_l("Accredit the registration at once"))
    delegation = SelectField(_l("Delegation (optional)"), choices=[], validate_choice=False)


def _invitation_or_404(invitation_id: int) -> Invitation:
    invitation = service.find(invitation_id)
    if invitation is None or invitation.edition_id != editions.current_edition_id():
        abort(404)
    return invitation


@bp.route("/invitations", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.DESK)
def invitations() -> ResponseReturnValue:
    form = InvitationForm()
    form.delegation.choices = [SelectChoice("", "—")] + [
        SelectChoice(d.name_en, d.name(current_language()))
        for d in delegation_service.all_delegations()]
    status = 200
    if form.validate_on_submit():
        try:
            invitation = service.create(
                form.email.data or "", form.category.data or "",
                prefill={"given_name": form.given_name.data,
                         "family_name": form.family_name.data},
                locale=form.language.data or "en", expires_on=form.expires.data,
                approve=form.approve.data, delegation=form.delegation.data or "",
                staff=current_user, actor="staff")
        except service.InvitationError as exc:
            form.email.errors = [*form.email.errors, exc.message]
            status = 422
        else:
            flash(_("Invitation mailed to %(email)s.", email=invitation.email))
            return redirect(url_for("staff.invitations"), code=303)
    elif request.method == "POST":
        status = 422
    state = request.args.get("state", "")
    state = state if state in {s.value for s in InvitationState} else ""
    return render_template("staff/invitations.html", form=form, state=state,
                           states=list(InvitationState), rows=service.listing(state),
                           labels=dict(CATEGORIES)), status


@bp.post("/invitations/<int:invitation_id>/resend")
@roles_required(Role.ADMIN, Role.DESK)
def resend_invitation(invitation_id: int) -> ResponseReturnValue:
    invitation = _invitation_or_404(invitation_id)
    try:
        service.resend(invitation, staff=current_user)
    except service.InvitationError as exc:
        flash(exc.message, "error")
    else:
        flash(_("A new link was mailed to %(email)s; the earlier one no longer works.",
                email=invitation.email))
    return redirect(url_for("staff.invitations"), code=303)


@bp.post("/invitations/<int:invitation_id>/revoke")
@roles_required(Role.ADMIN, Role.DESK)
def revoke_invitation(invitation_id: int) -> ResponseReturnValue:
    invitation = _invitation_or_404(invitation_id)
    try:
        service.revoke(invitation, staff=current_user, actor="staff")
    except service.InvitationError as exc:
        flash(exc.message, "error")
    else:
        flash(_("The invitation for %(email)s is revoked.", email=invitation.email))
    return redirect(url_for("staff.invitations"), code=303)
