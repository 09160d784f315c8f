"""Forms of the staff desk. CSRF comes from FlaskForm; the delegate rules from validation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from ..models import Role
from ..models.staff import ROLE_LABELS
from ..public.forms import DelegateForm
from ..services.accreditation import MAX_REASON_LENGTH
from ..services.staff_accounts import MIN_PASSWORD_LENGTH
from ..validation import clean_record


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email."))])
    password = PasswordField(_l("Password"),
                             validators=[DataRequired(_l("Enter your password."))])
    next = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class RejectForm(FlaskForm):
    reason = StringField(
        _l("Reason for rejection"),
        validators=[DataRequired(_l("Give a reason for the rejection.")),
                    Length(max=MAX_REASON_LENGTH)],
    )


class StaffCreateForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter an email."))])
    password = PasswordField(
        _l("Password"),
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
        validators=[DataRequired(_l("Enter a password."))],
    )
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role.value, ROLE_LABELS[role])
                 for role in (Role.DESK, Role.SCANNER, Role.VETTING, Role.ADMIN)],
    )


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(_l("Enter your current password."))])
    new_password = PasswordField(
        _l("New password"),
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
        validators=[DataRequired(_l("Enter a new password."))],
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[EqualTo("new_password", _l("The two new passwords are not the same."))],
    )


class WalkInForm(DelegateForm):
    """The registration form as the desk uses it: every rule applies, and the consent box
    records that the delegate confirmed consent at the desk."""

    consent = BooleanField(
        _l("The delegate has read the privacy notice and consents to the processing of their "
           "personal data for accreditation.")
    )


class DeskEditForm(DelegateForm):
    """Editing at the desk: consent is on file already; category answers may stay empty."""

    require_category_fields = False

    def validate(self, extra_validators=None) -> bool:
        ok = FlaskForm.validate(self, extra_validators)
        data = {name: field.data for name, field in self._fields.items()}
        self.cleaned, errors = clean_record(data, require_category_fields=False,
                                            require_consent=False)
        for name, message in errors.items():
            self[name].errors = [*self[name].errors, str(message)]
        return ok and not errors
