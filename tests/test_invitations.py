"""Invitations: `editions settings --invitation-only`, `invitations create|import|list|
revoke`, the personal link on /register (once, only for the invited address, expired /
used / revoked said plainly, --approve accredits), and the desk's invitations page."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from registration.extensions import db
from registration.models import Delegate, OutboxMessage, Status

EMAIL = "li.na@example.cn"


def today():
    return datetime.now(UTC).date()


def link_from(output: str) -> str:
    found = re.search(r"https?://\S+/register\?invitation=\S+", output)
    assert found, output
    return found.group(0).split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def invite(runner, email: str = EMAIL, *extra: str) -> str:
    result = runner.invoke(args=["invitations", "create", email, "--category", "government",
                                 "--given-name", "Na", "--family-name", "Li", *extra])
    assert result.exit_code == 0, result.output
    return link_from(result.output)


def register(client, link: str, csrf_from, form_data, **overrides):
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    data = form_data(csrf_from(page.get_data(as_text=True)), "government",
                     given_name="Na", family_name="Li", email=EMAIL)
    data.update(overrides)
    return client.post(link, data=data)


def delegates(app) -> list[Delegate]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Delegate)))


def test_settings_command_shows_and_switches_categories(runner, client):
    shown = runner.invoke(args=["editions", "settings"])
    assert shown.exit_code == 0 and "government   open" in shown.output
    changed = runner.invoke(args=["editions", "settings", "--invitation-only",
                                  "government,expert"])
    assert changed.exit_code == 0, changed.output
    assert "government   invitation only" in changed.output
    assert "expert       invitation only" in changed.output
    assert "scholar      open" in changed.output
    page = client.get("/register").get_data(as_text=True)
    assert 'value="government"' not in page and 'value="expert"' not in page
    bad = runner.invoke(args=["editions", "settings", "--invitation-only", "royalty"])
    assert bad.exit_code == 1 and "Unknown category royalty" in bad.output
    opened = runner.invoke(args=["editions", "settings", "--invitation-only", "none"])
    assert opened.exit_code == 0 and "invitation only" not in opened.output
    assert 'value="government"' in client.get("/register").get_data(as_text=True)


def test_invitee_registers_in_an_invitation_only_category(app, runner, client, csrf_from,
                                                         form_data, get_csrf):
    runner.invoke(args=["editions", "settings", "--invitation-only", "government"])
    # Without an invitation the public form refuses the category...
    assert client.post("/register", data=form_data(get_csrf(), "government",
                                                   email=EMAIL)).status_code == 422
    link = invite(runner)
    with app.app_context():
        mail = db.session.scalars(sa.select(OutboxMessage)).one()
        assert mail.recipient == EMAIL and "invitation" in mail.subject.lower()
        body = email.message_from_bytes(bytes(mail.message), policy=email.policy.default)
        assert link in body.get_content()
    page = client.get(link).get_data(as_text=True)
    # ...the invitation offers it, alone, with what the desk knows filled in.
    assert 'value="government"' in page and 'value="expert"' not in page
    assert 'value="Na"' in page and f'value="{EMAIL}"' in page
    listed = runner.invoke(args=["invitations", "list", "--status", "opened"])
    assert EMAIL in listed.output
    response = register(client, link, csrf_from, form_data)
    assert response.status_code == 303, response.get_data(as_text=True)
    [delegate] = delegates(app)
    assert (delegate.email, delegate.category, delegate.status, delegate.source) == (
        EMAIL, "government", "submitted", "invitation")
    assert EMAIL in runner.invoke(args=["invitations", "list", "--status",
                                        "registered"]).output
    # Twice: the link is used up.
    again = client.get(link)
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)


def test_a_forwarded_invitation_is_useless_to_another_address(app, runner, client,
                                                             csrf_from, form_data):
    link = invite(runner)
    response = register(client, link, csrf_from, form_data, email="someone.else@example.org")
    assert response.status_code == 422
    assert "ask the organiser for your own invitation" in response.get_data(as_text=True)
    assert delegates(app) == []
    # The invitee can still use it.
    assert register(client, link, csrf_from, form_data).status_code == 303


def test_expired_and_revoked_links_say_so(app, runner, client, csrf_from, form_data):
    past = runner.invoke(args=["invitations", "create", EMAIL, "--category", "government",
                               "--expires", (today() - timedelta(days=3)).isoformat()])
    assert past.exit_code == 1 and "in the past" in past.output
    link = invite(runner, EMAIL, "--expires", (today() + timedelta(days=2)).isoformat())
    with app.app_context():
        db.session.execute(sa.text("UPDATE invitation SET expires_on = :d"),
                           {"d": today() - timedelta(days=2)})
        db.session.commit()
    expired = client.get(link)
    assert expired.status_code == 410 and "has expired" in expired.get_data(as_text=True)
    assert EMAIL in runner.invoke(args=["invitations", "list", "--status", "expired"]).output
    other = invite(runner, "other@example.org")
    revoked = runner.invoke(args=["invitations", "revoke", "other@example.org"])
    assert revoked.exit_code == 0, revoked.output
    page = client.get(other)
    assert page.status_code == 410 and "withdrawn" in page.get_data(as_text=True)
    data = form_data(csrf_from(client.get("/register").get_data(as_text=True)), "government",
                     email="other@example.org")
    assert client.post(other, data=data).status_code == 410
    assert delegates(app) == []
    assert client.get("/register?invitation=forged").status_code == 410
    assert runner.invoke(args=["invitations", "revoke", "nobody@example.org"]).exit_code == 1


def test_approve_accredits_at_once(app, runner, client, csrf_from, form_data):
    link = invite(runner, EMAIL, "--approve")
    # Every field rule still applies.
    bad = register(client, link, csrf_from, form_data, phone="12")
    assert bad.status_code == 422
    assert register(client, link, csrf_from, form_data).status_code == 303
    [delegate] = delegates(app)
    assert delegate.status == "approved"


def test_erasure_also_blanks_the_invitation_and_who_vetting_asked(app, runner, client,
                                                                 csrf_from, form_data):
    from registration.models import Invitation, VettingRequest
    from registration.services import self_service

    link = invite(runner, EMAIL)
    assert register(client, link, csrf_from, form_data).status_code == 303
    with app.app_context():
        [delegate] = db.session.scalars(sa.select(Delegate)).all()
        db.session.add(VettingRequest(delegate_id=delegate.id, edition_id=delegate.edition_id,
                                      question="Page 2?", mailed_to=EMAIL))
        db.session.commit()
        self_service.erase(delegate)
        request = db.session.scalars(sa.select(VettingRequest)).one()
        assert (request.question, request.mailed_to) == (None, "")  # who was asked: gone
        invitation = db.session.scalars(sa.select(Invitation)).one()
        assert invitation.delegate_id == delegate.id  # still counted as used
        assert (invitation.email, invitation.email_key, invitation.prefill) == ("", "", {})


def test_a_second_invitation_for_the_same_address_is_refused(runner):
    invite(runner)
    again = runner.invoke(args=["invitations", "create", EMAIL, "--category", "expert"])
    assert again.exit_code == 1 and "already has an invitation" in again.output
    assert runner.invoke(args=["invitations", "revoke", EMAIL]).exit_code == 0
    assert runner.invoke(args=["invitations", "create", EMAIL, "--category",
                               "expert"]).exit_code == 0


def test_import_is_all_or_nothing(app, runner, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("email,category,given_name,family_name,expires\n"
                   "a@example.org,government,Ann,Lee,2099-01-01\n"
                   "b@example.org,royalty,Bo,Ma,\n"
                   "not-an-email,expert,Cy,Wu,someday\n", encoding="utf-8")
    result = runner.invoke(args=["invitations", "import", str(bad)])
    assert result.exit_code == 1
    assert "row 3:" in result.output and "row 4:" in result.output
    assert "0 invitations" in runner.invoke(args=["invitations", "list"]).output
    good = tmp_path / "good.csv"
    good.write_text("email,category,given_name,family_name,organisation,delegation_country,"
                    "expires\n"
                    "a@example.org,government,Ann,Lee,Ministry of Foreign Affairs,SG,"
                    "2099-01-01\n"
                    "b@example.org,expert,Bo,Ma,,,\n", encoding="utf-8")
    result = runner.invoke(args=["invitations", "import", str(good), "--approve"])
    assert result.exit_code == 0, result.output
    assert "2 invitations created" in result.output
    listed = runner.invoke(args=["invitations", "list"]).output
    assert "a@example.org" in listed and "expires 2099-01-01" in listed
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 2
        from registration.models import Invitation

        ann = db.session.scalars(sa.select(Invitation).where(
            Invitation.email == "a@example.org")).one()
        # The file's delegation_country fills the form's delegation (country) field.
        assert ann.prefill["delegation"] == "SG" and ann.delegation_id is None


def test_desk_creates_resends_revokes_and_filters(app, client, login, csrf_from, form_data,
                                                  runner):
    login("desk")
    page = client.get("/staff/invitations")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    bad = client.post("/staff/invitations", data={"csrf_token": token, "email": "nope",
                                                  "category": "expert", "language": "en"})
    assert bad.status_code == 422 and "valid email address" in bad.get_data(as_text=True)
    assert runner.invoke(args=["delegations", "create", "China", "--country", "CN",
                               "--focal-point", "fp@mfa.example.cn", "--quota",
                               "government=1"]).exit_code == 0
    token = csrf_from(client.get("/staff/invitations").get_data(as_text=True))
    made = client.post("/staff/invitations", data={
        "csrf_token": token, "email": EMAIL, "category": "government", "given_name": "Na",
        "family_name": "Li", "language": "zh", "expires": "2099-12-31", "approve": "y",
        "delegation": "China"})
    assert made.status_code == 303
    listed = client.get("/staff/invitations").get_data(as_text=True)
    assert EMAIL in listed and "2099-12-31" in listed
    with app.app_context():
        from registration.models import Invitation

        invitation = db.session.scalars(sa.select(Invitation)).one()
        assert invitation.delegation_id is not None
        first_mail = db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.recipient == EMAIL)).one()
        body = email.message_from_bytes(bytes(first_mail.message),
                                        policy=email.policy.default).get_content()
        old_link = link_from(body)
        assert "诚邀" in body or "邀请" in body  # mailed in the invitee's language
        inv_id = invitation.id
    assert client.post(f"/staff/invitations/{inv_id}/resend",
                       data={"csrf_token": token}).status_code == 303
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.recipient == EMAIL).order_by(OutboxMessage.id)).all()
        assert len(rows) == 2
        new_link = link_from(email.message_from_bytes(
            bytes(rows[1].message), policy=email.policy.default).get_content())
    assert new_link != old_link
    other = app.test_client()
    assert other.get(old_link).status_code == 410  # the earlier link died
    response = register(other, new_link, csrf_from, form_data)
    assert response.status_code == 303
    [delegate] = delegates(app)
    assert delegate.status == "approved"
    found = client.get("/staff/delegates?source=invitation").get_data(as_text=True)
    assert "Li" in found and str(delegate.reference) in found
    assert delegate.reference not in client.get(
        "/staff/delegates?source=walk_in").get_data(as_text=True)
    # A used invitation can be neither resent nor revoked.
    client.post(f"/staff/invitations/{inv_id}/revoke", data={"csrf_token": token})
    assert "registered" in runner.invoke(args=["invitations", "list"]).output
    spare = runner.invoke(args=["invitations", "create", "spare@example.org", "--category",
                                "ngo"])
    assert spare.exit_code == 0
    with app.app_context():
        from registration.models import Invitation

        spare_id = db.session.scalars(sa.select(Invitation.id).where(
            Invitation.email == "spare@example.org")).one()
    assert client.post(f"/staff/invitations/{spare_id}/revoke",
                       data={"csrf_token": token}).status_code == 303
    assert client.get(link_from(spare.output)).status_code == 410
    assert "revoked" in client.get("/staff/invitations?state=revoked").get_data(as_text=True)


def test_invitation_into_a_delegation(app, runner, client, csrf_from, form_data, tmp_path):
    unknown = runner.invoke(args=["invitations", "create", EMAIL, "--category", "government",
                                  "--delegation", "Atlantis"])
    assert unknown.exit_code == 1 and "no delegation called “Atlantis”" in unknown.output
    assert runner.invoke(args=["delegations", "create", "China", "--country", "CN",
                               "--focal-point", "fp@mfa.example.cn", "--quota",
                               "government=1"]).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("email,category,given_name,delegation\n"
                   "a@example.org,government,Ann,China\n"
                   "b@example.org,government,Bo,Atlantis\n", encoding="utf-8")
    result = runner.invoke(args=["invitations", "import", str(bad)])
    assert result.exit_code == 1 and "row 3:" in result.output and "Atlantis" in result.output
    assert "row 2:" not in result.output
    link = invite(runner, EMAIL, "--delegation", "china")
    invite(runner, "other@example.org")
    listed = runner.invoke(args=["invitations", "list"]).output.splitlines()
    assert [line for line in listed if "delegation: China" in line] == [
        line for line in listed if EMAIL in line]
    assert not any("delegation" in line for line in listed if "other@example.org" in line)
    assert register(client, link, csrf_from, form_data).status_code == 303
    [delegate] = delegates(app)
    with app.app_context():
        from registration.models import Delegation

        china = db.session.scalars(sa.select(Delegation)).one()
        assert delegate.delegation_id == china.id


def test_an_invitation_into_a_delegation_takes_a_place_within_its_quota(
        app, runner, client, csrf_from, form_data, login, tmp_path):
    assert runner.invoke(args=["delegations", "create", "China", "--country", "CN",
                               "--focal-point", "fp@mfa.example.cn", "--quota",
                               "government=2"]).exit_code == 0
    first = invite(runner, EMAIL, "--delegation", "China", "--approve")
    # The second comes from a file, as the desk's import makes them; a third in the same
    # file would promise a place the quota does not have: the whole file is refused.
    rows = tmp_path / "more.csv"
    rows.write_text("email,category,given_name,family_name,delegation\n"
                    "wu.bo@example.cn,government,Bo,Wu,China\n"
                    "zhao.lei@example.cn,government,Lei,Zhao,China\n", encoding="utf-8")
    too_many = runner.invoke(args=["invitations", "import", str(rows)])
    assert too_many.exit_code == 1
    assert ("row 3: The China quota for Government official is 2: 0 registered and "
            "2 invited, none left.") in too_many.output, too_many.output
    rows.write_text("email,category,given_name,family_name,delegation\n"
                    "wu.bo@example.cn,government,Bo,Wu,China\n", encoding="utf-8")
    assert runner.invoke(args=["invitations", "import", str(rows)]).exit_code == 0
    # One more, one by one: refused with the numbers, and nothing is mailed.
    third = runner.invoke(args=["invitations", "create", "zhao.lei@example.cn",
                                "--category", "government", "--delegation", "China"])
    assert third.exit_code == 1 and "2 invited, none left" in third.output, third.output
    assert "zhao.lei@example.cn" not in runner.invoke(args=["invitations", "list"]).output
    with app.app_context():
        from registration.services import invitations as invitation_service

        [second_invitation] = [i for i, _state in invitation_service.listing()
                               if i.email == "wu.bo@example.cn"]
        second = "/" + invitation_service.link(second_invitation).split("://", 1)[1].split(
            "/", 1)[1]
    # The desk lowers the quota after mailing both: the registration checks it again.
    login("desk")
    token = csrf_from(client.get("/staff/delegations").get_data(as_text=True))
    with app.app_context():
        from registration.services import delegations as delegation_service

        china = delegation_service.find("China").id
    client.post(f"/staff/delegations/{china}/quotas",
                data={"csrf_token": token, "quotas": "government=1"})
    assert "government 0/1" in runner.invoke(args=["delegations", "list"]).output
    assert register(app.test_client(), first, csrf_from, form_data).status_code == 303
    other = app.test_client()
    refused = register(other, second, csrf_from, form_data, email="wu.bo@example.cn",
                       given_name="Bo", family_name="Wu")
    assert refused.status_code == 422
    assert "The quota for Government official is 1 and 1 are nominated" in \
        refused.get_data(as_text=True)
    assert len(delegates(app)) == 1  # nothing stored
    assert "government 1/1" in runner.invoke(args=["delegations", "list"]).output
    # The invitation was not used up: once the desk gives a larger quota, it works.
    [line] = [row for row in runner.invoke(args=["invitations", "list"]).output.splitlines()
              if "wu.bo@example.cn" in row]
    assert "opened" in line and "registered" not in line, line
    client.post(f"/staff/delegations/{china}/quotas",
                data={"csrf_token": token, "quotas": "government=2"})
    again = register(other, second, csrf_from, form_data, email="wu.bo@example.cn",
                     given_name="Bo", family_name="Wu")
    assert again.status_code == 303, again.get_data(as_text=True)
    assert "government 2/2" in runner.invoke(args=["delegations", "list"]).output


def test_a_head_ticked_on_an_approving_invitation_is_a_request_for_the_desk(
        app, runner, client, csrf_from, form_data, login):
    assert runner.invoke(args=["delegations", "create", "China", "--country", "CN",
                               "--focal-point", "fp@mfa.example.cn", "--quota",
                               "government=2"]).exit_code == 0
    link = invite(runner, EMAIL, "--delegation", "China", "--approve")
    assert register(client, link, csrf_from, form_data, head_of_delegation="y"
                    ).status_code == 303
    [delegate] = delegates(app)
    assert delegate.status == "approved"  # accredited at once …
    assert not delegate.details.get("head_of_delegation")  # … but not head: a request
    assert "head:" not in runner.invoke(args=["delegations", "list"]).output
    login("desk")
    record = client.get(f"/staff/delegates/{delegate.public_id}").get_data(as_text=True)
    assert 'id="change-request"' in record and "head of my delegation" in record
    with app.app_context():
        from registration.models import AuditEntry

        entry = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.delegate_id == delegate.id,
            AuditEntry.action == "change_requested")).one()
        assert entry.details["requested"] == {"head_of_delegation": True}
    # The desk accepts it through the edit form, as any delegate's request.
    edit = client.get(f"/staff/delegates/{delegate.public_id}/edit?apply_request=1")
    assert 'name="head_of_delegation"' in edit.get_data(as_text=True)


def test_approving_an_invitee_who_ticked_head_keeps_one_head(app, runner, client, csrf_from,
                                                            form_data, make_delegate, login):
    """An invitee into a delegation (no --approve) ticks "head of delegation": when the desk
    accredits them, the one-head rule applies — the delegation's head stays the head and
    the newcomer's tick is dropped and audited; with no head yet, they become the head."""
    from registration.models import AuditEntry, Delegation
    from registration.services import accreditation
    from registration.services import delegations as service
    from registration.services.checkin import is_head_of_delegation

    assert runner.invoke(args=["delegations", "create", "China", "--country", "CN",
                               "--focal-point", "fp@mfa.example.cn",
                               "--quota", "government=3"]).exit_code == 0
    with app.app_context():
        china = db.session.scalars(sa.select(Delegation)).one()
        head_id = make_delegate(status=Status.APPROVED, delegation_id=china.id).id
        service.set_head(china, db.session.get(Delegate, head_id), "test")
    link = invite(runner, EMAIL, "--delegation", "China")
    assert register(client, link, csrf_from, form_data,
                    head_of_delegation="y").status_code == 303
    with app.app_context():
        newcomer = db.session.scalars(sa.select(Delegate).where(
            Delegate.email == EMAIL)).one()
        accreditation.approve(newcomer, None)
        newcomer = db.session.get(Delegate, newcomer.id)
        assert newcomer.status == Status.APPROVED.value
        assert not is_head_of_delegation(newcomer.details)
        assert is_head_of_delegation(db.session.get(Delegate, head_id).details)
        assert db.session.scalars(sa.select(Delegation)).one().head_delegate_id == head_id
        refused = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "head_of_delegation_refused")).one()
        assert refused.delegate_id == newcomer.id

        # Without a head, the same approval names them head (as set_head records it).
        service.set_head(db.session.scalars(sa.select(Delegation)).one(), None, "test")
        newcomer.details = {**newcomer.details, "head_of_delegation": True}
        newcomer.status = Status.SUBMITTED.value
        db.session.commit()
        accreditation.approve(newcomer, None)
        assert db.session.scalars(sa.select(Delegation)).one().head_delegate_id == newcomer.id
