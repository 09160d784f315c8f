"""JSON API v1: check-ins over HTTP, authentication (device tokens, staff sessions + CSRF),
errors, the snapshot, the public key, and the OpenAPI document kept true."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from registration.api.openapi import EXAMPLES, document
from registration.extensions import db
from registration.models import CheckIn, Scan
from registration.services import devices as device_svc
from registration.services.badge_signing import public_keys_b64, token_for
from registration.services.checkin.checkpoints import save_checkpoint

DOC = document()


# ----------------------------------------------------------------------------- a tiny validator


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _type_ok(value: Any, kind: str) -> bool:
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }[kind]


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Enough of JSON Schema for our document: types, enums, required keys, no extra keys,
    formats date-time and uuid, oneOf, items."""
    schema = _resolve(schema)
    if "oneOf" in schema:
        errors = []
        for option in schema["oneOf"]:
            try:
                validate(value, option, path)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{path}: matches no oneOf option: {errors}")
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        assert any(_type_ok(value, k) for k in kinds), f"{path}: {value!r} is not {kinds}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if isinstance(value, str) and schema.get("format") == "date-time":
        assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo, path
    if isinstance(value, str) and schema.get("format") == "uuid":
        uuid.UUID(value)
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{path}: missing {missing}"
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            assert not extra, f"{path}: undocumented keys {extra}"
        for key, item in value.items():
            if key in props:
                validate(item, props[key], f"{path}.{key}")
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            if key not in schema.get("properties", {}):
                validate(item, schema["additionalProperties"], f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{path}[{i}]")


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    response = DOC["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def check_documented(response, path: str, method: str = "post") -> dict:
    body = response.get_json()
    validate(body, response_schema(path, method, response.status_code))
    return body


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def device_token(app) -> str:
    with app.app_context():
        return device_svc.issue("Door 1 phone")[1]


def post(client, token: str | None, body: Any, **headers) -> Any:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post("/api/v1/checkins", json=body, headers=headers)


def body_for(code: str, checkpoint: str = "main", **extra) -> dict:
    return {"code": code, "checkpoint": checkpoint, "nonce": uuid.uuid4().hex, **extra}


# ----------------------------------------------------------------------------- statuses


def test_each_status_over_http(app, client, device_token, make_delegate):
    with app.app_context():
        save_checkpoint("vip", "VIP lounge", ["government"], False)
        ok = make_delegate("government", "badge_printed", native_name="王小明")
        expert = make_delegate("expert", "badge_printed")
        pending = make_delegate(status="submitted")
        reprinted = make_delegate(status="badge_printed")
        old_code = token_for(reprinted)
        reprinted.badge_serial = 2
        db.session.commit()

        cases = [
            (token_for(ok), "main", "checked_in"),
            (token_for(ok), "main", "already_checked_in"),
            ("GP1NOTATOKEN", "main", "invalid"),
            (old_code, "main", "revoked"),
            (token_for(pending), "main", "not_accredited"),
            (token_for(expert), "vip", "zone_denied"),
        ]
    seen = {}
    for code, checkpoint, expected in cases:
        response = post(client, device_token, body_for(code, checkpoint))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = check_documented(response, "/api/v1/checkins")
        assert body["status"] == expected
        assert body["checkpoint"] == checkpoint
        seen[expected] = body
    assert seen["checked_in"]["delegate"]["public_id"] == str(ok.public_id)
    assert seen["checked_in"]["delegate"]["native_name"] == "王小明"
    assert seen["already_checked_in"]["checked_in_at"] == seen["checked_in"]["checked_in_at"]
    assert seen["already_checked_in"]["checkpoint_name"] == "Main entrance"
    assert seen["invalid"]["delegate"] is None
    assert seen["invalid"]["reason"] == "malformed"
    assert seen["revoked"]["delegate"]["name"]
    with app.app_context():
        scans = db.session.scalars(select(Scan).order_by(Scan.id)).all()
        assert [s.result for s in scans] == [c[2] for c in cases]
        assert all(s.device_id is not None and s.staff_id is None for s in scans)


def test_nonce_replay_over_http_is_one_scan(app, client, device_token, make_delegate):
    with app.app_context():
        body = body_for(token_for(make_delegate(status="badge_printed")))
    first = post(client, device_token, body).get_json()
    again = post(client, device_token, body).get_json()
    assert first["status"] == again["status"] == "checked_in"
    assert again["replayed"] is True
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Scan)) == 1


