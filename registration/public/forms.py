"""The self-registration form. Field names are the stable names of fields.py.

WTForms renders the fields and checks the CSRF token; the rules themselves live in
validation.clean_record so that walk-ins and imports apply exactly the same ones. A public
submission that passes them is stored without building the form at all
(`DelegateForm.passing_submission`); the form is built to show the page, or the submission
again with what is wrong.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from flask import current_app, g
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import UnboundField
from wtforms.widgets import CheckboxInput, ListWidget, Select, html_params

import badges

from ..countries import country_choices, names_file
from ..fields import CATEGORIES, CATEGORY_FIELDS, HONORIFIC_LABELS, HONORIFICS, THEMES
from ..validation import clean_record
from .identity_fields import IdentityFields
from .visa_fields import VisaRequestFields


class CachedOptionsSelect(Select):
    """A <select> whose long, fixed option list is rendered once per process and language.

    Rendering 250 countries option by option, twice per form, was 80% of the cost of
    serving the registration page; only the selected option differs between requests.
    """

    _rendered: ClassVar[dict[tuple[int, str], str]] = {}

    def __call__(self, field, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        key = (id(field.choices), str(get_locale()))
        options = self._rendered.get(key)
        if options is None:
            options = "".join(
                f'<option value="{escape(c.value)}">{escape(c.label)}</option>'
                for c in field.choices
            )
            self._rendered[key] = options
        if field.data:
            marker = f'<option value="{escape(field.data)}">'
            options = options.replace(marker, marker[:7] + " selected" + marker[7:], 1)
        # Every value and label above went through escape(); html_params escapes too.
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")  # noqa: S704


def _country_options(lang: str, empty_label: str) -> list[SelectChoice]:
    return _country_options_for(lang, empty_label, names_file())


@cache
def _country_options_for(lang: str, empty_label: str, path: str) -> list[SelectChoice]:
    # Cached per language and names file so the widget's cache key (the list's identity)
    # stays stable.
    return [SelectChoice("", empty_label)] + [
        SelectChoice(code, name) for code, name in country_choices(lang)
    ]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DelegateForm(IdentityFields, VisaRequestFields, FlaskForm):
    category = RadioField(
        _l("I am attending as"),
        choices=[SelectChoice(k, v) for k, v in CATEGORIES.items()],
        validate_choice=False,
    )
    honorific = SelectField(_l("Honorific"), validate_choice=False,
                            render_kw={"autocomplete": "honorific-prefix"})
    given_name = StringField(
        _l("Given name(s)"), description=_l("If you have only one name, enter it here."),
        render_kw={"autocomplete": "given-name"},
    )
    family_name = StringField(
        _l("Family name"), description=_l("Your surname, e.g. Wang for 王小明 (Wang Xiaoming)."),
        render_kw={"autocomplete": "family-name"},
    )
    native_name = StringField(
        _l("Name in your own script (optional)"),
        description=_l("For example 王小明, Мария Иванова, محمد علي"),
    )
    BADGE_NAME_HINT = _l("Leave empty to use your given and family names.")
    badge_name = StringField(
        _l("Name as it should appear on your badge"), description=BADGE_NAME_HINT
    )
    organisation = StringField(_l("Organisation"), render_kw={"autocomplete": "organization"})
    position = StringField(_l("Position / job title"),
                           render_kw={"autocomplete": "organization-title"})
    country = SelectField(
        _l("Country or region"), validate_choice=False, widget=CachedOptionsSelect(),
        render_kw={"autocomplete": "country"},
    )
    email = StringField(_l("Email"), render_kw={"autocomplete": "email", "type": "email",
                                                "inputmode": "email"})
    phone = StringField(
        _l("Mobile phone"), description=_l("International format, e.g. +86 138 0013 8000"),
        render_kw={"autocomplete": "tel", "type": "tel", "inputmode": "tel"},
    )
    dietary_needs = TextAreaField(_l("Dietary needs (optional)"))
    accessibility_needs = TextAreaField(_l("Accessibility needs (optional)"))
    consent = BooleanField(
        _l("I consent to the processing of my personal data for accreditation to the forum.")
    )
    # Category fields (names from fields.CATEGORY_FIELDS).
    ministry = StringField(_l("Ministry / agency"))
    delegation = SelectField(
        _l("Delegation (country or region)"), validate_choice=False, widget=CachedOptionsSelect()
    )
    head_of_delegation = BooleanField(_l("I am the head of my delegation"))
    expertise = MultiCheckboxField(
        _l("Areas of expertise"),
        choices=[SelectChoice(k, v) for k, v in THEMES.items()],
        validate_choice=False,
    )
    expertise_other = StringField(_l("Other area of expertise"))
    institution = StringField(_l("Institution"))
    department = StringField(_l("Department"))
    academic_title = StringField(_l("Academic title"))
    website = StringField(_l("Organisation website"))
    focus = TextAreaField(_l("What your organisation works on"))

    def __init__(self, *args: Any, lang: str = "en", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lang = lang  # the page's language (the template orders the name fields by it)
        self.country.choices = _country_options(lang, str(_l("Choose…")))
        self.delegation.choices = _country_options(lang, str(_l("Same as my country")))
        self.honorific.choices = [SelectChoice(h, HONORIFIC_LABELS[h]) for h in HONORIFICS]
        self.setup_identity(self.country.choices, required=self.require_identity)
        self.nationality.widget = self.document_country.widget = self.country.widget
        self.cleaned: dict[str, Any] = {}
        self.badge_name.description = self.badge_name_hint()
        self._mark_required()

    # What clean_record refuses when empty (given_name: one name at least is needed).
    REQUIRED = ("category", "given_name", "organisation", "position", "country", "email",
                "phone", "consent")
    require_category_fields = True
    # Identity data (where the edition asks the category): all of it on the public form;
    # elsewhere what is missing leaves the delegate `incomplete` (services/identity.py).
    require_identity = True

    def _mark_required(self) -> None:
        """Flag the fields the shared rules require, so the page marks them (required,
        aria-required and a visible mark)."""
        names = [n for n in self.REQUIRED if n in self]
        if self.require_category_fields:
            names += [f.name for fields in CATEGORY_FIELDS.values() for f in fields
                      if f.required and f.name in self]
        for name in names:
            self[name].flags.required = True

    def badge_name_hint(self) -> object:
        """The badge-name field's hint; for a name too long for a badge, also what will
        print where space is shortest (badges.preview_name on every layout)."""
        def text(name: str) -> str:
            return str(self[name].data or "").strip()

        preview = badge_name_preview(text("given_name"), text("family_name"),
                                     text("honorific"), text("badge_name"))
        if preview is None:
            return self.BADGE_NAME_HINT
        if preview.shortened:
            note = _l("Your name is long: where space is short, your badge will read "
                      "“%(name)s”. To choose the short form yourself, enter it here.",
                      name=preview.text)
        else:
            note = _l("This name is long for a badge: it will be printed in small "
                      "letters. A shorter form reads better.")
        # str(): a lazy string counts as safe HTML for markupsafe, but the name is not
        return Markup('{} <span class="badge-name-preview">{}</span>').format(
            str(self.BADGE_NAME_HINT), str(note))

    def category_sections(self) -> list[tuple[str, object, list]]:
        """(category key, label, [bound fields]) for the template's per-category fieldsets."""
        return [
            (key, label, [self[f.name] for f in CATEGORY_FIELDS[key]])
            for key, label in CATEGORIES.items()
        ]

    @classmethod
    def passing_submission(cls, formdata: Any) -> dict[str, Any] | None:
        """The cleaned record of a submission that passes every check `validate` makes,
        worked out without building the form; None where the form is needed: a check
        failed (its message goes next to its field), a visa letter is asked for, or a
        value was sent to a field that parses it (the visa dates: the form's to read).

        The checks are the same: the CSRF token (checked already by CSRFProtect for every
        POST, as `validate` would find), then validation.clean_record on the values the
        fields take from `formdata` (`_submitted_values`). Building the form to throw it
        away (33 fields bound, processed and validated) was a fifth of the CPU of a
        registration (callgrind, bench/cpu_per_request.py: 21.1 against 16.5 M
        instructions for the blank form and the submission)."""
        if current_app.config.get("WTF_CSRF_ENABLED", True) and not g.get("csrf_valid"):
            return None
        values = cls._submitted_values(formdata)
        if values is None or values.get("visa_letter"):
            return None
        clean, errors = clean_record(values, require_identity=cls.require_identity)
        return None if errors else clean

    @classmethod
    def _submitted_values(cls, formdata: Any) -> dict[str, Any] | None:
        """What each field's `data` would be after processing `formdata` (WTForms 3): the
        list for a multiple choice, True/False for a check box (anything but "false" or
        empty ticks it), the first value sent for text and single choices. None if a value
        was sent to a field that parses it (the visa dates): the form reads those."""
        values: dict[str, Any] = {}
        for name, field_class in _field_classes(cls):
            sent = formdata.getlist(name)
            if issubclass(field_class, SelectMultipleField):
                values[name] = list(sent)
            elif issubclass(field_class, BooleanField):
                values[name] = bool(sent) and sent[0] not in BooleanField.false_values
            elif not issubclass(field_class, StringField | SelectField | RadioField):
                if any(sent):
                    return None
            elif sent:
                values[name] = sent[0]
        return values

    def validate(self, extra_validators=None) -> bool:
        """CSRF through WTForms, then the shared rules; errors land next to their field."""
        ok = super().validate(extra_validators)
        data = {name: field.data for name, field in self._fields.items()}
        self.cleaned, errors = clean_record(data, require_identity=self.require_identity)
        for name, message in errors.items():
            self[name].errors = [*self[name].errors, str(message)]
        return ok and not errors


_FIELD_CLASSES: dict[type, tuple[tuple[str, type], ...]] = {}


def _field_classes(form_class: type) -> tuple[tuple[str, type], ...]:
    """(name, field class) of every field `form_class` declares, its bases' included."""
    found = _FIELD_CLASSES.get(form_class)
    if found is None:
        found = _FIELD_CLASSES[form_class] = tuple(
            (name, value.field_class) for name in dir(form_class)
            if not name.startswith("_")
            and isinstance(value := getattr(form_class, name), UnboundField))
    return found


def badge_name_preview(given: str, family: str, honorific: str = "", badge_name: str = ""
                       ) -> badges.NameFit | None:
    """How the name will print where it fits worst, if any layout shortens it or prints it
    below the legible size; None if it prints as entered everywhere."""
    if not (given or family or badge_name):
        return None
    fits = [badges.preview_name(given, family, layout, honorific=honorific,
                                badge_name=badge_name) for layout in badges.LAYOUTS]
    changed = [f for f in fits if f.changed]
    if not changed:
        return None
    return min(changed, key=lambda f: (not f.shortened, len(f.text), f.size))
