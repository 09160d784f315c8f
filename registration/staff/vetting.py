"""The vetting queue (/staff/vetting) for the `vetting` role (and admins): the records by
vetting status, one record with its identity data in clear, and a decision with a note.
The `vetting` role sees these pages and nothing else of the desk."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from ..auth import roles_required
from ..fields import CATEGORIES
from ..models import VETTING_DECISION_LABELS, Delegate, Role, VettingStatus
from ..services import vetting as service
from ..services.accreditation import audit_trail
from . import bp
from .delegates import delegate_or_404


class DecisionForm(FlaskForm):
    # No InputRequired: it would put aria-required on the radio group's list (not allowed
    # there); a missing choice is "Not a valid choice" all the same.
    decision = RadioField(_l("Decision"), choices=[
        SelectChoice(s.value, VETTING_DECISION_LABELS[s]) for s in VETTING_DECISION_LABELS])
    note = TextAreaField(_l("Note (required when asking for more information; the delegate "
                            "sees it then)"), validators=[Length(max=service.MAX_NOTE)])


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.get("/vetting")
@roles_required(Role.VETTING)
def vetting() -> ResponseReturnValue:
    status = service.parse_status(request.args.get("status", VettingStatus.PENDING.value))
    page = service.queue(status, _page_number())
    return render_template("staff/vetting.html", page=page, status=status,
                           statuses=service.queue_statuses(), counts=service.counts(),
                           labels=dict(CATEGORIES))


def _render(delegate: Delegate, form: DecisionForm, code: int = 200) -> ResponseReturnValue:
    trail = [item for item in audit_trail(delegate) if item.action.startswith("vetting")]
    return render_template("staff/vetting_record.html", delegate=delegate, form=form,
                           identity=delegate.identity, requests=service.requests_of(delegate),
                           trail=trail, labels=dict(CATEGORIES)), code


@bp.get("/vetting/<uuid:public_id>")
@roles_required(Role.VETTING)
def vetting_record(public_id: uuid.UUID) -> ResponseReturnValue:
    return _render(delegate_or_404(public_id), DecisionForm())


@bp.post("/vetting/<uuid:public_id>")
@roles_required(Role.VETTING)
def vetting_decide(public_id: uuid.UUID) -> ResponseReturnValue:
    delegate = delegate_or_404(public_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _render(delegate, form, 422)
    try:
        service.decide(delegate, form.decision.data or "", form.note.data or "", current_user,
                       actor="staff")
    except service.VettingRefused as exc:
        form.decision.errors = [*form.decision.errors, exc.message]
        return _render(delegate, form, 422)
    flash(_("%(ref)s: %(state)s.", ref=delegate.reference, state=delegate.vetting_enum.label))
    return redirect(url_for("staff.vetting"), code=303)
