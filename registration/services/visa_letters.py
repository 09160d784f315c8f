"""Visa invitation letters: requests, the desk's decisions, the signed verification link.

Who may ask: where the edition asks for identity data (`Edition.identity_categories`), a
delegate who is not a Chinese national (nationality from the identity data; when it is not
known yet, the request is kept and the nationality is checked again at approval). One open
request (requested or issued) per delegate. Approval needs the identity data the letter
states: nationality, date of birth and document number, and a holder who may still come
(not cancelled, not rejected by the desk or by vetting: holder_refusal).

A holder who may no longer come loses their open letters in the same transaction
(withdraw_for_holders, called by the cancellation, the desk's rejection, vetting's
rejection one by one or by batch, the substitution and the erasure); erasure also clears
what the letters copied about the holder (forget_holders, shared with the identity purge).

The PDF is services/visa_letter_pdf.py; the token on its QR code is visa_token.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.orm import selectinload

from .. import visa_token
from ..editions import ALL_EDITIONS, edition_settings
from ..extensions import db
from ..i18n import plain
from ..models import (
    Delegate,
    Edition,
    StaffUser,
    Status,
    VettingStatus,
    VisaLetter,
    VisaLetterState,
    WithdrawalCause,
)
from ..models.visa import OPEN_STATES
from . import audit
from .badge_signing import public_keys, signing_key
from .identity import mask
from .manage_links import base_url, path_for

if TYPE_CHECKING:
    from collections.abc import Collection

    from ..models import DelegateIdentity

HOST_NATIONALITY = "CN"  # the host country's nationals need no visa
MAX_STAY = timedelta(days=90)
MAX_REASON_LENGTH = 500
MAX_PURPOSE_LENGTH = 500
CHUNK = 500  # delegate ids per query when a vetting batch withdraws letters


class VisaLetterError(ValueError):
    """A request or decision that cannot be made; the message is for people."""

    def __init__(self, message: object) -> None:
        self.message = plain(message)
        super().__init__(self.message)


def offered(edition: Edition | None = None) -> bool:
    """Whether the edition offers visa letters (it asks for identity data)."""
    edition = edition or edition_settings()
    return bool(edition is not None and edition.identity_categories)


def default_purpose(edition: Edition) -> str:
    return f"To attend the {edition.name('en')}"


def check_stay(edition: Edition, stay_from: date | None, stay_to: date | None
               ) -> tuple[date, date]:
    """The intended dates of stay: both given, in order, covering a day of the forum and
    no longer than MAX_STAY."""
    if stay_from is None or stay_to is None:
        raise VisaLetterError(_l("Give the dates of your intended stay (arrival and "
                                 "departure)."))
    if stay_to < stay_from:
        raise VisaLetterError(_l("The departure date is before the arrival date."))
    if stay_from > edition.ends_on or stay_to < edition.starts_on:
        raise VisaLetterError(_l("Your stay must include at least one day of the forum "
                                 "(%(start)s to %(end)s).", start=edition.starts_on.isoformat(),
                                 end=edition.ends_on.isoformat()))
    if stay_to - stay_from > MAX_STAY:
        raise VisaLetterError(_l("An invitation letter covers at most %(days)d days.",
                                 days=MAX_STAY.days))
    return stay_from, stay_to


def open_letter(delegate: Delegate) -> VisaLetter | None:
    """The delegate's request or issued letter, if any."""
    return db.session.scalar(select(VisaLetter).where(
        VisaLetter.delegate_id == delegate.id,
        VisaLetter.state.in_([s.value for s in OPEN_STATES])).order_by(VisaLetter.id.desc()))


def latest_letter(delegate: Delegate) -> VisaLetter | None:
    return db.session.scalar(select(VisaLetter).where(VisaLetter.delegate_id == delegate.id)
                             .order_by(VisaLetter.id.desc()).limit(1))


def _nationality(delegate: Delegate) -> str:
    identity = delegate.identity
    return identity.nationality if identity is not None else ""


