"""The check-in fast path (services/checkin/fast_path.py, PostgreSQL): a device's online
scans decided in one statement give the same answers and rows as the full path
(scan.check_in), which must not be called for them; exactly one check-in per badge and
door under a burst of scanners."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from registration.api import views as api_views
from registration.extensions import db
from registration.models import AuditEntry, CheckIn, Delegate, Scan
from registration.services import devices
from registration.services.badge_signing import token_for
from registration.services.checkin.checkpoints import save_checkpoint


@pytest.fixture
def fast_app(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the fast path is for PostgreSQL (TEST_DATABASE_URL)")
    return app


@pytest.fixture
def token(fast_app) -> str:
    with fast_app.app_context():
        return devices.issue("Door 9")[1]


@pytest.fixture
def full_path_forbidden(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the full path was used")

    monkeypatch.setattr(api_views, "check_in", refuse)


def scan(client, token: str, code: str, checkpoint: str = "main", nonce: str | None = None):
    response = client.post("/api/v1/checkins", headers={"Authorization": f"Bearer {token}"},
                           json={"code": code, "checkpoint": checkpoint,
                                 "nonce": nonce or uuid.uuid4().hex})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_every_outcome_on_the_fast_path(fast_app, client, token, make_delegate,
                                        full_path_forbidden):
    with fast_app.app_context():
        save_checkpoint("vip", "VIP lounge", ["government"], True)
        ok = make_delegate("government", "approved", native_name="王小明")
        head = make_delegate("ngo", "badge_printed", head=True)
        expert = make_delegate("expert", "badge_printed")
        pending = make_delegate(status="submitted")
        reprinted = make_delegate(status="badge_printed")
        old_code = token_for(reprinted)
        reprinted.badge_serial = 2
        db.session.commit()
        codes = {"ok": token_for(ok), "head": token_for(head), "expert": token_for(expert),
                 "pending": token_for(pending)}
    first = scan(client, token, codes["ok"])
    assert first["status"] == "checked_in" and first["delegate"]["native_name"] == "王小明"
    assert first["delegate"]["status"] == "checked_in"
    again = scan(client, token, codes["ok"])
    assert again["status"] == "already_checked_in"
    assert again["checked_in_at"] == first["checked_in_at"]
    assert scan(client, token, "GP1NOTATOKEN")["reason"] == "malformed"
    assert scan(client, token, old_code)["status"] == "revoked"
    assert scan(client, token, codes["pending"])["status"] == "not_accredited"
    assert scan(client, token, codes["expert"], "vip")["status"] == "zone_denied"
    assert scan(client, token, codes["head"], "vip")["status"] == "checked_in"  # head
    with fast_app.app_context():
        results = db.session.scalars(select(Scan.result).order_by(Scan.id)).all()
        assert results == ["checked_in", "already_checked_in", "invalid", "revoked",
                           "not_accredited", "zone_denied", "checked_in"]
        assert db.session.get(Delegate, ok.id).status == "checked_in"
        assert db.session.get(Delegate, head.id).status == "checked_in"
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.delegate_id == ok.id, AuditEntry.action == "checked_in")).one()
        assert entry.actor == "device:Door 9"
        assert entry.details["moved"] is True and entry.details["status_from"] == "approved"
        assert entry.details["gate"] == "main" and entry.details["offline"] is False


def test_replays_and_offline_scans_take_the_full_path(fast_app, client, token, make_delegate,
                                                      monkeypatch):
    with fast_app.app_context():
        code = token_for(make_delegate(status="approved"))
    nonce = uuid.uuid4().hex
    assert scan(client, token, code, nonce=nonce)["status"] == "checked_in"
    replay = scan(client, token, code, nonce=nonce)
    assert replay["status"] == "checked_in"  # the stored answer, not "already"
    with fast_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Scan)) == 1


def test_fifty_scanners_one_badge_one_check_in(fast_app, token, make_delegate,
                                               full_path_forbidden):
    with fast_app.app_context():
        delegate = make_delegate(status="badge_printed")
        code = token_for(delegate)
    answers: list[str] = []
    barrier = threading.Barrier(25)

    def door() -> None:
        client = fast_app.test_client()
        barrier.wait()
        answers.append(scan(client, token, code)["status"])

    threads = [threading.Thread(target=door) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["already_checked_in"] * 24 + ["checked_in"]
    with fast_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "checked_in")) == 1
        assert sorted(db.session.scalars(select(Scan.result))) == sorted(answers)


def test_a_revoked_device_is_refused_at_once_in_this_process(fast_app, client, token,
                                                             make_delegate):
    with fast_app.app_context():
        code = token_for(make_delegate(status="approved"))
    assert scan(client, token, code)["status"] == "checked_in"  # now cached
    with fast_app.app_context():
        devices.revoke("Door 9")
    response = client.post("/api/v1/checkins", headers={"Authorization": f"Bearer {token}"},
                           json={"code": code, "checkpoint": "main", "nonce": "n" * 10})
    assert response.status_code == 401


# ------------------------------------------------------------- the WSGI lean path


def test_the_lean_path_answers_like_the_full_path(fast_app, client, token, make_delegate,
                                                  monkeypatch):
    """The same JSON (labels in the request's language) and headers as the full route, and
    none of the per-request hooks (the session is not saved: no cookie is set)."""
    with fast_app.app_context():
        first = token_for(make_delegate("expert", "approved"))
        second = token_for(make_delegate("expert", "approved"))
    lean = client.post("/api/v1/checkins", json={"code": first, "checkpoint": "main",
                                                 "nonce": uuid.uuid4().hex},
                       headers={"Authorization": f"Bearer {token}",
                                "Accept-Language": "zh-CN,zh;q=0.9"})
    client.set_cookie("browser", "1")  # a cookie: the Flask route, and its full path
    full = client.post("/api/v1/checkins", json={"code": second, "checkpoint": "main",
                                                 "nonce": uuid.uuid4().hex},
                       headers={"Authorization": f"Bearer {token}",
                                "Accept-Language": "zh-CN,zh;q=0.9"})
    assert lean.status_code == full.status_code == 200
    lean_body, full_body = lean.get_json(), full.get_json()
    assert lean_body["delegate"]["category_label"] == "安全专家"  # Chinese, as asked
    assert lean_body.keys() == full_body.keys()
    assert lean_body["delegate"].keys() == full_body["delegate"].keys()
    assert lean_body["delegate"]["category_label"] == full_body["delegate"]["category_label"]
    for header in ("Content-Type", "Cache-Control", "X-Content-Type-Options",
                   "Content-Security-Policy", "X-Frame-Options"):
        assert lean.headers[header] == full.headers[header], header
    assert "Set-Cookie" not in lean.headers


def test_the_lean_path_limits_each_device_token(make_app, make_delegate, full_path_forbidden):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_API="3 per minute")
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the fast path is for PostgreSQL (TEST_DATABASE_URL)")
        one, two = devices.issue("Door 1")[1], devices.issue("Door 2")[1]
        codes = [token_for(make_delegate(status="approved")) for _ in range(5)]
    client = app.test_client()
    for code in codes[:3]:
        assert scan(client, one, code)["status"] == "checked_in"
    response = client.post("/api/v1/checkins", headers={"Authorization": f"Bearer {one}"},
                           json={"code": codes[3], "checkpoint": "main",
                                 "nonce": uuid.uuid4().hex})
    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    assert scan(client, two, codes[4])["status"] == "checked_in"  # another door counts alone
    with app.app_context():  # the refused scan was not recorded
        assert db.session.scalar(select(func.count()).select_from(Scan)) == 4


def test_bad_input_and_sessions_go_to_the_full_route(fast_app, client, token, make_delegate,
                                                     monkeypatch):
    with fast_app.app_context():
        code = token_for(make_delegate(status="approved"))
    response = client.post("/api/v1/checkins", headers={"Authorization": f"Bearer {token}"},
                           json={"code": code, "checkpoint": "main\x00",
                                 "nonce": uuid.uuid4().hex})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_input"
    # A JSON body with a cookie (a browser) is the full route's, which sees the body intact.
    calls: list[str] = []
    real = api_views.decide_scan

    def spy(body, device, staff):
        calls.append(body["code"])
        return real(body, device, staff)

    monkeypatch.setattr(api_views, "decide_scan", spy)
    assert scan(client, token, code)["status"] == "checked_in"
    assert calls == []  # the lean path answered, before the route
    client.set_cookie("other", "1")
    assert scan(client, token, code)["status"] == "already_checked_in"
    assert calls == [code]


def test_a_switch_of_edition_is_never_answered_with_the_old_one(fast_app, client, token,
                                                                make_delegate, runner):
    """The door path takes the current edition from the per-process cache; the statement
    checks it, so once another edition is current (made so by another process: this
    process's cache is not told and still holds the old one) the scan is not decided for the
    old edition: the full path answers, after forgetting the cache, for the new one."""
    from registration.editions import _current_cache
    from registration.models import Edition

    with fast_app.app_context():
        code = token_for(make_delegate(status="approved"))
    assert scan(client, token, code)["status"] == "checked_in"  # the edition is cached
    with fast_app.app_context():
        old = db.session.scalar(select(Edition).where(Edition.is_current))
        assert _current_cache["entry"][3].id == old.id
        result = runner.invoke(args=["editions", "create", "forum-2027", "--name",
                                     "Forum 2027", "--starts", "2027-12-08", "--ends",
                                     "2027-12-10"])
        assert result.exit_code == 0, result.output
        db.session.execute(Edition.__table__.update().values(is_current=False))
        db.session.execute(Edition.__table__.update().where(Edition.slug == "forum-2027")
                           .values(is_current=True))
        db.session.commit()
        assert _current_cache["entry"][3].id == old.id  # still the old one here
    response = client.post("/api/v1/checkins", headers={"Authorization": f"Bearer {token}"},
                           json={"code": code, "checkpoint": "main",
                                 "nonce": uuid.uuid4().hex})
    # The device belongs to the old edition: in the new one its token is unknown (401),
    # which only the full path, resolving the edition afresh, can say.
    assert response.status_code == 401
    with fast_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Scan).execution_options(
            all_editions=True)) == 1  # the first scan only, in the old edition


def test_the_lean_paths_window_moves_with_time():
    """ratelimits.LocalMovingWindow: at most N hits in any window, per key; the wait is
    until the oldest counted hit leaves the window."""
    from limits import parse

    from registration.ratelimits import LocalMovingWindow

    window, limit = LocalMovingWindow(), parse("3 per 10 seconds")
    assert [window.hit(limit, "door-1", now=t) for t in (100.0, 101.0, 102.0)] == [None] * 3
    assert window.hit(limit, "door-1", now=103.0) == pytest.approx(7.0)  # 100 + 10 - 103
    assert window.hit(limit, "door-2", now=103.0) is None  # another key counts alone
    assert window.hit(limit, "door-1", now=110.5) is None  # the hit at 100 has left
    assert window.hit(limit, "door-1", now=110.6) == pytest.approx(0.4)  # 101 + 10 - 110.6


def test_the_scan_statement_stays_short_enough_for_psycopgs_query_cache():
    """psycopg parses a query once and caches it only up to 4 kB: past that every scan
    would parse the 4 kB statement again."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

    from registration.services.checkin import fast_path

    assert len(fast_path.SCAN_SQL) <= MAX_CACHED_STATEMENT_LENGTH
    assert "%(accredited)s" not in fast_path.SCAN_SQL  # the constant lists are written in
