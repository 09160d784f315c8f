"""The edition switcher (every staff page) and the edition's settings page (admins)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Optional

from .. import editions
from ..auth import roles_required
from ..extensions import db
from ..models import Role
from ..services import audit
from ..web import safe_next
from . import bp


@bp.post("/edition")
@roles_required(Role.SCANNER, Role.DESK, Role.ADMIN)
def switch_edition():
    """Work on another edition (kept in this staff session)."""
    slug = request.form.get("edition", "")
    if slug and editions.get_edition(slug) is not None:
        session[editions.SESSION_KEY] = slug
        editions.forget_request_edition()
    return redirect(safe_next(request.form.get("next")) or url_for("staff.index"), code=303)


class SettingsForm(FlaskForm):
    name_en = StringField(_l("Name (English)"), validators=[DataRequired()])
    name_zh = StringField(_l("Name (Chinese)"))
    starts_on = DateField(_l("Starts on"), validators=[DataRequired()])
    ends_on = DateField(_l("Ends on"), validators=[DataRequired()])
    venue_en = StringField(_l("Venue (English)"))
    venue_zh = StringField(_l("Venue (Chinese)"))
    city_en = StringField(_l("City (English)"))
    city_zh = StringField(_l("City (Chinese)"))
    timezone = StringField(_l("Time zone"), validators=[DataRequired()])
    organiser_name = StringField(_l("Organiser"))
    contact_email = StringField(_l("Contact email"), validators=[Optional(), Email()])
    privacy_en = TextAreaField(_l("Privacy notice (English)"))
    privacy_zh = TextAreaField(_l("Privacy notice (Chinese)"))
    retention_until = DateField(_l("Keep personal data until"), validators=[Optional()])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.starts_on.data and self.ends_on.data and self.ends_on.data < self.starts_on.data:
            self.ends_on.errors = [*self.ends_on.errors, _("The end is before the start.")]
            ok = False
        if self.timezone.data:
            try:
                editions.check_timezone(self.timezone.data)
            except editions.EditionError:
                self.timezone.errors = [*self.timezone.errors, _("Unknown time zone.")]
                ok = False
        return ok


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def settings():
    edition = editions.current_edition()
    if edition is None:
        abort(404)
    form = SettingsForm(obj=edition)
    if request.method == "POST":
        if form.validate():
            before = edition.settings()
            form.populate_obj(edition)
            after = edition.settings()
            changes = {k: [before[k], after[k]] for k in after if before.get(k) != after[k]}
            if changes:
                audit.record(None, "edition_settings", staff=current_user, edition=edition.slug,
                             changes=changes)
            db.session.commit()
            flash(_("Settings saved."))
            return redirect(url_for("staff.settings"), code=303)
        return render_template("staff/settings.html", form=form, edition=edition), 422
    return render_template("staff/settings.html", form=form, edition=edition)
