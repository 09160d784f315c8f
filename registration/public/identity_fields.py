"""The identity (travel document) fields of the delegate forms: the registration form,
walk-ins, nominations, the manage page and the desk's edit page all inherit them through
DelegateForm. Names are fields.IDENTITY_FIELDS (also the CSV columns); the rules are
identity_rules.py, applied by validation.clean_record.

Stored secrets (date of birth, document number, expiry) are never written back into a
form: the field stays empty, its hint shows the masked value, and an empty field keeps it.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from ..fields import IDENTITY_FIELDS
from ..identity_rules import SECRET_FIELDS, edition_rule
from ..models.identity import DOCUMENT_TYPE_LABELS


class IdentityFields:
    """A mixin for a FlaskForm subclass (WTForms collects fields from every base class)."""

    nationality = SelectField(_l("Nationality"), validate_choice=False)
    date_of_birth = StringField(
        _l("Date of birth"), description=_l("As in your passport: YYYY-MM-DD."),
        render_kw={"type": "date", "autocomplete": "bday"})
    document_type = SelectField(_l("Type of travel document"), validate_choice=False)
    document_number = StringField(
        _l("Document number"), description=_l("Letters and digits, as printed in the document."),
        render_kw={"autocomplete": "off", "spellcheck": "false",
                   "autocapitalize": "characters"})
    document_country = SelectField(
        _l("Issuing country or region"),
        description=_l("Leave as chosen for your nationality if your country issued it."),
        validate_choice=False)
    document_expiry = StringField(
        _l("Document valid until"),
        description=_l("The document must be valid after the forum's last day."),
        render_kw={"type": "date"})

    identity_categories: tuple[str, ...] = ()

    def setup_identity(self, country_options: list[SelectChoice], *, required: bool) -> None:
        """Choices, and which categories the edition asks (empty: the fieldset is not shown)."""
        form: Any = self
        rule = edition_rule()
        self.identity_categories = tuple(sorted(rule.categories)) if rule is not None else ()
        form.nationality.choices = country_options
        form.document_country.choices = country_options
        form.document_type.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(t.value, label) for t, label in DOCUMENT_TYPE_LABELS.items()]
        if required:
            for name in ("nationality", "date_of_birth", "document_type", "document_number",
                         "document_expiry"):
                form[name].flags.required = True

    def show_stored_identity(self, hints: dict[str, str], *, empty: bool = True) -> None:
        """Say what is on file (services.identity.stored_hints) under the secret fields,
        and (`empty`) leave them empty."""
        form: Any = self
        for name in SECRET_FIELDS:
            if empty:
                form[name].data = ""
            if name in hints:
                form[name].description = _l("On file: %(masked)s. Leave empty to keep it.",
                                            masked=hints[name])

    def identity_section(self) -> list[Any]:
        form: Any = self
        return [form[name] for name in IDENTITY_FIELDS]
