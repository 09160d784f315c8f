"""The current edition, its settings, and which edition a piece of code works on.

Which edition a piece of code works on:

- in a request to a staff page: the edition chosen with the switcher (`session["edition"]`,
  a slug), else the current one;
- on public pages, the check-in page and the API: the edition marked current;
- in CLI commands and background code: the one entered with `edition_scope(edition)`
  (CLI commands take `--edition SLUG`, see cli_editions.py), else the current one.

The resolved edition is kept on `flask.g` for the request; public requests read its
settings from the process's cached copy (`edition_settings`).

Every ORM query is limited to that edition, and new records are stamped with it, by the
listeners of edition_scoping.py. Core statements on tables and raw `text()` SQL are not
filtered: the check-in hot path adds the condition itself.
`execution_options(all_editions=True)` opts a statement out (purge, the edition commands).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from sqlalchemy import Select, bindparam, inspect, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from .extensions import db
from .models.edition import Edition
from .models.types import utcnow

SESSION_KEY = "edition"
_G_REQUEST = "_edition_request"  # the Edition resolved for this request
_G_SCOPE = "_edition_scope"  # stack of editions entered with edition_scope()
# id(copy) -> (copy, the cached snapshot it was made from), for page_version
_G_FROM_SNAPSHOT = "_edition_from_snapshot"
_G_SNAPSHOT = "_edition_snapshot"  # the cached copy a public request reads settings from
# `.execution_options(**ALL_EDITIONS)`: this statement is not limited to one edition.
ALL_EDITIONS: dict[str, Any] = {"all_editions": True}
_LOOKUP = ALL_EDITIONS


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
    """The edition marked current (the public one), or the first one if none is marked.
    None only in a database without editions (not migrated: `flask --app wsgi db upgrade`
    makes the first one)."""
    return db.session.scalar(
        select(Edition).order_by(Edition.is_current.desc(), Edition.id).limit(1)
        .execution_options(**_LOOKUP))


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


# The edition marked current, remembered per process for public requests (the form, the
# API, the door) and background work: read on every request, changed rarely. A change in this
# process (an ORM write to an edition, `set_current`) forgets it at once; other processes
# see it within EDITION_CACHE_SECONDS. Staff pages always read it afresh.
EDITION_CACHE_SECONDS = 2.0
_current_cache: dict[str, Any] = {"generation": 0, "entry": None}


def forget_cached_edition() -> None:
    """Every app in this process reads the current edition afresh on its next request."""
    _current_cache["generation"] += 1
    _current_cache["entry"] = None
    if has_app_context():
        g.pop(_G_SNAPSHOT, None)


def _fresh_snapshot() -> Edition | None:
    """The cached detached copy of the current edition, if this app's and still fresh."""
    entry = _current_cache["entry"]
    if (entry is not None and entry[0] is current_app.extensions.get("edition_cache_key")
            and entry[1] > time.monotonic() and entry[2] == _current_cache["generation"]):
        return cast(Edition, entry[3])
    return None


def _cached_current() -> Edition | None:
    seconds = float(current_app.config.get("EDITION_CACHE_SECONDS", EDITION_CACHE_SECONDS))
    now = time.monotonic()
    key = current_app.extensions.setdefault("edition_cache_key", object())  # this app's
    # The copy this request has read settings from already (edition_settings), so that the
    # request keeps one edition throughout; else the process's cached one.
    snapshot = g.get(_G_SNAPSHOT) or _fresh_snapshot()
    if snapshot is not None:
        identity = inspect(snapshot).key
        existing = db.session.identity_map.get(identity) if identity is not None else None
        if existing is not None:
            state = inspect(existing)
            if state.modified or not state.expired_attributes:
                return existing  # loaded in this session already (changes kept)
        if getattr(db.session(), "_flushing", False):
            # An ORM query from a flush hook (the watchlist's matching): merge is not
            # allowed inside a flush, and the detached copy serves (scoping needs its id).
            return snapshot
        # A copy in this session, made without a query.
        copy = db.session.merge(snapshot, load=False)
        g.setdefault(_G_FROM_SNAPSHOT, {})[id(copy)] = (copy, snapshot)
        return copy
    generation = _current_cache["generation"]
    edition = marked_current()
    if edition is None or seconds <= 0 or edition in db.session.dirty:
        return edition
    loaded = inspect(edition).dict
    snapshot = Edition()  # a detached copy of the row as read (the logo stays deferred)
    for column in Edition.__table__.columns:
        if column.key in loaded:
            set_committed_value(snapshot, column.key, loaded[column.key])
    make_transient_to_detached(snapshot)
    if generation == _current_cache["generation"]:
        _current_cache["entry"] = (key, now + seconds, generation, snapshot)
    return edition