def test_offline_sync_reports_duplicates_earliest_wins(app, client, device_token, make_delegate):
    with app.app_context():
        code = token_for(make_delegate(status="badge_printed"))
    t0 = datetime.now(UTC) - timedelta(minutes=20)
    online = post(client, device_token, body_for(code)).get_json()
    early = post(client, device_token, body_for(code, scanned_at=t0.isoformat())).get_json()
    dup = post(client, device_token,
               body_for(code, scanned_at=(t0 + timedelta(minutes=5)).isoformat())).get_json()
    assert online["status"] == "checked_in"
    assert (early["status"], early["offline"]) == ("checked_in", True)
    assert early["superseded_at"] == online["checked_in_at"]
    assert dup["status"] == "already_checked_in"
    assert datetime.fromisoformat(dup["checked_in_at"].replace("Z", "+00:00")) == t0.replace(
        microsecond=t0.microsecond // 1000 * 1000)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1


def test_twenty_scanners_post_the_same_badge_at_once(app, device_token, make_delegate):
    """Over HTTP: 20 clients (threads, each its own request context and DB session)."""
    import threading

    with app.app_context():
        code = token_for(make_delegate(status="badge_printed"))
    barrier = threading.Barrier(20)
    answers: list = [None] * 20

    def run(i: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        response = post(client, device_token, body_for(code))
        answers[i] = (response.status_code, response.get_json()["status"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == [(200, "already_checked_in")] * 19 + [(200, "checked_in")]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1
        assert db.session.scalar(select(func.count()).select_from(Scan)) == 20


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("body", "status", "code"), [
    ("not json", 400, "invalid_json"),
    ([1, 2], 400, "invalid_json"),
    ({"checkpoint": "main", "nonce": "abcdefgh12"}, 422, "missing_field"),
    ({"code": "x", "checkpoint": "main"}, 422, "missing_field"),
    ({"code": "x", "checkpoint": "main", "nonce": "short"}, 422, "invalid_nonce"),
    ({"code": 5, "checkpoint": "main", "nonce": "abcdefgh12"}, 422, "invalid_code"),
    ({"code": "x", "checkpoint": 7, "nonce": "abcdefgh12"}, 422, "invalid_checkpoint"),
    ({"code": "x", "checkpoint": "nowhere", "nonce": "abcdefgh12"}, 404, "unknown_checkpoint"),
    ({"code": "x", "checkpoint": "main", "nonce": "abcdefgh12", "scanned_at": "noon"}, 422,
     "invalid_scanned_at"),
    ({"code": "x", "checkpoint": "main", "nonce": "abcdefgh12",
      "scanned_at": "2026-12-08T09:00:00"}, 422, "invalid_scanned_at"),
    ({"code": "x", "checkpoint": "main", "nonce": "abcdefgh12",
      "scanned_at": "0001-01-01T00:00:00+14:00"}, 422, "invalid_scanned_at"),
    ({"code": "x", "checkpoint": "main", "nonce": "abcdefgh12",
      "scanned_at": "2020-01-01T09:00:00Z"}, 422, "invalid_scanned_at"),  # backdating
])
def test_malformed_requests_get_json_errors(app, client, device_token, body, status, code):
    if isinstance(body, str):
        response = client.post("/api/v1/checkins", data=body, content_type="application/json",
                               headers={"Authorization": f"Bearer {device_token}"})
    else:
        response = post(client, device_token, body)
    assert response.status_code == status
    assert check_documented(response, "/api/v1/checkins")["error"] == code
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Scan)) == 0


def test_unknown_route_and_method_are_json(client):
    assert client.get("/api/v1/nothing").get_json()["error"] == "not_found"
    response = client.get("/api/v1/checkins")
    assert response.status_code == 405
    assert response.get_json()["error"]


# ----------------------------------------------------------------------------- auth


def test_no_credentials_is_401_json(app, client, make_delegate):
    with app.app_context():
        code = token_for(make_delegate(status="badge_printed"))
    response = post(client, None, body_for(code))
    assert response.status_code == 401
    assert check_documented(response, "/api/v1/checkins")["error"] == "unauthenticated"
    assert client.get("/api/v1/checkin-snapshot").status_code == 401


@pytest.mark.parametrize("header", ["Bearer nope", "Basic dXNlcjpwYXNz", "Bearer ", "Token x"])
def test_bad_authorization_is_401(client, header):
    response = client.post("/api/v1/checkins", json=body_for("x"),
                           headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"] in {"invalid_token", "invalid_authorization"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_device_token_is_refused_at_once(app, client, device_token, make_delegate):
    with app.app_context():
        code = token_for(make_delegate(status="badge_printed"))
    assert post(client, device_token, body_for(code)).status_code == 200
    assert client.get("/api/v1/checkin-snapshot",
                      headers={"Authorization": f"Bearer {device_token}"}).status_code == 200
    with app.app_context():
        device_svc.revoke("Door 1 phone")
    response = post(client, device_token, body_for(code))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert client.get("/api/v1/checkin-snapshot",
                      headers={"Authorization": f"Bearer {device_token}"}).status_code == 401


def test_device_token_needs_no_csrf_and_marks_last_seen(app, client, device_token,
                                                        make_delegate):
    from registration.models import AuditEntry

    with app.app_context():
        code = token_for(make_delegate(status="badge_printed"))
    assert post(client, device_token, body_for(code)).status_code == 200
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry)
                                   .where(AuditEntry.action == "checked_in")).one()
        assert entry.actor == "device:Door 1 phone"
        assert entry.details["gate"] == "main" and entry.details["moved"] is True
        device = device_svc.list_devices()[0]
        db.session.refresh(device)
        assert device.last_seen_at is not None


