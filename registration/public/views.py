"""Public pages: landing, registration form, confirmation, privacy notice, language switch."""

from __future__ import annotations

from datetime import UTC, datetime

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

from .. import editions
from ..fields import CATEGORIES
from ..i18n import category_label, current_language
from ..models import Invitation
from ..models.delegate import RecordSource
from ..ratelimits import registration_limit
from ..services import invitations
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
from .visa_fields import store_request

bp = Blueprint("public", __name__)


REFUSAL_MESSAGES = {
    "duplicate_email": lambda: _(
        "This email address is already registered for the forum. If it is yours, use the "
        "link in your confirmation email to see or change your registration."
    ),
    "full": lambda: _("Registration for this category is full."),
    "closed": lambda: _("Registration is closed."),
    "invitation_only": lambda: _("This category is by invitation only."),
    "invitation_used": lambda: _("This invitation has already been used to register."),
    "other_address": lambda: _(
        "This invitation is for another email address. It cannot be used with this one: "
        "ask the organiser for your own invitation."),
}


@bp.get("/")
def index():
    invited = editions.invitation_only()
    return render_template("public/index.html", closed=registration_closed(),
                           categories={k: v for k, v in CATEGORIES.items() if k not in invited},
                           face=editions.face(current_language()), now=datetime.now(UTC))


@bp.get("/logo")
def logo():
    """The current edition's logo. Pages link it with ?v=<digest>: that URL never changes
    content, so it is cached for good; without the version, for five minutes."""
    found = editions.logo()
    if found is None:
        abort(404)
    data, mime, digest = found
    response = current_app.response_class(data, mimetype=mime)
    response.set_etag(digest)
    response.headers["Cache-Control"] = ("public, max-age=31536000, immutable"
                                         if request.args.get("v") == digest
                                         else "public, max-age=300")
    return response.make_conditional(request)


def _invitation_form(invitation: Invitation) -> DelegateForm:
    """The form opened by an invitation: its category only, what the desk knows filled in."""
    prefill = {} if request.method == "POST" else {
        **invitation.prefill, "email": invitation.email, "category": invitation.category}
    form = DelegateForm(lang=current_language(), data=prefill)
    form.category.choices = [c for c in form.category.choices
                             if c.value == invitation.category]
    if "expertise" in prefill:
        form.expertise.data = [w.strip() for w in prefill["expertise"].split(",") if w.strip()]
    return form


def _public_form() -> DelegateForm:
    """The registration form as the public sees it (invitation-only categories left out)."""
    form = DelegateForm(lang=current_language())
    invited = editions.invitation_only()  # categories not offered to the public
    form.category.choices = [c for c in form.category.choices if c.value not in invited]
    if request.method == "GET" and request.args.get("category") in CATEGORIES:
        form.category.data = request.args["category"]
    return form


@bp.route("/register", methods=["GET", "POST"])
@registration_limit
def register():
    token = request.args.get("invitation")
    if token is not None:
        return _register_invited(token)
    closed = registration_closed()
    full = full_categories()
    if not closed and cacheable_request(frozenset({"category"})):
        # The blank form (the form is built only when the page is not cached yet).
        key = (current_language(), frozenset(full), request.full_path,
               editions.page_version())
        return blank_form_page(key, lambda: render_template(
            "public/register.html", form=_public_form(), closed=False, full=full))
    if closed:
        return render_template("public/register.html", form=_public_form(), closed=True,
                               full=full), (403 if request.method == "POST" else 200)
    clean = (DelegateForm.passing_submission(request.form) if request.method == "POST"
             else None)
    if clean is not None:
        return _store_registration(clean, full, None)
    form = _public_form()
    if request.method == "POST" and form.validate():
        return _store_registration(form.cleaned, full, form)
    status = 422 if request.method == "POST" else 200
    return render_template("public/register.html", form=form, closed=False, full=full), status


def _store_registration(clean: dict, full: set[str], form: DelegateForm | None):
    """Store a checked submission and go to the confirmation; refused, the form again with
    the reason next to its field (`form` None: the submission passed without building it,
    DelegateForm.passing_submission, so it is built now)."""
    refusal = "full" if clean["category"] in full else None
    if refusal is None:
        try:
            delegate = register_delegate(clean, locale=current_language())
        except RegistrationRefused as refused:
            refusal = refused.reason
        else:
            if form is not None:
                store_request(delegate, form)
            session["registered"] = str(delegate.public_id)
            return redirect(url_for("public.confirmation"), code=303)
    form = form or _public_form()
    target = {"duplicate_email": form.email, "full": form.category,
              "invitation_only": form.category}.get(refusal)
    if target is None:  # closed while the form was being filled in
        return render_template("public/register.html", form=form, closed=True, full=full), 403
    target.errors = [str(REFUSAL_MESSAGES[refusal]())]
    return render_template("public/register.html", form=form, closed=False, full=full), 422


def _register_invited(token: str):
    """/register?invitation=TOKEN: the personal form, usable once, by its address only."""
    try:
        invitation = invitations.resolve(token)
    except invitations.InvitationUnusable as unusable:
        return render_template("public/invitation_unusable.html",
                               message=invitations.UNUSABLE_MESSAGES[unusable.reason]), 410
    if request.method == "GET":
        invitations.mark_opened(invitation)
    form = _invitation_form(invitation)
    page = {"invitation": invitation, "invitation_token": token,
            "invitation_category": category_label(invitation.category)}
    if registration_closed():
        return render_template("public/register.html", form=form, closed=True, full=set(),
                               **page), 403 if request.method == "POST" else 200
    if request.method == "POST" and form.validate():
        clean = {**form.cleaned, "category": invitation.category}
        if not invitations.same_address(invitation, clean["email"]):
            form.email.errors = [str(REFUSAL_MESSAGES["other_address"]())]
        else:
            try:
                delegate = register_delegate(clean, locale=current_language(),
                                             source=RecordSource.INVITATION,
                                             invitation=invitation)
            except RegistrationRefused as refused:
                if refused.reason == "closed":
                    return render_template("public/register.html", form=form, closed=True,
                                           full=set(), **page), 403
                if refused.reason == "invitation_used":
                    return render_template(
                        "public/invitation_unusable.html",
                        message=invitations.UNUSABLE_MESSAGES["used"]), 410
                target = form.email if refused.reason == "duplicate_email" else form.category
                # "quota" (an invitation into a delegation with no place left) says why
                target.errors = [refused.message or str(REFUSAL_MESSAGES[refused.reason]())]
            else:
                store_request(delegate, form)
                session["registered"] = str(delegate.public_id)
                return redirect(url_for("public.confirmation"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("public/register.html", form=form, closed=False, full=set(),
                           **page), status


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
    return render_template("public/privacy.html", face=editions.face(current_language()))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or "/")