def holder_refusal(delegate: Delegate) -> str | None:
    """Why no letter may be issued to `delegate` now (None when one may): a ministry's
    invitation is for people who will be let in, not for a cancelled registration or one
    the desk or the vetting service rejected."""
    if delegate.status == Status.CANCELLED.value:
        return plain(_l("No invitation letter can be issued: this registration is "
                        "cancelled."))
    if delegate.status == Status.REJECTED.value:
        return plain(_l("No invitation letter can be issued: this registration was not "
                        "accredited."))
    if delegate.vetting_status == VettingStatus.REJECTED.value:
        return plain(_l("No invitation letter can be issued: this registration was not "
                        "cleared by vetting."))
    return None


def may_request(delegate: Delegate) -> bool:
    """Whether the manage page offers the request form."""
    edition = db.session.get(Edition, delegate.edition_id)
    return (offered(edition) and _nationality(delegate) != HOST_NATIONALITY
            and holder_refusal(delegate) is None and open_letter(delegate) is None)


def request_letter(delegate: Delegate, stay_from: date | None, stay_to: date | None,
                   purpose: str = "", *, actor: str = "delegate",
                   staff: StaffUser | None = None) -> VisaLetter:
    """Store a request (commits). Raises VisaLetterError."""
    edition = db.session.get(Edition, delegate.edition_id)
    if edition is None or not offered(edition):
        raise VisaLetterError(_l("This forum does not issue visa invitation letters."))
    if _nationality(delegate) == HOST_NATIONALITY:
        raise VisaLetterError(_l("Chinese nationals do not need a visa invitation letter."))
    refusal = holder_refusal(delegate)
    if refusal is not None:
        raise VisaLetterError(refusal)
    if open_letter(delegate) is not None:
        raise VisaLetterError(_l("A visa invitation letter has already been requested."))
    stay_from, stay_to = check_stay(edition, stay_from, stay_to)
    purpose = " ".join((purpose or "").split())[:MAX_PURPOSE_LENGTH] or default_purpose(edition)
    letter = VisaLetter(delegate_id=delegate.id, edition_id=delegate.edition_id,
                        stay_from=stay_from, stay_to=stay_to, purpose=purpose,
                        state=VisaLetterState.REQUESTED.value)
    db.session.add(letter)
    db.session.flush()
    letter.reference = f"VL-{edition.starts_on.year}-{letter.id:05d}"
    audit.record(delegate, "visa_letter_requested", actor=actor, staff=staff,
                 reference=letter.reference, stay_from=stay_from.isoformat(),
                 stay_to=stay_to.isoformat())
    db.session.commit()
    return letter


def _lock(letter: VisaLetter) -> None:
    db.session.refresh(letter, with_for_update=True)


def _missing_identity(identity: DelegateIdentity | None) -> list[str]:
    if identity is None:
        return ["nationality", "date_of_birth", "document_number"]
    return [name for name in ("nationality", "date_of_birth", "document_number")
            if not getattr(identity, name)]


# What a letter cannot go without (the address and the signature image are optional).
_LETTERHEAD_NEEDED = (
    (("letter_organiser_en", "organiser_name"), _l("organiser")),
    (("letter_signatory_en",), _l("signatory's name")),
    (("letter_signatory_title_en",), _l("signatory's title")),
)


def letterhead_missing(edition: Edition) -> list[str]:
    """What the edition's letterhead lacks for a letter (empty when it can be issued)."""
    return [plain(label) for names, label in _LETTERHEAD_NEEDED
            if not any((getattr(edition, name) or "").strip() for name in names)]


def check_letterhead(edition: Edition) -> None:
    """VisaLetterError naming what is missing from the letterhead and where to set it."""
    missing = letterhead_missing(edition)
    if missing:
        raise VisaLetterError(_l(
            "The letterhead is missing: %(missing)s. Set it on /staff/settings, under “Visa "
            "invitation letters”, before issuing a letter.", missing=", ".join(missing)))


