"""The kiosk part of the OpenAPI document (merged into openapi.py's SCHEMAS and PATHS)."""

from __future__ import annotations

from typing import Any

BILINGUAL = {
    "message": {"type": "string", "description": "English."},
    "message_zh": {"type": "string", "description": "Simplified Chinese."},
}
REFUSAL_CODES = ["not_found", "not_accredited", "already_printed", "printer_unavailable"]

SCHEMAS: dict[str, Any] = {
    "KioskRequest": {
        "type": "object", "additionalProperties": False,
        "description": "Either code (the QR text of the confirmation mail or e-ticket) or "
                       "reference and family_name (typed on the kiosk's keyboard).",
        "properties": {
            "code": {"type": "string", "maxLength": 512},
            "reference": {"type": "string", "maxLength": 40,
                          "description": "GPS-Y8ZG-CY7J; any case, separators optional."},
            "family_name": {"type": "string", "maxLength": 120,
                            "description": "Compared without case or accents."},
        },
        "required": [],
    },
    "KioskRefusal": {
        "type": "object", "additionalProperties": False,
        "description": "Nothing printed: the delegate is sent to the accreditation desk.",
        "properties": {
            "error": {"type": "string", "enum": REFUSAL_CODES},
            "reason": {"type": "string", "description": "What the desk needs to know: the "
                       "error, or cancelled for a cancelled registration.",
                       "enum": [*REFUSAL_CODES, "cancelled"]},
            **BILINGUAL,
            "detail": {"type": "string", "description": "The status, or the printer's "
                                                        "failure (unreachable, stopped…)."},
        },
        "required": ["error", "reason", "message", "message_zh"],
    },
    "KioskDelegate": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "name": {"type": "string"}, "honorific": {"type": "string"},
            "native_name": {"type": "string"}, "reference": {"type": "string"},
            "category": {"type": "string"}, "category_label": {"type": "string"},
            "category_label_zh": {"type": "string"},
            "photo": {"type": ["string", "null"], "description": "A data: URL (JPEG)."},
        },
        "required": ["name", "honorific", "native_name", "reference", "category",
                     "category_label", "category_label_zh", "photo"],
    },
    "KioskLookup": {
        "type": "object", "additionalProperties": False,
        "properties": {"status": {"type": "string", "enum": ["ready"]},
                       "delegate": {"$ref": "#/components/schemas/KioskDelegate"}},
        "required": ["status", "delegate"],
    },
    "KioskAccepted": {
        "type": "object", "additionalProperties": False,
        "properties": {"status": {"type": "string", "enum": ["printing"]},
                       "job": {"type": "integer"}},
        "required": ["status", "job"],
    },
    "KioskJob": {
        "type": "object", "additionalProperties": False,
        "properties": {"job": {"type": "integer"},
                       "status": {"type": "string", "enum": ["printing", "printed", "failed"]},
                       **BILINGUAL,
                       "reason": {"type": "string", "description": "Why it failed."}},
        "required": ["job", "status", "message", "message_zh"],
    },
}

EXAMPLES = {
    "refused": {"error": "already_printed", "reason": "already_printed",
                "message": "Your badge has already been printed. Please see the "
                           "accreditation desk.",
                "message_zh": "您的证件已打印。请前往注册台。"},
    "accepted": {"status": "printing", "job": 42},
    "job": {"job": 42, "status": "printed",
            "message": "Your badge is printed. Please take it from the printer.",
            "message_zh": "您的证件已打印，请从打印机取走。"},
}


def _json(schema: str, example: Any | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    if example is not None:
        media["example"] = example
    return {"content": {"application/json": media}}


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, **_json("KioskRefusal", EXAMPLES["refused"])}


def paths(error: Any, rate_limited: dict[str, Any]) -> dict[str, Any]:
    """The kiosk paths; `error` makes an Error response (openapi._error)."""
    auth: list[dict[str, list[str]]] = [{"deviceToken": []}]
    common = {
        "400": error("Body is not a JSON object (invalid_json) or holds control characters "
                     "(invalid_input)."),
        "401": error("No, unknown or revoked token (unauthenticated, invalid_token)."),
        "403": {"description": "A scanner token (not_a_kiosk, Error), or the delegate is not "
                               "accredited or cancelled (not_accredited, KioskRefusal; "
                               "detail \"vetting\" when accredited but not cleared by "
                               "vetting).",
                "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": "#/components/schemas/KioskRefusal"},
                    {"$ref": "#/components/schemas/Error"}]}}}},
        "404": _refusal("No registration matches (not_found)."),
        "409": _refusal("The badge was printed already, or is printing (already_printed)."),
        "422": error("Neither code nor reference + family_name (missing_field)."),
        "429": rate_limited,
    }
    request = {"required": True, **_json("KioskRequest", {"code": "GP1AEAAAAAA…"})}
    return {
        "/api/v1/kiosk/lookup": {"post": {
            "operationId": "kioskLookup", "summary": "Who is about to print (kiosk token)",
            "security": auth, "requestBody": request,
            "responses": {"200": {"description": "The delegate, printable.",
                                  **_json("KioskLookup")}, **common},
        }},
        "/api/v1/kiosk/print": {"post": {
            "operationId": "kioskPrint",
            "summary": "Print the delegate's badge on the kiosk's printer, once",
            "description": "The badge counts as printed when the printer reports the job "
                           "completed; follow it with GET /api/v1/kiosk/jobs/{job_id}.",
            "security": auth, "requestBody": request,
            "responses": {
                "202": {"description": "Sent to the printer.",
                        **_json("KioskAccepted", EXAMPLES["accepted"])},
                **common,
                "503": _refusal("The kiosk's printer is unreachable, stopped or refused "
                                "the job (printer_unavailable); nothing printed."),
            },
        }},
        "/api/v1/kiosk/jobs/{job_id}": {"get": {
            "operationId": "kioskJob", "summary": "A kiosk print job's state",
            "security": auth,
            "parameters": [{"name": "job_id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {
                "200": {"description": "printing, printed or failed.",
                        **_json("KioskJob", EXAMPLES["job"])},
                "400": common["400"],
                "401": common["401"],
                "403": error("Not a kiosk token (not_a_kiosk)."),
                "404": error("No such job for this kiosk (not_found)."),
                "429": rate_limited,
            },
        }},
    }
