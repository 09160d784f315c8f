"""Badges for delegates: the app's data → badges.BadgeData, single prints, reprints, batches.

Printing is a state change: the first print moves approved → badge_printed and every print
is audited. A reprint bumps the badge serial, which revokes every QR code printed before
(badge_token.verify answers "revoked" for an older serial).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import selectinload

import badges

from .. import editions
from ..badge_token import MAX_SERIAL
from ..countries import country_name
from ..extensions import db, real_app
from ..i18n import category_label, event_texts, plain
from ..models import AuditEntry, Delegate, DelegatePhoto, StaffUser, Status
from ..signals import badge_reprinted
from . import audit, badge_signing
from .admission import admitted_clause, may_print
from .selection import SelectionFilter

LAYOUT_KEYS: tuple[str, ...] = tuple(badges.LAYOUTS)
BATCH_LAYOUTS: tuple[str, ...] = ("a4-4up", "cr80", "a6")
SORTS: dict[str, object] = {
    "category": _l("Category, then family name"),
    "family_name": _l("Family name"),
    "country": _l("Country, then family name"),
}
REPRINT_REASONS: dict[str, object] = {
    "lost": _l("Lost"),
    "damaged": _l("Damaged"),
    "name_corrected": _l("Name or details corrected"),
    "other": _l("Other (explain)"),
}
CHUNK = 200  # delegates loaded (with photos) per query in batch runs


class PrintRefused(Exception):
    """A print or reprint that must not happen; the message is for the desk."""

    def __init__(self, message: object) -> None:
        self.message = plain(message)
        super().__init__(self.message)


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(staff: StaffUser | None, actor: str) -> str:
    return audit.actor_label(staff, actor)


def check_layout(layout: str) -> str:
    if layout not in badges.LAYOUTS:
        raise PrintRefused(_l("Unknown badge layout “%(layout)s”; choose one of %(known)s.",
                              layout=layout, known=", ".join(LAYOUT_KEYS)))
    return layout


def badge_data(delegate: Delegate, lang: str | None = None,
               photo: bytes | bool | None = True) -> badges.BadgeData:
    """What is printed on `delegate`'s badge, resolved to display strings: the country in
    `lang` (default badge_language()), the category label in English and Chinese. The
    name goes as given + family name plus the stored badge name, so the engine can shorten
    a long name without losing the family name (badges.names). `photo=True` loads the
    stored photo; pass bytes (or None) when already loaded."""
    from .delegations import delegation_label

    lang = lang or badge_language()
    if photo is True:
        photo = delegate.photo.jpeg if delegate.photo is not None else None
    country = country_name(delegate.country, lang) if delegate.country else ""
    return badges.BadgeData(
        badge_name=delegate.badge_name or "",
        given_name=delegate.given_name or "",
        family_name=delegate.family_name or "",
        honorific=delegate.honorific or "",
        native_name=delegate.native_name or "",
        organisation=delegate.organisation or "",
        position=delegate.position or "",
        # An international organisation's badge names the organisation, not its seat.
        country=delegation_label(delegate, lang) or country,
        category=delegate.category,
        category_label=category_label(delegate.category, "en").upper(),
        category_label_zh=category_label(delegate.category, "zh"),
        qr_payload=badge_signing.token_for(delegate),
        reference=delegate.reference,
        photo=photo or None,
    )


def badge_language() -> str:
    """Badges are printed in one language whoever prints them (country and category names);
    BADGE_LANGUAGE in the config, English by default."""
    lang = current_app.config.get("BADGE_LANGUAGE") or "en"
    return lang if lang in current_app.config.get("LANGUAGES", ["en"]) else "en"


def event_info(lang: str | None = None) -> badges.EventInfo:
    """The event as badges print it: its name in English and Chinese (door and security
    staff read Chinese), its dates in `lang` (default the badge language), and the
    edition's logo if it has one."""
    logo = editions.logo()
    return badges.EventInfo(name=event_texts("en")["event_name"],
                            name_zh=event_texts("zh")["event_name"],
                            dates=event_texts(lang or badge_language())["event_dates"],
                            logo=logo[0] if logo else None)


