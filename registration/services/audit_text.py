"""The audit trail in words, in the reader's language: one line per change, field names as
the form labels them, statuses, sources and reprint reasons by their labels, times in the
forum's time zone. The entries themselves keep stable keys (audit.record)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..i18n import local_datetime, yes_no
from ..models import STATUS_LABELS, AuditEntry, Status, VettingStatus
from ..models.delegate import RECORD_SOURCE_LABELS, RecordSource
from ..models.staff import ROLE_LABELS

# What other actions say; their details are left out (they are in the database).
ACTION_LABELS: dict[str, object] = {
    "imported": _l("imported from a file"),
    "photo_changed": _l("photo changed"),
    "photo_removed": _l("photo removed"),
    "change_requested": _l("asked the desk to change badge fields"),
    "change_request_declined": _l("change request declined"),
    "erased": _l("personal data erased"),
    "vetting_answered": _l("answered the vetting service's question: vetting pending again"),
    "watchlist_hit_reviewed": _l("watchlist match reviewed"),
    "identity_updated": _l("identity document data updated"),
}

# Who, when the actor is not a staff account.
ACTOR_LABELS: dict[str, object] = {
    "delegate": _l("the delegate"),
    "system": _l("the system"),
    "cli": _l("command line"),
    "staff": _l("staff"),
    "scanner": _l("scanner"),
    **ROLE_LABELS,
}


def field_label(name: str) -> str:
    """A field's form label ("family_name" → "Family name"), or the name itself."""
    from ..public.forms import DelegateForm

    unbound = getattr(DelegateForm, name, None)
    return str(unbound.args[0]) if unbound is not None and unbound.args else name


def _status(value: Any) -> str:
    try:
        return str(STATUS_LABELS[Status(value)])
    except ValueError:
        return str(value)


def _vetting(value: Any) -> str:
    try:
        return VettingStatus(value).label
    except ValueError:
        return str(value)


def _show(value: Any) -> str:
    if value is None or value == "" or value == []:
        return _("(empty)")
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _when(value: Any) -> str:
    try:
        return local_datetime(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def actor_text(actor: str) -> str:
    """"staff:desk@forum.org" → the address; known words → their label."""
    if actor.startswith("staff:"):
        return actor[len("staff:"):]
    label = ACTOR_LABELS.get(actor)
    return str(label) if label is not None else actor


def _printed(entry: AuditEntry, d: dict[str, Any]) -> str:
    from .printing import REPRINT_REASONS

    parts = [_("printed badge") if entry.action == "printed" else _("reprinted badge")]
    serial = d.get("serial", d.get("new_serial"))
    if serial is not None:
        parts.append(_("serial %(serial)s", serial=serial))
    if d.get("layout"):
        parts.append(_("layout %(layout)s", layout=d["layout"]))
    line = ", ".join(parts)
    if d.get("reason"):
        reason = str(REPRINT_REASONS.get(d["reason"], d["reason"]))
        if d.get("reason_text"):
            reason += ": " + str(d["reason_text"])
        line += " " + _("(reason: %(reason)s)", reason=reason)
    return line


def describe(entry: AuditEntry) -> list[str]:
    """Readable lines for one audit entry ("edited Family name from A to B")."""
    d = dict(entry.details or {})
    if entry.action == "status":
        line = _("status %(old)s → %(new)s", old=_status(d.get("from", "?")),
                 new=_status(d.get("to", "?")))
        if d.get("reason"):
            line += " " + _("(reason: %(reason)s)", reason=d["reason"])
        return [line]
    if entry.action == "edited":
        changes = d.get("changes") or {}
        lines = [_("edited %(field)s from %(old)s to %(new)s", field=field_label(name),
                   old=_show(old), new=_show(new)) for name, (old, new) in changes.items()]
        if d.get("fields"):  # self-service edits keep field names only
            fields = ", ".join(field_label(str(f)) for f in d["fields"])
            lines.append(_("edited %(fields)s (by the delegate)", fields=fields)
                         if d.get("by") == "self_service" else _("edited %(fields)s",
                                                                   fields=fields))
        if d.get("needs_reprint"):
            lines.append(_("badge fields changed after printing: needs reprint"))
        return lines or [_("edited")]
    if entry.action == "registered":
        source = d.get("source", RecordSource.SELF.value)
        label = RECORD_SOURCE_LABELS.get(RecordSource(source)) if source in set(
            RecordSource) else source
        return [_("registered (%(source)s)", source=label)]
    if entry.action == "vetting":
        line = _("vetting %(old)s → %(new)s", old=_vetting(d.get("vetting_from")),
                 new=_vetting(d.get("vetting_to")))
        if d.get("note_given"):  # the note is on the vetting page (encrypted), not here
            line += " " + _("(with a note)")
        if d.get("revoked_serial") is not None:
            line += " " + _("(printed badge revoked)")
        return [line]
    if entry.action in ("printed", "reprinted"):
        return [_printed(entry, d)]
    if entry.action == "checked_in":
        gate = d.get("gate_name") or d.get("gate") or d.get("checkpoint")
        line = _("checked in at %(gate)s", gate=gate) if gate else _("checked in")
        return [line + (f" ({_when(d['at'])})" if d.get("at") else "")]
    if entry.action == "photo_changed" and d.get("face_override"):
        check = (_("several faces") if d.get("face_check") == "several_faces"
                 else _("no face found"))
        return [_("photo changed; face check (%(check)s) overridden: %(reason)s",
                  check=check, reason=d["face_override"])]
    label = ACTION_LABELS.get(entry.action)
    return [str(label) if label is not None else entry.action.replace("_", " ")]
