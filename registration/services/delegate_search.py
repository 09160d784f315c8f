"""Finding delegates: the desk's search and filters, shared by the list, batch print and export.

A `DelegateFilter` is read from a request's query string (`from_args`), written back into
links (`to_args`) and turned into a SQLAlchemy Select of Delegate (`query`). Unknown or
malformed values are dropped rather than refused: a filter link always opens a list.

Search folds the query with the same `text.search_key` that fills `Delegate.search_text`
(names in every script, organisation, email, reference), then requires every word to occur
in it: "muller" finds "Müller", 王 finds 王小明, "wang cn" finds wang.xiaoming@example.cn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, exists, func, select

from ..collation import name_sort_key
from ..countries import COUNTRY_CODES
from ..extensions import db
from ..fields import CATEGORY_KEYS
from ..models import CheckIn, Delegate, Status
from ..models.delegate import RecordSource
from ..text import search_key

PER_PAGE = 50
MAX_QUERY_LENGTH = 200
MAX_WORDS = 8

YES_NO = ("yes", "no")
SORTS: dict[str, object] = {
    "name": _l("Name"),
    "created": _l("Newest first"),
    "country": _l("Country"),
    "status": _l("Status"),
}
DEFAULT_SORT = "name"


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_words(q: str) -> list[str]:
    """The folded words of a search box entry (at most MAX_WORDS, each distinct)."""
    words: list[str] = []
    for word in search_key(q[:MAX_QUERY_LENGTH]).split():
        if word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def checked_in_clause() -> ColumnElement[bool]:
    return exists(select(CheckIn.id).where(CheckIn.delegate_id == Delegate.id))


@dataclass
class DelegateFilter:
    """What the desk is looking at. Empty strings mean "any"."""

    q: str = ""
    category: str = ""
    status: str = ""
    country: str = ""
    printed: str = ""  # "yes" (printed_at set), "no", or "" for any
    checked_in: str = ""  # "yes" (a CheckIn row exists), "no", or ""
    source: str = ""  # "invitation": came by an invitation link, or "" for any
    delegation: str = ""  # a Delegation's id (as text), or "" for any
    sort: str = DEFAULT_SORT

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> DelegateFilter:
        """Read from request.args (or any mapping of strings); invalid values are ignored."""

        def get(name: str) -> str:
            value = args.get(name)
            return value.strip() if isinstance(value, str) else ""

        q = " ".join(get("q").split())[:MAX_QUERY_LENGTH]
        category = get("category").lower()
        status = get("status").lower()
        country = get("country").upper()
        printed = get("printed").lower()
        checked_in = get("checked_in").lower()
        source = get("source").lower()
        delegation = get("delegation")
        sort = get("sort").lower()
        return cls(
            q=q,
            category=category if category in CATEGORY_KEYS else "",
            status=status if status in {s.value for s in Status} else "",
            country=country if country in COUNTRY_CODES else "",
            printed=printed if printed in YES_NO else "",
            checked_in=checked_in if checked_in in YES_NO else "",
            source=source if source in {s.value for s in RecordSource} else "",
            delegation=delegation if delegation.isdigit() and len(delegation) < 10 else "",
            sort=sort if sort in SORTS else DEFAULT_SORT,
        )

    def to_args(self, **overrides: str) -> dict[str, str]:
        """Query-string arguments for this filter (defaults left out), with overrides."""
        values = {**asdict(self), **overrides}
        defaults = {f.name: f.default for f in fields(self)}
        return {k: v for k, v in values.items() if v and v != defaults.get(k)}

    @property
    def active(self) -> bool:
        """True when anything narrows the list (sorting does not)."""
        return any(v for k, v in asdict(self).items() if k != "sort")

    def conditions(self, *, facets: bool = True) -> list[ColumnElement[bool]]:
        """WHERE clauses. `facets=False` leaves out category and status (for the counts)."""
        where: list[ColumnElement[bool]] = []
        for word in search_words(self.q):
            where.append(Delegate.search_text.like(f"%{_like_escape(word)}%", escape="\\"))
        if facets and self.category:
            where.append(Delegate.category == self.category)
        if facets and self.status:
            where.append(Delegate.status == self.status)
        if self.country:
            where.append(Delegate.country == self.country)
        if self.printed == "yes":
            where.append(Delegate.printed_at.is_not(None))
        elif self.printed == "no":
            where.append(Delegate.printed_at.is_(None))
        if self.checked_in == "yes":
            where.append(checked_in_clause())
        elif self.checked_in == "no":
            where.append(~checked_in_clause())
        if self.source:
            where.append(Delegate.source == self.source)
        if self.delegation:
            where.append(Delegate.delegation_id == int(self.delegation))
        return where

    def order_by(self) -> list:
        name = [func.lower(Delegate.family_name), func.lower(Delegate.given_name), Delegate.id]
        if self.sort == "created":
            return [Delegate.created_at.desc(), Delegate.id.desc()]
        if self.sort == "country":
            return [Delegate.country, *name]
        if self.sort == "status":
            return [Delegate.status, *name]
        return name

    def query(self) -> Select:
        """A Select of Delegate matching the filter, in the chosen order."""
        return select(Delegate).where(*self.conditions()).order_by(*self.order_by())

    def ids_query(self) -> Select:
        """Only the integer ids, same filter and order (for batch actions on a selection)."""
        return select(Delegate.id).where(*self.conditions()).order_by(*self.order_by())

    def count(self) -> int:
        return db.session.scalar(
            select(func.count(Delegate.id)).where(*self.conditions())
        ) or 0


@dataclass
class Counts:
    """Delegates per category and per status, for the current search (facets ignored)."""

    by_category: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    total: int = 0


def counts(flt: DelegateFilter | None = None) -> Counts:
    """One GROUP BY (category, status) query; category and status of `flt` are not applied,
    so the numbers tell the desk what each facet would show."""
    flt = flt or DelegateFilter()
    rows = db.session.execute(
        select(Delegate.category, Delegate.status, func.count(Delegate.id))
        .where(*flt.conditions(facets=False))
        .group_by(Delegate.category, Delegate.status)
    ).all()
    result = Counts(by_category=dict.fromkeys(CATEGORY_KEYS, 0),
                    by_status={s.value: 0 for s in Status})
    for category, status, n in rows:
        result.by_category[category] = result.by_category.get(category, 0) + n
        result.by_status[status] = result.by_status.get(status, 0) + n
        result.total += n
    return result


@dataclass
class Page:
    items: list[Delegate]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def parse_page(value: Any) -> int:
    try:
        page = int(value)
    except (TypeError, ValueError):
        return 1
    return page if 1 <= page <= 1_000_000 else 1


def sorted_ids(flt: DelegateFilter, lang: str = "en") -> list[int]:
    """Every matching id in the filter's order, names compared as a reader of `lang` expects
    (collation.name_sort_key: Ø with O, Ł with L, one-name people among the family names)
    rather than by the database's code point order. Reads narrow rows only: a few thousand
    delegates cost milliseconds."""
    rows = db.session.execute(
        select(Delegate.id, Delegate.family_name, Delegate.given_name, Delegate.country,
               Delegate.status).where(*flt.conditions())
    ).all()

    def key(row: Any) -> tuple:
        name = (name_sort_key(row.family_name or "", row.given_name or "", lang), row.id)
        if flt.sort == "country":
            return (row.country or "", *name)
        if flt.sort == "status":
            return (row.status, *name)
        return name

    return [row.id for row in sorted(rows, key=key)]


def paginate(flt: DelegateFilter, page: int = 1, per_page: int = PER_PAGE,
             lang: str = "en") -> Page:
    """One page of the filtered list; a page past the end shows the last page."""
    total = flt.count()
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    if flt.sort == "created":
        # Sort and skip over ids only, then load the page's rows: sorting narrow rows keeps
        # deep pages as fast as the first one.
        ids = list(db.session.scalars(flt.ids_query().limit(per_page).offset(start)))
    else:  # name order needs collation the databases do not share: sorted here
        ids = sorted_ids(flt, lang)[start:start + per_page]
    by_id = {d.id: d for d in db.session.scalars(select(Delegate).where(Delegate.id.in_(ids)))
             } if ids else {}
    items = [by_id[i] for i in ids if i in by_id]
    return Page(items=items, page=page, per_page=per_page, total=total)


def checked_in_ids(ids: Iterable[int]) -> set[int]:
    """Which of these delegates have checked in at least once (the list's check-in column)."""
    wanted = list(ids)
    if not wanted:
        return set()
    return set(db.session.scalars(
        select(CheckIn.delegate_id).where(CheckIn.delegate_id.in_(wanted)).distinct()
    ))