def check_printable(delegate: Delegate) -> None:
    if not delegate.is_accredited:
        raise PrintRefused(_l("Only accredited delegates get a badge; %(ref)s is “%(status)s”.",
                              ref=delegate.reference, status=delegate.status_label))
    if not may_print(delegate):  # services/admission.py: the vetting gate
        raise PrintRefused(_l("No badge before vetting clears %(ref)s (vetting: “%(state)s”).",
                              ref=delegate.reference, state=delegate.vetting_enum.label))


def check_first_print(delegate: Delegate) -> None:
    check_printable(delegate)
    if delegate.printed_at is not None:
        raise PrintRefused(_l("This badge was already printed. To print it again, reprint "
                              "it with a reason: the old badge then stops working."))


def check_reprint(delegate: Delegate, reason: str, reason_text: str) -> tuple[str, str]:
    """The reprint's reason and explanation, cleaned; PrintRefused when it cannot happen."""
    reason = (reason or "").strip()
    reason_text = " ".join((reason_text or "").split())[:200]
    if reason not in REPRINT_REASONS:
        raise PrintRefused(_l("Choose the reason for the reprint."))
    if reason == "other" and not reason_text:
        raise PrintRefused(_l("Explain the reason for the reprint."))
    check_printable(delegate)
    if delegate.printed_at is None:
        raise PrintRefused(_l("This badge has not been printed yet: print it first."))
    if delegate.badge_serial >= MAX_SERIAL:
        raise PrintRefused(_l("This badge cannot be reprinted any more."))
    return reason, reason_text


def preview_badge(delegate: Delegate, layout: str = "a6") -> bytes:
    """The badge PDF as it would print now; nothing is recorded."""
    check_layout(layout)
    check_printable(delegate)
    return badges.render_badge(badge_data(delegate), event_info(), layout)


def mark_printed(delegate: Delegate, staff: StaffUser | None, actor: str, layout: str,
                 **details: Any) -> None:
    """Record one printed badge (the caller commits): a printer reported it done."""
    _mark_printed(delegate, staff, audit.actor_label(staff, actor), layout, **details)


def _mark_printed(delegate: Delegate, staff: StaffUser | None, actor: str, layout: str,
                  **details: Any) -> None:
    old = delegate.status_enum
    if old == Status.APPROVED:
        delegate.move_to(Status.BADGE_PRINTED)
    delegate.printed_at = _now()
    delegate.print_count = (delegate.print_count or 0) + 1
    delegate.needs_reprint = False
    audit.record(delegate, "printed", actor=actor, staff=staff, layout=layout,
                 serial=delegate.badge_serial, print_count=delegate.print_count,
                 status_from=old.value, status_to=delegate.status, **details)


def _lock(delegate: Delegate) -> None:
    """Re-read the row under a lock so two desks cannot both bump the same serial."""
    db.session.refresh(delegate, with_for_update=True)


def print_badge(delegate: Delegate, staff: StaffUser | None, layout: str = "a6", *,
                actor: str = "system") -> bytes:
    """First print of a badge: renders it, marks it printed, commits. Returns the PDF."""
    check_layout(layout)
    _lock(delegate)
    try:
        check_first_print(delegate)
        pdf = badges.render_badge(badge_data(delegate), event_info(), layout)
        _mark_printed(delegate, staff, _actor(staff, actor), layout)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return pdf


def reprint_badge(delegate: Delegate, staff: StaffUser | None, reason: str,
                  layout: str = "a6", *, reason_text: str = "", actor: str = "system") -> bytes:
    """A replacement badge with a new serial: every older QR code is revoked."""
    check_layout(layout)
    _lock(delegate)
    try:
        reason, reason_text = check_reprint(delegate, reason, reason_text)
        new_serial = delegate.badge_serial + 1
        with drawn_with_serial(delegate, new_serial):
            pdf = badges.render_badge(badge_data(delegate), event_info(), layout)
        apply_reprint(delegate, staff, _actor(staff, actor), reason, reason_text, layout,
                      new_serial)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return pdf


@contextmanager
def drawn_with_serial(delegate: Delegate, serial: int) -> Iterator[None]:
    """Draw a badge as it will be after a reprint (its QR code carries `serial`) without
    recording anything: the serial goes back when the block ends."""
    old = delegate.badge_serial
    delegate.badge_serial = serial
    try:
        yield
    finally:
        delegate.badge_serial = old


