"""What a delegate can do through their private manage link.

- Edit their details with the same rules as the form (validation.clean_record). Until the
  badge is printed every change applies at once. Once it is printed, changes to what the
  badge shows (Delegate.BADGE_FIELDS) and to the delegate's names are *not* applied: they are
  recorded as a "change_requested" audit entry with the requested values and the delegate is
  flagged (needs_reprint) for the desk. Other fields (phone, needs, email, …) still apply.
  The category is decided at accreditation and cannot be changed here.
- Upload a badge photo (the desk's checks: services.photos.process_photo) until printing.
- Download the e-ticket once accredited (services.eticket); cancel; export everything as
  JSON; erase.

Erasure cancels the registration, blanks every personal field, deletes the photo and the
stored emails, withdraws the visa letters and clears what they state about the holder, and
rewrites the delegate's audit entries so that they keep what happened and when, but no
personal values.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db, real_app
from ..fields import CATEGORY_FIELDS, COMMON_FIELDS
from ..i18n import event_texts
from ..models import (
    AuditEntry,
    Delegate,
    Invitation,
    OutboxMessage,
    Status,
    VettingRequest,
    VisaLetter,
    WithdrawalCause,
)
from ..signals import delegate_cancelled
from ..validation import clean_record, email_key, email_keys
from . import audit, eticket, mail
from .delegate_edit import email_taken, form_data
from .identity import save_identity
from .mail import outbox
from .visa_letters import forget_holders, withdraw_for_holders

ACTOR = "delegate"
# After printing, changes to these go to the desk instead of applying.
DESK_REVIEWED_FIELDS: tuple[str, ...] = (*Delegate.BADGE_FIELDS, "given_name", "family_name")
# Category answers that open doors (checkpoints admitting heads of delegation): once the
# delegate is accredited, a change to them is a request for the desk, printed or not.
ACCESS_DETAIL_FIELDS: tuple[str, ...] = ("head_of_delegation",)
# Fields the delegate edits (category is fixed once registered).
EDITABLE_FIELDS: tuple[str, ...] = tuple(f for f in COMMON_FIELDS if f != "category")
ERASED = "[erased]"
# Audit detail keys whose values are never personal data (kept on erasure).
SAFE_AUDIT_KEYS = frozenset({
    "source", "from", "to", "status", "old_status", "new_status", "fields",
    "layout", "serial", "badge_serial", "print_count", "checkpoint", "checkpoint_id",
    "result", "kind", "count", "category", "applied", "requested_fields", "by", "cause",
})


class SelfServiceRefused(Exception):
    """An action the delegate cannot take now; `message` is shown to them."""

    def __init__(self, message: object) -> None:
        super().__init__(message)  # lazy: translated when shown, in the reader's language
        self.message = message


def is_printed(delegate: Delegate) -> bool:
    return delegate.printed_at is not None or delegate.print_count > 0


def is_cancelled(delegate: Delegate) -> bool:
    return delegate.status == Status.CANCELLED.value


def can_edit(delegate: Delegate) -> bool:
    return not is_cancelled(delegate)


def can_upload_photo(delegate: Delegate) -> bool:
    return not is_cancelled(delegate) and not is_printed(delegate)


def allowed(delegate: Delegate) -> dict[str, bool]:
    """What the delegate's page offers now, by action: the pages show a button only where
    the action would be accepted (each action checks again when taken)."""
    return {
        "edit": can_edit(delegate),
        "photo": can_upload_photo(delegate),
        "eticket": eticket.available(delegate),
        "cancel": not is_cancelled(delegate),
        "export": True,
        "erase": True,
    }


def pending_change_request(delegate: Delegate) -> dict[str, Any] | None:
    """What the delegate asked to change after printing and the desk has neither applied
    nor declined: the latest request, minus values the record already has. It survives a
    reprint made for another reason (lost badge): only applying or declining ends it."""
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.delegate_id == delegate.id,
               AuditEntry.action.in_(("change_requested", "change_request_declined")))
        .order_by(AuditEntry.id.desc()).limit(1))
    if entry is None or entry.action != "change_requested":
        return None
    current = form_data(delegate)
    pending = {name: value for name, value in (entry.details.get("requested") or {}).items()
               if current.get(name) != value}
    return pending or None


def decline_change_request(delegate: Delegate, staff: Any, reason: str = "") -> bool:
    """The desk declines the pending request (False when there is none); commits."""
    pending = pending_change_request(delegate)
    if pending is None:
        return False
    audit.record(delegate, "change_request_declined", staff=staff,
                 fields=sorted(pending), reason=reason)
    db.session.commit()
    return True


# ---------------------------------------------------------------------------------------
# Edits


def access_requests(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The door-opening answers (ACCESS_DETAIL_FIELDS) that `new` changes from `old`: for
    an accredited delegate these are requests for the desk, not changes."""
    return {name: new.get(name, False) for name in ACCESS_DETAIL_FIELDS
            if new.get(name, False) != old.get(name, False)}


