"""The delegate's private pages (self-service), reached through the signed link in their
emails (the URLs keep their /manage/ prefix).

Every page below /manage/<token> resolves the token first: a tampered or outdated link gets
404, an expired one 410, both with a way to ask for a fresh link by email. A cancelled
registration stays visible read-only (export and erase remain possible); after erasure the
link is dead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from ..i18n import category_label, current_language
from ..models import Delegate
from ..ratelimits import manage_link_limits
from ..services import manage_links, self_service
from ..services.delegate_edit import form_data
from ..services.eticket import ETicketUnavailable, eticket_filename, eticket_pdf
from ..services.self_service import SelfServiceRefused
from . import bp
from .forms import ConfirmForm, ManageForm, PhotoForm, RequestLinkForm, field_labels


@bp.after_request
def private_pages(response: Response) -> Response:
    # Personal data behind a secret URL: never cached, never indexed, never sent as referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def with_delegate(view: Callable[..., Any]) -> Callable[..., Any]:
    """Resolve /manage/<token>/… to the delegate, or answer 404 / 410."""

    @wraps(view)
    def wrapper(token: str, **kwargs: Any) -> Any:
        try:
            delegate = manage_links.resolve(token)
        except manage_links.LinkExpired:
            return render_template("self_service/link_invalid.html", expired=True,
                                   form=RequestLinkForm()), 410
        except manage_links.LinkInvalid:
            return render_template("self_service/link_invalid.html", expired=False,
                                   form=RequestLinkForm()), 404
        return view(delegate, token, **kwargs)

    return wrapper


def _page(template: str, delegate: Delegate, token: str, **context: Any) -> str:
    return render_template(
        template, delegate=delegate, token=token, allowed=self_service.allowed(delegate),
        cancelled=self_service.is_cancelled(delegate), printed=self_service.is_printed(delegate),
        category_label=category_label(delegate.category),
        link_expires_at=manage_links.expires_at(token), field_labels=field_labels(), **context)


@bp.route("/", methods=["GET", "POST"])
@manage_link_limits
def request_link():
    form = RequestLinkForm()
    if request.method == "POST":
        if form.validate():
            self_service.send_manage_link(form.email.data)
            # The same answer whether or not the address is registered.
            return render_template("self_service/link_sent.html", email=form.email.data)
        return render_template("self_service/request_link.html", form=form), 422
    return render_template("self_service/request_link.html", form=form)


@bp.get("/<token>")
@with_delegate
def show(delegate: Delegate, token: str):
    from .vetting_answer import vetting_context
    from .visa import visa_section

    return _page("self_service/show.html", delegate, token,
                 pending_request=self_service.pending_change_request(delegate),
                 visa=visa_section(delegate), **vetting_context(delegate))


@bp.route("/<token>/edit", methods=["GET", "POST"])
@with_delegate
def edit(delegate: Delegate, token: str):
    if not self_service.can_edit(delegate):
        flash(_("This registration is cancelled and can no longer be changed."), "error")
        return redirect(url_for("self_service.show", token=token), code=303)
    form = ManageForm(lang=current_language(), data=form_data(delegate))
    if request.method == "POST" and form.validate():
        result, errors = self_service.apply_edit(delegate, form.submitted_data(),
                                                 locale=current_language())
        if result is not None:
            if result.requested:
                flash(_("Your badge is already printed, so the changes to what it shows were "
                        "sent to the accreditation desk, which will print a new badge."),
                      "info")
            if result.applied:
                flash(_("Your changes are saved."), "info")
            if not result.changed:
                flash(_("Nothing was changed."), "info")
            if result.email_changed:
                # Links sent to the old address no longer work: here is the new one, and the
                # new address receives it by email too.
                flash(_("Your email address is changed. A new link was sent to it; the link "
                        "in earlier emails no longer works."), "info")
                token = manage_links.make_token(delegate)
            return redirect(url_for("self_service.show", token=token), code=303)
        form.show_errors(errors)
    status = 422 if request.method == "POST" else 200
    return _page("self_service/edit.html", delegate, token, form=form), status


@bp.route("/<token>/photo", methods=["GET", "POST"])
@with_delegate
def photo(delegate: Delegate, token: str):
    form = PhotoForm()
    status = 200
    if request.method == "POST":
        status = 422
        upload = request.files.get("photo")
        if form.validate() and upload is not None and upload.filename:
            from ..services.photos import PhotoRejected

            try:
                self_service.upload_photo(delegate, upload.read())
            except PhotoRejected as exc:
                form.photo.errors = [str(exc)]
            except SelfServiceRefused as exc:
                form.photo.errors = [str(exc.message)]
            else:
                flash(_("Your photo is saved."), "info")
                return redirect(url_for("self_service.show", token=token), code=303)
        elif not form.photo.errors:
            form.photo.errors = [_("Choose a photo to upload.")]
    return _page("self_service/photo.html", delegate, token, form=form), status


@bp.get("/<token>/photo.jpg")
@with_delegate
def photo_image(delegate: Delegate, token: str):
    if delegate.photo is None:
        abort(404)
    return Response(delegate.photo.jpeg, mimetype="image/jpeg")


@bp.get("/<token>/e-ticket.pdf")
@with_delegate
def eticket(delegate: Delegate, token: str):
    try:
        pdf = eticket_pdf(delegate, current_language())
    except ETicketUnavailable as exc:
        return _page("self_service/refused.html", delegate, token, message=str(exc.message)), 403
    filename = eticket_filename(delegate)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/<token>/cancel", methods=["GET", "POST"])
@with_delegate
def cancel(delegate: Delegate, token: str):
    form = ConfirmForm()
    if self_service.is_cancelled(delegate):
        return redirect(url_for("self_service.show", token=token), code=303)
    if request.method == "POST":
        if form.validate() and form.confirm.data:
            self_service.cancel(delegate)
            flash(_("Your registration is cancelled."), "info")
            return redirect(url_for("self_service.show", token=token), code=303)
        form.confirm.errors = [*form.confirm.errors, _("Tick the box to confirm.")]
        return _page("self_service/cancel.html", delegate, token, form=form), 422
    return _page("self_service/cancel.html", delegate, token, form=form)


@bp.get("/<token>/export.json")
@with_delegate
def export(delegate: Delegate, token: str):
    body = json.dumps(self_service.export_data(delegate), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="my-data-{delegate.reference}.json"'})


@bp.route("/<token>/erase", methods=["GET", "POST"])
@with_delegate
def erase(delegate: Delegate, token: str):
    form = ConfirmForm()
    if request.method == "POST":
        if form.validate() and form.confirm.data:
            self_service.erase(delegate)
            current_app.logger.info("delegate %s erased their personal data", delegate.reference)
            return redirect(url_for("self_service.erased"), code=303)
        form.confirm.errors = [*form.confirm.errors, _("Tick the box to confirm.")]
        return _page("self_service/erase.html", delegate, token, form=form), 422
    return _page("self_service/erase.html", delegate, token, form=form)


@bp.get("/erased")
def erased():
    return render_template("self_service/erased.html")
