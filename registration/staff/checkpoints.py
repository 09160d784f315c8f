"""Admin page for checkpoints (zones): list them, add one, edit one."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from ..auth import roles_required
from ..fields import CATEGORIES, CATEGORY_KEYS
from ..models import Role
from ..services.checkin import CheckinError
from ..services.checkin.checkpoints import find_checkpoint, list_checkpoints, save_checkpoint
from . import bp


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


@bp.route("/checkpoints", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def checkpoints() -> ResponseReturnValue:
    form = CheckpointForm()
    if request.method == "GET" and request.args.get("edit"):
        cp = find_checkpoint(request.args["edit"])
        if cp is None:
            abort(404)
        form = CheckpointForm(formdata=None, id=cp.id, name=cp.name,
                              categories=cp.allowed_categories or list(CATEGORY_KEYS),
                              admit_heads_of_delegation=cp.admit_heads_of_delegation,
                              active=cp.active)
    status = 200
    if form.validate_on_submit():
        try:
            cp = save_checkpoint(
                form.id.data, form.name.data, form.categories.data or None,
                form.admit_heads_of_delegation.data, active=form.active.data,
                staff=current_user)
        except CheckinError as exc:
            form.id.errors = [*form.id.errors, str(exc)]
            status = 422
        else:
            flash(_("Checkpoint %(name)s saved.", name=cp.name))
            return redirect(url_for("staff.checkpoints"), code=303)
    elif request.method == "POST":
        status = 422
    return render_template("staff/checkpoints.html", form=form,
                           checkpoints=list_checkpoints(),
                           labels=dict(CATEGORIES)), status
