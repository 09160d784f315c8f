"""Watchlist hits for the vetting role (and admins): both records side by side, dismiss or
keep flagged. The hits are found by services/watchlist/matching.py; nothing here decides."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length

from ..auth import roles_required
from ..countries import country_name
from ..i18n import current_language
from ..models import HitState, Role
from ..services.watchlist import entries, hits
from ..services.watchlist.names import latin_words
from . import bp

REFUSALS = {
    "bad_decision": _l("Choose “Dismiss” or “Keep flagged”."),
    "note_required": _l("Say why this is not the same person before dismissing the match."),
    "note_too_long": _l("At most %(n)d characters.", n=hits.REVIEW_NOTE_MAX),
}


class ReviewForm(FlaskForm):
    decision = HiddenField()
    note = TextAreaField(_l("Note (required to dismiss)"),
                         validators=[Length(max=hits.REVIEW_NOTE_MAX)])


def _state_arg() -> HitState | None:
    value = request.args.get("state", HitState.OPEN.value)
    if value == "all":
        return None
    try:
        return HitState(value)
    except ValueError:
        return HitState.OPEN


def _page(state: HitState | None, errors: dict[int, str] | None = None,
          status: int = 200) -> ResponseReturnValue:
    lang = current_language()
    return render_template(
        "staff/watchlist.html", state=state.value if state else "all", states=list(HitState),
        counts=hits.counts(), hits=hits.listing(state), entry_count=entries.entry_count(),
        errors=errors or {}, form=ReviewForm(),
        country=lambda code: country_name(code, lang) if code else "",
        latin=lambda *parts: " ".join(" ".join(latin_words(p or "")) for p in parts).title()
        ), status


@bp.get("/vetting/watchlist")
@roles_required(Role.VETTING)
def watchlist_hits() -> ResponseReturnValue:
    return _page(_state_arg())


@bp.post("/vetting/watchlist/<int:hit_id>")
@roles_required(Role.VETTING)
def review_watchlist_hit(hit_id: int) -> ResponseReturnValue:
    hit = hits.find(hit_id)
    if hit is None:
        abort(404)
    form = ReviewForm()
    back = request.form.get("state", HitState.OPEN.value)
    back = back if back in {s.value for s in HitState} | {"all"} else HitState.OPEN.value
    if not form.validate_on_submit():
        return _page(_state_arg(), {hit.id: str(REFUSALS["note_too_long"])}, 422)
    try:
        review = hits.review(hit, form.decision.data or "", current_user, form.note.data or "")
    except hits.ReviewRefused as exc:
        return _page(_state_arg(), {hit.id: str(REFUSALS[exc.reason])}, 422)
    flash(_("Match dismissed.") if review.state is HitState.DISMISSED
          else _("Match kept flagged for the vetting decision."), "success")
    return redirect(url_for("staff.watchlist_hits", state=back), code=303)
