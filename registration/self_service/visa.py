"""The manage page's visa-letter part: ask for a letter, download the issued one."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..models import Delegate, VisaLetter, VisaLetterState
from ..public.visa_fields import VisaRequestForm
from ..services import self_service, visa_letters
from ..services.visa_letter_pdf import filename, letters_pdf
from . import bp
from .views import _page, with_delegate


@dataclass
class VisaSection:
    shown: bool
    letter: VisaLetter | None
    may_request: bool
    form: VisaRequestForm | None


def visa_section(delegate: Delegate, form: VisaRequestForm | None = None) -> VisaSection:
    letter = visa_letters.latest_letter(delegate)
    may_request = (visa_letters.may_request(delegate)
                   and not self_service.is_cancelled(delegate))
    return VisaSection(shown=letter is not None or may_request, letter=letter,
                       may_request=may_request,
                       form=(form or VisaRequestForm()) if may_request else None)


@bp.post("/<token>/visa-letter")
@with_delegate
def request_visa_letter(delegate: Delegate, token: str) -> ResponseReturnValue:
    if not visa_letters.may_request(delegate) or self_service.is_cancelled(delegate):
        abort(409)
    form = VisaRequestForm()
    if form.validate() and form.visa_request is not None:
        try:
            visa_letters.request_letter(delegate, *form.visa_request)
        except visa_letters.VisaLetterError as exc:
            form.visa_stay_from.errors = [exc.message]
        else:
            flash(_("Your request for a visa invitation letter is sent."), "info")
            return redirect(url_for("self_service.show", token=token) + "#visa-letter",
                            code=303)
    elif form.visa_request is None and not form.errors:
        form.visa_stay_from.errors = [_("Give the dates of your intended stay.")]
    return _page("self_service/show.html", delegate, token,
                 pending_request=self_service.pending_change_request(delegate),
                 visa=visa_section(delegate, form)), 422


@bp.get("/<token>/visa-letter.pdf")
@with_delegate
def visa_letter_pdf(delegate: Delegate, token: str) -> ResponseReturnValue:
    letter = visa_letters.latest_letter(delegate)
    if letter is None or letter.state_enum is not VisaLetterState.APPROVED:
        abort(404)
    response = Response(letters_pdf([letter]), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(letter)}"'
    return response
