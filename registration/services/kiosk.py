"""The self-service kiosk: a delegate finds their record (the QR code of their confirmation
mail or e-ticket, or reference + family name), sees it, and prints their badge once on the
kiosk's printer. Everything else — a second attempt, not accredited, cancelled, unknown, a
printer that cannot print — is a refusal that sends them to the accreditation desk, with
the reason in English and Chinese.
"""

from __future__ import annotations

import base64
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..badge_token import BadgeTokenError
from ..extensions import db
from ..i18n import category_label
from ..models import Delegate, PrintJob, PrintJobKind, PrintJobState, Status
from ..text import parse_reference, search_key
from . import badge_signing
from . import printers as printer_service
from .admission import REASON_VETTING, may_print
from .devices import DeviceIdentity
from .printing import PrintRefused

SEE_DESK = _l("Please see the accreditation desk.")

REFUSALS: dict[str, tuple[int, Any]] = {
    "not_found": (404, _l("We could not find your registration.")),
    "not_accredited": (403, _l("Your registration is not accredited yet.")),
    "cancelled": (403, _l("Your registration was cancelled.")),
    "already_printed": (409, _l("Your badge has already been printed.")),
    "printer_unavailable": (503, _l("The kiosk's printer cannot print right now.")),
}
# cancelled is refused as not_accredited (the API's code) with its own message.
CODES = {"cancelled": "not_accredited"}

JOB_MESSAGES: dict[str, Any] = {
    PrintJobState.SENT.value: _l("Printing your badge…"),
    PrintJobState.COMPLETED.value: _l("Your badge is printed. Please take it from the "
                                      "printer."),
    PrintJobState.FAILED.value: _l("Your badge could not be printed."),
}


def both(message: Any) -> dict[str, str]:
    """A message in English and in Chinese."""
    out = {}
    for lang, key in (("en", "message"), ("zh", "message_zh")):
        with force_locale(lang):
            out[key] = str(message)
    return out


class KioskRefusal(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = CODES.get(reason, reason)
        self.status = REFUSALS[reason][0]
        self.detail = detail

    def json(self) -> dict[str, Any]:
        first, desk = both(REFUSALS[self.reason][1]), both(SEE_DESK)
        body: dict[str, Any] = {"error": self.code, "reason": self.reason,
                                "message": f"{first['message']} {desk['message']}",
                                "message_zh": f"{first['message_zh']}{desk['message_zh']}"}
        if self.detail:
            body["detail"] = self.detail
        return body


def find_delegate(body: dict[str, Any]) -> Delegate:
    """The delegate named by `{"code": QR text}` or `{"reference", "family_name"}`."""
    code, reference, family = body.get("code"), body.get("reference"), body.get("family_name")
    if isinstance(code, str) and code.strip():
        try:
            token = badge_signing.verify_code(code.strip()[:512])
        except BadgeTokenError as exc:
            if exc.reason == "revoked":  # an older badge: it was reprinted since
                raise KioskRefusal("already_printed") from None
            raise KioskRefusal("not_found") from None
        delegate = db.session.scalar(select(Delegate).where(
            Delegate.public_id == token.badge_id))
    elif isinstance(reference, str) and isinstance(family, str):
        parsed = parse_reference(reference[:40])
        delegate = None if parsed is None else db.session.scalar(
            select(Delegate).where(Delegate.reference == parsed))
        if delegate is not None and (not family.strip() or search_key(family[:120])
                                     != search_key(delegate.family_name or "")):
            delegate = None
    else:
        raise ValueError("Send {\"code\": …} or {\"reference\": …, \"family_name\": …}.")
    if delegate is None:
        raise KioskRefusal("not_found")
    return delegate


def check(delegate: Delegate) -> None:
    if delegate.status == Status.CANCELLED.value:
        raise KioskRefusal("cancelled")
    if not delegate.is_accredited:
        raise KioskRefusal("not_accredited", delegate.status)
    if not may_print(delegate):  # accredited, waiting for vetting (services/admission.py)
        raise KioskRefusal("not_accredited", REASON_VETTING)
    if delegate.printed_at is not None:
        raise KioskRefusal("already_printed")


def delegate_json(delegate: Delegate) -> dict[str, Any]:
    """What the kiosk shows before "Print my badge": name in both scripts, photo, category."""
    photo = None
    if delegate.photo is not None and delegate.photo.jpeg:
        photo = "data:image/jpeg;base64," + base64.b64encode(delegate.photo.jpeg).decode()
    return {"name": delegate.full_name, "honorific": delegate.honorific or "",
            "native_name": delegate.native_name or "", "reference": delegate.reference,
            "category": delegate.category,
            "category_label": category_label(delegate.category, "en"),
            "category_label_zh": category_label(delegate.category, "zh"), "photo": photo}


def look_up(device: DeviceIdentity, body: dict[str, Any]) -> Delegate:
    delegate = find_delegate(body)
    check(delegate)
    return delegate


def print_for(device: DeviceIdentity, body: dict[str, Any]) -> PrintJob:
    """Send the delegate's badge to the kiosk's printer (refusals: KioskRefusal)."""
    delegate = look_up(device, body)
    printer = printer_service.get(device.printer_id)
    if printer is None:
        raise KioskRefusal("printer_unavailable", "no printer")
    # Printed once at a kiosk: a job already on its way counts as the one print.
    for job in db.session.scalars(select(PrintJob).where(
            PrintJob.kind == PrintJobKind.KIOSK.value,
            PrintJob.state == PrintJobState.SENT.value)):
        if delegate.id in job.delegate_ids:  # already on its way: that is the one print
            raise KioskRefusal("already_printed")
    try:
        job = printer_service.send_badge(delegate, printer, kind=PrintJobKind.KIOSK,
                                         device_id=device.id)
    except PrintRefused:
        raise KioskRefusal("not_accredited") from None
    except printer_service.PrinterError as exc:
        raise KioskRefusal("printer_unavailable", exc.code) from None
    if job.state == PrintJobState.FAILED.value:
        raise KioskRefusal("printer_unavailable", job.reason)
    return job


def job_for(device: DeviceIdentity, job_id: int) -> PrintJob | None:
    job = printer_service.get_job(job_id)
    if job is None or job.device_id != device.id or job.kind != PrintJobKind.KIOSK.value:
        return None
    return printer_service.refresh(job)


def job_json(job: PrintJob) -> dict[str, Any]:
    status = {PrintJobState.SENT.value: "printing", PrintJobState.COMPLETED.value: "printed",
              PrintJobState.FAILED.value: "failed"}[job.state]
    body: dict[str, Any] = {"job": job.id, "status": status, **both(JOB_MESSAGES[job.state])}
    if job.state == PrintJobState.FAILED.value:
        desk = both(SEE_DESK)
        body["message"] += " " + desk["message"]
        body["message_zh"] += desk["message_zh"]
        body["reason"] = job.reason
    return body
