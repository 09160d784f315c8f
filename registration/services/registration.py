"""Creating delegates: open/closed, capacity, one registration per email, reference codes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, literal_column, select, text, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from .. import editions
from ..extensions import db, real_app
from ..models import Delegate, Invitation, StaffUser, Status
from ..models.delegate import NOMINEE_KEY_PREFIX, RecordSource
from ..models.status import HOLDS_PLACE
from ..signals import delegate_registered
from ..text import new_reference
from ..validation import email_key, email_keys
from . import audit
from .identity import save_identity


class RegistrationRefused(Exception):
    """Registration cannot be accepted: `reason` is "closed", "full", "duplicate_email",
    "invitation_only" (a category not open to the public in this edition), or a reason of
    the caller's `prepare` ("quota") with its `message`."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


def registration_closed(now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    closes_at, opens_at = editions.registration_closes_at(), editions.registration_opens_at()
    return (closes_at is not None and now >= closes_at) or (
        opens_at is not None and now < opens_at)


def places_taken(category: str) -> int:
    return db.session.scalar(
        select(func.count(Delegate.id)).where(
            Delegate.category == category, Delegate.status.in_([s.value for s in HOLDS_PLACE])
        )
    ) or 0


def category_full(category: str) -> bool:
    capacity = editions.capacities().get(category)
    return capacity is not None and places_taken(category) >= capacity


def full_categories() -> set[str]:
    caps = editions.capacities()
    return {c for c in caps if category_full(c)}


def email_registered(email: str) -> bool:
    return db.session.scalar(
        select(Delegate.id).where(Delegate.email_key.in_(email_keys(email)))
    ) is not None


# Asked on every registration: built once (editions.built_once).
# Two lookups, each on its own unique index: this edition's email keys, and the reference
# (unique across editions, as its constraint). One statement with OR let PostgreSQL without
# fresh statistics (a new edition, the first minute of a rush) read every delegate of the
# edition through the edition index and filter: O(delegates) per registration, 2.4 million
# rows read for 3,200 registrations in bench/register.py.
_CLASHES = union_all(
    editions.built_once(select(Delegate.id, literal_column("'email'").label("taken")).where(
        Delegate.email_key.in_(bindparam("keys", expanding=True)))),
    select(Delegate.id, literal_column("'reference'").label("taken"))
    .where(Delegate.reference == bindparam("reference"))
    .execution_options(**editions.ALL_EDITIONS),
).execution_options(**editions.ALL_EDITIONS)


def _check_email_and_pick_reference(email: str | None) -> str:
    """Refuse a registered email and return an unused reference, in one round trip
    (`email` None: no address to check, a nominee whose mail goes to a focal point).

    References are random (30^8 space), so a clash is rare; when one happens, draw again.
    """
    prefix = current_app.config["REFERENCE_PREFIX"]
    # rows stored before the plus/dot rule hold the old key
    keys: tuple[str, ...] = email_keys(email) if email is not None else ()
    while True:
        reference = new_reference(prefix)
        # On the session's connection: the rows are plain values, and the ORM's execute
        # path (events, autoflush, ORM compilation) cost more than the lookup itself (with
        # the two statements of mail.lock_recipient and recent_public_mail: 4 % of a
        # registration's instructions, callgrind, bench/cpu_per_request.py).
        clashes = db.session.connection().execute(_CLASHES, editions.in_edition(
            {"keys": list(keys), "reference": reference})).all()
        if any(row.taken == "email" for row in clashes):
            raise RegistrationRefused("duplicate_email")
        if not clashes:
            return reference


def _lock_category(category: str) -> None:
    """Serialise capacity checks per category on PostgreSQL (SQLite serialises writers)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                           {"k": f"capacity:{editions.current_edition_id()}:{category}"})


def build_delegate(clean: dict[str, Any], *, source: RecordSource,
                   locale: str = "en", reference: str | None = None) -> Delegate:
    """A new, unsaved Delegate from values cleaned by validation.clean_record (and its
    reference, when drawn already: the search text includes it)."""
    delegate = Delegate(
        reference=reference,
        category=clean["category"],
        status=Status.SUBMITTED.value,
        source=RecordSource(source).value,
        honorific=clean["honorific"],
        given_name=clean["given_name"],
        family_name=clean["family_name"],
        native_name=clean["native_name"],
        badge_name=clean["badge_name"],
        organisation=clean["organisation"],
        position=clean["position"],
        country=clean["country"],
        email=clean["email"],
        email_key=email_key(clean["email"]),
        phone=clean["phone"],
        dietary_needs=clean["dietary_needs"],
        accessibility_needs=clean["accessibility_needs"],
        details=clean["details"],
        locale=locale,
        badge_serial=1,
        print_count=0,
        needs_reprint=False,
    )
    delegate.refresh_search_text()
    if clean.get("identity") is not None:  # asked for this category (identity_rules.py)
        save_identity(delegate, clean["identity"])
    return delegate


def register_delegate(clean: dict[str, Any], *, source: RecordSource = RecordSource.SELF,
                      locale: str = "en", staff: StaffUser | None = None,
                      consent: bool = True, enforce_limits: bool = True,
                      invitation: Invitation | None = None,
                      prepare: Callable[[Delegate], None] | None = None,
                      own_email: bool = True) -> Delegate:
    """Store a new delegate and commit. Raises RegistrationRefused.

    `enforce_limits` is off for the desk (walk-ins): the closing date and capacities are for
    self-registration; the desk decides on the spot. An `invitation` (already checked for
    its address) opens its invitation-only category, is used up in the same transaction
    ("invitation_used" if it was used meanwhile) and, if made with approve, accredits at once.
    `prepare` runs on the new delegate in the same transaction before it is stored (a
    delegation's quota check and substitution; it may raise RegistrationRefused, then
    nothing is stored). `own_email` False: the address is someone else's (a focal point
    receiving a nominee's mail), so it is not checked for a registration and the delegate
    gets a key of its own.
    """
    category = clean["category"]
    if enforce_limits and registration_closed():
        raise RegistrationRefused("closed")
    reference = _check_email_and_pick_reference(clean["email"] if own_email else None)
    if enforce_limits and invitation is None and category in editions.invitation_only():
        raise RegistrationRefused("invitation_only")
    if enforce_limits and editions.capacities().get(category) is not None:
        _lock_category(category)
        if category_full(category):
            db.session.rollback()
            raise RegistrationRefused("full")

    delegate = build_delegate(clean, source=source, locale=locale, reference=reference)
    if consent:
        delegate.consent_at = datetime.now(UTC)
    if not own_email:
        delegate.public_id = uuid.uuid4()
        delegate.email_key = f"{NOMINEE_KEY_PREFIX}{delegate.public_id.hex}"
    if invitation is not None and invitation.delegation_id is not None:
        prepare = _into_delegation(invitation.delegation_id, prepare)
    if prepare is not None:
        try:
            prepare(delegate)
        except RegistrationRefused:
            db.session.rollback()
            raise
    db.session.add(delegate)
    try:
        db.session.flush()
    except IntegrityError:
        # Two submissions with one address raced each other; the other one won.
        db.session.rollback()
        raise RegistrationRefused("duplicate_email") from None
    audit.record(delegate, "registered", actor="delegate" if staff is None else "staff",
                 staff=staff, source=RecordSource(source).value)
    if invitation is not None:
        _use_invitation(invitation, delegate)
    else:
        delegate_registered.send(real_app(), delegate=delegate)
    public_id = delegate.public_id
    db.session.commit()
    # The public id never changes: keep it readable without reloading the row (the form's
    # redirect needs only it).
    set_committed_value(delegate, "public_id", public_id)
    return delegate


def _into_delegation(delegation_id: int, prepare: Callable[[Delegate], None] | None
                     ) -> Callable[[Delegate], None]:
    """`prepare` followed by the delegation's quota rule (delegations.enter), the one a
    focal point's nomination passes: an invitation into a delegation takes one of its
    places."""
    from .delegations import enter

    def step(delegate: Delegate) -> None:
        if prepare is not None:
            prepare(delegate)
        enter(delegation_id, delegate)

    return step


def _use_invitation(invitation: Invitation, delegate: Delegate) -> None:
    from . import invitations
    from .accreditation import approve_in_transaction
    from .self_service import access_requests, record_change_request

    try:
        invitations.claim(invitation, delegate)
    except invitations.InvitationUnusable:
        db.session.rollback()
        raise RegistrationRefused("invitation_used") from None
    audit.record(delegate, "invitation_used", actor="delegate", email=invitation.email,
                 approve=invitation.approve)
    if not invitation.approve:
        delegate_registered.send(real_app(), delegate=delegate)
        return
    # Accredited at once, but the door-opening answers (head of delegation) are the
    # desk's or a focal point's to give: what the invitee ticked becomes a request for the
    # desk, as when an accredited delegate ticks it on their own page.
    ticked = dict(delegate.details or {})
    requested = access_requests({}, ticked)
    delegate.details = {**ticked, **dict.fromkeys(requested, False)}
    if approve_in_transaction(delegate, None):
        if requested:
            record_change_request(delegate, requested, by="invitation")
    else:  # waits for a photo: still submitted, the desk reviews the ticks as for anyone
        delegate.details = ticked
        delegate_registered.send(real_app(), delegate=delegate)
