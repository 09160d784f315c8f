"""Check-in rules (services/checkin/), pages, devices and the CLI."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from registration.api.shapes import delegate_json, scan_result_json, snapshot_json
from registration.badge_token import issue
from registration.extensions import db
from registration.models import (
    AuditEntry,
    CheckIn,
    Checkpoint,
    Delegate,
    DelegatePhoto,
    Device,
    Scan,
    Status,
)
from registration.services import devices as device_svc
from registration.services.badge_signing import signing_key, token_for
from registration.services.checkin import CheckinError, records
from registration.services.checkin import scan as svc
from registration.services.checkin.checkpoints import save_checkpoint
from registration.services.checkin.dashboard import dashboard
from registration.services.checkin.snapshot import snapshot


def nonce() -> str:
    return uuid.uuid4().hex


def scan(code: str, checkpoint: str = "main", **kwargs) -> svc.ScanResult:
    return svc.check_in(code, checkpoint, nonce(), **kwargs)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def add_vip() -> Checkpoint:
    return save_checkpoint("vip", "VIP lounge", ["government"], True)


# ----------------------------------------------------------------------------- statuses


def test_first_scan_checks_in_and_records_everything(app_ctx, make_delegate):
    delegate = make_delegate(status="badge_printed")
    result = scan(token_for(delegate))
    assert result.status == "checked_in"
    assert result.delegate.id == delegate.id
    assert result.checked_in_at == result.scanned_at
    db.session.expire_all()
    assert delegate.status == Status.CHECKED_IN
    check_in = db.session.scalars(select(CheckIn)).one()
    assert (check_in.delegate_id, check_in.checkpoint_id) == (delegate.id, "main")
    stored = db.session.scalars(select(Scan)).one()
    assert (stored.result, stored.delegate_id, stored.badge_serial) == ("checked_in",
                                                                         delegate.id, 1)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "checked_in")).one()
    assert entry.delegate_id == delegate.id
    assert entry.details["gate"] == "main"
    assert entry.details["status_from"] == "badge_printed"


def test_second_scan_answers_already_with_first_time_and_place(app_ctx, make_delegate):
    delegate = make_delegate(status="approved")  # e-ticket, no badge printed yet
    first = scan(token_for(delegate))
    second = scan(token_for(delegate).lower() + "\n")  # what a keyboard-wedge scanner sends
    assert first.status == "checked_in"
    assert second.status == "already_checked_in"
    assert second.checked_in_at == first.checked_in_at
    assert second.checkpoint_name == "Main entrance"
    assert scan_result_json(second)["checkpoint_name"] == "Main entrance"
    assert count(CheckIn) == 1
    assert count(Scan) == 2
    assert db.session.scalars(select(Scan.result).order_by(Scan.id)).all() == [
        "checked_in", "already_checked_in"]


@pytest.mark.parametrize("kind", ["garbage", "tampered", "unknown_badge", "future_serial"])
def test_invalid_codes_are_refused_and_recorded(app_ctx, kind, make_delegate):
    delegate = make_delegate(status="badge_printed")
    good = token_for(delegate)
    code = {
        "garbage": "https://example.org/not-a-badge",
        "tampered": good[:40] + ("A" if good[40] != "A" else "B") + good[41:],
        "unknown_badge": issue(signing_key(), uuid.uuid4(), 1),
        "future_serial": issue(signing_key(), delegate.public_id, 2),
    }[kind]
    result = scan(code)
    assert result.status == "invalid"
    assert result.delegate is None
    assert result.reason in {"malformed", "bad_signature", "unknown_badge"}
    assert db.session.scalars(select(Scan.result)).one() == "invalid"
    assert count(CheckIn) == 0
    db.session.expire_all()
    assert delegate.status == "badge_printed"


def test_signed_by_another_key_is_invalid(app_ctx, make_delegate):
    from registration.badge_token import generate_private_key

    delegate = make_delegate(status="badge_printed")
    forged = issue(generate_private_key(), delegate.public_id, 1)
    result = scan(forged)
    assert (result.status, result.reason) == ("invalid", "bad_signature")


def test_reprinted_badge_is_revoked(app_ctx, make_delegate):
    delegate = make_delegate(status="badge_printed")
    old = token_for(delegate)
    delegate.badge_serial = 2
    db.session.commit()
    result = scan(old)
    assert result.status == "revoked"
    assert result.delegate.id == delegate.id  # the desk can see whose badge it was
    assert count(CheckIn) == 0
    assert scan(token_for(delegate)).status == "checked_in"


@pytest.mark.parametrize("status", ["submitted", "rejected", "cancelled"])
def test_not_accredited(app_ctx, status, make_delegate):
    delegate = make_delegate(status=status)
    result = scan(token_for(delegate))
    assert result.status == "not_accredited"
    assert count(CheckIn) == 0
    assert db.session.scalars(select(Scan.result)).one() == "not_accredited"


def test_unknown_or_closed_checkpoint_is_an_error_not_a_scan(app_ctx, make_delegate):
    delegate = make_delegate(status="badge_printed")
    with pytest.raises(CheckinError) as err:
        scan(token_for(delegate), "nowhere")
    assert err.value.code == "unknown_checkpoint"
    save_checkpoint("hall", "Plenary hall", None, False, active=False)
    with pytest.raises(CheckinError):
        scan(token_for(delegate), "hall")
    assert count(Scan) == 0


# ----------------------------------------------------------------------------- zones


def test_zones_admit_by_category_and_heads_of_delegation(app_ctx, make_delegate):
    add_vip()
    government = make_delegate("government", "badge_printed")
    head_expert = make_delegate("expert", "badge_printed", head=True)
    expert = make_delegate("expert", "badge_printed")
    assert scan(token_for(government), "vip").status == "checked_in"
    assert scan(token_for(head_expert), "vip").status == "checked_in"
    denied = scan(token_for(expert), "vip")
    assert denied.status == "zone_denied"
    assert denied.delegate.id == expert.id
    db.session.expire_all()
    assert expert.status == "badge_printed"  # refused: not checked in anywhere
    assert db.session.scalar(select(func.count()).select_from(Scan)
                             .where(Scan.result == "zone_denied")) == 1
    # The main entrance admits everyone accredited.
    assert scan(token_for(expert), "main").status == "checked_in"


def test_checkin_per_checkpoint_and_status_moves_once(app_ctx, make_delegate):
    add_vip()
    delegate = make_delegate("government", "badge_printed")
    assert scan(token_for(delegate), "main").status == "checked_in"
    assert scan(token_for(delegate), "vip").status == "checked_in"
    assert scan(token_for(delegate), "vip").status == "already_checked_in"
    assert count(CheckIn) == 2
    db.session.expire_all()
    assert delegate.status == "checked_in"
    gates = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "checked_in")
                               .order_by(AuditEntry.id)).all()
    assert [(e.details["gate"], e.details["status_from"]) for e in gates] == [
        ("main", "badge_printed"), ("vip", "checked_in")]


def test_status_change_never_overwrites_a_concurrent_desk_change(app_ctx, monkeypatch,
                                                                  make_delegate):
    """The desk cancels the delegate between the scan's read and its write: the scan is
    decided on what it read, but the status is not forced from cancelled to checked_in."""
    delegate = make_delegate(status="badge_printed")
    stale = records.delegate_where(records.D.c.id == delegate.id)
    delegate.status = "cancelled"
    db.session.commit()
    monkeypatch.setattr(svc, "delegate_where", lambda condition: stale)
    result = scan(token_for(delegate))
    assert result.status == "checked_in"
    db.session.expire_all()
    assert delegate.status == "cancelled"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "checked_in")).one()
    assert entry.details["moved"] is False


def test_checkpoint_validation(app_ctx):
    with pytest.raises(CheckinError) as err:
        save_checkpoint("bad id!", "X", None, False)
    assert err.value.code == "invalid_checkpoint_id"
    with pytest.raises(CheckinError) as err:
        save_checkpoint("vip", "VIP", ["aliens"], False)
    assert err.value.code == "unknown_category"
    with pytest.raises(CheckinError) as err:
        save_checkpoint("main", "Main entrance", ["government"], False)
    assert err.value.code == "main_is_open"
    # Every category ticked is the same as "everyone".
    cp = save_checkpoint("hall", "Hall", ["ngo", "scholar", "expert", "government"], False)
    assert cp.allowed_categories is None


# ----------------------------------------------------------------------------- nonces


def test_same_nonce_is_recorded_once_and_answers_the_same(app_ctx, insert_strategy,
                                                           make_delegate):
    delegate = make_delegate(status="badge_printed")
    code = token_for(delegate)
    first = svc.check_in(code, "main", "nonce-0001")
    again = svc.check_in(code, "main", "nonce-0001")
    assert first.status == again.status == "checked_in"
    assert again.replayed and not first.replayed
    assert again.checked_in_at == first.checked_in_at
    assert count(Scan) == 1
    # A replay of a refused scan answers the refusal again.
    bad = svc.check_in("nonsense", "main", "nonce-0002")
    assert svc.check_in("nonsense", "main", "nonce-0002").status == bad.status == "invalid"
    assert count(Scan) == 2


def test_bad_nonce_and_code_types_are_errors(app_ctx):
    with pytest.raises(CheckinError) as err:
        svc.check_in("x", "main", "short")
    assert err.value.code == "invalid_nonce"
    with pytest.raises(CheckinError) as err:
        svc.check_in(None, "main", nonce())  # type: ignore[arg-type]
    assert err.value.code == "invalid_code"


def _run_threads(app, n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                try:
                    results[i] = work(i)
                finally:
                    db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


@pytest.fixture(params=["on_conflict", "savepoint"])
def insert_strategy(request, monkeypatch):
    """Run with INSERT … ON CONFLICT DO NOTHING, and with the SAVEPOINT fallback."""
    if request.param == "savepoint":
        monkeypatch.setattr(svc, "UPSERT_DIALECTS", ())
    return request.param


def test_twenty_scanners_at_once_check_in_exactly_once(app, app_ctx, insert_strategy,
                                                        make_delegate):
    delegate = make_delegate(status="badge_printed")
    code = token_for(delegate)
    statuses = _run_threads(app, 20, lambda i: svc.check_in(code, "main", f"race-{i:04d}").status)
    assert sorted(statuses).count("checked_in") == 1
    assert statuses.count("already_checked_in") == 19
    db.session.expire_all()
    assert count(CheckIn) == 1
    assert count(Scan) == 20
    assert db.session.scalar(select(Delegate.status)) == "checked_in"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "checked_in")) == 1


def test_same_nonce_from_many_threads_is_one_scan(app, app_ctx, insert_strategy, make_delegate):
    delegate = make_delegate(status="badge_printed")
    code = token_for(delegate)
    results = _run_threads(app, 8, lambda i: svc.check_in(code, "main", "one-nonce-123").status)
    assert results == ["checked_in"] * 8
    db.session.expire_all()
    assert count(Scan) == 1
    assert count(CheckIn) == 1


# ----------------------------------------------------------------------------- offline


def test_offline_sync_earliest_scan_wins(app_ctx, insert_strategy, make_delegate):
    early, late = make_delegate(status="badge_printed"), make_delegate(status="badge_printed")
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    # Scanner A was offline and admitted both at t0 and t0+1 min; meanwhile scanner B
    # (online) admitted `early` at t0+10 min.
    online = scan(token_for(early))
    assert online.status == "checked_in"
    svc_time = online.checked_in_at
    # A comes back and syncs its queue: its scan of `early` is older than B's.
    synced = scan(token_for(early), scanned_at=t0)
    assert synced.status == "checked_in"
    assert synced.offline
    assert synced.superseded_at == svc_time
    assert synced.checked_in_at == t0
    row = db.session.scalars(select(CheckIn).execution_options(populate_existing=True)).one()
    assert row.checked_in_at == t0
    # A duplicate made offline (later than the recorded check-in) is reported as such.
    dup = scan(token_for(early), scanned_at=t0 + timedelta(minutes=1))
    assert dup.status == "already_checked_in"
    assert dup.checked_in_at == t0
    # A first offline scan is a normal check-in at the time it was made.
    fresh = scan(token_for(late), scanned_at=t0 + timedelta(minutes=2))
    assert (fresh.status, fresh.checked_in_at) == ("checked_in", t0 + timedelta(minutes=2))
    assert count(CheckIn) == 2
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "checkin_time_corrected")) == 1


def test_offline_time_in_the_future_is_clamped(app_ctx, make_delegate):
    delegate = make_delegate(status="badge_printed")
    result = scan(token_for(delegate), scanned_at=datetime.now(UTC) + timedelta(days=1))
    assert result.scanned_at <= datetime.now(UTC)


def test_parse_scanned_at():
    # Relative to today: scans older than the offline window are refused.
    day = (datetime.now(UTC) - timedelta(hours=30)).date().isoformat()
    assert records.parse_scanned_at(f"{day}T01:02:03Z") == datetime.fromisoformat(
        f"{day}T01:02:03+00:00")
    assert records.parse_scanned_at(f"{day}T09:02:03+08:00").hour == 1
    old = (datetime.now(UTC) - timedelta(days=4)).isoformat()
    for bad in (f"{day}T01:02:03", "yesterday", 12, old, "0001-01-01T00:00:00+14:00"):
        with pytest.raises(CheckinError):
            records.parse_scanned_at(bad)  # type: ignore[arg-type]


def test_snapshot_has_what_offline_scanners_need_and_no_contact_data(app_ctx, make_delegate):
    delegate = make_delegate(head=True, status="badge_printed")
    make_delegate(status="submitted")
    data = snapshot_json(snapshot())
    assert [d["public_id"] for d in data["delegates"]] == [str(delegate.public_id)]
    entry = data["delegates"][0]
    assert entry["badge_serial"] == 1 and entry["head_of_delegation"] is True
    assert "email" not in entry and "phone" not in entry
    assert data["checkpoints"][0]["id"] == "main"
    assert data["public_keys"]
    assert data["category_labels"]["government"] == "Government official"
    assert data["country_names"] == {"CN": "China"}


# ----------------------------------------------------------------------------- dashboard


def test_dashboard_figures(app_ctx, make_delegate):
    add_vip()
    a = make_delegate("government", "badge_printed")
    b = make_delegate("expert", "badge_printed", head=True)
    make_delegate("expert", "badge_printed")
    make_delegate("ngo", status="submitted")
    scan(token_for(a))
    scan(token_for(a), "vip")
    scan(token_for(b), "vip")
    scan("junk")
    data = dashboard()
    cats = {c["key"]: (c["checked_in"], c["accredited"]) for c in data["categories"]}
    assert cats == {"government": (1, 1), "expert": (1, 2), "scholar": (0, 0), "ngo": (0, 0)}
    cps = {c["id"]: (c["checked_in"], c["eligible"]) for c in data["checkpoints"]}
    assert cps == {"main": (1, 3), "vip": (2, 2)}  # vip: government + the expert head
    assert data["totals"] == {"checked_in": 2, "accredited": 3}
    assert sum(b["count"] for b in data["arrivals"]["buckets"]) == 2
    assert len(data["arrivals"]["buckets"]) == 24
    assert [s["result"] for s in data["last_scans"]] == ["invalid", "checked_in", "checked_in",
                                                        "checked_in"]


# ----------------------------------------------------------------------------- pages


@pytest.mark.parametrize("path", ["/checkin", "/staff/dashboard", "/staff/dashboard.json",
                                  "/staff/devices", "/staff/checkpoints"])
def test_pages_send_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code in (302, 303, 401)
    if response.status_code != 401:
        assert "login" in response.headers["Location"]


@pytest.mark.parametrize(("role", "path", "expected"), [
    ("scanner", "/checkin", 200),
    ("desk", "/checkin", 200),
    ("admin", "/checkin", 200),
    ("scanner", "/staff/dashboard", 403),
    ("desk", "/staff/dashboard", 200),
    ("desk", "/staff/dashboard.json", 200),
    ("desk", "/staff/devices", 403),
    ("scanner", "/staff/checkpoints", 403),
    ("admin", "/staff/devices", 200),
    ("admin", "/staff/checkpoints", 200),
])
def test_page_roles(client, login, role, path, expected):
    login(role)
    assert client.get(path).status_code == expected


def test_scanner_page_has_no_inline_script_and_lists_checkpoints(app, client, login):
    login("scanner")
    with app.app_context():
        add_vip()
    html = client.get("/checkin").get_data(as_text=True)
    assert "VIP lounge" in html and "Main entrance" in html
    # Only external scripts and JSON data blocks: the CSP allows no inline script.
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="' in tag or 'type="application/json"' in tag, tag
    assert "style=" not in html
    assert '/static/js/scanner.js' in html


def test_photo_route(client, login, app, make_delegate):
    delegate = make_delegate(status="badge_printed")
    login("scanner")
    assert client.get(f"/checkin/photo/{delegate.public_id}.jpg").status_code == 404
    with app.app_context():
        db.session.add(DelegatePhoto(delegate_id=delegate.id,
                                     jpeg=b"\xff\xd8fakejpeg\xff\xd9"))
        db.session.commit()
    response = client.get(f"/checkin/photo/{delegate.public_id}.jpg")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    with app.app_context():
        assert delegate_json(delegate, True)["photo_url"].endswith(
            f"/checkin/photo/{delegate.public_id}.jpg")


def test_dashboard_page_renders_chart_and_json(app, client, login, make_delegate):
    with app.app_context():
        delegate = make_delegate(status="badge_printed")
        scan(token_for(delegate))
    login("desk")
    html = client.get("/staff/dashboard").get_data(as_text=True)
    assert "<svg" in html and "<rect" in html
    assert "/static/js/dashboard.js" in html
    data = client.get("/staff/dashboard.json").get_json()
    assert data["totals"] == {"checked_in": 1, "accredited": 1}


def test_devices_page_issues_once_and_revokes(app, client, login, get_csrf):
    login("admin")
    csrf = get_csrf("/staff/devices")
    page = client.post("/staff/devices", data={"csrf_token": csrf, "name": "Door 1"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    token = re.search(r'<pre class="token" id="device-token">([^<]+)</pre>', html).group(1)
    assert page.headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert device_svc.authenticate(token) is not None
    assert token not in client.get("/staff/devices").get_data(as_text=True)
    # Same name again is refused.
    again = client.post("/staff/devices", data={"csrf_token": csrf, "name": "Door 1"})
    assert again.status_code == 422
    with app.app_context():
        device = db.session.scalars(select(Device)).one()
    response = client.post(f"/staff/devices/{device.id}/revoke", data={"csrf_token": csrf})
    assert response.status_code == 303
    with app.app_context():
        assert device_svc.authenticate(token) is None
    assert client.post(f"/staff/devices/{device.id}/revoke",
                       data={"csrf_token": csrf}).status_code == 404


def test_checkpoints_page_adds_a_zone(app, client, login, get_csrf):
    login("admin")
    csrf = get_csrf("/staff/checkpoints")
    response = client.post("/staff/checkpoints", data={
        "csrf_token": csrf, "id": "vip", "name": "VIP lounge", "categories": ["government"],
        "admit_heads_of_delegation": "y", "active": "y"})
    assert response.status_code == 303
    with app.app_context():
        cp = db.session.scalar(select(Checkpoint).where(Checkpoint.id == "vip"))
        assert (cp.allowed_categories, cp.admit_heads_of_delegation, cp.active) == (
            ["government"], True, True)
    edit = client.get("/staff/checkpoints?edit=vip").get_data(as_text=True)
    assert 'value="VIP lounge"' in edit
    bad = client.post("/staff/checkpoints", data={"csrf_token": csrf, "id": "no spaces",
                                                  "name": "X"})
    assert bad.status_code == 422
    assert client.get("/staff/checkpoints?edit=nope").status_code == 404


# ----------------------------------------------------------------------------- CLI


def test_devices_cli_issue_list_revoke(runner, app_ctx):
    result = runner.invoke(args=["devices", "issue", "Gate 2 phone"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) >= 40
    assert device_svc.authenticate(token).name == "Gate 2 phone"
    assert runner.invoke(args=["devices", "issue", "Gate 2 phone"]).exit_code != 0
    listed = runner.invoke(args=["devices", "list"])
    assert "Gate 2 phone\tactive" in listed.output
    assert token not in listed.output
    revoked = runner.invoke(args=["devices", "revoke", "Gate 2 phone"])
    assert revoked.exit_code == 0
    assert device_svc.authenticate(token) is None
    assert runner.invoke(args=["devices", "revoke", "Gate 2 phone"]).exit_code != 0
    # The name can be used again for a replacement device (even a 100-character name).
    assert runner.invoke(args=["devices", "issue", "Gate 2 phone"]).exit_code == 0
    long_name = "D" * 100
    assert runner.invoke(args=["devices", "issue", long_name]).exit_code == 0
    assert runner.invoke(args=["devices", "revoke", long_name]).exit_code == 0
    assert runner.invoke(args=["devices", "issue", long_name]).exit_code == 0
    assert all(len(d.name) <= 100 for d in device_svc.list_devices())


def test_checkpoints_cli(runner):
    result = runner.invoke(args=["checkpoints", "add", "vip", "VIP lounge", "--category",
                                 "government", "--heads"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["checkpoints", "list"]).output
    assert "vip\tVIP lounge\tgovernment + heads of delegation" in listed
    assert "main\tMain entrance\tall accredited" in listed


# ----------------------------------------------------------------------------- scanner page


def _scanner_strings(html: str) -> dict:
    import json

    block = re.search(r'<script type="application/json" id="scanner-strings">(.*?)</script>',
                      html, re.S)
    assert block, "no scanner strings"
    return json.loads(block.group(1))


def test_scanner_page_is_a_kiosk_with_a_code_keyboard_control(client, login):
    login("scanner")
    html = client.get("/checkin").get_data(as_text=True)
    assert 'class="staff-nav"' not in html  # the desk's menu is not at the door
    assert 'class="inline sign-out"' in html and 'id="checkpoint-name"' in html
    assert 'id="type-code"' in html and 'inputmode="none"' in html
    assert 'id="confirm-admit"' in html and 'id="confirm-refuse"' in html
    strings = _scanner_strings(html)
    assert strings["refused"] == "Refused" and strings["confirm_identity"] == "Check identity"


def test_scanner_page_in_chinese_sets_the_checkpoint_name_off(client, login):
    login("scanner")
    with client.session_transaction() as session:
        session["lang"] = "zh"
    strings = _scanner_strings(client.get("/checkin").get_data(as_text=True))
    assert "「{place}」" in strings["already_at"]
    assert strings["refused"] == "拒绝入场"
    assert strings["confirm_identity"] == "请核验身份"


def test_service_worker_is_served_for_the_scanner_scope(client, login):
    login("scanner")
    response = client.get("/checkin/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    # Its folder is /checkin/, which does not cover the page /checkin: the header allows it.
    assert response.headers["Service-Worker-Allowed"] == "/checkin"
    assert response.headers["Cache-Control"] == "no-cache"
    source = response.get_data(as_text=True)
    import json

    urls = json.loads(source.split("\n", 1)[0].removeprefix("self.CHECKIN = ").rstrip(";"))
    assert urls["page"] == "/checkin" and urls["snapshot"] == "/api/v1/checkin-snapshot"
    html = client.get("/checkin").get_data(as_text=True)
    for path in urls["static"]:
        assert client.get(path).status_code == 200, path
    # Everything the page loads from /static/ is kept for a reload without network.
    loaded = set(re.findall(r'"(/static/[^"]+)"', html))  # tags and the page's config
    assert loaded <= set(urls["static"]), loaded - set(urls["static"])
    assert "addEventListener(\"fetch\"" in source