def record_change_request(delegate: Delegate, requested: dict[str, Any], *, by: str) -> None:
    """Values the delegate asked for that wait for the desk (pending_change_request shows
    them on the record, to apply or decline); the caller commits."""
    delegate.needs_reprint = True
    audit.record(delegate, "change_requested", actor=ACTOR, by=by,
                 requested_fields=sorted(requested), requested=requested)


class EditResult:
    """What an edit did: fields applied, values sent to the desk, whether the email changed."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.requested: dict[str, Any] = {}
        self.email_changed = False

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.requested)


EMAIL_TAKEN = _l("This email address is already used by another registration.")


def apply_edit(delegate: Delegate, data: dict[str, Any], *, locale: str | None = None
               ) -> tuple[EditResult | None, dict[str, object]]:
    """Validate and apply the delegate's own edit; commits. Returns (result, errors).

    `locale` is the language the page was shown in: saving there makes it the language of
    the delegate's future emails."""
    if not can_edit(delegate):
        raise SelfServiceRefused(_l("This registration is cancelled and can no longer be "
                                    "changed."))
    data = {**data, "category": delegate.category}
    clean, errors = clean_record(data, require_consent=False)
    if "email" not in errors and email_key(clean["email"]) != delegate.email_key \
            and email_taken(delegate, clean["email"]):
        errors["email"] = EMAIL_TAKEN
    if errors:
        return None, errors

    result = EditResult()
    printed = is_printed(delegate)
    changes = {name: clean[name] for name in EDITABLE_FIELDS
               if clean[name] != getattr(delegate, name)}
    for name, value in changes.items():
        if printed and name in DESK_REVIEWED_FIELDS:
            result.requested[name] = value
            continue
        setattr(delegate, name, value)
        result.applied.append(name)
    if locale and locale in current_app.config["LANGUAGES"] and locale != delegate.locale:
        delegate.locale = locale
        result.applied.append("locale")
    details, old_details = dict(clean["details"]), dict(delegate.details or {})
    if delegate.is_accredited:
        for name, value in access_requests(old_details, details).items():
            result.requested[name] = value
            details[name] = old_details.get(name, False)
    if details != old_details:
        delegate.details = details
        result.applied.append("details")
    if save_identity(delegate, clean.get("identity"), actor=ACTOR):
        result.applied.append("identity")
    if "email" in result.applied and email_key(delegate.email) != delegate.email_key:
        # A different inbox (not just different capitals): earlier links die.
        delegate.email_key = email_key(delegate.email)
        result.email_changed = True
    if not result.changed:
        return result, {}

    delegate.refresh_search_text()
    delegate.updated_at = datetime.now(UTC)
    if result.applied:
        # Field names only: the values are in the delegate's record (and erasable there).
        audit.record(delegate, "edited", actor=ACTOR, by="self_service",
                     fields=sorted(result.applied))
    if result.requested:
        record_change_request(delegate, result.requested, by="self_service")
    if result.email_changed:
        # Links sent to the old address stop working; the new address gets a fresh one.
        mail.queue("manage_link", delegate)
    try:
        db.session.commit()
    except IntegrityError:  # the address was taken by a registration a moment ago
        db.session.rollback()
        return None, {"email": EMAIL_TAKEN}
    return result, {}


