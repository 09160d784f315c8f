"""All models, importable from one place (`from registration.models import Delegate`)."""

from .audit import AuditEntry
from .checkin import CheckIn, Checkpoint, Device, Scan
from .delegate import Delegate, DelegatePhoto
from .delegation import Delegation, DelegationKind, FocalPoint
from .edition import Edition, EditionScoped
from .invitation import Invitation, InvitationState
from .job import Job, JobOutputChunk, JobState
from .outbox import OutboxMessage
from .printer import Printer, PrintJob, PrintJobKind, PrintJobState
from .staff import LoginThrottle, Role, StaffUser
from .status import ACCREDITED, STATUS_LABELS, InvalidTransition, Status

__all__ = [
    "ACCREDITED",
    "STATUS_LABELS",
    "AuditEntry",
    "CheckIn",
    "Checkpoint",
    "Delegate",
    "DelegatePhoto",
    "Delegation",
    "DelegationKind",
    "Device",
    "Edition",
    "EditionScoped",
    "FocalPoint",
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
]
