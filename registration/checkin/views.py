"""The scanner page at the doors (/checkin) and the delegate photos it shows. The decisions
are in services/checkin/; the admin pages (devices, checkpoints, dashboard) are the staff
blueprint's."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from flask import abort, current_app, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf

from ..api.shapes import checkpoint_json
from ..auth import roles_required
from ..editions import timezone_name
from ..models import Role
from ..models.checkin import SCAN_OUTCOME_HEADLINES
from ..services.badge_signing import public_keys_b64
from ..services.checkin.checkpoints import list_checkpoints
from ..services.checkin.records import photo_jpeg, photo_thumb
from . import bp

# What the service worker keeps for a reload without network (besides the page and the
# snapshot): every static file the scanner page loads.
SCANNER_STATIC = ("css/app.css", "css/staff.css", "css/checkin.css", "js/staff.js",
                  "js/scanner.js", "vendor/jsqr/jsQR.js", "vendor/tweetnacl/nacl-fast.min.js")
SERVICE_WORKER = "js/checkin-sw.js"


@bp.get("/checkin")
@roles_required(Role.SCANNER, Role.DESK)
def scanner() -> ResponseReturnValue:
    checkpoints = list_checkpoints(active_only=True)
    config = {
        "checkinUrl": url_for("api.post_checkin"),
        "snapshotUrl": url_for("api.get_snapshot"),
        "loginUrl": url_for("checkin.scanner"),
        "timezone": timezone_name(),
        "csrf": generate_csrf(),
        "repeatSeconds": current_app.config.get("CHECKIN_REPEAT_SECONDS", 4),
        "publicKeys": public_keys_b64(),
        "checkpoints": [checkpoint_json(c) for c in checkpoints],
        "serviceWorker": {"url": url_for("checkin.service_worker"),
                          "scope": url_for("checkin.scanner")},
        "vendor": {
            "jsqr": url_for("static", filename="vendor/jsqr/jsQR.js"),
            "nacl": url_for("static", filename="vendor/tweetnacl/nacl-fast.min.js"),
        },
    }
    headlines = {outcome.value: str(text) for outcome, text in SCAN_OUTCOME_HEADLINES.items()}
    response = current_app.make_response(render_template(
        "checkin/scanner.html", checkpoints=checkpoints, config=config, headlines=headlines))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/checkin/photo/<uuid:public_id>.jpg")
@roles_required(Role.SCANNER, Role.DESK)
def photo(public_id: uuid.UUID) -> ResponseReturnValue:
    jpeg = photo_jpeg(public_id)
    if jpeg is None:
        abort(404)
    response = current_app.response_class(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/checkin/thumb/<uuid:public_id>.jpg")
@roles_required(Role.SCANNER, Role.DESK)
def thumb(public_id: uuid.UUID) -> ResponseReturnValue:
    """The photo's small copy (at most 8 KB) that the scanner page keeps for offline use;
    its address carries the photo's version (?v=), so it may be kept as long as wanted."""
    jpeg = photo_thumb(public_id)
    if jpeg is None:
        abort(404)
    response = current_app.response_class(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.get("/checkin/sw.js")
@roles_required(Role.SCANNER, Role.DESK)
def service_worker() -> ResponseReturnValue:
    """The scanner's service worker (static/js/checkin-sw.js) with the URLs it keeps.

    Served from /checkin/sw.js, not /static/, so that it may control /checkin: its scope is
    the page itself, allowed by Service-Worker-Allowed (a script's default scope is its
    folder, /checkin/, which does not cover /checkin)."""
    urls = {"page": url_for("checkin.scanner"), "snapshot": url_for("api.get_snapshot"),
            "static": [url_for("static", filename=name) for name in SCANNER_STATIC]}
    source = (Path(current_app.static_folder or "static") / SERVICE_WORKER).read_text("utf-8")
    response = current_app.response_class(f"self.CHECKIN = {json.dumps(urls)};\n{source}",
                                          mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = urls["page"]
    response.headers["Cache-Control"] = "no-cache"
    return response