def apply_reprint(delegate: Delegate, staff: StaffUser | None, actor: str, reason: str,
                  reason_text: str, layout: str, new_serial: int, **details: Any) -> None:
    """Record a reprint whose badge carries `new_serial`: every older QR code is revoked."""
    old_serial = delegate.badge_serial
    status = delegate.status_enum
    # badge_printed → badge_printed and checked_in → checked_in are the reprint moves.
    delegate.move_to(Status.BADGE_PRINTED if status == Status.APPROVED else status)
    delegate.badge_serial = max(new_serial, old_serial + 1)
    delegate.printed_at = _now()
    delegate.print_count = (delegate.print_count or 0) + 1
    delegate.needs_reprint = False
    audit.record(delegate, "reprinted", actor=actor, staff=staff,
                 reason=reason, reason_text=reason_text, layout=layout,
                 old_serial=old_serial, new_serial=delegate.badge_serial,
                 print_count=delegate.print_count, **details)
    badge_reprinted.send(real_app(), delegate=delegate,
                         reason=reason_text if reason == "other" else reason)


def _order(sort: str) -> list:
    names = [func.lower(Delegate.family_name), func.lower(Delegate.given_name), Delegate.id]
    if sort == "category":
        return [Delegate.category, *names]
    if sort == "country":
        return [Delegate.country, *names]
    if sort == "family_name":
        return names
    raise PrintRefused(_l("Unknown sort order “%(sort)s”.", sort=sort))


def batch_ids(selection: SelectionFilter, *, sort: str = "category",
              unprinted: bool = False, first_id: int | None = None) -> list[int]:
    """Ids of the accredited delegates in `selection`, in handing-out order (`first_id`,
    a head of delegation, before everyone else)."""
    order = _order(sort)
    if first_id is not None:
        order = [case((Delegate.id == first_id, 0), else_=1), *order]
    inner = selection.query().with_only_columns(Delegate.id).order_by(None).limit(None)
    stmt = select(Delegate.id).where(Delegate.id.in_(inner), admitted_clause())
    if unprinted:
        stmt = stmt.where(Delegate.printed_at.is_(None))
    return list(db.session.scalars(stmt.order_by(*order)))


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def print_batch(selection: SelectionFilter, staff: StaffUser | None, layout: str,
                out: BinaryIO, progress: Callable[[int, int], None] | None = None, *,
                sort: str = "category", unprinted: bool = False, actor: str = "system",
                lang: str | None = None, workers: int = 1,
                before_commit: Callable[[int], None] | None = None,
                first_id: int | None = None) -> int:
    """Render the accredited delegates of `selection` into one PDF written to `out`, then
    mark every one printed (with an audit entry) and commit. Returns the badge count.

    Memory stays bounded: delegates and photos are loaded CHUNK at a time and let go once
    drawn; the PDF streams to `out`. If rendering fails nothing is marked. `workers` > 1
    renders chunks in that many processes (the CLI's overnight runs; not inside web workers).
    `before_commit(count)` runs inside the marking transaction (a job records its finished
    output there); if it raises, nothing is marked.
    """
    check_layout(layout)
    lang = lang or badge_language()
    ids = batch_ids(selection, sort=sort, unprinted=unprinted, first_id=first_id)
    total = len(ids)
    event = event_info()

    # What each badge was drawn from: a record changed while the run went on (an edit, a
    # photo, a reprint elsewhere) is not marked printed from a stale drawing.
    drawn: dict[int, tuple] = {}

    def badge_stream() -> Iterator[badges.BadgeData]:
        for chunk in _chunks(ids, CHUNK):
            rows = db.session.scalars(
                select(Delegate).where(Delegate.id.in_(chunk))
                .options(selectinload(Delegate.photo))
            ).all()
            by_id = {d.id: d for d in rows}
            for delegate_id in chunk:
                delegate = by_id.get(delegate_id)
                if delegate is not None:
                    drawn[delegate.id] = _drawn_state(delegate)
                    yield badge_data(delegate, lang)
            _forget(rows)

    def tick(done: int) -> None:
        if progress is not None:
            progress(done, total)

    try:
        if progress is not None:
            progress(0, total)
        count = badges.render_badges(badge_stream(), event, layout, out, tick, workers=workers)
        out.flush()  # the whole PDF is stored before anything is marked printed
        _mark_batch(ids, staff, _actor(staff, actor), layout, total, drawn)
        if before_commit is not None:
            before_commit(count)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return count


