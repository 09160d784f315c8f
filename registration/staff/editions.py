"""The edition switcher (every staff page) and the edition's settings page (admins)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    Field,
    IntegerField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .. import editions
from ..auth import roles_required
from ..fields import CATEGORIES, CATEGORY_KEYS
from ..models import Edition, Role
from ..services import edition_settings as service
from ..web import safe_next
from . import bp
from .letterhead_fields import LetterheadFields, letterhead_data


@bp.post("/edition")
@roles_required(Role.SCANNER, Role.DESK, Role.ADMIN, Role.VETTING)
def switch_edition() -> ResponseReturnValue:
    """Work on another edition (kept in this staff session)."""
    slug = request.form.get("edition", "")
    if slug and editions.get_edition(slug) is not None:
        session[editions.SESSION_KEY] = slug
        editions.forget_request_edition()
    return redirect(safe_next(request.form.get("next")) or url_for("staff.index"), code=303)


LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class SettingsForm(LetterheadFields, FlaskForm):
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=200)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[Length(max=200)])
    starts_on = DateField(_l("Starts on"), validators=[DataRequired()])
    ends_on = DateField(_l("Ends on"), validators=[DataRequired()])
    venue_en = StringField(_l("Venue (English)"), validators=[Length(max=200)])
    venue_zh = StringField(_l("Venue (Chinese)"), validators=[Length(max=200)])
    city_en = StringField(_l("City (English)"), validators=[Length(max=100)])
    city_zh = StringField(_l("City (Chinese)"), validators=[Length(max=100)])
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)],
                           description=_l("e.g. Asia/Shanghai"))
    registration_opens_at = DateTimeLocalField(
        _l("Registration opens"), format=LOCAL_FORMAT, validators=[Optional()],
        description=_l("In the edition's time zone; empty: open now."))
    registration_closes_at = DateTimeLocalField(
        _l("Registration closes"), format=LOCAL_FORMAT, validators=[Optional()],
        description=_l("In the edition's time zone; empty: no deadline."))
    invitation_only = SelectMultipleField(
        _l("Invitation only"),
        choices=[SelectChoice(key, label) for key, label in CATEGORIES.items()],
        option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
        description=_l("Ticked categories are not offered on the public form."))
    organiser_name = StringField(_l("Organiser"), validators=[Length(max=200)])
    contact_email = StringField(_l("Contact email"),
                                validators=[Optional(), Email(), Length(max=254)])
    privacy_en = TextAreaField(_l("Privacy notice (English)"),
                               description=_l("Shown on the privacy page above the standard text."))
    privacy_zh = TextAreaField(_l("Privacy notice (Chinese)"))
    retention_until = DateField(_l("Keep personal data until"), validators=[Optional()],
                                description=_l("After this date `editions purge` erases it."))
    logo = FileField(_l("Logo"), description=_l("PNG or JPEG, at most %(mb)d MB.",
                                                mb=service.LOGO_MAX_BYTES // (1024 * 1024)))
    remove_logo = BooleanField(_l("Remove the logo"))

    def capacity_fields(self) -> list[tuple[str, Field]]:
        return [(key, self[f"capacity_{key}"]) for key in CATEGORY_KEYS]

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.starts_on.data and self.ends_on.data and self.ends_on.data < self.starts_on.data:
            self.ends_on.errors = [*self.ends_on.errors, _("The end is before the start.")]
            ok = False
        opens, closes = self.registration_opens_at.data, self.registration_closes_at.data
        if opens and closes and closes <= opens:
            self.registration_closes_at.errors = [
                *self.registration_closes_at.errors,
                _("Registration must close after it opens.")]
            ok = False
        if self.timezone.data:
            try:
                editions.check_timezone(self.timezone.data)
            except editions.EditionError:
                self.timezone.errors = [*self.timezone.errors, _("Unknown time zone.")]
                ok = False
        self.processed_logo: tuple[bytes, str] | None = None
        upload = self.logo.data
        if isinstance(upload, FileStorage) and upload.filename:
            try:
                self.processed_logo = service.process_logo(upload.read())
            except service.LogoRejected as exc:
                self.logo.errors = [*self.logo.errors, exc.message]
                ok = False
        return ok

    def _plain_value(self, name: str) -> Any:
        """A field's value as stored: text stripped, and "" for a text field left out of the
        post (a missing optional field is empty, not NULL)."""
        field = self[name]
        if isinstance(field, StringField):  # TextAreaField is a StringField
            return (field.data or "").strip()
        return field.data

    def values(self) -> dict[str, Any]:
        """The edition's columns from the form (times in UTC)."""
        timezone = self.timezone.data
        return {
            **{name: self._plain_value(name) for name in PLAIN_FIELDS},
            "registration_opens_at": service.to_utc(self.registration_opens_at.data, timezone),
            "registration_closes_at": service.to_utc(self.registration_closes_at.data,
                                                     timezone),
            "invitation_only": [k for k in CATEGORY_KEYS if k in (self.invitation_only.data
                                                                 or [])],
            "capacities": {key: field.data for key, field in self.capacity_fields()
                           if field.data is not None},
            **self.letterhead_values(),
        }


PLAIN_FIELDS = ("name_en", "name_zh", "starts_on", "ends_on", "venue_en", "venue_zh",
                "city_en", "city_zh", "timezone", "organiser_name", "contact_email",
                "privacy_en", "privacy_zh", "retention_until")

for _key, _label in CATEGORIES.items():  # one "places" field per category
    setattr(SettingsForm, f"capacity_{_key}", IntegerField(
        _label, validators=[Optional(), NumberRange(min=0, max=1_000_000)]))


def _form_for(edition: Edition) -> SettingsForm:
    data: dict[str, Any] = {name: getattr(edition, name) for name in PLAIN_FIELDS}
    data["registration_opens_at"] = service.to_local(edition.registration_opens_at,
                                                     edition.timezone)
    data["registration_closes_at"] = service.to_local(edition.registration_closes_at,
                                                      edition.timezone)
    data["invitation_only"] = list(edition.invitation_only or [])
    data.update(letterhead_data(edition))
    for key in CATEGORY_KEYS:
        data[f"capacity_{key}"] = (edition.capacities or {}).get(key)
    return SettingsForm(formdata=None, data=data)


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def settings() -> ResponseReturnValue:
    edition = editions.current_edition()
    if edition is None:
        abort(404)
    if request.method == "GET":
        return render_template("staff/settings.html", form=_form_for(edition), edition=edition)
    form = SettingsForm()
    if not form.validate():
        return render_template("staff/settings.html", form=form, edition=edition), 422
    service.save_settings(edition, form.values(), logo=form.processed_logo,
                          remove_logo=form.remove_logo.data, staff=current_user)
    flash(_("Settings saved."))
    return redirect(url_for("staff.settings"), code=303)
