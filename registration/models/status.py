"""The one status machine every delegate status change goes through.

    submitted ──► approved ──► badge_printed ──► checked_in
        │   ▲         │              │  ▲ (reprint)  │ (reprint)
        ▼   │         ▼              ▼               ▼
      rejected     cancelled ◄───────┴───────────────┘

A delegate can also be checked in on the e-ticket sent at approval, before a badge is
printed. `cancelled` is final: a delegate who changes their mind registers again.
"""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Status(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    BADGE_PRINTED = "badge_printed"
    CHECKED_IN = "checked_in"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


STATUS_LABELS = {
    Status.SUBMITTED: _l("submitted — pending accreditation"),
    Status.APPROVED: _l("accredited"),
    Status.BADGE_PRINTED: _l("accredited — badge printed"),
    Status.CHECKED_IN: _l("checked in"),
    Status.REJECTED: _l("not accredited"),
    Status.CANCELLED: _l("cancelled"),
}

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SUBMITTED: frozenset({Status.APPROVED, Status.REJECTED, Status.CANCELLED}),
    Status.APPROVED: frozenset(
        {Status.BADGE_PRINTED, Status.CHECKED_IN, Status.REJECTED, Status.CANCELLED}
    ),
    # badge_printed → badge_printed is a reprint.
    Status.BADGE_PRINTED: frozenset({Status.BADGE_PRINTED, Status.CHECKED_IN, Status.CANCELLED}),
    # A checked-in delegate who loses the badge gets a reprint but stays checked in.
    Status.CHECKED_IN: frozenset({Status.CHECKED_IN, Status.CANCELLED}),
    Status.REJECTED: frozenset({Status.APPROVED, Status.CANCELLED}),
    Status.CANCELLED: frozenset(),
}

# Statuses whose badge admits the holder (check-in answers "not accredited" otherwise).
ACCREDITED = frozenset({Status.APPROVED, Status.BADGE_PRINTED, Status.CHECKED_IN})
# The same, as the strings stored in `delegate.status`, in lifecycle order (for queries,
# and for the offline snapshot that scanners read).
ACCREDITED_VALUES = tuple(s.value for s in Status if s in ACCREDITED)
# Statuses that hold a place in a category's capacity.
HOLDS_PLACE = frozenset(set(Status) - {Status.REJECTED, Status.CANCELLED})


class InvalidTransition(ValueError):
    """A status change the lifecycle does not allow."""

    def __init__(self, current: Status, new: Status) -> None:
        super().__init__(f"cannot go from {current.value} to {new.value}")
        self.current = current
        self.new = new


def can_transition(current: Status | str, new: Status | str) -> bool:
    return Status(new) in TRANSITIONS[Status(current)]


def check_transition(current: Status | str, new: Status | str) -> None:
    if not can_transition(current, new):
        raise InvalidTransition(Status(current), Status(new))


class VettingStatus(StrEnum):
    """The second gate, where an edition requires vetting (`Edition.vetting_required`):
    badges print and doors admit only delegates who are accredited *and* cleared."""

    INCOMPLETE = "incomplete"  # identity data required but missing: nothing to vet yet
    PENDING = "pending"  # waiting for the vetting service
    CLEARED = "cleared"
    REJECTED = "rejected"
    MORE_INFO = "more_info"  # the delegate (or focal point) was asked for more information

    @property
    def label(self) -> str:
        return str(VETTING_LABELS[self])


VETTING_LABELS = {
    VettingStatus.INCOMPLETE: _l("identity data missing"),
    VettingStatus.PENDING: _l("pending"),  # shown after "Vetting": not "vetting pending"
    VettingStatus.CLEARED: _l("cleared"),
    VettingStatus.REJECTED: _l("not cleared"),
    VettingStatus.MORE_INFO: _l("more information requested"),
}


# Decisions the vetting service gives (the queue page, `vetting import`).
VETTING_DECISIONS = (VettingStatus.CLEARED, VettingStatus.REJECTED, VettingStatus.MORE_INFO)
VETTING_DECISION_LABELS = {
    VettingStatus.CLEARED: _l("cleared"),
    VettingStatus.REJECTED: _l("rejected (not cleared; a printed badge is revoked)"),
    VettingStatus.MORE_INFO: _l("ask for more information (mailed to the delegate)"),
}


def can_decide(current: VettingStatus | str, decision: VettingStatus | str) -> bool:
    """A record with identity data missing cannot be cleared (there is nothing to vet); any
    other decision may be given, or changed, at any time."""
    decision = VettingStatus(decision)
    if decision not in VETTING_DECISIONS:
        return False
    return not (VettingStatus(current) == VettingStatus.INCOMPLETE
                and decision == VettingStatus.CLEARED)


def refusal(status: Status | str, vetting_status: VettingStatus | str,
            vetting_required: bool) -> str | None:
    """THE rule for each (status, vetting) combination: None when the delegate's badge may
    be printed and admits them at the door; otherwise why not: "status" (not accredited:
    submitted, rejected or cancelled) or "vetting" (accredited, but the edition requires
    vetting and the delegate is not cleared). services/admission.py applies it to
    delegates, SQL selections and the check-in fast path."""
    if Status(status) not in ACCREDITED:
        return "status"
    if vetting_required and VettingStatus(vetting_status) != VettingStatus.CLEARED:
        return "vetting"
    return None
