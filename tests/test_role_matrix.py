"""Every staff route × (anonymous, scanner, desk, vetting, admin).

The routes come from the app's URL map (every endpoint of the "staff" blueprint and every
staff page of the "checkin" blueprint: /checkin, /staff/dashboard, devices, checkpoints), so pages
other engineers add later are covered too: anonymous visitors must be sent to the sign-in
page, scanners and the vetting role refused with 403 (vetting sees only its own pages,
listed in KNOWN). Routes this module knows get their exact expected status
for desk and admin; the others must at least not refuse desk/admin as anonymous and not fail.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import AnyConverter, IntegerConverter, UUIDConverter

from registration.extensions import db
from registration.models import StaffUser
from registration.services.staff_accounts import hash_password

ROLES = ("anonymous", "scanner", "desk", "vetting", "admin")
SIGNED_IN = ("scanner", "desk", "vetting", "admin")

# (endpoint, method) → {role: expected status} for desk and admin; anonymous and scanner
# follow the general rule unless listed in PUBLIC.
KNOWN = {
    ("staff.index", "GET"): {"desk": 302, "admin": 302, "vetting": 302},
    ("staff.delegates", "GET"): {"desk": 200, "admin": 200},
    ("staff.delegate", "GET"): {"desk": 200, "admin": 200},
    ("staff.edit", "GET"): {"desk": 200, "admin": 200},
    ("staff.edit", "POST"): {"desk": 422, "admin": 422},  # empty form: field errors
    ("staff.walk_in", "GET"): {"desk": 200, "admin": 200},
    ("staff.walk_in", "POST"): {"desk": 422, "admin": 422},
    ("staff.accounts", "GET"): {"desk": 403, "admin": 200},
    ("staff.accounts", "POST"): {"desk": 403, "admin": 422},
    ("staff.disable_account", "POST"): {"desk": 403, "admin": 303},
    ("staff.enable_account", "POST"): {"desk": 403, "admin": 303},
    ("staff.approve", "POST"): {"desk": 303, "admin": 409},  # desk approved it first
    ("staff.reject", "POST"): {"desk": 422, "admin": 422},  # no reason given
    ("staff.bulk_action", "POST"): {"desk": 303, "admin": 303},
    ("staff.decline_request", "POST"): {"desk": 303, "admin": 303},  # nothing pending
    ("staff.logout_everywhere", "POST"): {"scanner": 303, "desk": 303, "admin": 303,
                                          "vetting": 303},
    # Every signed-in role changes its own password (an empty form: field errors).
    ("staff.password", "GET"): {"scanner": 200, "desk": 200, "admin": 200, "vetting": 200},
    ("staff.password", "POST"): {"scanner": 422, "desk": 422, "admin": 422, "vetting": 422},
    # Vetting: the vetting role and admins only (identity data in clear); an empty
    # decision form: field errors.
    ("staff.vetting", "GET"): {"desk": 403, "admin": 200, "vetting": 200},
    ("staff.vetting_record", "GET"): {"desk": 403, "admin": 200, "vetting": 200},
    ("staff.vetting_decide", "POST"): {"desk": 403, "admin": 422, "vetting": 422},
    # The doors: scanners scan; desk and admin watch the dashboard; admins manage devices
    # and checkpoints.
    ("checkin.scanner", "GET"): {"scanner": 200, "desk": 200, "admin": 200},
    ("checkin.photo", "GET"): {"scanner": 404, "desk": 404, "admin": 404},  # no photo yet
    ("checkin.thumb", "GET"): {"scanner": 404, "desk": 404, "admin": 404},  # no photo yet
    ("checkin.service_worker", "GET"): {"scanner": 200, "desk": 200, "admin": 200},
    ("staff.dashboard", "GET"): {"desk": 200, "admin": 200},
    ("staff.dashboard_json", "GET"): {"desk": 200, "admin": 200},
    ("staff.devices", "GET"): {"desk": 403, "admin": 200},
    ("staff.devices", "POST"): {"desk": 403, "admin": 422},
    ("staff.checkpoints", "GET"): {"desk": 403, "admin": 200},
    ("staff.checkpoints", "POST"): {"desk": 403, "admin": 422},
    ("staff.revoke_device", "POST"): {"desk": 403, "admin": 404},  # no such device
    # Editions: every signed-in role switches; admins edit the edition's settings.
    ("staff.switch_edition", "POST"): {"scanner": 303, "desk": 303, "admin": 303,
                                       "vetting": 303},
    ("staff.settings", "GET"): {"desk": 403, "admin": 200},
    ("staff.settings", "POST"): {"desk": 403, "admin": 422},  # empty form: field errors
    # Invitations: the desk's work (no such invitation: 404).
    ("staff.invitations", "GET"): {"desk": 200, "admin": 200},
    ("staff.invitations", "POST"): {"desk": 422, "admin": 422},
    ("staff.resend_invitation", "POST"): {"desk": 404, "admin": 404},
    ("staff.revoke_invitation", "POST"): {"desk": 404, "admin": 404},
    # Delegations: the desk's work (no such delegation: 404).
    ("staff.delegations", "GET"): {"desk": 200, "admin": 200},
    ("staff.approve_nominations", "POST"): {"desk": 404, "admin": 404},
    ("staff.delegation_quotas", "POST"): {"desk": 404, "admin": 404},
    ("staff.add_focal_point", "POST"): {"desk": 404, "admin": 404},
    ("staff.delegation_letter", "GET"): {"desk": 404, "admin": 404},
    ("staff.print_delegation", "POST"): {"desk": 404, "admin": 404},
    ("staff.substitute_delegate", "GET"): {"desk": 404, "admin": 404},
    ("staff.substitute_delegate", "POST"): {"desk": 404, "admin": 404},
    ("staff.delegation_head", "POST"): {"desk": 404, "admin": 404},
    # Printers: admins register them; every desk reads their state, picks its own printer
    # and follows its jobs.
    ("staff.printers", "GET"): {"desk": 403, "admin": 200},
    ("staff.printers", "POST"): {"desk": 403, "admin": 422},  # empty form: field errors
    ("staff.printers_status", "GET"): {"desk": 200, "admin": 200},
    ("staff.remove_printer", "POST"): {"desk": 403, "admin": 404},  # no such printer
    ("staff.test_printer", "POST"): {"desk": 403, "admin": 404},
    ("staff.choose_printer", "POST"): {"desk": 303, "admin": 303},
    ("staff.badge_print_on_printer", "POST"): {"desk": 303, "admin": 303},  # none chosen
    ("staff.print_job", "GET"): {"desk": 404, "admin": 404},  # no such job
    ("staff.print_job_json", "GET"): {"desk": 404, "admin": 404},
    ("staff.retry_print_job", "POST"): {"desk": 404, "admin": 404},
    ("staff.print_batch_on_printer", "POST"): {"desk": 303, "admin": 303},  # none chosen
    ("staff.print_batch_progress", "GET"): {"desk": 404, "admin": 404},  # no such job
    ("staff.print_batch_progress_json", "GET"): {"desk": 404, "admin": 404},
    # Visa letters: the desk (and the vetting role) decide; the desk prints (no such letter:
    # 404; nothing issued to print: back to the queue).
    ("staff.visa_letters", "GET"): {"desk": 200, "admin": 200, "vetting": 200},
    ("staff.approve_visa_letter", "POST"): {"desk": 404, "admin": 404, "vetting": 404},
    ("staff.refuse_visa_letter", "POST"): {"desk": 404, "admin": 404, "vetting": 404},
    ("staff.withdraw_visa_letter", "POST"): {"desk": 404, "admin": 404, "vetting": 404},
    ("staff.visa_letter_pdf", "GET"): {"desk": 404, "admin": 404},
    ("staff.print_visa_letters", "GET"): {"desk": 303, "admin": 303},
    # Watchlist matches: the vetting role and admins only (no such match: 404).
    ("staff.watchlist_hits", "GET"): {"desk": 403, "vetting": 200, "admin": 200},
    ("staff.review_watchlist_hit", "POST"): {"desk": 403, "vetting": 404, "admin": 404},
}
# Reachable without the role check: the sign-in page and signing out.
PUBLIC = {
    ("staff.login", "GET"): {"anonymous": 200, "scanner": 302, "desk": 302, "admin": 302,
                           "vetting": 302},
    ("staff.login", "POST"): {"anonymous": 422, "scanner": 422, "desk": 422, "admin": 422,
                            "vetting": 422},
    ("staff.logout", "POST"): {"anonymous": 303, "scanner": 303, "desk": 303, "admin": 303,
                             "vetting": 303},
    # The emailed one-time sign-in link: anyone may open one; a bad token is gone (410).
    ("staff.login_link", "GET"): {"anonymous": 410, "scanner": 410, "desk": 410, "admin": 410,
                                 "vetting": 410},
    ("staff.login_link", "POST"): {"anonymous": 410, "scanner": 410, "desk": 410, "admin": 410,
                                 "vetting": 410},
}


def staff_routes(app: Flask) -> list[tuple[str, str, object]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not (rule.endpoint.startswith("staff.") or rule.endpoint.startswith("checkin.")):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule))
    return sorted(routes, key=lambda r: (r[1] != "GET", r[0], r[2].rule))


def build_path(rule, values: dict) -> str:
    args = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, UUIDConverter):
            args[name] = values["uuid"]
        elif isinstance(converter, IntegerConverter):
            args[name] = values.get(name, values["int"])
        elif isinstance(converter, AnyConverter):
            args[name] = sorted(converter.items)[0]
        else:
            args[name] = values.get(name, "no-such-thing")
    path, query = rule.build(args, append_unknown=False)
    return query if not path else (path if not query else f"{path}?{query}")


def make_staff(role: str) -> StaffUser:
    staff = StaffUser(email=f"{role}@matrix.test", role=role, active=True, session_version=0,
                      failed_logins=0, password_hash=hash_password("matrix password 123"))
    db.session.add(staff)
    db.session.commit()
    return staff


def client_as(app: Flask, staff: StaffUser | None, csrf_from):
    """A test client signed in as `staff` (or anonymous) with a valid CSRF token for its
    session, so that a refusal is the role check and not CSRF."""
    client = app.test_client()
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    if staff is not None:
        with app.app_context():
            user_id = db.session.get(StaffUser, staff.id).get_id()
        with client.session_transaction() as session:  # keeps the CSRF secret
            session["_user_id"] = user_id
            session["_fresh"] = True
    return client, token


def expected(endpoint: str, method: str, role: str) -> int | None:
    """The exact status, or None when only the general rule applies."""
    if (endpoint, method) in PUBLIC:
        return PUBLIC[(endpoint, method)][role]
    if role == "anonymous":
        return 302
    known = KNOWN.get((endpoint, method), {})
    if role in known:
        return known[role]
    if role in ("scanner", "vetting"):
        return 403
    return None


def test_role_matrix(make_app, make_delegate, csrf_from):
    app = make_app()
    failures: list[str] = []
    with app.app_context():
        staff = {role: make_staff(role) for role in SIGNED_IN}
        victim = StaffUser(email="victim@matrix.test", role="desk", active=True,
                           session_version=0, failed_logins=0, password_hash="x")
        db.session.add(victim)
        db.session.commit()
        delegate = make_delegate()
        values = {"uuid": delegate.public_id, "int": victim.id, "staff_id": victim.id}
        for account in staff.values():
            db.session.refresh(account)  # read after the context ends
    routes = staff_routes(app)
    endpoints = {endpoint for endpoint, _, _ in routes}
    assert {"staff.login", "staff.delegates", "staff.delegate", "staff.accounts",
            "staff.walk_in", "staff.edit", "staff.bulk_action"} <= endpoints

    for role in ROLES:
        for endpoint, method, rule in routes:
            if endpoint == "staff.logout_everywhere" and role != "anonymous":
                continue  # checked last: it ends the role's sessions
            failures += check(app, staff.get(role), role, endpoint, method, rule, values,
                              csrf_from)
    for role in SIGNED_IN:
        rule = app.url_map._rules_by_endpoint["staff.logout_everywhere"][0]
        failures += check(app, staff[role], role, "staff.logout_everywhere", "POST", rule,
                          values, csrf_from)
    assert not failures, "\n".join(failures)


def check(app, staff, role, endpoint, method, rule, values, csrf_from) -> list[str]:
    client, token = client_as(app, staff, csrf_from)
    path = build_path(rule, values)
    if method == "GET":
        response = client.get(path)
    else:
        data = {"csrf_token": token}
        if endpoint == "staff.bulk_action":
            data.update(action="approve", selected=str(values["uuid"]))
        response = client.open(path, method=method, data=data)
    status = response.status_code
    want = expected(endpoint, method, role)
    label = f"{role:9} {method:4} {path} ({endpoint}) → {status}"
    location = response.headers.get("Location", "")
    if want is not None:
        if status != want:
            return [f"{label}, expected {want}"]
        if role == "anonymous" and want == 302 and not location.startswith("/staff/login"):
            return [f"{label}, redirected to {location!r} instead of the sign-in page"]
        return []
    # A route this test does not know (another engineer's): desk and admin are let in.
    if status >= 500 or status in (401,) or location.startswith("/staff/login"):
        return [f"{label}: desk/admin must get past the sign-in check without an error"]
    if role == "admin" and status == 403:
        return [f"{label}: admin passes every role check"]
    return []


def test_only_admins_issue_kiosk_tokens(make_app, csrf_from):
    """A kiosk token prints badges: the devices page issues one to an admin only (the other
    roles are refused before anything is made), and the kiosk page is public (it holds no
    data until a kiosk token is pasted into it)."""
    from registration.models import Device
    from registration.services import printers as printer_service

    app = make_app()
    with app.app_context():
        staff = {role: make_staff(role) for role in ("scanner", "desk", "admin")}
        printer = printer_service.add("Kiosk printer", "ipp://127.0.0.1:9/ipp/print", "a6")
        printer_id = str(printer.id)
        for account in staff.values():
            db.session.refresh(account)
    wanted = {"anonymous": 302, "scanner": 403, "desk": 403, "admin": 200}
    for role, status in wanted.items():
        client, token = client_as(app, staff.get(role), csrf_from)
        response = client.post("/staff/devices", data={
            "csrf_token": token, "name": f"Kiosk of {role}", "kiosk": "y",
            "printer": printer_id})
        assert response.status_code == status, (role, response.status_code)
        assert ('id="device-token"' in response.get_data(as_text=True)) == (role == "admin")
        assert client.get("/kiosk").status_code == 200
    with app.app_context():
        made = db.session.scalars(db.select(Device)).all()
        assert [(d.name, d.kiosk, d.printer_id) for d in made] == [
            ("Kiosk of admin", True, int(printer_id))]


def test_out_of_range_ids_are_404_not_500(client, login, get_csrf):
    login("admin")
    token = get_csrf("/staff/accounts")
    huge = "999999999999999999999"
    for path in (f"/staff/devices/{huge}/revoke", f"/staff/accounts/{huge}/disable",
                 f"/staff/accounts/{huge}/enable"):
        assert client.post(path, data={"csrf_token": token}).status_code == 404


def test_a_delegate_of_another_edition_is_not_found_on_any_staff_route(make_app,
                                                                       make_delegate,
                                                                       csrf_from):
    """The edition dimension: every staff route that takes a delegate answers 404 for a
    delegate of an edition other than the one the desk works on, for every role."""
    from registration.editions import edition_scope, require_edition

    app = make_app()
    created = app.test_cli_runner().invoke(args=[
        "editions", "create", "2027", "--name", "Forum 2027", "--starts", "2027-12-07",
        "--ends", "2027-12-09"])
    assert created.exit_code == 0, created.output
    with app.app_context():
        staff = {role: make_staff(role) for role in ("desk", "admin")}
        with edition_scope(require_edition("2027")):
            other = make_delegate(status="approved")
        values = {"uuid": other.public_id, "int": 1}
        for account in staff.values():
            db.session.refresh(account)
    routes = [(e, m, r) for e, m, r in staff_routes(app) if "public_id" in r.arguments
              or any(isinstance(r._converters[a], UUIDConverter) for a in r.arguments)]
    assert len(routes) >= 8
    failures = []
    for role, account in staff.items():
        for endpoint, method, rule in routes:
            client, token = client_as(app, account, csrf_from)
            path = build_path(rule, values)
            response = (client.get(path) if method == "GET"
                        else client.open(path, method=method, data={"csrf_token": token}))
            refused_by_role = KNOWN.get((endpoint, method), {}).get(role) == 403
            if response.status_code != 404 and not (refused_by_role
                                                    and response.status_code == 403):
                failures.append(f"{role} {method} {path} ({endpoint}) → "
                                f"{response.status_code}, expected 404")
    assert not failures, "\n".join(failures)


def test_focal_points_see_only_their_own_delegation(make_app, csrf_from):
    """Every /delegation/ route × (anonymous, a focal point of A, desk staff), aimed at a
    delegate of delegation B: nobody but B's focal points reaches B's delegates, and a focal
    point's session opens no staff page."""
    from registration.models import Delegate, Delegation, FocalPoint
    from registration.services import delegations as service

    app = make_app()
    with app.app_context():
        a, focals_a = service.create("Atlantis", "FR", focal_emails=["fp@atlantis.example"],
                                     quotas={"government": 2})
        b, _focals_b = service.create("Borduria", "DE", focal_emails=["fp@borduria.example"],
                                      quotas={"government": 2})
        stranger = Delegate(category="government", status="approved", source="nomination",
                            given_name="Secretperson", family_name="Bordurian",
                            email="s@borduria.example", email_key="s@borduria.example",
                            reference="FXSECRET1", delegation_id=b.id, details={},
                            badge_serial=1, print_count=0, needs_reprint=False)
        db.session.add(stranger)
        db.session.commit()
        values = {"uuid": stranger.public_id, "int": stranger.id,
                  "token": "no-such-token"}
        focal_a_id = focals_a[0].id
        desk = make_staff("desk")
        db.session.refresh(desk)  # read after the context ends
        assert db.session.get(FocalPoint, focal_a_id) is not None
        assert db.session.get(Delegation, a.id) is not None
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("delegation.")]
    assert {"delegation.home", "delegation.nominate", "delegation.head",
            "delegation.letter", "delegation.signin"} <= {r.endpoint for r in rules}
    failures = []
    for who in ("anonymous", "focal", "desk"):
        for rule in rules:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                client, token = client_as(app, desk if who == "desk" else None, csrf_from)
                if who == "focal":
                    with client.session_transaction() as session:
                        session["focal_point"] = focal_a_id
                path = build_path(rule, values)
                for query in ("", f"?replaces={values['uuid']}"):
                    data = {"csrf_token": token, "delegate": str(values["uuid"])}
                    response = client.open(path + query, method=method, data=data)
                    body = response.get_data(as_text=True)
                    label = f"{who} {method} {path}{query} → {response.status_code}"
                    if response.status_code >= 500:
                        failures.append(f"{label}: server error")
                    if "Secretperson" in body or "FXSECRET1" in body or "Borduria" in body:
                        failures.append(f"{label}: shows another delegation")
                    if who != "focal" and response.status_code == 200 and \
                            rule.endpoint in ("delegation.nominate",):
                        failures.append(f"{label}: not signed in as a focal point")
        # A focal point's session is no staff session.
    client, _token = client_as(app, None, csrf_from)
    with client.session_transaction() as session:
        session["focal_point"] = focal_a_id
    response = client.get("/staff/delegates")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    with app.app_context():
        stranger = db.session.scalars(db.select(Delegate).where(
            Delegate.reference == "FXSECRET1")).one()
        assert not stranger.details.get("head_of_delegation")
        assert stranger.status == "approved"
    assert not failures, "\n".join(failures)
