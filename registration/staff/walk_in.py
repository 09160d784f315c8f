"""Walk-ins: a delegate registered and accredited at the desk, ready for their badge."""

from __future__ import annotations

from flask import flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import roles_required
from ..i18n import current_language
from ..models import Role, Status
from ..services import accreditation, delegate_record
from ..services.registration import RegistrationRefused
from . import bp
from .delegates import record_url
from .forms import WalkInForm


@bp.route("/walk-in", methods=["GET", "POST"])
@roles_required(Role.DESK)
def walk_in():
    form = WalkInForm(lang=current_language())
    if request.method == "GET":
        return render_template("staff/walk_in.html", form=form)
    if form.validate():
        try:
            delegate = accreditation.register_walk_in(
                form.cleaned, current_user._get_current_object(), locale=current_language()
            )
        except RegistrationRefused as refused:
            if refused.reason == "duplicate_email":
                existing = delegate_record.by_email(form.cleaned["email"])
                form.email.errors = [_("A delegate with this email address is already "
                                       "registered%(ref)s.",
                                       ref=f" ({existing.reference})" if existing else "")]
            else:  # limits are off for the desk; kept for completeness
                form.category.errors = [_("Registration refused: %(reason)s",
                                          reason=refused.reason)]
        else:
            if delegate.status == Status.SUBMITTED.value:  # approval waits for a photo
                flash(_("%(ref)s registered. This edition requires a photo for "
                        "accreditation: add the photo below, then approve.",
                        ref=delegate.reference), "success")
                return redirect(record_url(delegate) + "#photo", code=303)
            flash(_("%(ref)s registered and accredited. Print the badge below.",
                    ref=delegate.reference), "success")
            return redirect(record_url(delegate) + "#badge", code=303)
    return render_template("staff/walk_in.html", form=form), 422
