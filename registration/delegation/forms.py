"""Forms of the focal point's pages. Nominations use the registration form itself (the same
field names and rules as /register); only the email may be left empty."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField

from ..public.forms import DelegateForm
from ..services.registration import RegistrationRefused
from ..validation import clean_record


class FocalLinkForm(FlaskForm):
    email = StringField(_l("Email"))


class LetterForm(FlaskForm):
    letter = FileField(_l("Note Verbale or nomination letter (PDF, up to 10 MB)"))


class NominationForm(DelegateForm):
    """The registration form for a nominee. Without an email address the nominee's mail goes
    to the focal point (`own_email` False after validation). Identity data may follow later:
    until it does, the nominee waits in vetting as `incomplete`."""

    require_identity = False

    def __init__(self, *args: Any, focal_email: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.focal_email = focal_email
        self.own_email = True
        self.email.description = _l("Optional: without it, the nominee's emails come to you.")

    def validate(self, extra_validators=None) -> bool:
        ok = FlaskForm.validate(self, extra_validators)
        data = {name: field.data for name, field in self._fields.items()}
        self.own_email = bool(str(data.get("email") or "").strip())
        if not self.own_email:
            data["email"] = self.focal_email
        self.cleaned, errors = clean_record(data)
        for name, message in errors.items():
            self[name].errors = [*self[name].errors, str(message)]
        return ok and not errors

    def refused(self, refused: RegistrationRefused) -> None:
        """Show why services.delegations.nominate refused the nominee."""
        if refused.reason == "duplicate_email":
            self.email.errors = [_("This email address already has a registration for the "
                                   "forum.")]
        elif refused.reason == "head":
            self.head_of_delegation.errors = [refused.message]
        else:
            self.category.errors = [refused.message or _("Not accepted.")]
