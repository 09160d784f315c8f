"""The delegate's answer to the vetting service's request for more information, on the
manage page (/manage/<token>): the question is shown there (never in the email), the
answer is stored encrypted and the record goes back to `pending` (services/vetting.py).
Identity data is corrected on the manage page's own edit form."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length

from ..models import Delegate
from ..services import self_service
from ..services import vetting as vetting_service
from . import bp
from .views import _page, with_delegate


class VettingAnswerForm(FlaskForm):
    answer = TextAreaField(_l("Your answer"), validators=[
        InputRequired(message=_l("Write your answer.")),
        Length(max=vetting_service.MAX_ANSWER)])


def vetting_context(delegate: Delegate, form: VettingAnswerForm | None = None
                    ) -> dict[str, object]:
    """What show.html needs for the question box (nothing if nothing is asked)."""
    request = vetting_service.open_request(delegate)
    if request is None:
        return {}
    return {"vetting_request": request, "vetting_form": form or VettingAnswerForm()}


@bp.post("/<token>/vetting")
@with_delegate
def vetting_answer(delegate: Delegate, token: str) -> ResponseReturnValue:
    form = VettingAnswerForm()
    if form.validate_on_submit():
        try:
            vetting_service.answer(delegate, form.answer.data or "")
        except vetting_service.VettingRefused as exc:
            form.answer.errors = [*form.answer.errors, exc.message]
        else:
            flash(_("Thank you: your answer was sent to the vetting service."), "info")
            return redirect(url_for("self_service.show", token=token), code=303)
    context = vetting_context(delegate, form)
    if not context:  # nothing is asked (any more)
        flash(_("No information is asked of you at the moment."), "info")
        return redirect(url_for("self_service.show", token=token), code=303)
    return _page("self_service/show.html", delegate, token,
                 pending_request=self_service.pending_change_request(delegate),
                 **context), 422
