"""Invitations: a personal link to the registration form for one address and one category.

The link holds an itsdangerous token signed with SECRET_KEY (own salt) naming the invitation
and its nonce; resending draws a new nonce, so earlier links die. The invitation decides the
category (even an invitation-only one) and fills in what the desk knows; it works once
(a compare-and-set UPDATE in the registration's transaction) and only for the invited
address. Expiry is a date in the edition's time zone: the link works through that day.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, CursorResult, select, update

from .. import editions
from ..extensions import db
from ..fields import ALL_CATEGORY_FIELD_NAMES, CATEGORIES, COMMON_FIELDS, record_fields
from ..i18n import category_label, current_language, plain
from ..models import Delegate, Invitation, InvitationState, StaffUser
from ..models.invitation import USABLE
from ..validation import clean_email, email_key, email_keys
from . import audit, manage_links
from .mail import compose, outbox

SALT = "registration.invitation.v1"
KIND = "invitation"
# Form fields an invitation may fill in (from the import's columns; never the consent). In
# an invitation file `delegation` names a Delegation; the government's delegation country
# is `delegation_country` (fields.FILE_COLUMNS).
PREFILL_FIELDS = frozenset((*COMMON_FIELDS, *ALL_CATEGORY_FIELD_NAMES)) - {"category", "email"}


class InvitationError(ValueError):
    """Bad input for a new invitation; the message is for the person who typed it."""

    def __init__(self, message: object) -> None:
        self.message = plain(message)
        super().__init__(self.message)


class InvitationUnusable(Exception):
    """A link that cannot be used: `reason` is invalid, expired, used or revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


UNUSABLE_MESSAGES = {
    "invalid": _l("This invitation link is not valid. Check that you copied the whole link "
                  "from the email, or ask the organiser for a new invitation."),
    "expired": _l("This invitation has expired. Ask the organiser for a new one."),
    "used": _l("This invitation has already been used to register. If that was you, use the "
               "link in your confirmation email to see your registration."),
    "revoked": _l("This invitation has been withdrawn by the organiser. Ask the organiser "
                  "if you think this is a mistake."),
}


def today() -> date:
    """Today in the edition's time zone (expiry dates are the organisers' dates)."""
    return datetime.now(ZoneInfo(editions.timezone_name())).date()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(invitation: Invitation) -> str:
    return _serializer().dumps({"i": invitation.id, "n": invitation.nonce})


def link(invitation: Invitation) -> str:
    return manage_links.base_url() + manage_links.path_for(
        "public.register", invitation=make_token(invitation))


def resolve(token: str) -> Invitation:
    """The invitation a link belongs to, if it can still be used. Raises InvitationUnusable."""
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        raise InvitationUnusable("invalid") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("i"), int):
        raise InvitationUnusable("invalid")
    invitation = db.session.get(Invitation, payload["i"])
    if invitation is None or invitation.edition_id != editions.current_edition_id() \
            or payload.get("n") != invitation.nonce:
        raise InvitationUnusable("invalid")
    state = invitation.state(today())
    if state is InvitationState.REGISTERED:
        raise InvitationUnusable("used")
    if state is InvitationState.REVOKED:
        raise InvitationUnusable("revoked")
    if state is InvitationState.EXPIRED:
        raise InvitationUnusable("expired")
    return invitation


def mark_opened(invitation: Invitation) -> None:
    """The invitee opened the form (commits; only the first time counts)."""
    if invitation.status == InvitationState.SENT.value:
        invitation.status = InvitationState.OPENED.value
        invitation.opened_at = datetime.now(UTC)
        db.session.commit()


def same_address(invitation: Invitation, email: str) -> bool:
    return invitation.email_key in email_keys(email)


def claim(invitation: Invitation, delegate: Delegate) -> None:
    """Use the invitation for `delegate`, in the caller's transaction. Raises
    InvitationUnusable("used") if another registration took it first."""
    moved = cast(CursorResult[Any], db.session.execute(
        update(Invitation).where(Invitation.id == invitation.id,
                                 Invitation.nonce == invitation.nonce,
                                 Invitation.status.in_(USABLE))
        .values(status=InvitationState.REGISTERED.value, delegate_id=delegate.id,
                registered_at=datetime.now(UTC))
        .execution_options(synchronize_session=False))).rowcount
    if moved != 1:
        raise InvitationUnusable("used")


# --- creating and managing ----------------------------------------------------------------

def _active_for(key: str) -> Invitation | None:
    rows = db.session.scalars(select(Invitation).where(
        Invitation.email_key == key, Invitation.status.in_(USABLE))).all()
    return next((r for r in rows if r.state(today()) is not InvitationState.EXPIRED), None)


