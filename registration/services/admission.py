"""Whether a delegate's badge may be printed and admits them at the door: the one rule of
models/status.py (`refusal`: accredited, and cleared where the edition requires vetting),
applied to a delegate, to an SQL selection and to a scanned row.

Used by desk and batch printing (services/printing.py, print_batches.py), the kiosk
(services/kiosk.py), the door online (services/checkin/scan.py and the PostgreSQL fast
path, which passes the edition's switch into its one statement) and offline (the snapshot
lists the not-cleared as refused, reason "vetting").
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import ColumnElement, Select, and_, func, not_, select, true

from ..editions import current_edition, edition_settings
from ..extensions import db
from ..models import Delegate, Edition
from ..models.status import ACCREDITED_VALUES, VettingStatus, refusal

REASON_VETTING = "vetting"


def vetting_required(edition: Edition | None = None) -> bool:
    """Whether `edition` (by default the current one) requires vetting."""
    edition = edition if edition is not None else edition_settings()
    return bool(edition is not None and edition.vetting_required)


def _edition_of(delegate: Any) -> Edition | None:
    edition_id = getattr(delegate, "edition_id", None)
    current = current_edition()
    if edition_id is None or (current is not None and current.id == edition_id):
        return current
    return db.session.get(Edition, edition_id)


def refusal_for(delegate: Any, edition: Edition | None = None) -> str | None:
    """None if `delegate` (a Delegate or a scan's DelegateView) may be printed and admitted;
    else "status" or "vetting"."""
    required = vetting_required(edition if edition is not None else _edition_of(delegate))
    return refusal(delegate.status, delegate.vetting_status, required)


def may_print(delegate: Any, edition: Edition | None = None) -> bool:
    return refusal_for(delegate, edition) is None


def admits(delegate: Any, edition: Edition | None = None) -> bool:
    """Whether the badge admits the delegate (the checkpoint's zone aside)."""
    return refusal_for(delegate, edition) is None


def admitted_clause(edition: Edition | None = None) -> ColumnElement[bool]:
    """The same rule as an SQL condition on `delegate` (batch printing, snapshot)."""
    accredited = Delegate.status.in_(ACCREDITED_VALUES)
    cleared = (Delegate.vetting_status == VettingStatus.CLEARED.value
               if vetting_required(edition) else true())
    return and_(accredited, cleared)


def held_by_vetting_clause(edition: Edition | None = None) -> ColumnElement[bool]:
    """Accredited delegates whose badge vetting holds back (none if vetting is off)."""
    if not vetting_required(edition):
        return Delegate.id.is_(None)
    return and_(Delegate.status.in_(ACCREDITED_VALUES),
                Delegate.vetting_status != VettingStatus.CLEARED.value)


def nothing_to_print(selection: Any, *, unprinted: bool = False) -> str:
    """Why a batch selection (selection.SelectionFilter) gives no badge to print, for the
    desk's batch pages and the CLI: accredited delegates that vetting still holds back, or
    none accredited at all. (A missing photo holds back approval, not printing.)"""
    ids: Select[Any] = selection.query().with_only_columns(Delegate.id).order_by(None)
    stmt = select(func.count()).select_from(Delegate).where(
        Delegate.id.in_(ids), Delegate.status.in_(ACCREDITED_VALUES), not_(admitted_clause()))
    if unprinted:
        stmt = stmt.where(Delegate.printed_at.is_(None))
    waiting = db.session.scalar(stmt) or 0
    if waiting:
        return ngettext("No badge to print: %(num)d accredited delegate is waiting for "
                        "vetting.", "No badge to print: %(num)d accredited delegates are "
                        "waiting for vetting.", waiting)
    return _("No accredited delegate matches this selection.")
