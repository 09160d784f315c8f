"""All models, importable from one place (`from registration.models import Delegate`)."""

from .audit import AuditEntry
from .checkin import CheckIn, Checkpoint, Device, Scan
from .delegate import Delegate, DelegatePhoto
from .edition import Edition, EditionScoped
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
    "Device",
    "Edition",
    "EditionScoped",
    "InvalidTransition",
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