def check_new(email: str, category: str, expires_on: date | None,
              seen: Iterable[str] = ()) -> tuple[str, str]:
    """(clean email, its key) for a new invitation, or raises InvitationError."""
    try:
        clean = clean_email(email)
    except ValueError as exc:
        raise InvitationError(exc.args[0]) from None
    if category not in CATEGORIES:
        raise InvitationError(_l("Unknown category “%(category)s”: use one of %(known)s.",
                                 category=category, known=", ".join(CATEGORIES)))
    if expires_on is not None and expires_on < today():
        raise InvitationError(_l("The expiry date %(date)s is in the past.",
                                 date=expires_on.isoformat()))
    key = email_key(clean)
    if key in seen:
        raise InvitationError(_l("%(email)s appears twice.", email=clean))
    if db.session.scalar(select(Delegate.id).where(
            Delegate.email_key.in_(email_keys(clean)))) is not None:
        raise InvitationError(_l("%(email)s is already registered for this edition.",
                                 email=clean))
    if _active_for(key) is not None:
        raise InvitationError(_l("%(email)s already has an invitation that can be used: "
                                 "resend it, or revoke it first.", email=clean))
    return clean, key


def _prefill(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v).strip()[:500] for k, v in record_fields(values).items()
            if k in PREFILL_FIELDS and v is not None and str(v).strip()}


def delegation_named(name: str) -> int | None:
    """The id of the delegation called `name` ("" → None). Raises InvitationError."""
    if not name.strip():
        return None
    from .delegations import find as find_delegation

    found = find_delegation(name)
    if found is None:
        raise InvitationError(_l("There is no delegation called “%(name)s” in this "
                                 "edition.", name=name.strip()))
    return found.id


def check_places(delegation_id: int | None, category: str, planned: int = 0) -> None:
    """An invitation into a delegation promises one of its places in `category`: refuse one
    the quota has no room for, counting the delegates who hold a place and the invitations
    still usable (`planned`: more for it earlier in the same file). Raises InvitationError.
    The registration through the link checks the quota again (delegations.enter): the
    quota may have been lowered since."""
    if delegation_id is None:
        return
    from .delegations import get as get_delegation
    from .delegations import used

    delegation = get_delegation(delegation_id)
    if delegation is None:
        return
    quota = int((delegation.quotas or {}).get(category, 0))
    taken = used(delegation).get(category, 0)
    invited = sum(1 for invitation in db.session.scalars(select(Invitation).where(
        Invitation.delegation_id == delegation_id, Invitation.category == category,
        Invitation.status.in_(USABLE)))
        if invitation.state(today()) is not InvitationState.EXPIRED) + planned
    if taken + invited >= quota:
        raise InvitationError(_l(
            "The %(delegation)s quota for %(category)s is %(quota)d: %(used)d registered and "
            "%(invited)d invited, none left. Raise the quota or revoke an invitation first.",
            delegation=delegation.name(current_language()), category=category_label(category),
            quota=quota,
            used=taken, invited=invited))


def create(email: str, category: str, *, prefill: Mapping[str, Any] | None = None,
           locale: str = "en", expires_on: date | None = None, approve: bool = False,
           delegation: str = "", staff: StaffUser | None = None,
           actor: str = "cli") -> Invitation:
    """Create and mail an invitation (commits). Raises InvitationError."""
    delegation_id = delegation_named(delegation)
    clean, key = check_new(email, category, expires_on)
    check_places(delegation_id, category)
    invitation = _build(clean, key, category, prefill or {}, locale, expires_on, approve,
                        staff, actor, delegation_id)
    db.session.commit()
    return invitation


def _build(clean: str, key: str, category: str, prefill: Mapping[str, Any], locale: str,
           expires_on: date | None, approve: bool, staff: StaffUser | None,
           actor: str, delegation_id: int | None = None) -> Invitation:
    invitation = Invitation(
        email=clean, email_key=key, category=category, prefill=_prefill(prefill),
        delegation_id=delegation_id,
        locale=locale if locale in current_app.config["LANGUAGES"] else "en",
        expires_on=expires_on, approve=approve, status=InvitationState.SENT.value,
        nonce=secrets.token_hex(8), created_by=audit.actor_label(staff, actor))
    db.session.add(invitation)
    db.session.flush()
    audit.record(None, "invitation_created", actor=actor, staff=staff, email=clean,
                 category=category, approve=approve,
                 expires=expires_on.isoformat() if expires_on else None)
    _send(invitation)
    return invitation


def _send(invitation: Invitation) -> None:
    """Queue the invitation mail in the invitee's language (the caller commits)."""
    url = link(invitation)
    face = editions.face(invitation.locale)
    with force_locale(invitation.locale):
        msg = EmailMessage()
        msg["Subject"] = _("Your invitation to register for %(event)s", event=face["name"])
        msg["From"] = compose.sender()
        msg["To"] = invitation.email
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid()
        name = invitation.name()
        lines = [
            _("Dear %(name)s,", name=name) if name else _("Hello,"),
            _("You are invited to register for %(event)s as %(category)s. Register with "
              "this personal link; it works once, and only with this email address:",
              event=face["name"], category=category_label(invitation.category,
                                                          invitation.locale)),
            url,
        ]
        if invitation.expires_on is not None:
            lines.append(_("The invitation can be used until %(date)s.",
                           date=invitation.expires_on.isoformat()))
        lines.append(_("If you did not expect this invitation, you can ignore this email."))
        msg.set_content("\n\n".join(lines) + "\n")
    outbox.queue_message(KIND, invitation.email, msg)
    invitation.sent_at = datetime.now(UTC)


