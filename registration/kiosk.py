"""The self-service kiosk page (/kiosk): full screen, English and Chinese side by side (a
switch picks which leads; back to English for the next person), large touch targets, back to
the welcome screen after 30 s idle. The page holds no data: it asks once for the kiosk's
device token (kept in that browser) and talks to the kiosk API (registration/api/kiosk.py,
services/kiosk.py)."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_babel import lazy_gettext as _l

from .services.kiosk import both

bp = Blueprint("kiosk", __name__)

IDLE_SECONDS = 30

# Every text of the kiosk, shown in both languages at once.
TEXTS = {
    "welcome": _l("Welcome! Print your badge here"),
    "scan": _l("Hold the QR code of your confirmation email or e-ticket up to the camera"),
    "or_type": _l("No QR code? Type your reference code and family name"),
    "reference": _l("Reference code"),
    "family_name": _l("Family name"),
    "find": _l("Find my registration"),
    "print": _l("Print my badge"),
    "not_me": _l("This is not me"),
    "printing": _l("Printing your badge…"),
    "done": _l("Your badge is printed. Please take it from the printer."),
    "start_over": _l("Start again"),
    "setup": _l("Kiosk set-up: paste this kiosk's device token"),
    "save": _l("Save"),
    "bad_token": _l("This token is not a kiosk token."),
    "camera_off": _l("The camera is not available: type your reference code instead."),
    "network": _l("No connection to the server. Please see the accreditation desk."),
    "space": _l("Space"),
    "delete": _l("Delete"),
    "language": _l("Language"),
}


@bp.get("/kiosk")
def page():
    texts = {key: both(text) for key, text in TEXTS.items()}
    config = {"idle_seconds": IDLE_SECONDS,
              "lookup": url_for("api.kiosk_lookup"), "print": url_for("api.kiosk_print"),
              "job": url_for("api.kiosk_job", job_id=0).rsplit("/", 1)[0] + "/",
              "jsqr": url_for("static", filename="vendor/jsqr/jsQR.js")}
    return render_template("kiosk.html", texts=texts, config=config)