def _forget(rows: Sequence[Delegate]) -> None:
    for delegate in rows:
        if delegate.photo is not None:
            db.session.expunge(delegate.photo)
        db.session.expunge(delegate)


# What a badge is drawn from (badge_data): a record whose drawing differs at marking time
# was changed while the batch rendered. Not updated_at/printed_at: another batch printing
# the same delegate meanwhile, or a check-in, changes those and leaves the drawing right.
_DRAWN_COLUMNS = (Delegate.badge_serial, Delegate.reference, Delegate.category,
                  Delegate.honorific, Delegate.given_name, Delegate.family_name,
                  Delegate.native_name, Delegate.badge_name, Delegate.organisation,
                  Delegate.position, Delegate.country, Delegate.delegation_id)


def _drawn_state(delegate: Delegate) -> tuple:
    photo = delegate.photo.updated_at if delegate.photo is not None else None
    return (*(getattr(delegate, column.key) for column in _DRAWN_COLUMNS), photo)


def _state_now(row: Any) -> tuple:
    """_drawn_state of a row read by _mark_batch."""
    return (*(getattr(row, column.key) for column in _DRAWN_COLUMNS), row.photo_updated_at)


def _mark_batch(ids: Sequence[int], staff: StaffUser | None, actor: str, layout: str,
                total: int, drawn: dict[int, tuple]) -> None:
    now = _now()
    staff_id = staff.id if staff is not None else None
    for chunk in _chunks(ids, 500):
        found = db.session.execute(
            select(Delegate.id, Delegate.status, Delegate.print_count, *_DRAWN_COLUMNS[1:],
                   Delegate.badge_serial, DelegatePhoto.updated_at.label("photo_updated_at"))
            .outerjoin(DelegatePhoto, DelegatePhoto.delegate_id == Delegate.id)
            .where(Delegate.id.in_(chunk), admitted_clause())
            .with_for_update(of=Delegate)
        ).all()
        rows = [r for r in found if drawn.get(r.id) == _state_now(r)]
        stale = [r.id for r in found if drawn.get(r.id) != _state_now(r)]
        if stale:
            # Their sheet in this PDF shows the old record: flag them for the desk.
            db.session.execute(
                update(Delegate).where(Delegate.id.in_(stale)).values(needs_reprint=True),
                execution_options={"synchronize_session": False},
            )
            db.session.execute(insert(AuditEntry), [
                {"delegate_id": delegate_id, "staff_id": staff_id, "actor": actor,
                 "action": "print_discarded", "created_at": now,
                 "details": {"layout": layout, "batch": total,
                             "why": "changed while the batch was rendering"}}
                for delegate_id in stale
            ])
        if not rows:
            continue
        live = [r.id for r in rows]
        db.session.execute(
            update(Delegate).where(Delegate.id.in_(live))
            .values(printed_at=now, print_count=Delegate.print_count + 1, needs_reprint=False,
                    updated_at=now),
            execution_options={"synchronize_session": False},
        )
        db.session.execute(
            update(Delegate).where(Delegate.id.in_(live),
                                   Delegate.status == Status.APPROVED.value)
            .values(status=Status.BADGE_PRINTED.value),
            execution_options={"synchronize_session": False},
        )
        db.session.execute(insert(AuditEntry), [
            {
                "delegate_id": r.id, "staff_id": staff_id, "actor": actor, "action": "printed",
                "created_at": now,
                "details": {
                    "layout": layout, "serial": r.badge_serial, "batch": total,
                    "print_count": (r.print_count or 0) + 1, "status_from": r.status,
                    "status_to": (Status.BADGE_PRINTED.value
                                  if r.status == Status.APPROVED.value else r.status),
                },
            }
            for r in rows
        ])


def render_to_bytes(selection: SelectionFilter, staff: StaffUser | None, layout: str,
                    **kwargs: Any) -> tuple[bytes, int]:
    """print_batch into memory (small runs and tests)."""
    buf = io.BytesIO()
    count = print_batch(selection, staff, layout, buf, **kwargs)
    return buf.getvalue(), count
