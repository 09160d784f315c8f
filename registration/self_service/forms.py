"""Forms of the manage pages. The rules are those of validation.clean_record, applied by
services.self_service; these classes only render fields and check the CSRF token."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField

from ..public.forms import DelegateForm
from ..validation import clean_email


class ManageForm(DelegateForm):
    """The registration form without consent (given at registration); the category is shown
    but fixed."""

    consent = None
    require_identity = False

    def validate(self, extra_validators: Any = None) -> bool:
        # Only WTForms and CSRF here: self_service.apply_edit applies the shared rules.
        return FlaskForm.validate(self, extra_validators)

    def submitted_data(self) -> dict[str, Any]:
        return {name: field.data for name, field in self._fields.items()
                if name != "csrf_token"}

    def show_errors(self, errors: dict[str, object]) -> None:
        for name, message in errors.items():
            if name in self._fields:
                self[name].errors = [*self[name].errors, str(message)]


class RequestLinkForm(FlaskForm):
    email = StringField(_l("Email"), description=_l("The address you registered with."))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        try:
            self.email.data = clean_email(self.email.data or "")
        except ValueError as exc:
            self.email.errors = [*self.email.errors, str(exc.args[0])]
            return False
        return ok


class PhotoForm(FlaskForm):
    photo = FileField(_l("Photo"), description=_l(
        "A recent passport-style photo of your face, JPEG or PNG."))


class ConfirmForm(FlaskForm):
    """Cancel and erase: an explicit tick box, so a stray click changes nothing."""

    confirm = BooleanField(_l("Yes, I am sure"))


def field_labels() -> dict[str, object]:
    """Field name → its (lazy) form label, for listing requested changes."""
    from ..fields import COMMON_FIELDS

    return {name: getattr(DelegateForm, name).args[0] for name in COMMON_FIELDS}