def cached_current_edition() -> Edition | None:
    """The current edition as the per-process cache holds it: a detached copy, for reading
    its columns only (no session is touched: the door's lean path). Within
    EDITION_CACHE_SECONDS of the last read, as `current_edition` for public requests; on a
    miss it is `current_edition()` (which fills the cache)."""
    snapshot = _fresh_snapshot()
    return snapshot if snapshot is not None else current_edition()


def _for_request() -> Edition | None:
    if request.blueprint == "staff":
        slug = session.get(SESSION_KEY)
        if slug:
            chosen = get_edition(slug)
            if chosen is not None:
                return chosen
        return marked_current()
    return _cached_current()


def current_edition() -> Edition | None:
    """The edition this code works on (see the module docstring)."""
    if not has_app_context():
        return None
    stack = g.get(_G_SCOPE)
    if stack:
        return stack[-1]
    if has_request_context():  # resolved once per request (each has its own app context)
        if _G_REQUEST not in g:
            setattr(g, _G_REQUEST, _for_request())
        return g.get(_G_REQUEST)
    return _cached_current()  # CLI commands, background work: as public requests


def edition_settings() -> Edition | None:
    """The edition this code works on, for reading its columns (never for changing it).

    In a public request (not the staff pages, no `edition_scope`), before anything asked
    `current_edition()`: the per-process cached copy itself, detached and shared by every
    thread, read as it was when first asked in this request. A registration reads the
    edition's settings a dozen times; attaching a copy to the session (`Session.merge`,
    ~45 columns) cost ~3.5 % of a gunicorn worker's CPU under bench/register.py (py-spy),
    for nothing but reads. Else: `current_edition()`."""
    if has_request_context() and not g.get(_G_SCOPE):
        if _G_REQUEST in g:
            return cast(Edition | None, g.get(_G_REQUEST))  # resolved already: the same one
        pinned = g.get(_G_SNAPSHOT)
        if pinned is not None:
            return cast(Edition, pinned)
        if request.blueprint != "staff":
            snapshot = _fresh_snapshot()
            if snapshot is not None:
                setattr(g, _G_SNAPSHOT, snapshot)
                return snapshot
    return current_edition()


def current_edition_id() -> int | None:
    edition = edition_settings()
    return edition.id if edition is not None else None


# The bound parameter of a statement built once (`built_once`).
EDITION_PARAM = "scope_edition_id"


def built_once(stmt: Select) -> Select:
    """`stmt` (a select of one edition-scoped entity, with bound parameters for what varies)
    limited to the current edition by a bound parameter instead of by the scoping listener,
    for a statement built once at import and run on every registration. The listener adds
    its option to each statement it sees, so a reused statement would still be assembled
    and keyed for the compiled cache on every call: that cost more than the query itself
    (600 µs against 230 µs for the public-mail cap, bench/cpu_per_request.py). Run it with
    `in_edition(params)`."""
    entity = stmt.column_descriptions[0]["entity"]
    return (stmt.where(entity.edition_id == bindparam(EDITION_PARAM))
            .execution_options(all_editions=True))


def in_edition(params: dict[str, Any]) -> dict[str, Any]:
    """`params` for a `built_once` statement, with the current edition's id."""
    return {**params, EDITION_PARAM: required_edition_id()}


def required_edition_id() -> int:
    """The current edition's id, for a record about to be written (there must be one)."""
    edition_id = current_edition_id()
    if edition_id is None:
        raise RuntimeError("No edition: create one with `flask --app wsgi db upgrade`.")
    return edition_id


def edition_id_for(delegate: Any) -> int:
    """The edition a new record about `delegate` (or about no one: None) belongs to: the
    delegate's own, else the current one."""
    return getattr(delegate, "edition_id", None) or required_edition_id()


@contextlib.contextmanager
def edition_scope(edition: Edition) -> Iterator[Edition]:
    """Work on `edition` inside the block (CLI commands, background jobs, tests)."""
    stack = g.setdefault(_G_SCOPE, [])
    stack.append(edition)
    try:
        yield edition
    finally:
        stack.pop()


