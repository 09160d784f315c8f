"""Which delegates a batch covers: the selection that batch printing, printer batches and
exports take (the desk's list filter, or a plain one for the CLI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, select

from ..models import Delegate


class SelectionFilter(Protocol):
    """What batch printing and exports need from the delegates-list filter."""

    def query(self) -> Select: ...


@dataclass
class BatchFilter:
    """A plain filter for the CLI: several categories/statuses/countries at once."""

    categories: Sequence[str] = ()
    statuses: Sequence[str] = ()
    countries: Sequence[str] = ()
    unprinted: bool = False
    delegation_id: int | None = None

    def query(self) -> Select:
        stmt = select(Delegate)
        if self.delegation_id is not None:
            stmt = stmt.where(Delegate.delegation_id == self.delegation_id)
        if self.categories:
            stmt = stmt.where(Delegate.category.in_(list(self.categories)))
        if self.statuses:
            stmt = stmt.where(Delegate.status.in_(list(self.statuses)))
        if self.countries:
            stmt = stmt.where(Delegate.country.in_(list(self.countries)))
        if self.unprinted:
            stmt = stmt.where(Delegate.printed_at.is_(None))
        return stmt


def filter_from_args(args: Mapping[str, Any]) -> SelectionFilter:
    """The delegates-list filter, read from a query string (the desk's DelegateFilter)."""
    from .delegate_search import DelegateFilter

    return DelegateFilter.from_args(args)
