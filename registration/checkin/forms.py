"""Forms of the admin pages for devices and checkpoints."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from ..fields import CATEGORIES


class IssueDeviceForm(FlaskForm):
    name = StringField(_l("Device name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("e.g. Main entrance phone 3"))


class RevokeDeviceForm(FlaskForm):
    """Only the CSRF token: the device is in the URL."""


class CheckpointForm(FlaskForm):
    id = StringField(_l("Id"), validators=[
        DataRequired(), Length(max=32),
        Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Letters, digits, '-' and '_' only.")),
    ], description=_l("Short and stable, used by scanners: e.g. vip, plenary"))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    categories = SelectMultipleField(
        _l("Categories admitted"),
        choices=[SelectChoice(key, label) for key, label in CATEGORIES.items()],
        option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
        description=_l("None ticked, or all: every accredited delegate."),
    )
    admit_heads_of_delegation = BooleanField(_l("Also admit heads of delegation"))
    active = BooleanField(_l("Open"), default=True)
