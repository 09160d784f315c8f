"""The vetting stage: decisions of the vetting service (one by one on /staff/vetting, or in
batches with services/vetting_exchange.py), requests for more information and the
delegate's answers, and the queue.

What a vetting status allows (printing, the door) is decided in one place only:
models/status.refusal, applied by services/admission.py. Here:

* every decision is audited ("vetting", with the old and new vetting status and whether a
  note was given — never its text: a note may quote a document number, and the audit trail
  is neither encrypted nor purged; the note itself is on the delegate, encrypted);
* a rejection of a delegate whose badge is printed revokes that badge: the badge serial is
  bumped, as a reprint does, so the old QR code is refused online and offline;
* a rejection withdraws the delegate's visa letter (visa_letters.withdraw_for_holders);
* `more_info` records the question (encrypted, models/vetting.py) and mails the delegate a
  request with their manage link (a nominee's mail goes to the focal point's address);
  their answer on the manage page returns the record to `pending`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, func, select, update

from ..badge_token import MAX_SERIAL
from ..extensions import db
from ..i18n import plain
from ..models import Delegate, StaffUser, Status, VettingRequest, VettingStatus, WithdrawalCause
from ..models.status import can_decide
from . import audit
from .mail import outbox as mail
from .visa_letters import withdraw_for_holders
from .watchlist.hits import open_hits_by_delegate

MAX_NOTE = 1000
MAX_ANSWER = 4000
PAGE_SIZE = 50


class VettingRefused(ValueError):
    """A decision or an answer that cannot be taken; the message is for the person."""

    def __init__(self, message: object) -> None:
        self.message = plain(message)
        super().__init__(self.message)


def clean_text(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        raise VettingRefused(_l("Keep it under %(n)d characters.", n=limit))
    return text


def parse_decision(value: str | None) -> VettingStatus:
    try:
        decision = VettingStatus((value or "").strip().lower())
    except ValueError:
        decision = None
    if decision not in (VettingStatus.CLEARED, VettingStatus.REJECTED,
                        VettingStatus.MORE_INFO):
        raise VettingRefused(_l("The decision must be cleared, rejected or more_info."))
    return decision


def check_decision(delegate: Any, decision: VettingStatus, note: str,
                   open_hits: int | None = None) -> None:
    """Whether `decision` may be taken on `delegate` (a Delegate or a row with id, status
    and vetting_status); raises VettingRefused. `open_hits`: the delegate's watchlist hits
    nobody has reviewed yet (looked up when not given). A hit is a flag, not a decision,
    but clearing someone whose flag nobody looked at would defeat it: `cleared` waits for
    the review; `rejected` and `more_info` do not."""
    if delegate.status == Status.CANCELLED.value:
        raise VettingRefused(_l("This registration is cancelled."))
    if not can_decide(delegate.vetting_status, decision):
        raise VettingRefused(_l("The identity data is incomplete: it cannot be cleared yet."))
    if decision == VettingStatus.CLEARED:
        if open_hits is None:
            open_hits = open_hits_by_delegate([delegate.id]).get(delegate.id, 0) \
                if delegate.id is not None else 0
        if open_hits:
            raise VettingRefused(_l("Not cleared: this delegate has a watchlist match nobody "
                                    "has reviewed yet. Review the watchlist match first: "
                                    "/staff/vetting/watchlist"))
    if decision == VettingStatus.MORE_INFO and not note:
        raise VettingRefused(_l("Say what information is needed: the delegate is sent the "
                                "note."))


def plan_decision(delegate: Any, decision: VettingStatus, note: str, who: str,
                  now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The column values a decision sets on `delegate` (a Delegate or a row with status,
    vetting_status, printed_at, badge_serial, needs_reprint) and its audit details. A
    rejection of a printed badge revokes it: the serial goes up, as a reprint does."""
    values: dict[str, Any] = {"vetting_status": decision.value, "vetting_note": note or None,
                              "vetted_at": now, "vetted_by": who[:254],
                              "badge_serial": delegate.badge_serial,
                              "needs_reprint": delegate.needs_reprint, "updated_at": now}
    details: dict[str, Any] = {"vetting_from": delegate.vetting_status,
                               "vetting_to": decision.value, "note_given": bool(note)}
    if (decision == VettingStatus.REJECTED and delegate.printed_at is not None
            and delegate.vetting_status != VettingStatus.REJECTED.value
            and delegate.badge_serial < MAX_SERIAL):
        # The printed badge (and e-ticket) stop working at every door, offline too.
        details["revoked_serial"] = delegate.badge_serial
        values["badge_serial"] = delegate.badge_serial + 1
        values["needs_reprint"] = True
    return values, details


