"""JSON API v1 routes. Thin: parsing, authentication and JSON (shapes.py); the logic is in
services/checkin/ and services/devices.py.

Authentication: `Authorization: Bearer <device token>` (scanner devices), or a staff
session (scanner, desk, admin). Session-authenticated POSTs must carry the CSRF token in
`X-CSRFToken`, so a cross-site form or fetch riding on the cookie cannot record scans;
bearer-token requests carry no ambient credentials and need none.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from ..extensions import csrf
from ..models import Role, StaffUser
from ..services import devices as device_service
from ..services.badge_signing import public_keys_b64
from ..services.checkin import CheckinError
from ..services.checkin.records import parse_scanned_at
from ..services.checkin.scan import check_in
from ..services.checkin.snapshot import snapshot
from ..services.devices import DeviceIdentity
from . import bp
from .openapi import document
from .shapes import scan_result_json, snapshot_json

SCANNING_ROLES = (Role.SCANNER, Role.DESK)  # admin passes every role check


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    response = jsonify(error=exc.code, message=exc.message)
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="checkin"'
    return response


def _authenticate(*, post: bool = False) -> tuple[DeviceIdentity | None, StaffUser | None]:
    """The device (bearer token) or staff member (session) making this request."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "invalid_authorization",
                           "Use 'Authorization: Bearer <device token>'.")
        device = device_service.authenticate(token.strip())
        if device is None:
            raise ApiError(401, "invalid_token", "Unknown or revoked device token.")
        if device.kiosk:
            raise ApiError(403, "kiosk_token", "A kiosk token cannot check people in.")
        return device, None
    if not current_user.is_authenticated:
        raise ApiError(401, "unauthenticated",
                       "Sign in as staff or send a device token (Authorization: Bearer).")
    if not current_user.has_role(*SCANNING_ROLES):
        raise ApiError(403, "forbidden", "This account may not scan badges.")
    if post and current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError as exc:
            raise ApiError(400, "csrf_failed",
                           f"Session requests need the X-CSRFToken header: {exc}") from None
    return None, current_user._get_current_object()


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return body


@bp.post("/checkins")
@csrf.exempt
def post_checkin():
    # A device's online scan is usually answered before Flask by api/fast_checkin.py; what
    # reaches this route (a staff session, a cookie, input it leaves to us) takes the full path.
    device, staff = _authenticate(post=True)
    return jsonify(decide_scan(_json_body(), device, staff))


def decide_scan(body: dict[str, Any], device: DeviceIdentity | None,
                staff: StaffUser | None) -> dict[str, Any]:
    """A scan's JSON answer on the full path (services/checkin/scan.py), or ApiError."""
    for name in ("code", "checkpoint", "nonce"):
        if name not in body:
            raise ApiError(422, "missing_field", f"'{name}' is required.")
    if not isinstance(body["checkpoint"], str):
        raise ApiError(422, "invalid_checkpoint", "'checkpoint' must be a string.")
    confirmed = body.get("identity_confirmed")
    if confirmed is not None and not isinstance(confirmed, bool):
        raise ApiError(422, "invalid_identity_confirmed",
                       "'identity_confirmed' must be true, false or absent.")
    try:
        scanned_at = parse_scanned_at(body.get("scanned_at"))
        result = check_in(body["code"], body["checkpoint"], body["nonce"],
                          device=device, staff=staff, scanned_at=scanned_at,
                          identity_confirmed=confirmed)
    except CheckinError as exc:
        status = {"unknown_checkpoint": 404, "nonce_reused": 409}.get(exc.code, 422)
        raise ApiError(status, exc.code, str(exc)) from None
    return scan_result_json(result)


@bp.get("/checkin-snapshot")
def get_snapshot():
    _authenticate()
    response = jsonify(snapshot_json(snapshot()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/public-key")
def get_public_key():
    keys = public_keys_b64()
    return jsonify(algorithm="Ed25519", encoding="base64url-raw", current=keys[0],
                   previous=keys[1:], keys=keys)


@bp.get("/openapi.json")
def get_openapi():
    return jsonify(document())
