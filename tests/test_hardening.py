"""Issue 13, abuse resistance: one test (or more) per finding of the outside test.

Address-based limits are exercised with other loopback client addresses (127.0.0.2, …) as
the WSGI REMOTE_ADDR, and through a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registration.api.openapi import document
from registration.config import ConfigError, load_config
from registration.data_crypto import new_key
from registration.extensions import db
from registration.models import OutboxMessage, StaffUser, Status
from registration.services import devices as device_svc
from registration.services import self_service, signin_links, staff_accounts
from registration.services.badge_signing import token_for
from registration.services.checkin.checkpoints import save_checkpoint
from registration.services.mail import outbox
from registration.validation import email_key

PASSWORD = "a long enough passphrase"


def addr(n: int) -> dict:
    return {"REMOTE_ADDR": f"127.0.0.{n}"}


@pytest.fixture
def limited(make_app):
    """An app with the rate limits on (the suite turns them off elsewhere)."""

    def build(**overrides):
        return make_app(RATELIMIT_ENABLED=True, **overrides)

    return build


def _text_of(row: OutboxMessage) -> str:
    msg = message_from_bytes(bytes(row.message), policy=default_policy)
    return msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


# ------------------------------------------------------------------ 1. rate limits


def test_registration_limited_per_client_address(limited, csrf_from, form_data):
    app = limited()
    client = app.test_client()
    token = csrf_from(client.get("/register").get_data(as_text=True))
    for i in range(5):
        response = client.post("/register", data=form_data(token, email=""),
                               environ_base=addr(2))
        assert response.status_code == 422, i  # counted even when the form is wrong
    response = client.post("/register", data=form_data(token, email=""), environ_base=addr(2))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many requests" in response.get_data(as_text=True)
    # Another address is not affected; reading the form is never limited.
    assert client.post("/register", data=form_data(token, email=""),
                       environ_base=addr(3)).status_code == 422
    assert client.get("/register", environ_base=addr(2)).status_code == 200


def test_rate_limit_page_in_the_visitors_language(limited, csrf_from, form_data):
    app = limited(RATELIMIT_REGISTRATION="1 per minute")
    client = app.test_client()
    client.get("/lang/zh")
    token = csrf_from(client.get("/register").get_data(as_text=True))
    client.post("/register", data=form_data(token, email=""), environ_base=addr(4))
    response = client.post("/register", data=form_data(token, email=""), environ_base=addr(4))
    assert response.status_code == 429
    assert "请求过于频繁" in response.get_data(as_text=True)


def test_hourly_registration_limit_is_a_setting():
    config = load_config({"APP_ENV": "development", "SECRET_KEY": "k" * 40})
    assert config["RATELIMIT_REGISTRATION"] == "5 per minute; 30 per hour"
    assert config["RATELIMIT_MANAGE_LINK"] == "3 per hour"
    assert config["RATELIMIT_STAFF_LOGIN"] == "10 per minute"
    assert config["RATELIMIT_API"] == "50 per second"
    assert config["RATELIMIT_ENABLED"] is True
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    shared = load_config({"SECRET_KEY": "k" * 40, "REDIS_URL": "redis://cache:6379/2"})
    assert shared["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/2"
    assert load_config({"SECRET_KEY": "k", "RATELIMIT_ENABLED": "false"})[
        "RATELIMIT_ENABLED"] is False


def test_trusted_proxy_decides_the_client_address(limited, csrf_from, form_data):
    app = limited(RATELIMIT_REGISTRATION="1 per minute", TRUSTED_PROXIES=1)
    client = app.test_client()
    token = csrf_from(client.get("/register").get_data(as_text=True))

    def send(forwarded: str) -> int:
        return client.post("/register", data=form_data(token, email=""), environ_base=addr(9),
                           headers={"X-Forwarded-For": forwarded}).status_code

    assert send("198.51.100.1") == 422
    assert send("198.51.100.1") == 429
    assert send("198.51.100.2") == 422  # another client behind the same proxy
    # Without a trusted proxy the header is ignored: it cannot be used to dodge the limit.
    direct = limited(RATELIMIT_REGISTRATION="1 per minute").test_client()
    token = csrf_from(direct.get("/register").get_data(as_text=True))
    assert direct.post("/register", data=form_data(token, email=""), environ_base=addr(9),
                       headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 422
    assert direct.post("/register", data=form_data(token, email=""), environ_base=addr(9),
                       headers={"X-Forwarded-For": "2.2.2.2"}).status_code == 429


def test_manage_link_requests_limited_per_address_and_per_recipient(limited, csrf_from):
    app = limited()
    client = app.test_client()
    token = csrf_from(client.get("/manage/").get_data(as_text=True))

    def ask(email: str, n: int) -> int:
        return client.post("/manage/", data={"csrf_token": token, "email": email},
                           environ_base=addr(n)).status_code

    assert [ask(f"p{i}@example.org", 5) for i in range(4)] == [200, 200, 200, 429]
    # One recipient from many addresses: three an hour.
    assert [ask("victim@example.org", n) for n in (10, 11, 12, 13)] == [200, 200, 200, 429]
    assert ask("Victim+x@example.org", 14) == 429  # the same mailbox


def test_staff_sign_in_limited_per_address(limited, csrf_from):
    app = limited()
    client = app.test_client()
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))

    def data(i: int) -> dict:
        return {"csrf_token": token, "email": f"x{i}@forum.org", "password": "wrong password!!"}

    codes = [client.post("/staff/login", data=data(i), environ_base=addr(2)).status_code
             for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    assert client.post("/staff/login", data=data(0), environ_base=addr(3)).status_code == 401


def test_a_limit_on_any_blueprint_applies_nested_ones_included(limited):
    """Flask-Limiter's per-request check runs only for blueprints with limits
    (ratelimits.init_app): a limit put on a blueprint, or on its parent, still applies."""
    from flask import Blueprint

    from registration.extensions import limiter

    app = limited()
    parent = Blueprint("limit_probe", __name__, url_prefix="/limit-probe")
    child = Blueprint("inner", __name__, url_prefix="/inner")
    free = Blueprint("free_probe", __name__, url_prefix="/free-probe")
    for blueprint in (child, free):
        blueprint.add_url_rule("/", "ping", lambda: "pong")
    limiter.limit("2 per minute")(parent)
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    app.register_blueprint(free)
    client = app.test_client()
    codes = [client.get("/limit-probe/inner/", environ_base=addr(7)).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
    assert [client.get("/free-probe/", environ_base=addr(7)).status_code
            for _ in range(3)] == [200, 200, 200]


def test_api_limited_per_device_token_with_json(limited):
    app = limited(RATELIMIT_API="3 per minute")
    client = app.test_client()
    with app.app_context():
        one = device_svc.issue("Door 1")[1]
        two = device_svc.issue("Door 2")[1]
    for _ in range(3):  # 50 scanners behind one NAT: each token counts alone
        assert client.get("/api/v1/checkin-snapshot", environ_base=addr(2),
                          headers={"Authorization": f"Bearer {one}"}).status_code == 200
    response = client.get("/api/v1/checkin-snapshot", environ_base=addr(2),
                          headers={"Authorization": f"Bearer {one}"})
    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/api/v1/checkin-snapshot", environ_base=addr(2),
                      headers={"Authorization": f"Bearer {two}"}).status_code == 200


# ------------------------------------------------------------------ 1. mail


@pytest.mark.parametrize(("first", "second"), [
    ("li.wei@example.org", "li.wei+forum@example.org"),
    ("li.wei@example.org", "LI.WEI+a+b@Example.org"),
    ("liwei@gmail.com", "l.i.wei+x@googlemail.com"),
])
def test_plus_and_dot_addresses_are_one_registration(client, get_csrf, form_data, first,
                                                     second):
    token = get_csrf()
    assert client.post("/register", data=form_data(token, email=first)).status_code == 303
    response = client.post("/register", data=form_data(get_csrf(), email=second))
    assert response.status_code == 422
    assert "already registered" in response.get_data(as_text=True)


def test_email_key_rule():
    assert email_key("A.B+tag@Example.ORG") == "a.b@example.org"
    assert email_key("a.b@gmail.com") == email_key("ab+x@googlemail.com") == "ab@gmail.com"
    assert email_key("+only@example.org") == "+only@example.org"


def test_rows_with_the_old_key_are_still_found(app, make_delegate):
    with app.app_context():
        old = make_delegate(email="old+tag@example.org", commit=False)
        old.email_key = "old+tag@example.org"  # as stored before the rule changed
        db.session.commit()
        assert self_service.send_manage_link("old+tag@example.org")
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_confirmation_mail_echoes_only_the_name_as_data(app, client, get_csrf, form_data,
                                                        mail_text):
    bait = "URGENT: verify your bank account at http://evil.example"
    data = form_data(get_csrf(), given_name="Xiaoming", organisation=bait, position=bait,
                     dietary_needs=bait)
    assert client.post("/register", data=data).status_code == 303
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage))
        outbox.materialise(row)
        text = _text_of(row)
        every_part = mail_text(row.message)
    assert "Xiaoming" in every_part  # decoded: a word that is there is found
    assert "evil.example" not in text and "evil.example" not in every_part
    assert "Dear" not in text
    assert text.startswith("Hello,")
    assert "Name: Dr. Xiaoming Wang" in text


def test_at_most_three_public_mails_per_recipient_per_hour(app, make_delegate):
    with app.app_context():
        delegate = make_delegate(email="target@example.org")
        rows = [outbox.queue("manage_link", delegate) for _ in range(4)]
        db.session.commit()
        assert [r is not None for r in rows] == [True, True, True, False]
        assert outbox.queue("approved", delegate) is not None  # the desk's mail is not capped


def test_manage_link_resend_does_not_race(app, make_delegate):
    with app.app_context():
        make_delegate(email="race@example.org")
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def ask() -> None:
        with app.app_context():
            barrier.wait()
            results.append(self_service.send_manage_link("race@example.org"))
            db.session.remove()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


# ------------------------------------------------------------------ 2. sign-in


@pytest.fixture
def sign_in(csrf_from):
    def send(client, email: str, password: str, n: int):
        token = csrf_from(client.get("/staff/login").get_data(as_text=True))
        return client.post("/staff/login", data={"csrf_token": token, "email": email,
                                                 "password": password},
                           environ_base=addr(n))

    return send


def test_attacker_never_locks_out_the_admin(app, sign_in):
    with app.app_context():
        staff_accounts.create_staff("admin@forum.org", PASSWORD, "admin")
    attacker, admin = app.test_client(), app.test_client()
    for _ in range(30):  # one address: only that address is held back
        sign_in(attacker, "admin@forum.org", "guess guess guess", 66)
    assert sign_in(attacker, "admin@forum.org", PASSWORD, 66).status_code == 429
    assert sign_in(app.test_client(), "admin@forum.org", PASSWORD, 7).status_code == 303
    for n in range(100, 110):  # many addresses: the account's ceiling is reached
        sign_in(attacker, "admin@forum.org", "guess guess guess", n)
    response = sign_in(admin, "admin@forum.org", PASSWORD, 7)
    # Past the per-account ceiling: not a refusal but an emailed one-time link.
    assert response.status_code == 202
    assert "one-time sign-in link" in response.get_data(as_text=True)
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage)
                                .where(OutboxMessage.kind == signin_links.KIND))
        link = next(line for line in _text_of(row).splitlines() if "/staff/login/link/" in line)
    path = link[link.index("/staff/login/link/"):].strip()
    assert admin.get(path).status_code == 200  # a page with a button: GET uses nothing up
    token = path.rsplit("/", 1)[1]
    page = admin.get(path).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore
    assert admin.post(path, data={"csrf_token": csrf}).status_code == 303
    assert admin.get("/staff/accounts").status_code == 200
    # Single use.
    assert app.test_client().post(path, data={"csrf_token": csrf}).status_code in (400, 410)
    with app.app_context(), pytest.raises(signin_links.SigninLinkInvalid):
        signin_links.consume(token)


def test_sign_in_link_expires(make_app):
    app = make_app(LOGIN_LINK_MAX_AGE_MINUTES=0)
    with app.app_context():
        staff = staff_accounts.create_staff("desk@forum.org", PASSWORD, "desk")
        token = signin_links.make_token(staff)
        time.sleep(1.1)
        with pytest.raises(signin_links.SigninLinkInvalid):
            signin_links.resolve(token)


def test_failed_attempts_shown_on_the_accounts_page(app, client, login, sign_in):
    with app.app_context():
        staff_accounts.create_staff("desk@forum.org", PASSWORD, "desk")
    other = app.test_client()
    for _ in range(2):
        sign_in(other, "desk@forum.org", "wrong password!!", 42)
    login("admin", email="boss@forum.org")
    page = client.get("/staff/accounts").get_data(as_text=True)
    assert "2 from 127.0.0.42" in page


# ------------------------------------------------------------------ 3. NUL and control characters


def test_nul_in_staff_login_is_a_400_not_a_500(client, csrf_from):
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={"csrf_token": token, "email": "a\x00@x.org",
                                                 "password": "x" * 12})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "control characters" in text and "email" in text


@pytest.mark.parametrize("path", [
    "/staff/delegates?q=a%00b", "/staff/export.csv?status=%00", "/staff/delegates?q=%01",
    "/staff/print?category=%00", "/manage/abc%00def",
])
def test_nul_in_query_or_path_is_a_400(client, login, path):
    login("admin")
    assert client.get(path).status_code == 400


def test_nul_in_admin_form_is_a_400(client, login, csrf_from):
    login("admin")
    token = csrf_from(client.get("/staff/accounts").get_data(as_text=True))
    response = client.post("/staff/accounts", data={"csrf_token": token, "email": "n\x00@x.org",
                                                     "password": PASSWORD, "role": "desk"})
    assert response.status_code == 400


def test_nul_in_api_json_is_invalid_input(app, client):
    with app.app_context():
        token = device_svc.issue("Door")[1]
    for body in ({"code": "x", "checkpoint": "ma\x00in", "nonce": "abcdefgh12"},
                 {"code": "x", "checkpoint": "main", "nonce": "abcd\x00efgh12"},
                 {"code": "x", "checkpoint": "main", "nonce": "abcdefgh12", "k\x00": 1}):
        response = client.post("/api/v1/checkins", json=body,
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 400
        assert response.get_json()["error"] == "invalid_input"


def test_control_characters_in_headers_are_refused(client):
    response = client.get("/register", headers={"Accept-Language": "en\x00"})
    assert response.status_code == 400


def test_line_breaks_in_multiline_fields_are_fine(client, get_csrf, form_data):
    data = form_data(get_csrf(), dietary_needs="Halal\r\nNo nuts")
    assert client.post("/register", data=data).status_code == 303


def test_deep_or_large_json_is_a_400(app, client):
    with app.app_context():
        token = device_svc.issue("Door")[1]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/checkins", data=deep, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"
    big = '{"code": "' + "x" * 100_000 + '", "checkpoint": "main", "nonce": "abcdefgh12"}'
    assert client.post("/api/v1/checkins", data=big, headers=headers).status_code == 400


# ------------------------------------------------------------------ 4. smaller findings


def test_nonce_replay_is_bound_to_code_checkpoint_and_caller(app, client, make_delegate):
    with app.app_context():
        save_checkpoint("vip", "VIP lounge", None, False)
        one = token_for(make_delegate(status="badge_printed"))
        two = token_for(make_delegate(status="badge_printed", given_name="Other"))
        door1 = device_svc.issue("Door 1")[1]
        door2 = device_svc.issue("Door 2")[1]

    def scan(token: str, code: str, checkpoint: str = "main", nonce: str = "nonce-12345"):
        return client.post("/api/v1/checkins", json={"code": code, "checkpoint": checkpoint,
                                                     "nonce": nonce},
                           headers={"Authorization": f"Bearer {token}"})

    first = scan(door1, one)
    assert first.status_code == 200 and not first.get_json()["replayed"]
    again = scan(door1, one)
    assert again.status_code == 200 and again.get_json()["replayed"]
    for response in (scan(door1, two), scan(door1, one, "vip"), scan(door2, one),
                     scan(door1, "garbage")):
        assert response.status_code == 409
        body = response.get_json()
        assert body["error"] == "nonce_reused" and "delegate" not in body


def test_logout_ends_the_session_on_the_server(app, sign_in, csrf_from):
    with app.app_context():
        staff_accounts.create_staff("desk@forum.org", PASSWORD, "desk")
    browser = app.test_client()
    assert sign_in(browser, "desk@forum.org", PASSWORD, 2).status_code == 303
    stolen = app.test_client()
    cookie = browser.get_cookie("session")
    assert cookie is not None
    stolen.set_cookie("session", cookie.value)
    assert stolen.get("/staff/delegates").status_code == 200
    token = csrf_from(browser.get("/staff/delegates").get_data(as_text=True))
    assert browser.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    assert stolen.get("/staff/delegates").status_code == 302  # the copied cookie is dead
    # Other sessions of the same account continue.
    laptop = app.test_client()
    sign_in(laptop, "desk@forum.org", PASSWORD, 3)
    assert laptop.get("/staff/delegates").status_code == 200


def test_security_headers(make_app, client, login):
    assert load_config({"APP_ENV": "production", "SECRET_KEY": "0123456789abcdef" * 4,
                        "PUBLIC_BASE_URL": "https://x.example",
                        "DATA_ENCRYPTION_KEY": new_key()})["HSTS_SECONDS"] >= 31536000
    assert load_config({"SECRET_KEY": "k"})["HSTS_SECONDS"] == 0
    production_like = make_app(HSTS_SECONDS=31536000).test_client()
    assert "max-age=31536000" in production_like.get("/").headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in client.get("/").headers
    login("admin")
    staff_page = client.get("/staff/delegates")
    assert staff_page.headers["Cache-Control"] == "no-store"
    assert "camera=()" in staff_page.headers["Permissions-Policy"]
    assert "camera=(self)" in client.get("/checkin").headers["Permissions-Policy"]
    public = client.get("/register")
    assert "camera=()" in public.headers["Permissions-Policy"]
    assert "no-store" not in public.headers.get("Cache-Control", "")


def test_production_refuses_a_short_secret_key():
    base = {"APP_ENV": "production", "PUBLIC_BASE_URL": "https://x.example",
            "DATA_ENCRYPTION_KEY": new_key()}
    for weak in ("x", "short-key", "k" * 31):
        with pytest.raises(ConfigError, match="too weak"):
            load_config({**base, "SECRET_KEY": weak})
    assert load_config({**base, "SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex})


def test_snapshot_names_only_who_may_enter(app, client, login, make_delegate):
    ok = make_delegate(status="badge_printed", given_name="Admitted")
    rejected = make_delegate(status=Status.REJECTED, given_name="Refusedperson", printed=True)
    cancelled = make_delegate(status=Status.CANCELLED, given_name="Cancelledperson")
    login("scanner")
    response = client.get("/api/v1/checkin-snapshot")
    text = response.get_data(as_text=True)
    assert "Admitted" in text
    assert "Refusedperson" not in text and "Cancelledperson" not in text
    entries = {d["public_id"]: d for d in response.get_json()["delegates"]}
    assert entries[str(ok.public_id)]["refused"] is False
    for refused in (rejected, cancelled):
        assert entries[str(refused.public_id)] == {"public_id": str(refused.public_id),
                                                   "badge_serial": refused.badge_serial,
                                                   "refused": True, "reason": "status"}


def test_scanner_refuses_refused_entries_offline():
    js = (Path(__file__).resolve().parent.parent / "static" / "js" / "scanner.js").read_text()
    assert "if (d.refused)" in js and '"not_accredited"' in js


def test_openapi_scanned_at_null_and_limits_documented(app, client, make_delegate):
    doc = document()
    scanned_at = doc["components"]["schemas"]["CheckinRequest"]["properties"]["scanned_at"]
    assert "null" in scanned_at["type"] and "three days" in scanned_at["description"]
    with app.app_context():
        code = token_for(make_delegate(status="badge_printed"))
        token = device_svc.issue("Door")[1]
    response = client.post("/api/v1/checkins", json={"code": code, "checkpoint": "main",
                                                     "nonce": "nonce-null-1",
                                                     "scanned_at": None},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    old = (datetime.now(UTC) - timedelta(days=4)).isoformat()
    response = client.post("/api/v1/checkins", json={"code": code, "checkpoint": "main",
                                                     "nonce": "nonce-old-01",
                                                     "scanned_at": old},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422


def test_405_carries_allow(client):
    response = client.get("/api/v1/checkins")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    response = client.put("/register")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


def test_staff_user_model_unchanged():
    # No schema change in this work: the session id lives in the cookie, ended sessions
    # and failure counts in login_throttle.
    assert {c.name for c in StaffUser.__table__.columns} >= {"session_version", "failed_logins"}
