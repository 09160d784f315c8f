"""Public pages: landing, registration form, confirmation, privacy notice, language switch."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from ..fields import CATEGORIES
from ..i18n import current_language
from ..ratelimits import registration_limit
from ..services.registration import (
    RegistrationRefused,
    full_categories,
    register_delegate,
    registration_closed,
)
from ..services.self_service import registered_delegate
from ..web import safe_next
from .forms import DelegateForm
from .page_cache import blank_form_page, cacheable_request

bp = Blueprint("public", __name__)


REFUSAL_MESSAGES = {
    "duplicate_email": lambda: _(
        "This email address is already registered for the forum. If it is yours, use the "
        "link in your confirmation email to see or change your registration."
    ),
    "full": lambda: _("Registration for this category is full."),
    "closed": lambda: _("Registration is closed."),
}


@bp.get("/")
def index():
    return render_template("public/index.html", categories=CATEGORIES,
                           closed=registration_closed())


@bp.route("/register", methods=["GET", "POST"])
@registration_limit
def register():
    closed = registration_closed()
    full = full_categories()
    form = DelegateForm(lang=current_language())
    if request.method == "GET" and request.args.get("category") in CATEGORIES:
        form.category.data = request.args["category"]
    if closed:
        return render_template("public/register.html", form=form, closed=True, full=full), (
            403 if request.method == "POST" else 200)
    if cacheable_request(frozenset({"category"})):
        key = (current_language(), form.category.data, frozenset(full), request.full_path)
        return blank_form_page(key, lambda: render_template(
            "public/register.html", form=form, closed=False, full=full))
    if request.method == "POST" and form.validate():
        clean = form.cleaned
        if clean["category"] in full:
            form.category.errors = [str(REFUSAL_MESSAGES["full"]())]
        else:
            try:
                delegate = register_delegate(clean, locale=current_language())
            except RegistrationRefused as refused:
                target = {"duplicate_email": form.email, "full": form.category}.get(refused.reason)
                if target is None:  # closed while the form was being filled in
                    return render_template("public/register.html", form=form, closed=True,
                                           full=full), 403
                target.errors = [str(REFUSAL_MESSAGES[refused.reason]())]
            else:
                session["registered"] = str(delegate.public_id)
                return redirect(url_for("public.confirmation"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("public/register.html", form=form, closed=False, full=full), status


@bp.get("/register/confirmation")
def confirmation():
    public_id = session.get("registered")
    if not public_id:
        return redirect(url_for("public.register"))
    delegate = registered_delegate(public_id)
    if delegate is None:
        abort(404)
    return render_template("public/confirmation.html", delegate=delegate)


@bp.get("/privacy")
def privacy():
    return render_template("public/privacy.html")


@bp.get("/lang/<code>")
def set_language(code: str):
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or "/")
