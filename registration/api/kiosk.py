"""Kiosk API: a kiosk device (Bearer token from `devices issue NAME --kiosk --printer P`)
looks a delegate up, prints their badge once, and follows the job. A scanner token or a
staff session cannot use these routes."""

from __future__ import annotations

from flask import jsonify, request

from ..extensions import csrf
from ..services import devices as device_service
from ..services import kiosk
from ..services.devices import DeviceIdentity
from . import bp
from .views import ApiError, _json_body


def _kiosk() -> DeviceIdentity:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "Send the kiosk's token (Authorization: Bearer).")
    device = device_service.authenticate(token.strip())
    if device is None:
        raise ApiError(401, "invalid_token", "Unknown or revoked device token.")
    if not device.kiosk:
        raise ApiError(403, "not_a_kiosk", "Only a kiosk token can print badges here.")
    return device


def _refused(exc: kiosk.KioskRefusal):
    response = jsonify(exc.json())
    response.status_code = exc.status
    return response


def _body() -> dict:
    body = _json_body()
    if not any(isinstance(body.get(k), str) for k in ("code", "reference")):
        raise ApiError(422, "missing_field",
                       "Send {\"code\": …} or {\"reference\": …, \"family_name\": …}.")
    return body


@bp.post("/kiosk/lookup")
@csrf.exempt
def kiosk_lookup():
    """Who the code or reference names, for the kiosk to show before printing."""
    device = _kiosk()
    try:
        delegate = kiosk.look_up(device, _body())
    except kiosk.KioskRefusal as exc:
        return _refused(exc)
    except ValueError as exc:
        raise ApiError(422, "missing_field", str(exc)) from None
    return jsonify({"status": "ready", "delegate": kiosk.delegate_json(delegate)})


@bp.post("/kiosk/print")
@csrf.exempt
def kiosk_print():
    device = _kiosk()
    try:
        job = kiosk.print_for(device, _body())
    except kiosk.KioskRefusal as exc:
        return _refused(exc)
    except ValueError as exc:
        raise ApiError(422, "missing_field", str(exc)) from None
    response = jsonify({"status": "printing", "job": job.id})
    response.status_code = 202
    return response


@bp.get("/kiosk/jobs/<int(max=2147483647):job_id>")
def kiosk_job(job_id: int):
    device = _kiosk()
    job = kiosk.job_for(device, job_id)
    if job is None:
        raise ApiError(404, "not_found", "No such job for this kiosk.")
    response = jsonify(kiosk.job_json(job))
    response.headers["Cache-Control"] = "no-store"
    return response