def decide_in_transaction(delegate: Delegate, decision: VettingStatus | str, note: str,
                          staff: StaffUser | None, actor: str = "system") -> None:
    """Record a decision (the caller commits). Raises VettingRefused."""
    decision = VettingStatus(decision)
    note = clean_text(note, MAX_NOTE)
    check_decision(delegate, decision, note)
    who = audit.actor_label(staff, actor)
    values, details = plan_decision(delegate, decision, note, who, datetime.now(UTC))
    for name, value in values.items():
        setattr(delegate, name, value)
    if decision == VettingStatus.MORE_INFO:
        details["mailed_to"] = request_more_info(delegate, note, who)
    audit.record(delegate, "vetting", actor=who, staff=staff, **details)
    if decision == VettingStatus.REJECTED:
        withdraw_for_holders([delegate.id], WithdrawalCause.NOT_CLEARED, staff=staff)


def decide(delegate: Delegate, decision: VettingStatus | str, note: str,
           staff: StaffUser | None, actor: str = "system") -> Delegate:
    """One decision, locked and committed. Raises VettingRefused (nothing changed)."""
    db.session.refresh(delegate, with_for_update=True)
    try:
        decide_in_transaction(delegate, decision, note, staff, actor)
    except VettingRefused:
        db.session.rollback()
        raise
    db.session.commit()
    return delegate


def request_more_info(delegate: Delegate, note: str, who: str) -> str:
    """Store the question and mail the request; returns the address mailed ("" if none)."""
    if delegate.id is None:
        db.session.flush()
    queued = mail.queue("more_info", delegate)  # the question stays on the page
    mailed_to = delegate.email if queued is not None else ""
    db.session.add(VettingRequest(delegate_id=delegate.id, question=note, requested_by=who,
                                  mailed_to=mailed_to))
    return mailed_to


def open_request(delegate: Delegate) -> VettingRequest | None:
    """The latest unanswered request, if the delegate is asked for more information."""
    if delegate.vetting_status != VettingStatus.MORE_INFO.value:
        return None
    return db.session.scalar(
        select(VettingRequest).where(VettingRequest.delegate_id == delegate.id,
                                     VettingRequest.answered_at.is_(None))
        .order_by(VettingRequest.id.desc()).limit(1))


def requests_of(delegate: Delegate) -> list[VettingRequest]:
    return list(db.session.scalars(select(VettingRequest).where(
        VettingRequest.delegate_id == delegate.id).order_by(VettingRequest.id)))


def answer(delegate: Delegate, text: str, actor: str = "delegate") -> None:
    """The delegate's (or focal point's) answer: stored encrypted; back to `pending`."""
    text = clean_text(text, MAX_ANSWER)
    if not text:
        raise VettingRefused(_l("Write your answer."))
    db.session.refresh(delegate, with_for_update=True)
    request = open_request(delegate)
    if request is None:
        db.session.rollback()
        raise VettingRefused(_l("No information is asked of you at the moment."))
    request.answer = text
    request.answered_at = datetime.now(UTC)
    delegate.vetting_status = VettingStatus.PENDING.value
    audit.record(delegate, "vetting_answered", actor=actor, request=request.id,
                 vetting_from=VettingStatus.MORE_INFO.value,
                 vetting_to=VettingStatus.PENDING.value)
    db.session.commit()


# --- the queue ------------------------------------------------------------------------------

@dataclass
class QueuePage:
    delegates: list[Delegate]
    total: int
    page: int
    pages: int


def forget_requests(*where: ColumnElement[bool], recipients: bool = True,
                    **options: Any) -> int:
    """Clear the questions and answers of the requests matching `where` (they may quote
    identity data) and, with `recipients`, whom they were mailed to (erasure, an edition's
    purge; the identity purge keeps that). The caller commits. Returns the requests
    changed."""
    values: dict[str, Any] = {"question": None, "answer": None}
    if recipients:
        values["mailed_to"] = ""
    result = db.session.execute(update(VettingRequest).where(*where).values(values)
                                .execution_options(**options))
    return int(getattr(result, "rowcount", 0) or 0)


def queue_statuses() -> list[VettingStatus]:
    return list(VettingStatus)


def parse_status(value: str | None) -> VettingStatus | None:
    try:
        return VettingStatus(value or "")
    except ValueError:
        return None


def counts() -> dict[str, int]:
    """Delegates (not cancelled) per vetting status."""
    rows = db.session.execute(
        select(Delegate.vetting_status, func.count()).where(
            Delegate.status != Status.CANCELLED.value).group_by(Delegate.vetting_status))
    found = {status: int(n) for status, n in rows}
    return {s.value: found.get(s.value, 0) for s in VettingStatus}


def queue(status: VettingStatus | None, page: int = 1) -> QueuePage:
    """Delegates (not cancelled) with that vetting status, oldest registration first."""
    stmt = select(Delegate).where(Delegate.status != Status.CANCELLED.value)
    if status is not None:
        stmt = stmt.where(Delegate.vetting_status == status.value)
    total = db.session.scalar(stmt.with_only_columns(func.count())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = db.session.scalars(stmt.order_by(Delegate.created_at, Delegate.id)
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return QueuePage(delegates=list(rows), total=total, page=page, pages=pages)