# ---------------------------------------------------------------------------------------
# Photo


def upload_photo(delegate: Delegate, data: bytes) -> None:
    """Store the delegate's badge photo after the desk's checks; commits.

    Raises SelfServiceRefused (printed, cancelled) or photos.PhotoRejected (bad image)."""
    from .photos import process_photo, set_photo

    if not can_upload_photo(delegate):
        raise SelfServiceRefused(
            _l("Your badge is already printed. To change the photo, please see the "
               "accreditation desk.") if is_printed(delegate) else
            _l("This registration is cancelled and can no longer be changed."))
    set_photo(delegate, process_photo(data), None, source="self_service", actor=ACTOR)


# ---------------------------------------------------------------------------------------
# Cancel, export, erase


def _cancel(delegate: Delegate) -> None:
    from .delegations import release_head

    old = delegate.move_to(Status.CANCELLED)
    change: dict[str, Any] = {"from": old.value, "to": Status.CANCELLED.value}
    audit.record(delegate, "status", actor=ACTOR, by="self_service", **change)
    release_head(delegate, ACTOR)
    withdraw_for_holders([delegate.id], WithdrawalCause.CANCELLED)
    delegate_cancelled.send(real_app(), delegate=delegate)


def cancel(delegate: Delegate) -> None:
    """Cancel the registration (final); commits. The badge stops admitting its holder."""
    if is_cancelled(delegate):
        raise SelfServiceRefused(_l("This registration is already cancelled."))
    _cancel(delegate)
    db.session.commit()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_data(delegate: Delegate) -> dict[str, Any]:
    """Everything stored about the delegate, as JSON-ready data."""
    from ..models import CheckIn

    history = db.session.scalars(
        select(AuditEntry).where(AuditEntry.delegate_id == delegate.id)
        .order_by(AuditEntry.id)).all()
    emails = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.delegate_id == delegate.id)
        .order_by(OutboxMessage.id)).all()
    check_ins = db.session.scalars(
        select(CheckIn).where(CheckIn.delegate_id == delegate.id).order_by(CheckIn.id)).all()
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "event": event_texts("en")["event_name"],
        "reference": delegate.reference,
        "id": str(delegate.public_id),
        "status": delegate.status,
        "category": delegate.category,
        "source": delegate.source,
        **{name: getattr(delegate, name) for name in EDITABLE_FIELDS},
        "details": delegate.details or {},
        "details_fields": [f.name for f in CATEGORY_FIELDS.get(delegate.category, ())],
        "language": delegate.locale,
        "consent_at": _iso(delegate.consent_at),
        "created_at": _iso(delegate.created_at),
        "updated_at": _iso(delegate.updated_at),
        "badge": {
            "serial": delegate.badge_serial,
            "printed_at": _iso(delegate.printed_at),
            "print_count": delegate.print_count,
            "needs_reprint": delegate.needs_reprint,
        },
        "photo_jpeg_base64": (base64.b64encode(delegate.photo.jpeg).decode("ascii")
                              if delegate.photo is not None else None),
        # Identity data in clear: it is the delegate's own (None when none is stored).
        "identity": (delegate.identity.as_dict() if delegate.identity is not None else None),
        "vetting_status": delegate.vetting_status,
        "history": [
            # Staff accounts are named "staff:<email>": the delegate sees "staff".
            {"action": e.action, "actor": e.actor.partition(":")[0], "at": _iso(e.created_at),
             "details": e.details} for e in history
        ],
        "emails": [
            {"kind": m.kind, "to": m.recipient, "subject": m.subject, "status": m.status,
             "queued_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)} for m in emails
        ],
        "check_ins": [
            {"checkpoint": c.checkpoint_id, "at": _iso(c.checked_in_at)} for c in check_ins
        ],
    }


