"""Staff accounts for the desk, check-in and administration."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class Role(StrEnum):
    ADMIN = "admin"  # everything, manages staff and devices
    DESK = "desk"  # review, edit, print, walk-ins, import/export
    SCANNER = "scanner"  # check-in only
    VETTING = "vetting"  # the vetting queue and identity data, nothing else


ROLE_LABELS: dict[str, object] = {
    Role.ADMIN: _l("administrator"),
    Role.DESK: _l("desk"),
    Role.SCANNER: _l("scanner"),
    Role.VETTING: _l("vetting"),
}


class StaffUser(Model):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Part of the session identity: bumping it logs the account out everywhere.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Flask-Login protocol.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def role_label(self) -> str:
        label = ROLE_LABELS.get(self.role)
        return str(label) if label is not None else self.role

    def has_role(self, *roles: Role | str) -> bool:
        return self.role == Role.ADMIN or self.role in {str(r) for r in roles}


class LoginThrottle(Model):
    """Failed sign-in counter per key ("ip:203.0.113.9" or "email:desk@forum.org").

    Kept in the database, not in process memory, so every gunicorn worker sees the same count.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
