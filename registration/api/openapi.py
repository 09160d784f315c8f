"""The OpenAPI 3.1 document for /api/v1, as data; the JSON it describes is written by
shapes.py. tests/test_api.py keeps it true: every route is documented (and nothing else),
and real responses match these schemas. Enumerations come from the code (ScanOutcome,
CATEGORY_KEYS), not from copies."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from ..fields import CATEGORY_KEYS
from ..models.checkin import ScanMethod, ScanOutcome
from . import openapi_kiosk

RESULTS = [outcome.value for outcome in ScanOutcome]
METHODS = [method.value for method in ScanMethod]


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _object(properties: dict[str, Any], *, required: list[str] | None = None,
            description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


DATE_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": _object({
        "error": {"type": "string", "description": "Stable machine-readable code.",
                  "examples": ["invalid_json", "missing_field", "invalid_nonce",
                               "unknown_checkpoint", "unauthenticated", "invalid_token",
                               "csrf_failed", "nonce_reused", "invalid_input",
                               "rate_limited", "kiosk_token", "not_a_kiosk"]},
        "message": {"type": "string"},
    }),
    "CheckinRequest": _object({
        "code": {"type": "string", "maxLength": 512,
                 "description": "The scanned QR text (GP1… token), or the reference code "
                                "printed under the QR, typed by staff (GPS-Y8ZG-CY7J; any "
                                "case, with or without hyphens or spaces)."},
        "checkpoint": {"type": "string", "description": "Checkpoint id, e.g. main."},
        "nonce": {"type": "string", "minLength": 8, "maxLength": 64,
                  "description": "Client-made, unique per scan: a re-sent scan (same code, "
                                 "checkpoint and caller) is recorded once and answered "
                                 "with the stored result; the same nonce with anything "
                                 "else is refused (409 nonce_reused)."},
        "scanned_at": _nullable("string", format="date-time", maxLength=40,
                                description="For offline syncs: when the scan was made "
                                            "(with a zone). At most three days old (older: "
                                            "422 invalid_scanned_at); a time in the future "
                                            "counts as now. The earliest scan wins. Null or "
                                            "absent: an online scan, made now."),
        "identity_confirmed": {
            "type": "boolean",
            "description": "Reference codes only (ignored with a QR token). Absent: the "
                           "answer is confirm_identity with the delegate, and nothing is "
                           "recorded. true: staff compared the person with the photo / ID; "
                           "decided like a QR scan and recorded with method manual. false: "
                           "staff refused; recorded as refused."},
    }, required=["code", "checkpoint", "nonce"]),
    "Delegate": _object({
        "public_id": {"type": "string", "format": "uuid"},
        "reference": {"type": "string"},
        "name": {"type": "string"},
        "honorific": {"type": "string"},
        "given_name": {"type": "string"},
        "family_name": {"type": "string"},
        "native_name": {"type": "string"},
        "organisation": {"type": "string"},
        "category": {"type": "string", "enum": list(CATEGORY_KEYS)},
        "category_label": {"type": "string"},
        "country": {"type": "string"},
        "country_name": {"type": "string"},
        "status": {"type": "string"},
        "badge_serial": {"type": "integer"},
        "head_of_delegation": {"type": "boolean"},
        "photo_url": _nullable("string"),
        "delegation_name": _nullable(
            "string", description="The delegation's name where it differs from the "
                                  "country (an international organisation)."),
    }),
    "CheckinResult": _object({
        "status": {"type": "string", "enum": RESULTS},
        "delegate": {"oneOf": [{"$ref": "#/components/schemas/Delegate"}, {"type": "null"}]},
        "checked_in_at": _nullable("string", format="date-time",
                                   description="checked_in: this admission; "
                                               "already_checked_in: the first one here."),
        "checkpoint": {"type": "string"},
        "checkpoint_name": {"type": "string"},
        "scanned_at": DATE_TIME,
        "offline": {"type": "boolean"},
        "reason": _nullable("string", description="For invalid: malformed, bad_signature, "
                                                  "unknown_badge, unknown_reference or "
                                                  "other_edition (a badge of another "
                                                  "edition); for not_accredited: vetting "
                                                  "(accredited but not cleared by the "
                                                  "vetting service). Null otherwise."),
        "superseded_at": _nullable("string", format="date-time",
                                   description="An offline scan earlier than the recorded "
                                               "check-in replaced it: the replaced time."),
        "replayed": {"type": "boolean",
                     "description": "The nonce was seen before; this is the stored answer."},
        "method": {"type": "string", "enum": METHODS,
                   "description": "qr: the signed QR token; manual: a typed reference code "
                                  "(stored with the scan)."},
    }),
    "Checkpoint": _object({
        "id": {"type": "string"},
        "name": {"type": "string"},
        "allowed_categories": {"oneOf": [{"type": "array", "items": {"type": "string"}},
                                         {"type": "null"}]},
        "admit_heads_of_delegation": {"type": "boolean"},
        "active": {"type": "boolean"},
    }),
    "SnapshotDelegate": _object({
        "public_id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "honorific": {"type": "string"},
        "native_name": {"type": "string"},
        "category": {"type": "string"},
        "country": {"type": "string"},
        "status": {"type": "string"},
        "badge_serial": {"type": "integer"},
        "head_of_delegation": {"type": "boolean"},
        "delegation_name": _nullable(
            "string", description="The delegation's name where it differs from the "
                                  "country (an international organisation)."),
        "thumb_url": _nullable("string", description="The delegate's photo as a small "
                               "JPEG (at most 8 KB) for the door to keep offline; the "
                               "address changes with the photo. null: no photo."),
        "refused": {"type": "boolean",
                    "description": "true: rejected or cancelled, or not cleared by "
                                   "vetting; the entry then has only public_id, "
                                   "badge_serial and reason (no name), and the badge "
                                   "must be refused."},
        "reason": {"type": "string", "enum": ["status", "vetting"],
                   "description": "Refused entries: why (the door answers not_accredited "
                                  "with this reason when it is vetting)."},
    }, required=["public_id", "badge_serial", "refused"]),
    "Snapshot": _object({
        "generated_at": DATE_TIME,
        "accredited_statuses": {"type": "array", "items": {"type": "string"}},
        "category_labels": {"type": "object", "additionalProperties": {"type": "string"},
                            "description": "Category key → name in the reader's language."},
        "country_names": {"type": "object", "additionalProperties": {"type": "string"},
                          "description": "Country code → name, for the codes listed."},
        "public_keys": {"type": "array", "items": {"type": "string"}},
        "references": {"type": "object",
                       "additionalProperties": {"type": "string", "format": "uuid"},
                       "description": "Reference code without separators, upper case "
                                      "(GPSY8ZGCY7J) → public_id, for accredited delegates "
                                      "only: typed codes offline."},
        "edition": {"type": "integer", "description": "The edition checked in: a badge "
                    "token carrying another edition is invalid (other_edition)."},
        "legacy_edition": _nullable("integer", description="The edition that badge tokens "
                                    "without an edition (printed before editions) belong to."),
        "checkpoints": {"type": "array", "items": {"$ref": "#/components/schemas/Checkpoint"}},
        "delegates": {"type": "array",
                      "items": {"$ref": "#/components/schemas/SnapshotDelegate"}},
    }),
    "PublicKeys": _object({
        "algorithm": {"type": "string", "enum": ["Ed25519"]},
        "encoding": {"type": "string", "enum": ["base64url-raw"]},
        "current": {"type": "string"},
        "previous": {"type": "array", "items": {"type": "string"}},
        "keys": {"type": "array", "items": {"type": "string"},
                 "description": "current first, then previous"},
    }),
    "OpenApiDocument": {"type": "object"},
}

EXAMPLE_DELEGATE = {
    "public_id": "0b0e2a4e-6a55-4c4e-9a52-2a0f1d7e5c11", "reference": "GPS-7K3Q-9XWD",
    "name": "Wang Xiaoming", "honorific": "Dr.", "given_name": "Xiaoming",
    "family_name": "Wang", "native_name": "王小明", "organisation": "Ministry of Public Security",
    "category": "government", "category_label": "Government official", "country": "CN",
    "country_name": "China", "status": "checked_in", "badge_serial": 1,
    "head_of_delegation": True,
    "photo_url": "/checkin/photo/0b0e2a4e-6a55-4c4e-9a52-2a0f1d7e5c11.jpg",
    "delegation_name": None,
}

EXAMPLES: dict[str, Any] = {
    "checked_in": {
        "status": "checked_in", "delegate": EXAMPLE_DELEGATE,
        "checked_in_at": "2026-12-08T01:14:03.120Z", "checkpoint": "main",
        "checkpoint_name": "Main entrance", "scanned_at": "2026-12-08T01:14:03.120Z",
        "offline": False, "reason": None, "superseded_at": None, "replayed": False,
        "method": "qr",
    },
    "already_checked_in": {
        "status": "already_checked_in", "delegate": EXAMPLE_DELEGATE,
        "checked_in_at": "2026-12-08T01:14:03.120Z", "checkpoint": "main",
        "checkpoint_name": "Main entrance", "scanned_at": "2026-12-08T01:20:41.007Z",
        "offline": False, "reason": None, "superseded_at": None, "replayed": False,
        "method": "qr",
    },
    "invalid": {
        "status": "invalid", "delegate": None, "checked_in_at": None, "checkpoint": "main",
        "checkpoint_name": "Main entrance", "scanned_at": "2026-12-08T01:21:00.000Z",
        "offline": False, "reason": "bad_signature", "superseded_at": None, "replayed": False,
        "method": "qr",
    },
    "confirm_identity": {
        "status": "confirm_identity", "delegate": EXAMPLE_DELEGATE, "checked_in_at": None,
        "checkpoint": "main", "checkpoint_name": "Main entrance",
        "scanned_at": "2026-12-08T01:22:10.500Z", "offline": False, "reason": None,
        "superseded_at": None, "replayed": False, "method": "manual",
    },
    "checked_in_manual": {
        "status": "checked_in", "delegate": EXAMPLE_DELEGATE,
        "checked_in_at": "2026-12-08T01:22:19.031Z", "checkpoint": "main",
        "checkpoint_name": "Main entrance", "scanned_at": "2026-12-08T01:22:19.031Z",
        "offline": False, "reason": None, "superseded_at": None, "replayed": False,
        "method": "manual",
    },
    "refused": {
        "status": "refused", "delegate": EXAMPLE_DELEGATE, "checked_in_at": None,
        "checkpoint": "main", "checkpoint_name": "Main entrance",
        "scanned_at": "2026-12-08T01:22:19.031Z", "offline": False, "reason": None,
        "superseded_at": None, "replayed": False, "method": "manual",
    },
    "error": {"error": "unknown_checkpoint", "message": "No open checkpoint 'vip2'."},
    "public_key": {"algorithm": "Ed25519", "encoding": "base64url-raw",
                   "current": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik", "previous": [],
                   "keys": ["O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"]},
    "snapshot": {
        "generated_at": "2026-12-08T00:30:00.000Z",
        "accredited_statuses": ["approved", "badge_printed", "checked_in"],
        "category_labels": {"government": "Government official", "expert": "Security expert",
                            "scholar": "Scholar / academic", "ngo": "NGO representative"},
        "country_names": {"CN": "China"},
        "public_keys": ["O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"],
        "references": {"GPS7K3Q9XWD": "0b0e2a4e-6a55-4c4e-9a52-2a0f1d7e5c11"},
        "edition": 1, "legacy_edition": 1,
        "checkpoints": [{"id": "main", "name": "Main entrance", "allowed_categories": None,
                         "admit_heads_of_delegation": False, "active": True}],
        "delegates": [{"public_id": "0b0e2a4e-6a55-4c4e-9a52-2a0f1d7e5c11",
                       "name": "Wang Xiaoming", "honorific": "Dr.", "native_name": "王小明",
                       "category": "government", "country": "CN", "status": "badge_printed",
                       "badge_serial": 1, "head_of_delegation": True,
                       "delegation_name": None,
                       "thumb_url": "/checkin/thumb/0b0e2a4e-6a55-4c4e-9a52-2a0f1d7e5c11.jpg"
                                    "?v=1796112000000",
                       "refused": False},
                      {"public_id": "5d1c9a0e-2f4b-4b8e-8d7e-61a3c0f4e2a9", "badge_serial": 2,
                       "refused": True, "reason": "status"}],
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: str, example: Any | None = None, examples: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": _ref(schema)}
    if example is not None:
        media["example"] = example
    if examples is not None:
        media["examples"] = {k: {"value": v} for k, v in examples.items()}
    return {"content": {"application/json": media}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, **_json("Error", EXAMPLES["error"])}


AUTH: list[dict[str, list[str]]] = [{"deviceToken": []}, {"staffSession": []}]
RATE_LIMITED = {
    **_error("Too many requests from this device token (rate_limited; RATELIMIT_API, "
             "50 per second by default). Retry after the Retry-After header's seconds."),
    "headers": {"Retry-After": {"schema": {"type": "integer"},
                                "description": "Seconds to wait."}},
}

PATHS: dict[str, Any] = {
    "/api/v1/checkins": {
        "post": {
            "operationId": "postCheckin",
            "summary": "Decide and record one scan",
            "description": (
                "Every decided scan answers HTTP 200 with its status, admitted or not, and is "
                "recorded once per nonce. A delegate is checked in once per checkpoint; later "
                "scans answer already_checked_in with the first time. Staff sessions must "
                "send the CSRF token in X-CSRFToken; device tokens need none.\n\n"
                "A typed reference code (printed on the badge, so anyone who has seen one "
                "can type it) never admits on its own: the first request answers "
                "confirm_identity with the delegate and records nothing; the door compares "
                "the person with the photo or their ID and sends the same code again with a "
                "new nonce and identity_confirmed true (answered checked_in, "
                "already_checked_in, not_accredited or zone_denied, recorded with method "
                "manual) or false (recorded as refused)."),
            "security": AUTH,
            "parameters": [{"name": "X-CSRFToken", "in": "header", "required": False,
                            "schema": {"type": "string"},
                            "description": "Required with a staff session."}],
            "requestBody": {"required": True, **_json("CheckinRequest", examples={
                "qr": {"code": "GP1AEAAAAAA…", "checkpoint": "main",
                       "nonce": "c0a8f3e2-91d4-4e0b-a7a4-3b1f2c6d7e8f"},
                "reference": {"code": "gps-7k3q-9xwd", "checkpoint": "main",
                              "nonce": "5d1f0c52a7e34b0e9c4f3a1b2c3d4e5f"},
                "reference_confirmed": {"code": "gps-7k3q-9xwd", "checkpoint": "main",
                                        "nonce": "9e8d7c6b5a4f4e3d8c2b1a0f9e8d7c6b",
                                        "identity_confirmed": True},
                "reference_refused": {"code": "GPS7K3Q9XWD", "checkpoint": "main",
                                      "nonce": "0f1e2d3c4b5a46978877665544332211",
                                      "identity_confirmed": False}})},
            "responses": {
                "200": {"description": "The decision.",
                        **_json("CheckinResult", examples={
                            k: EXAMPLES[k] for k in (
                                "checked_in", "already_checked_in", "invalid",
                                "confirm_identity", "checked_in_manual", "refused")})},
                "400": _error("Body is not a JSON object, is larger than 64 KiB or nested "
                              "deeper than 32 levels (invalid_json), a string holds control "
                              "characters such as NUL (invalid_input), or the CSRF token "
                              "is missing (csrf_failed)."),
                "401": _error("No or bad credentials (unauthenticated, invalid_token, "
                              "invalid_authorization); a revoked device token included."),
                "403": _error("The staff account may not scan, or a kiosk token "
                              "(kiosk_token): kiosks cannot check people in."),
                "404": _error("Unknown or closed checkpoint (unknown_checkpoint)."),
                "409": _error("The nonce was used before for another scan (nonce_reused)."),
                "422": _error("A field is missing or has the wrong shape (missing_field, "
                              "invalid_code, invalid_nonce, invalid_scanned_at, "
                              "invalid_checkpoint, invalid_identity_confirmed)."),
                "429": RATE_LIMITED,
            },
        }
    },
    "/api/v1/checkin-snapshot": {
        "get": {
            "operationId": "getCheckinSnapshot",
            "summary": "Delegate list for offline provisional answers",
            "security": AUTH,
            "responses": {
                "200": {"description": "The snapshot.", **_json("Snapshot", EXAMPLES["snapshot"])},
                "401": _error("No or bad credentials."),
                "403": _error("The staff account may not scan."),
                "429": RATE_LIMITED,
            },
        }
    },
    "/api/v1/public-key": {
        "get": {
            "operationId": "getPublicKey",
            "summary": "Ed25519 public keys that verify badge tokens (current first)",
            "security": [],
            "responses": {
                "200": {"description": "The keys.",
                        **_json("PublicKeys", EXAMPLES["public_key"])},
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                  **_json("OpenApiDocument")}},
        }
    },
}


SCHEMAS.update(openapi_kiosk.SCHEMAS)
PATHS.update(openapi_kiosk.paths(_error, RATE_LIMITED))


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return deepcopy({
        "openapi": "3.1.0",
        "info": {
            "title": "Forum check-in API",
            "version": "1.0.0",
            "description": (
                "Check-in at the doors of the Global Public Safety Cooperation Forum. "
                "Badge QR codes carry Ed25519-signed tokens: 'GP1' + base32(body 19 bytes + "
                "signature 64 bytes), body = version 0x01 | badge UUID (16) | serial (2, "
                "big-endian). Errors are JSON {error, message} with a stable code. A method a "
                "path does not take answers 405 with an Allow header."),
        },
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "deviceToken": {"type": "http", "scheme": "bearer",
                                "description": "Per-device token from /staff/devices or "
                                               "`flask devices issue NAME`."},
                "staffSession": {"type": "apiKey", "in": "cookie", "name": "session",
                                 "description": "Staff session (scanner, desk, admin); "
                                                "POSTs also need X-CSRFToken."},
            },
        },
    })
