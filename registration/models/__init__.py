"""All models, importable from one place (`from registration.models import Delegate`)."""

from .audit import AuditEntry
from .checkin import CheckIn, Checkpoint, Device, Scan
from .delegate import Delegate, DelegatePhoto
from .delegation import Delegation, DelegationKind, FocalPoint
from .edition import Edition, EditionScoped
from .identity import IDENTITY_FIELDS, DelegateIdentity, DocumentType
from .invitation import Invitation, InvitationState
from .job import Job, JobOutputChunk, JobState
from .outbox import OutboxMessage
from .printer import Printer, PrintJob, PrintJobKind, PrintJobState
from .staff import LoginThrottle, Role, StaffUser
from .status import (
    ACCREDITED,
    STATUS_LABELS,
    VETTING_DECISION_LABELS,
    InvalidTransition,
    Status,
    VettingStatus,
)
from .vetting import VettingRequest
from .visa import VisaLetter, VisaLetterState, WithdrawalCause
from .watchlist import HitKind, HitState, WatchlistEntry, WatchlistHit

__all__ = [
    "ACCREDITED",
    "IDENTITY_FIELDS",
    "STATUS_LABELS",
    "VETTING_DECISION_LABELS",
    "AuditEntry",
    "CheckIn",
    "Checkpoint",
    "Delegate",
    "DelegateIdentity",
    "DelegatePhoto",
    "Delegation",
    "DelegationKind",
    "Device",
    "DocumentType",
    "Edition",
    "EditionScoped",
    "FocalPoint",
    "HitKind",
    "HitState",
    "InvalidTransition",
    "Invitation",
    "InvitationState",
    "Job",
    "JobOutputChunk",
    "JobState",
    "LoginThrottle",
    "OutboxMessage",
    "PrintJob",
    "PrintJobKind",
    "PrintJobState",
    "Printer",
    "Role",
    "Scan",
    "StaffUser",
    "Status",
    "VettingRequest",
    "VettingStatus",
    "VisaLetter",
    "VisaLetterState",
    "WatchlistEntry",
    "WatchlistHit",
    "WithdrawalCause",
]
