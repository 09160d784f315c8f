"""The focal point's pages (/delegation/). Views stay thin: services/delegations.py decides."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import editions
from ..extensions import db
from ..fields import CATEGORIES
from ..i18n import current_language
from ..models import Delegate, Delegation, FocalPoint, Status
from ..ratelimits import manage_link_limits
from ..services import delegations as service
from ..services import focal_signin
from ..services.delegate_search import checked_in_ids
from ..services.registration import RegistrationRefused
from . import bp
from .forms import FocalLinkForm, LetterForm, NominationForm

SESSION_KEY = "focal_point"


@bp.after_request
def private_pages(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def signed_in() -> tuple[FocalPoint, Delegation] | None:
    """The signed-in focal point and its delegation, in the current edition only."""
    focal_id = session.get(SESSION_KEY)
    if not isinstance(focal_id, int):
        return None
    focal = db.session.get(FocalPoint, focal_id)
    if focal is None or focal.edition_id != editions.current_edition_id():
        return None
    delegation = service.get(focal.delegation_id)
    return (focal, delegation) if delegation is not None else None


def focal_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        found = signed_in()
        if found is None:
            return redirect(url_for("delegation.home"))
        return view(*found, *args, **kwargs)

    return wrapper


def _actor(focal: FocalPoint) -> str:
    return f"focal:{focal.email}"


def _member(delegation: Delegation, public_id: str | None) -> Delegate:
    """One of this delegation's delegates, or 404 (never another delegation's)."""
    delegate = service.member(delegation, public_id)
    if delegate is None:
        abort(404)
    return delegate


@bp.route("/", methods=["GET", "POST"])
@manage_link_limits
def home() -> ResponseReturnValue:
    found = signed_in()
    if found is not None and request.method == "GET":
        return _dashboard(*found)
    form = FocalLinkForm()
    if request.method == "POST":
        if form.validate() and (form.email.data or "").strip():
            focal_signin.request_link(form.email.data or "")
            # The same answer whether or not the address is a focal point's.
            return render_template("delegation/link_sent.html", email=form.email.data)
        form.email.errors = [_("Enter your email address.")]
        return render_template("delegation/request_link.html", form=form), 422
    return render_template("delegation/request_link.html", form=form)


def _dashboard(focal: FocalPoint, delegation: Delegation) -> str:
    members = service.members(delegation)
    return render_template(
        "delegation/home.html", focal=focal, delegation=delegation, members=members,
        quotas=service.quota_lines(delegation), head=service.head_of(delegation),
        checked_in=checked_in_ids([m.id for m in members]), letter_form=LetterForm(),
        labels=dict(CATEGORIES), cancelled=Status.CANCELLED.value)


@bp.route("/signin/<token>", methods=["GET", "POST"])
def signin(token: str) -> ResponseReturnValue:
    try:
        focal_signin.resolve(token)
    except focal_signin.FocalLinkInvalid:
        return render_template("delegation/link_invalid.html", form=FocalLinkForm()), 410
    if request.method == "GET":  # a button, so that mail scanners do not use the link up
        return render_template("delegation/signin.html", token=token, form=FocalLinkForm())
    if not FocalLinkForm().validate():
        abort(400)
    try:
        focal = focal_signin.consume(token)
    except focal_signin.FocalLinkInvalid:
        return render_template("delegation/link_invalid.html", form=FocalLinkForm()), 410
    session.clear()
    session[SESSION_KEY] = focal.id
    return redirect(url_for("delegation.home"), code=303)


@bp.post("/signout")
def signout() -> ResponseReturnValue:
    if not FocalLinkForm().validate():
        abort(400)
    session.pop(SESSION_KEY, None)
    return redirect(url_for("delegation.home"), code=303)


@bp.route("/nominate", methods=["GET", "POST"])
@focal_required
def nominate(focal: FocalPoint, delegation: Delegation) -> ResponseReturnValue:
    replaces = _member(delegation, request.args["replaces"]) \
        if request.args.get("replaces") else None
    form = NominationForm(lang=current_language(), focal_email=focal.email)
    offered = set(delegation.quotas or {})
    form.category.choices = [c for c in form.category.choices if c.value in offered]
    if replaces is not None and request.method == "GET":
        form.category.data = replaces.category
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            try:
                delegate = service.nominate(delegation, focal, form.cleaned,
                                            own_email=form.own_email,
                                            locale=current_language(), replaces=replaces)
            except RegistrationRefused as refused:
                form.refused(refused)
            else:
                flash(_("%(name)s is nominated (reference %(ref)s).",
                        name=delegate.full_name, ref=delegate.reference))
                return redirect(url_for("delegation.home"), code=303)
    return render_template("delegation/nominate.html", form=form, delegation=delegation,
                           replaces=replaces, full=set()), status


@bp.post("/head")
@focal_required
def head(focal: FocalPoint, delegation: Delegation) -> ResponseReturnValue:
    if not FocalLinkForm().validate():
        abort(400)
    choice = request.form.get("delegate", "")
    delegate = None if choice == "none" else _member(delegation, choice)
    try:
        service.set_head(delegation, delegate, _actor(focal))
    except service.DelegationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("delegation.home"), code=303)
    flash(_("Head of delegation: %(name)s.", name=delegate.full_name) if delegate
          else _("No head of delegation named."))
    return redirect(url_for("delegation.home"), code=303)


@bp.post("/letter")
@focal_required
def letter(focal: FocalPoint, delegation: Delegation) -> ResponseReturnValue:
    form = LetterForm()
    upload = request.files.get("letter")
    if not form.validate() or upload is None:
        flash(_("Choose the letter as a PDF file."), "error")
        return redirect(url_for("delegation.home"), code=303)
    try:
        service.store_letter(delegation, upload.read(service.LETTER_MAX_BYTES + 1),
                             upload.filename or "", _actor(focal))
    except service.DelegationError as exc:
        flash(exc.message, "error")
        return _dashboard(focal, delegation), 422
    flash(_("The letter %(name)s is stored with the delegation.", name=delegation.letter_name))
    return redirect(url_for("delegation.home"), code=303)