def resend(invitation: Invitation, staff: StaffUser | None = None) -> str:
    """Mail a new link (earlier ones stop working); returns it (commits). Raises
    InvitationError for a used or revoked invitation."""
    if invitation.status not in USABLE:
        raise InvitationError(_l("This invitation is %(state)s: it cannot be resent.",
                                 state=invitation.state(today()).label))
    invitation.nonce = secrets.token_hex(8)
    _send(invitation)
    audit.record(None, "invitation_resent", staff=staff, email=invitation.email)
    db.session.commit()
    return link(invitation)


def revoke(invitation: Invitation, staff: StaffUser | None = None, actor: str = "cli") -> None:
    """Withdraw an unused invitation (commits). Raises InvitationError if it was used."""
    if invitation.status == InvitationState.REGISTERED.value:
        raise InvitationError(_l("This invitation has already been used to register: "
                                 "cancel the registration instead."))
    if invitation.status == InvitationState.REVOKED.value:
        return
    invitation.status = InvitationState.REVOKED.value
    invitation.revoked_at = datetime.now(UTC)
    audit.record(None, "invitation_revoked", actor=actor, staff=staff, email=invitation.email)
    db.session.commit()


def forget(*where: ColumnElement[bool], **options: Any) -> int:
    """Blank the address and the filled-in details of the invitations matching `where`
    (erasure, an edition's purge); the row stays, so the counts do. The caller commits;
    `options` are the statement's execution options. Returns the invitations changed."""
    result = db.session.execute(update(Invitation).where(*where)
                                .values(email="", email_key="", prefill={})
                                .execution_options(**options))
    return int(getattr(result, "rowcount", 0) or 0)


def find(invitation_id: int) -> Invitation | None:
    return db.session.get(Invitation, invitation_id)


def for_email(email: str) -> list[Invitation]:
    return list(db.session.scalars(select(Invitation).where(
        Invitation.email_key.in_(email_keys(email.strip()))).order_by(Invitation.id)))


def listing(state: str = "") -> list[tuple[Invitation, InvitationState]]:
    """Every invitation of the edition with its state, newest first; `state` filters."""
    day = today()
    rows = [(i, i.state(day)) for i in db.session.scalars(
        select(Invitation).order_by(Invitation.id.desc()))]
    return [(i, s) for i, s in rows if not state or s.value == state]


# --- importing ----------------------------------------------------------------------------

@dataclass
class InvitationImport:
    rows: int = 0
    created: list[Invitation] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row, message)
    file_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and not self.file_error


def _expiry(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvitationError(_l("expires must be a date as YYYY-MM-DD, got “%(value)s”.",
                                 value=value)) from None


def import_file(data: bytes, filename: str, *, approve: bool = False,
                staff: StaffUser | None = None, actor: str = "cli") -> InvitationImport:
    """Invitations from a CSV/XLSX file with the delegate import's columns plus `expires`
    (and `language`, `delegation`: a delegation's English name). All or nothing: any bad
    row (an unknown delegation too) and nothing is created or mailed."""
    from .delegate_import import ImportFileError, read_table

    report = InvitationImport()
    try:
        _columns, rows = read_table(data, filename, extra_columns=frozenset(
            {"expires", "language", "delegation"}))
    except ImportFileError as exc:
        report.file_error = plain(exc.args[0])
        return report
    report.rows = len(rows)
    planned: list[tuple[str, str, str, dict[str, str], str, date | None, int | None]] = []
    seen: set[str] = set()
    places: Counter[tuple[int | None, str]] = Counter()  # this file's, per delegation
    for number, record in rows:
        category = record.get("category", "").strip().lower()
        try:
            expires_on = _expiry(record.get("expires", ""))
            delegation_id = delegation_named(record.get("delegation", ""))
            clean, key = check_new(record.get("email", ""), category, expires_on, seen)
            check_places(delegation_id, category, places[delegation_id, category])
        except InvitationError as exc:
            report.errors.append((number, exc.message))
            continue
        seen.add(key)
        places[delegation_id, category] += 1
        language = record.get("language", "").strip().lower() or "en"
        planned.append((clean, key, category, record, language, expires_on, delegation_id))
    if report.errors:
        return report
    for clean, key, category, record, language, expires_on, delegation_id in planned:
        report.created.append(_build(clean, key, category, record, language, expires_on,
                                     approve, staff, actor, delegation_id))
    db.session.commit()
    return report
