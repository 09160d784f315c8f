"""The live check-in dashboard for the desk: the page, and the JSON it refreshes from."""

from __future__ import annotations

from flask import jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..auth import roles_required
from ..models import Role
from ..models.checkin import SCAN_OUTCOME_LABELS
from ..services.checkin.dashboard import dashboard as dashboard_figures
from . import bp


def _result_labels() -> dict[str, str]:
    """How the scan log names each outcome, and the mark for a scan synced from offline."""
    labels = {outcome.value: str(text) for outcome, text in SCAN_OUTCOME_LABELS.items()}
    labels["offline"] = _("offline")
    return labels


@bp.get("/dashboard")
@roles_required(Role.DESK)
def dashboard() -> ResponseReturnValue:
    return render_template("staff/dashboard.html", data=dashboard_figures(),
                           results=_result_labels())


@bp.get("/dashboard.json")
@roles_required(Role.DESK)
def dashboard_json() -> ResponseReturnValue:
    response = jsonify(dashboard_figures())
    response.headers["Cache-Control"] = "no-store"
    return response
