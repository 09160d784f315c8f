"""What the app refuses at the edge, before any view: control characters and JSON bodies
that are too large or too deeply nested. `web.register_web_helpers` installs `check_request`
as a request hook, so every route on both databases is covered by one rule.

The rule: C0 control characters (U+0000–U+001F) are refused everywhere — the URL path, query
string keys and values, header values, form field names and values, uploaded file names and
JSON keys and strings — except TAB, CR and LF in form values and JSON strings (multi-line
fields such as dietary needs are textareas, and browsers send their line breaks as CR LF)
and TAB in header values (HTTP allows it). PostgreSQL cannot store NUL in text at all; the
others have no business in a name, a search or a token either.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import current_app, request

CONTROL = re.compile(r"[\x00-\x1f]")
CONTROL_EXCEPT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # TAB, LF, CR allowed
CONTROL_EXCEPT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f]")


class BadInput(Exception):
    """The request carries something the app refuses (code for the JSON answer)."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field  # the form field or query parameter concerned, if any


def _refuse_controls(where: str, field: str = "") -> BadInput:
    return BadInput("invalid_input", f"{where} contains control characters (such as NUL), "
                                     "which are not accepted.", field[:64])


def json_depth(raw: bytes) -> int:
    """How deeply a JSON text nests arrays and objects (brackets inside strings ignored);
    linear, no recursion, so any input is safe to measure."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _walk_json(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if CONTROL_EXCEPT_TEXT.search(item):
                raise _refuse_controls("The JSON body")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if CONTROL.search(key):
                    raise _refuse_controls("The JSON body")
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


def _check_json() -> None:
    cfg = current_app.config
    raw = request.get_data(cache=True)
    if len(raw) > int(cfg.get("JSON_MAX_BYTES") or 65536):
        raise BadInput("invalid_json", "The JSON body is too large.")
    if json_depth(raw) > int(cfg.get("JSON_MAX_DEPTH") or 32):
        raise BadInput("invalid_json", "The JSON body is nested too deeply.")
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        return  # the view answers invalid_json
    _walk_json(body)


def check_request() -> None:
    """Raise BadInput if the request carries what the app refuses."""
    if CONTROL.search(request.path):
        raise _refuse_controls("The address")
    for key, value in request.args.items(multi=True):
        if CONTROL.search(key) or CONTROL.search(value):
            raise _refuse_controls(f"The address (parameter {key[:64]!r})", key)
    for key, value in request.headers.items():
        if CONTROL_EXCEPT_TAB.search(value):
            raise _refuse_controls(f"The {key} header")
    if request.is_json:
        _check_json()
        return
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        for key, value in request.form.items(multi=True):
            if CONTROL.search(key) or CONTROL_EXCEPT_TEXT.search(value):
                raise _refuse_controls(f"The form field {key[:64]!r}", key)
        for key, upload in request.files.items(multi=True):
            if CONTROL.search(key) or CONTROL.search(upload.filename or ""):
                raise _refuse_controls(f"The name of the file in {key[:64]!r}", key)
