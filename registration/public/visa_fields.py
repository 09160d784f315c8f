"""The visa-letter question on the registration form and the manage page.

A form mixin, so the registration form only gains the fields (`class DelegateForm(
VisaRequestFields, FlaskForm)`), and the template part is templates/public/_visa_request.html.
The fields show where the edition asks for identity data; the answers are checked by the
visa-letter service's own rule (services/visa_letters.check_stay), and the request is stored
once the delegate is (`store_request`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField
from wtforms.validators import Optional

from ..editions import edition_settings
from ..models import Delegate
from ..services import visa_letters


class VisaRequestFields:
    """visa_letter (yes/no), visa_stay_from, visa_stay_to."""

    visa_letter = BooleanField(_l("I am not a Chinese national and I need a visa invitation "
                                  "letter"))
    visa_stay_from = DateField(_l("Arrival in China"), validators=[Optional()],
                               description=_l("The intended dates of your stay, as in your "
                                              "visa application."))
    visa_stay_to = DateField(_l("Departure from China"), validators=[Optional()])

    def visa_offered(self) -> bool:
        """Whether the page shows the question (the edition asks for identity data)."""
        return visa_letters.offered()

    def validate(self, extra_validators: Any = None) -> bool:
        ok: bool = super().validate(extra_validators)  # type: ignore[misc]
        self.visa_request: tuple[date, date] | None = None
        edition = edition_settings()
        if not self.visa_letter.data or edition is None or not visa_letters.offered(edition):
            return ok
        nationality = getattr(self, "nationality", None)  # the identity fields, when asked
        if nationality is not None and nationality.data == visa_letters.HOST_NATIONALITY:
            self.visa_letter.errors = [*self.visa_letter.errors, str(_l(
                "Chinese nationals do not need a visa invitation letter."))]
            return False
        try:
            self.visa_request = visa_letters.check_stay(edition, self.visa_stay_from.data,
                                                        self.visa_stay_to.data)
        except visa_letters.VisaLetterError as exc:
            target = self.visa_stay_to if self.visa_stay_from.data else self.visa_stay_from
            target.errors = [*target.errors, exc.message]
            return False
        return ok


class VisaRequestForm(VisaRequestFields, FlaskForm):
    """The manage page's request form (the box is ticked by sending it)."""


def store_request(delegate: Delegate, form: Any, *, actor: str = "delegate") -> None:
    """After the registration is stored: file the request the form asked for, if any. A
    Chinese national (per the identity data) or a second request is skipped silently: the
    form checked what it could, and the desk sees the rest."""
    wanted = getattr(form, "visa_request", None)
    if not wanted:
        return
    try:
        visa_letters.request_letter(delegate, *wanted, actor=actor)
    except visa_letters.VisaLetterError:
        return