@contextlib.contextmanager
def edition_scope_id(edition_id: int | None) -> Iterator[Edition | None]:
    """`edition_scope` for an edition known by id (a background thread carries the id of
    the edition its request worked on); None: the current edition, as without a scope."""
    edition = None
    if edition_id is not None:
        current = _cached_current()  # mostly it is the current one: no query then
        edition = (current if current is not None and current.id == edition_id
                   else db.session.get(Edition, edition_id))
    if edition is None:
        yield None
        return
    with edition_scope(edition):
        yield edition


def forget_request_edition() -> None:
    """Resolve again on the next query (after the switcher or set-current changed it)."""
    g.pop(_G_REQUEST, None)
    g.pop(_G_SNAPSHOT, None)


# --------------------------------------------------------------------------- settings

def registration_closes_at(edition: Edition | None = None) -> datetime | None:
    edition = edition or edition_settings()
    return edition.registration_closes_at if edition is not None else None


def registration_opens_at(edition: Edition | None = None) -> datetime | None:
    edition = edition or edition_settings()
    return edition.registration_opens_at if edition is not None else None


def capacities(edition: Edition | None = None) -> dict[str, int]:
    """Places per category; a category without a number has no limit."""
    edition = edition or edition_settings()
    if edition is None:
        return {}
    return {k: int(v) for k, v in (edition.capacities or {}).items() if v is not None}


def invitation_only(edition: Edition | None = None) -> set[str]:
    edition = edition or edition_settings()
    return set(edition.invitation_only or []) if edition is not None else set()


def timezone_name(edition: Edition | None = None) -> str:
    edition = edition or edition_settings()
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


def face(lang: str, edition: Edition | None = None) -> dict[str, Any]:
    """What the landing and privacy pages show of the edition, in `lang`: names (the page's
    language first, the other one beside it), dates and city, venue, the registration
    window, organiser, contact, privacy text, retention date and the logo's version."""
    edition = edition or edition_settings()
    if edition is None:
        return {}
    name, other = edition.name(lang), edition.name("en" if lang == "zh" else "zh")
    return {
        "name": name, "other_name": other if other != name else "",
        "dates": format_dates(edition, lang), "venue": edition.venue(lang),
        "opens_at": registration_opens_at(edition), "closes_at": registration_closes_at(edition),
        "timezone": timezone_name(edition), "organiser": edition.organiser_name,
        "contact_email": edition.contact_email, "privacy": edition.privacy(lang),
        "retention_until": edition.retention_until, "logo_version": edition.logo_digest,
    }


def logo(edition: Edition | None = None) -> tuple[bytes, str, str] | None:
    """The edition's logo as (bytes, mime type, digest), or None without one."""
    edition = edition or current_edition()
    if edition is None or not edition.logo_digest or not edition.logo:
        return None
    return edition.logo, edition.logo_mime, edition.logo_digest


def page_version() -> tuple:
    """What a cached page shows of the edition (its id and settings), for cache keys.

    Asked on every GET of a cached page: worked out once per cached copy of the edition
    (`_current_cache`, renewed when it changes or every EDITION_CACHE_SECONDS) when this
    request's edition was made from that copy and is unchanged; else from the edition."""
    edition = edition_settings()
    if edition is None:
        return ()
    # The snapshot this very object is, or was copied from (another thread may have
    # replaced the cached one since): the key must describe the settings the page is
    # drawn with.
    copied = g.get(_G_FROM_SNAPSHOT, {}).get(id(edition))
    if edition is g.get(_G_SNAPSHOT):
        snapshot = edition
    elif copied is None or copied[0] is not edition or inspect(edition).modified:
        return _page_version_of(edition)
    else:
        snapshot = copied[1]
    memo = _current_cache.get("page_version")
    if memo is None or memo[0] is not snapshot:
        memo = _current_cache["page_version"] = (snapshot, _page_version_of(snapshot))
    return cast(tuple, memo[1])


def _page_version_of(edition: Edition) -> tuple:
    return (edition.id, repr(sorted(edition.settings().items())))


def check_timezone(name: str) -> str:
    try:
        return ZoneInfo(name).key
    except Exception:  # noqa: BLE001 - ZoneInfo raises several kinds
        raise EditionError(f"Unknown time zone {name!r} (e.g. Asia/Shanghai).") from None


def init_app(app: Flask) -> None:
    """Install the scoping listeners (edition_scoping.py, once per process) and the
    template helpers."""
    from .edition_scoping import install

    install()

    @app.context_processor
    def _edition_context() -> dict[str, Any]:
        return {"current_edition": current_edition, "all_editions": all_editions}