def _scrub(value: Any, key: str | None = None) -> Any:
    """Audit details without personal values: keys (field names) and safe values stay."""
    if isinstance(value, dict):
        return {k: _scrub(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, key) for v in value]
    if isinstance(value, str):
        return value if key in SAFE_AUDIT_KEYS else ERASED
    return value


PERSONAL_TEXT_FIELDS: tuple[str, ...] = (
    "honorific", "given_name", "family_name", "native_name", "badge_name", "organisation",
    "position", "email", "phone", "dietary_needs", "accessibility_needs", "search_text",
)


def erase(delegate: Delegate) -> None:
    """Cancel (if needed) and erase personal data; commits. The manage link dies with it."""
    from .invitations import forget as forget_invitations
    from .vetting import forget_requests

    # Before the cancellation, so that the letters say why: erased, not merely cancelled.
    withdraw_for_holders([delegate.id], WithdrawalCause.ERASED)
    if not is_cancelled(delegate):
        _cancel(delegate)
    for name in PERSONAL_TEXT_FIELDS:
        setattr(delegate, name, "")
    delegate.email_key = None
    delegate.details = {}
    delegate.vetting_note = None  # may quote their document number
    # The vetting service's questions to them and their answers (about their identity).
    forget_requests(VettingRequest.delegate_id == delegate.id)
    if delegate.photo is not None:
        db.session.delete(delegate.photo)
        delegate.photo = None
    if delegate.identity is not None:
        db.session.delete(delegate.identity)
        delegate.identity = None
    # What the letters copied about the holder and what they wrote on the request (the
    # verification page keeps saying that a letter of this reference was withdrawn, with no
    # name or number).
    forget_holders(VisaLetter.delegate_id == delegate.id, texts=True)
    # The invitation they came by: its address and the details it filled in.
    forget_invitations(Invitation.delegate_id == delegate.id)
    db.session.flush()
    # Stored emails hold names and addresses: queued ones are dropped, sent ones deleted.
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.delegate_id == delegate.id))
    for entry in db.session.scalars(
            select(AuditEntry).where(AuditEntry.delegate_id == delegate.id)):
        entry.details = _scrub(entry.details or {})
    audit.record(delegate, "erased", actor=ACTOR, by="self_service")
    db.session.commit()


# ---------------------------------------------------------------------------------------
# A new link by email


LINK_RESEND_INTERVAL_SECONDS = 60


def send_manage_link(address: str) -> bool:
    """Queue a fresh manage link to `address` if it is registered; commits.

    Returns whether a message was queued. The caller must answer the same either way: the
    return value is for tests and logs, never for the person asking."""
    if not email_key(address):
        return False
    delegate = db.session.scalar(select(Delegate).where(
        Delegate.email_key.in_(email_keys(address))).limit(1))
    if delegate is None or not delegate.email:
        return False
    # Check and queue under a lock on the recipient (held to the commit), so concurrent
    # requests on any process see each other's message: one a minute, really.
    outbox.lock_recipient(delegate.email)
    recent = db.session.scalar(
        select(OutboxMessage.created_at)
        .where(OutboxMessage.delegate_id == delegate.id, OutboxMessage.kind == "manage_link")
        .order_by(OutboxMessage.id.desc()).limit(1))
    if recent is not None and (datetime.now(UTC) - recent).total_seconds() \
            < LINK_RESEND_INTERVAL_SECONDS:
        db.session.rollback()
        return False  # one is on its way: no mail bombing through this form
    queued = mail.queue("manage_link", delegate)
    db.session.commit()
    return queued is not None


# ---------------------------------------------------------------------------------------
# The confirmation page after registering

def registered_delegate(public_id: str) -> Delegate | None:
    """The delegate who has just registered in this browser (the confirmation page keeps
    their public id in the session), or None if the registration is gone."""
    return db.session.scalar(select(Delegate).where(Delegate.public_id == uuid.UUID(public_id)))
