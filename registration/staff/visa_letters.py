"""The visa-letter queue (/staff/visa-letters): requests to issue or refuse, issued letters
to withdraw, download or print per delegation. The desk and the vetting service decide;
printing is the desk's."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from .. import editions
from ..auth import may_see_identity, roles_required
from ..extensions import db
from ..models import Role, VisaLetter, VisaLetterState
from ..services import delegations as delegation_service
from ..services import visa_letters as service
from ..services.identity import mask
from ..services.visa_letter_pdf import filename, letters_pdf
from . import bp

DECIDERS = (Role.ADMIN, Role.DESK, Role.VETTING)


def _letter_or_404(letter_id: int) -> VisaLetter:
    letter = db.session.scalar(select(VisaLetter).where(VisaLetter.id == letter_id))
    if letter is None or letter.edition_id != editions.current_edition_id():
        abort(404)
    return letter


def _pdf(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


@bp.get("/visa-letters")
@roles_required(*DECIDERS)
def visa_letters() -> ResponseReturnValue:
    return _queue_page()


def _queue_page(status: int = 200) -> ResponseReturnValue:
    state = request.args.get("state", "")
    if state not in {s.value for s in VisaLetterState}:
        state = ""
    delegation_id = _int_arg("delegation")
    letters = service.queue(state or None, delegation_id)
    unmasked = may_see_identity(current_user)
    return render_template(
        "staff/visa_letters.html", letters=letters, state=state, states=list(VisaLetterState),
        delegation_id=delegation_id, delegations=delegation_service.all_delegations(),
        shown_secret=lambda value: (value or "") if unmasked else mask(value),
        may_print=current_user.has_role(Role.DESK)), status


def _decide(letter_id: int, action: str) -> ResponseReturnValue:
    letter = _letter_or_404(letter_id)
    if not FlaskForm().validate():
        abort(400)
    staff = current_user._get_current_object()
    reason = request.form.get("reason", "")
    try:
        if action == "approve":
            service.approve(letter, staff)
            flash(_("Letter %(ref)s issued.", ref=letter.reference), "success")
        elif action == "refuse":
            service.refuse(letter, staff, reason)
            flash(_("Request %(ref)s refused.", ref=letter.reference), "success")
        else:
            service.withdraw(letter, staff, reason)
            flash(_("Letter %(ref)s withdrawn.", ref=letter.reference), "success")
    except service.VisaLetterError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _queue_page(422)
    return redirect(url_for("staff.visa_letters") + f"#letter-{letter_id}", code=303)


@bp.post("/visa-letters/<int:letter_id>/approve")
@roles_required(*DECIDERS)
def approve_visa_letter(letter_id: int) -> ResponseReturnValue:
    return _decide(letter_id, "approve")


@bp.post("/visa-letters/<int:letter_id>/refuse")
@roles_required(*DECIDERS)
def refuse_visa_letter(letter_id: int) -> ResponseReturnValue:
    return _decide(letter_id, "refuse")


@bp.post("/visa-letters/<int:letter_id>/withdraw")
@roles_required(*DECIDERS)
def withdraw_visa_letter(letter_id: int) -> ResponseReturnValue:
    return _decide(letter_id, "withdraw")


@bp.get("/visa-letters/<int:letter_id>/letter.pdf")
@roles_required(Role.ADMIN, Role.DESK)
def visa_letter_pdf(letter_id: int) -> ResponseReturnValue:
    letter = _letter_or_404(letter_id)
    if letter.state_enum is not VisaLetterState.APPROVED:
        abort(404)
    return _pdf(letters_pdf([letter]), filename(letter))


@bp.get("/visa-letters/print.pdf")
@roles_required(Role.ADMIN, Role.DESK)
def print_visa_letters() -> ResponseReturnValue:
    """Every issued letter (of one delegation with ?delegation=ID) as one PDF to print."""
    delegation_id = _int_arg("delegation")
    if delegation_id is not None:
        delegation = delegation_service.get(delegation_id)
        if delegation is None or delegation.edition_id != editions.current_edition_id():
            abort(404)
    letters = service.issued(delegation_id)
    if not letters:
        flash(_("No issued letter to print."), "error")
        return redirect(url_for("staff.visa_letters", delegation=delegation_id), code=303)
    return _pdf(letters_pdf(letters), "visa-letters.pdf")