@pytest.mark.parametrize("role", ["scanner", "desk", "admin"])
def test_staff_session_needs_the_csrf_header(app, client, login, get_csrf, role,
                                             make_delegate):
    staff = login(role)
    with app.app_context():
        code = token_for(make_delegate(status="badge_printed"))
    # Cookies alone (what a cross-site form would send) are not enough.
    refused = post(client, None, body_for(code))
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "csrf_failed"
    csrf = get_csrf("/checkin")
    response = post(client, None, body_for(code), **{"X-CSRFToken": csrf})
    assert response.status_code == 200
    assert response.get_json()["status"] == "checked_in"
    with app.app_context():
        assert db.session.scalars(select(Scan.staff_id)).one() == staff.id
    # GETs need no CSRF token.
    assert client.get("/api/v1/checkin-snapshot").status_code == 200


def test_scanner_page_carries_a_working_csrf_token(app, client, login, make_delegate):
    login("scanner")
    html = client.get("/checkin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    with app.app_context():
        code = token_for(make_delegate(status="badge_printed"))
    response = post(client, None, body_for(code), **{"X-CSRFToken": token})
    assert response.status_code == 200


# ----------------------------------------------------------------------------- snapshot, key


def test_snapshot_matches_schema(app, client, device_token, make_delegate):
    delegate = make_delegate(status="badge_printed", head=True)
    response = client.get("/api/v1/checkin-snapshot",
                          headers={"Authorization": f"Bearer {device_token}"})
    body = check_documented(response, "/api/v1/checkin-snapshot", "get")
    assert body["delegates"][0]["public_id"] == str(delegate.public_id)
    with app.app_context():
        assert body["public_keys"] == public_keys_b64()
    assert response.headers["Cache-Control"] == "no-store"


def test_public_key_current_and_previous(make_app):
    from registration.badge_token import generate_private_key, public_key_b64

    old = public_key_b64(generate_private_key())
    app = make_app(BADGE_PREVIOUS_PUBLIC_KEYS=old)
    client = app.test_client()
    body = client.get("/api/v1/public-key").get_json()
    validate(body, response_schema("/api/v1/public-key", "get", 200))
    assert body["previous"] == [old]
    assert body["keys"][1:] == [old]
    with app.app_context():
        assert body["current"] == public_keys_b64()[0]


# ----------------------------------------------------------------------------- OpenAPI


def test_openapi_documents_exactly_the_routes(app, client):
    served = client.get("/api/v1/openapi.json").get_json()
    assert served == DOC
    assert served["openapi"].startswith("3.")
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    documented = {(path, method) for path, ops in served["paths"].items() for method in ops}
    assert routes == documented


def test_openapi_examples_match_their_schemas():
    checked = 0
    for ops in DOC["paths"].values():
        for op in ops.values():
            bodies = [op.get("requestBody", {}), *list(op["responses"].values())]
            for part in bodies:
                media = part.get("content", {}).get("application/json")
                if not media:
                    continue
                if "example" in media:
                    validate(media["example"], media["schema"])
                    checked += 1
                for example in media.get("examples", {}).values():
                    validate(example["value"], media["schema"])
                    checked += 1
    assert checked >= 8
    # The validator does fail on an undocumented key or a wrong type.
    with pytest.raises(AssertionError):
        validate({**EXAMPLES["checked_in"], "surprise": 1},
                 {"$ref": "#/components/schemas/CheckinResult"})
    with pytest.raises(AssertionError):
        validate({**EXAMPLES["checked_in"], "status": "maybe"},
                 {"$ref": "#/components/schemas/CheckinResult"})


def test_every_schema_ref_resolves():
    text = repr(DOC)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in DOC["components"]["schemas"], name