def approve(letter: VisaLetter, staff: StaffUser) -> VisaLetter:
    """Issue the letter (commits): the holder's data is copied from the identity data."""
    _lock(letter)
    if letter.state_enum is not VisaLetterState.REQUESTED:
        raise VisaLetterError(_l("Only a requested letter can be issued (this one is "
                                 "%(state)s).", state=letter.state_label))
    delegate = letter.delegate
    refusal = holder_refusal(delegate)
    if refusal is not None:
        raise VisaLetterError(refusal)
    identity = delegate.identity
    missing = _missing_identity(identity)
    if missing or identity is None:
        raise VisaLetterError(_l("The letter needs the delegate's nationality, date of "
                                 "birth and passport number: add the identity data first."))
    if identity.nationality == HOST_NATIONALITY:
        raise VisaLetterError(_l("Chinese nationals do not need a visa invitation letter."))
    edition = db.session.get(Edition, letter.edition_id)
    if edition is not None:
        check_letterhead(edition)
    now = datetime.now(UTC)
    who = audit.actor_label(staff)
    letter.state = VisaLetterState.APPROVED.value
    letter.decided_at = letter.issued_at = now
    letter.decided_by = letter.issued_by = who
    letter.holder_name = " ".join(p for p in (delegate.given_name, delegate.family_name) if p)
    letter.holder_native_name = delegate.native_name
    letter.holder_nationality = identity.nationality
    letter.holder_date_of_birth = identity.date_of_birth
    letter.holder_document_number = identity.document_number
    audit.record(delegate, "visa_letter_issued", staff=staff, reference=letter.reference)
    db.session.commit()
    return letter


def _reason(reason: str | None, what: object) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise VisaLetterError(what)
    if len(reason) > MAX_REASON_LENGTH:
        raise VisaLetterError(_l("Keep the reason under %(n)d characters.",
                                 n=MAX_REASON_LENGTH))
    return reason


def refuse(letter: VisaLetter, staff: StaffUser, reason: str | None) -> VisaLetter:
    clean = _reason(reason, _l("Give a reason for the refusal."))
    _lock(letter)
    if letter.state_enum is not VisaLetterState.REQUESTED:
        raise VisaLetterError(_l("Only a requested letter can be refused (this one is "
                                 "%(state)s).", state=letter.state_label))
    letter.state = VisaLetterState.REFUSED.value
    letter.decided_at, letter.decided_by = datetime.now(UTC), audit.actor_label(staff)
    letter.refusal_reason = clean
    audit.record(letter.delegate, "visa_letter_refused", staff=staff,
                 reference=letter.reference, reason=clean)
    db.session.commit()
    return letter


def withdraw(letter: VisaLetter, staff: StaffUser, reason: str | None) -> VisaLetter:
    """Withdraw an issued letter (or a request): its verification page then says so."""
    clean = _reason(reason, _l("Give a reason for the withdrawal."))
    _lock(letter)
    if letter.state_enum not in OPEN_STATES:
        raise VisaLetterError(_l("This letter is %(state)s already.", state=letter.state_label))
    _mark_withdrawn(letter, clean, staff=staff)
    db.session.commit()
    return letter


def _mark_withdrawn(letter: VisaLetter, reason: str, *, staff: StaffUser | None,
                    actor: str = "system", **details: Any) -> None:
    letter.state = VisaLetterState.WITHDRAWN.value
    letter.withdrawn_at = datetime.now(UTC)
    letter.withdrawn_by = audit.actor_label(staff, actor)
    letter.withdrawn_reason = reason
    audit.record(letter.delegate, "visa_letter_withdrawn", actor=actor, staff=staff,
                 reference=letter.reference, reason=reason, **details)


def withdraw_for_holders(delegate_ids: Collection[int], cause: WithdrawalCause, *,
                         staff: StaffUser | None = None) -> int:
    """Withdraw the open letters (requested or issued) of these delegates, who may no
    longer travel on them, with `cause` as the reason; each audited ("visa_letter_withdrawn",
    by the staff member whose action caused it, else "system"). The caller commits, in the
    transaction that changed the delegates. Returns how many letters were withdrawn."""
    ids = list(dict.fromkeys(delegate_ids))
    count = 0
    for start in range(0, len(ids), CHUNK):
        for letter in db.session.scalars(
                select(VisaLetter).where(
                    VisaLetter.delegate_id.in_(ids[start:start + CHUNK]),
                    VisaLetter.state.in_([s.value for s in OPEN_STATES]))
                .order_by(VisaLetter.id).with_for_update()):
            _mark_withdrawn(letter, cause.english, staff=staff, cause=cause.value)
            count += 1
    return count


