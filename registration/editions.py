"""The current edition, and the automatic scoping of every forum query to it.

Which edition a piece of code works on:

- in a request to a staff page: the edition chosen with the switcher (`session["edition"]`,
  a slug), else the current one;
- on public pages, the check-in page and the API: the edition marked current;
- in CLI commands and background code: the one entered with `edition_scope(edition)`
  (CLI commands take `--edition SLUG`, see cli_editions.py), else the current one.

The resolved edition is kept on `flask.g` for the request.

Scoping is SQLAlchemy's multi-tenancy recipe: a `do_orm_execute` listener adds
`with_loader_criteria(EditionScoped, edition_id == <current>)` to every ORM select, update
and delete, and a `before_flush` listener stamps new objects with the current edition. Core
statements on tables and raw `text()` SQL are not filtered: the check-in hot path adds the
condition itself. `execution_options(all_editions=True)` opts a statement out (purge, the
edition commands).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from .extensions import db
from .models.checkin import Checkpoint
from .models.edition import Edition, EditionScoped
from .models.types import utcnow

SESSION_KEY = "edition"
_G_REQUEST = "_edition_request"  # (request object id, Edition) for this request
_G_SCOPE = "_edition_scope"  # stack of editions entered with edition_scope()
_LOOKUP = {"all_editions": True}


class EditionError(ValueError):
    """Bad edition input (unknown slug, bad slug, dates...). The message is for people."""


# --------------------------------------------------------------------------- resolution

def get_edition(slug: str) -> Edition | None:
    return db.session.scalar(select(Edition).where(Edition.slug == slug)
                             .execution_options(**_LOOKUP))


def require_edition(slug: str) -> Edition:
    edition = get_edition(slug)
    if edition is None:
        raise EditionError(f"No edition {slug!r}. See: flask --app wsgi editions list")
    return edition


def marked_current() -> Edition | None:
    """The edition marked current (the public one), or the first one if none is marked."""
    query = (select(Edition).order_by(Edition.is_current.desc(), Edition.id).limit(1)
             .execution_options(**_LOOKUP))
    found = db.session.scalar(query)
    if found is None and ensure_first_edition():
        found = db.session.scalar(query)
    return found


MONTHS = {m: i for i, m in enumerate(
    ("january february march april may june july august september october november "
     "december").split(), start=1)}


def _dates_from_text(text: str) -> tuple[date, date]:
    """Start and end from EVENT_DATES ("8–10 December 2026 · …"), as migration 0003 reads it."""
    m = re.search(r"(\d{1,2})\s*[–-]\s*(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", text)
    if m and m.group(3).lower() in MONTHS:
        month, year = MONTHS[m.group(3).lower()], int(m.group(4))
        with contextlib.suppress(ValueError):
            return date(year, month, int(m.group(1))), date(year, month, int(m.group(2)))
    m = re.search(r"(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", text)
    if m and m.group(2).lower() in MONTHS:
        with contextlib.suppress(ValueError):
            day = date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
            return day, day
    return date(2026, 12, 8), date(2026, 12, 10)


def seed_values(config: Any) -> dict[str, Any]:
    """The first edition's settings from the environment's EVENT_* settings."""
    dates, dates_zh = config.get("EVENT_DATES") or "", config.get("EVENT_DATES_ZH") or ""
    starts, ends = _dates_from_text(dates)
    return {
        "slug": str(starts.year), "name_en": config.get("EVENT_NAME") or "Forum",
        "name_zh": config.get("EVENT_NAME_ZH") or "", "starts_on": starts, "ends_on": ends,
        "city_en": dates.split("·", 1)[1].strip() if "·" in dates else "",
        "city_zh": dates_zh.split("·", 1)[1].strip() if "·" in dates_zh else "",
        "timezone": config.get("EVENT_TIMEZONE") or "Asia/Shanghai",
        "registration_closes_at": config.get("REGISTRATION_CLOSES_AT"),
        "capacities": dict(config.get("CATEGORY_CAPACITIES") or {}),
    }


def ensure_first_edition() -> bool:
    """Make the first edition (and its main entrance) from the environment if there is no
    edition at all, as migration 0003 does; in its own transaction. True if it made one."""
    with db.engine.begin() as conn:
        if conn.scalar(select(func.count()).select_from(Edition.__table__)):
            return False
        values = {**_EDITION_DEFAULTS, **seed_values(current_app.config), "is_current": True,
                  "created_at": utcnow()}
        edition_id = conn.execute(insert(Edition.__table__).values(**values)
                                  .returning(Edition.__table__.c.id)).scalar_one()
        checkpoints = Checkpoint.__table__
        if not conn.scalar(select(func.count()).select_from(checkpoints).where(
                checkpoints.c.edition_id == edition_id, checkpoints.c.id == "main")):
            conn.execute(insert(checkpoints).values(**main_checkpoint(edition_id)))
    current_app.extensions.pop("first_edition_id", None)
    return True


_EDITION_DEFAULTS = {
    "venue_en": "", "venue_zh": "", "invitation_only": [], "organiser_name": "",
    "contact_email": "", "privacy_en": "", "privacy_zh": "", "logo_mime": "",
}


def main_checkpoint(edition_id: int) -> dict[str, Any]:
    """The main entrance every edition starts with (admits every accredited delegate)."""
    return {"edition_id": edition_id, "id": "main", "name": "Main entrance",
            "allowed_categories": None, "admit_heads_of_delegation": False, "active": True,
            "created_at": utcnow()}


def first_edition_id() -> int | None:
    """The first edition: the one old databases and badges printed before editions belong
    to. Editions are never deleted, so it is looked up once per app."""
    found = current_app.extensions.get("first_edition_id")
    if found is None:
        found = db.session.scalar(select(Edition.id).order_by(Edition.id).limit(1)
                                  .execution_options(**_LOOKUP))
        if found is not None:
            current_app.extensions["first_edition_id"] = found
    return found


def all_editions() -> list[Edition]:
    return list(db.session.scalars(select(Edition).order_by(Edition.starts_on, Edition.id)
                                   .execution_options(**_LOOKUP)))


def _for_request() -> Edition | None:
    if request.blueprint == "staff":
        slug = session.get(SESSION_KEY)
        if slug:
            chosen = get_edition(slug)
            if chosen is not None:
                return chosen
    return marked_current()


def current_edition() -> Edition | None:
    """The edition this code works on (see the module docstring)."""
    if not has_app_context():
        return None
    stack = g.get(_G_SCOPE)
    if stack:
        return stack[-1]
    if has_request_context():
        key = id(request._get_current_object())  # type: ignore[attr-defined]
        cached = g.get(_G_REQUEST)
        if cached is not None and cached[0] == key:
            return cached[1]
        edition = _for_request()
        setattr(g, _G_REQUEST, (key, edition))
        return edition
    return marked_current()


def current_edition_id() -> int | None:
    edition = current_edition()
    return edition.id if edition is not None else None


@contextlib.contextmanager
def edition_scope(edition: Edition) -> Iterator[Edition]:
    """Work on `edition` inside the block (CLI commands, background jobs, tests)."""
    stack = g.setdefault(_G_SCOPE, [])
    stack.append(edition)
    try:
        yield edition
    finally:
        stack.pop()


def forget_request_edition() -> None:
    """Resolve again on the next query (after the switcher or set-current changed it)."""
    g.pop(_G_REQUEST, None)


# --------------------------------------------------------------------------- settings

def _is_first(edition: Edition) -> bool:
    return edition.id == first_edition_id()


def registration_closes_at(edition: Edition | None = None) -> datetime | None:
    """The edition's closing time. The first edition (seeded from the environment) falls
    back to REGISTRATION_CLOSES_AT when it leaves the setting empty."""
    edition = edition or current_edition()
    if edition is None:
        return current_app.config.get("REGISTRATION_CLOSES_AT")
    if edition.registration_closes_at is not None or not _is_first(edition):
        return edition.registration_closes_at
    return current_app.config.get("REGISTRATION_CLOSES_AT")


def registration_opens_at(edition: Edition | None = None) -> datetime | None:
    edition = edition or current_edition()
    return edition.registration_opens_at if edition is not None else None


def capacities(edition: Edition | None = None) -> dict[str, int]:
    """Places per category; the first edition also honours CAPACITY_* for categories it
    leaves without a number."""
    edition = edition or current_edition()
    if edition is None:
        return dict(current_app.config.get("CATEGORY_CAPACITIES") or {})
    own = {k: int(v) for k, v in (edition.capacities or {}).items() if v is not None}
    if _is_first(edition):
        return {**(current_app.config.get("CATEGORY_CAPACITIES") or {}), **own}
    return own


def invitation_only(edition: Edition | None = None) -> set[str]:
    edition = edition or current_edition()
    return set(edition.invitation_only or []) if edition is not None else set()


def timezone_name(edition: Edition | None = None) -> str:
    edition = edition or current_edition()
    if edition is not None and edition.timezone:
        return edition.timezone
    return current_app.config.get("EVENT_TIMEZONE", "UTC")


def format_dates(edition: Edition, lang: str) -> str:
    """"8–10 December 2026" / "2026年12月8日至10日" (with the city when set)."""
    start, end = edition.starts_on, edition.ends_on
    if lang == "zh":
        if start == end:
            text = f"{start.year}年{start.month}月{start.day}日"
        elif (start.year, start.month) == (end.year, end.month):
            text = f"{start.year}年{start.month}月{start.day}日至{end.day}日"
        elif start.year == end.year:
            text = f"{start.year}年{start.month}月{start.day}日至{end.month}月{end.day}日"
        else:
            text = (f"{start.year}年{start.month}月{start.day}日至"
                    f"{end.year}年{end.month}月{end.day}日")
    else:
        def dm(d: date) -> str:
            return f"{d.day} {d.strftime('%B')}"

        if start == end:
            text = f"{dm(start)} {start.year}"
        elif (start.year, start.month) == (end.year, end.month):
            text = f"{start.day}–{end.day} {start.strftime('%B')} {start.year}"
        elif start.year == end.year:
            text = f"{dm(start)} – {dm(end)} {start.year}"
        else:
            text = f"{dm(start)} {start.year} – {dm(end)} {end.year}"
    city = edition.city(lang)
    return f"{text} · {city}" if city else text


def page_version() -> tuple:
    """What a cached page shows of the edition (its id and settings), for cache keys."""
    edition = current_edition()
    if edition is None:
        return ()
    return (edition.id, repr(sorted(edition.settings().items())))


def check_timezone(name: str) -> str:
    try:
        return ZoneInfo(name).key
    except Exception:  # noqa: BLE001 - ZoneInfo raises several kinds
        raise EditionError(f"Unknown time zone {name!r} (e.g. Asia/Shanghai).") from None


# --------------------------------------------------------------------------- listeners

def _stamp_bulk_insert(state: ORMExecuteState) -> None:
    """ORM bulk INSERT (`session.execute(insert(Model), [rows])`) bypasses before_flush."""
    entity = state.bind_arguments.get("mapper")
    if entity is None or not issubclass(entity.class_, EditionScoped):
        return
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if isinstance(params, dict) else []
    if rows and any("edition_id" not in row for row in rows):
        edition_id = current_edition_id()
        for row in rows:
            row.setdefault("edition_id", edition_id)


def _scope_orm_statements(state: ORMExecuteState) -> None:
    if (not state.is_orm_statement or state.is_column_load
            or state.execution_options.get("all_editions")):
        return
    if state.is_insert:
        _stamp_bulk_insert(state)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    edition_id = current_edition_id()
    if edition_id is None:
        return
    state.statement = state.statement.options(with_loader_criteria(
        EditionScoped, lambda cls: cls.edition_id == edition_id, include_aliases=True))


def _stamp_new_objects(sess: Session, flush_context: Any, instances: Any) -> None:
    new = [obj for obj in sess.new
           if isinstance(obj, EditionScoped) and getattr(obj, "edition_id", None) is None]
    if not new:
        return
    with sess.no_autoflush:
        edition_id = current_edition_id()
    if edition_id is None:
        raise RuntimeError("No edition: create one with `flask --app wsgi db upgrade`.")
    for obj in new:
        delegate = getattr(obj, "delegate", None)  # a photo follows its delegate
        obj.edition_id = getattr(delegate, "edition_id", None) or edition_id


_installed = False


def init_app(app: Flask) -> None:
    """Install the scoping listeners (once per process) and the request hooks."""
    global _installed
    if not _installed:
        event.listen(Session, "do_orm_execute", _scope_orm_statements)
        event.listen(Session, "before_flush", _stamp_new_objects)
        _installed = True

    @app.context_processor
    def _edition_context() -> dict[str, Any]:
        return {"current_edition": current_edition, "all_editions": all_editions}