# What a letter copies about its holder: every value on erasure; the identity data only
# (passport number and date of birth) when the identity data is purged after the forum.
HOLDER_IDENTITY_COPIES: dict[str, Any] = {"holder_date_of_birth": None,
                                          "holder_document_number": None}
HOLDER_COPIES: dict[str, Any] = {**HOLDER_IDENTITY_COPIES, "holder_name": "",
                                 "holder_native_name": "", "holder_nationality": ""}


def forget_holders(*where: ColumnElement[bool], names: bool = True, texts: bool = False,
                   **options: Any) -> int:
    """Clear what the letters matching `where` state about their holders (with `names`,
    the names and nationality too; without, the identity data's copies only; with `texts`,
    also the purpose and the reasons people wrote). The caller commits; `options` are the
    statement's execution options. Returns the letters changed."""
    values: dict[str, Any] = dict(HOLDER_COPIES if names else HOLDER_IDENTITY_COPIES)
    if texts:
        # A withdrawal's reason stays when the system gave it (the verification page says
        # why); one a person wrote goes with the rest.
        causes = [cause.english for cause in WithdrawalCause]
        values.update(purpose="", refusal_reason="", withdrawn_reason=case(
            (VisaLetter.withdrawn_reason.in_(causes), VisaLetter.withdrawn_reason), else_=""))
    result = db.session.execute(
        update(VisaLetter).where(*where).values(values).execution_options(**options))
    return int(getattr(result, "rowcount", 0) or 0)


def queue(state: str | None = None, delegation_id: int | None = None) -> list[VisaLetter]:
    """The letters of the edition, requests first, optionally by state and delegation."""
    stmt = select(VisaLetter).join(Delegate, Delegate.id == VisaLetter.delegate_id) \
        .options(selectinload(VisaLetter.delegate).selectinload(Delegate.identity))
    if state:
        stmt = stmt.where(VisaLetter.state == state)
    if delegation_id is not None:
        stmt = stmt.where(Delegate.delegation_id == delegation_id)
    return list(db.session.scalars(stmt.order_by(VisaLetter.requested_at, VisaLetter.id)))


def issued(delegation_id: int | None = None) -> list[VisaLetter]:
    """The issued letters (for printing), by delegate name."""
    stmt = select(VisaLetter).join(Delegate, Delegate.id == VisaLetter.delegate_id).where(
        VisaLetter.state == VisaLetterState.APPROVED.value)
    if delegation_id is not None:
        stmt = stmt.where(Delegate.delegation_id == delegation_id)
    return list(db.session.scalars(stmt.order_by(Delegate.family_name, Delegate.given_name,
                                                 VisaLetter.id)))


# ------------------------------------------------------------------ verification


def token_for(letter: VisaLetter) -> str:
    return visa_token.issue(signing_key(), letter.public_id, letter.edition_id)


def verify_url(letter: VisaLetter) -> str:
    """The absolute link the letter's QR code carries."""
    return base_url() + path_for("public.verify_letter", token=token_for(letter))


@dataclass(frozen=True)
class Verdict:
    """What the verification page says: `status` is genuine (valid), withdrawn or
    not_genuine; the rest only for a letter of ours."""

    status: str
    letter: VisaLetter | None = None
    edition: Edition | None = None

    @property
    def masked_number(self) -> str:
        return mask(self.letter.holder_document_number) if self.letter is not None else ""


def verify(token: str) -> Verdict:
    """Check a token from a letter's QR code (any edition's letter)."""
    try:
        found = visa_token.verify(token, public_keys())
    except visa_token.VisaTokenError:
        return Verdict("not_genuine")
    letter = db.session.scalar(select(VisaLetter).where(
        VisaLetter.public_id == found.letter_id).execution_options(**ALL_EDITIONS))
    if letter is None or letter.edition_id != found.edition or letter.issued_at is None:
        return Verdict("not_genuine")
    edition = db.session.get(Edition, letter.edition_id)
    status = "genuine" if letter.state_enum is VisaLetterState.APPROVED else "withdrawn"
    return Verdict(status, letter, edition)
