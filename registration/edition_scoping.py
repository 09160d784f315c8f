"""The automatic scoping of every forum query to the current edition (see editions.py).

SQLAlchemy's multi-tenancy recipe: a `do_orm_execute` listener adds
`with_loader_criteria(EditionScoped, edition_id == <current>)` to every ORM select, update
and delete and stamps ORM bulk inserts, and a `before_flush` listener stamps new objects with
the current edition (or their delegate's). A write to an edition forgets the process's
cached copy of the current one. `execution_options(all_editions=True)` opts a statement out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from .editions import current_edition_id, edition_id_for, forget_cached_edition
from .models.edition import Edition, EditionScoped


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
    if state.is_update or state.is_delete or state.is_insert:
        mapper = state.bind_arguments.get("mapper")
        if mapper is not None and issubclass(mapper.class_, Edition):
            forget_cached_edition()
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
    if any(isinstance(obj, Edition) for obj in (*sess.new, *sess.dirty, *sess.deleted)):
        forget_cached_edition()
    new = [obj for obj in sess.new
           if isinstance(obj, EditionScoped) and getattr(obj, "edition_id", None) is None]
    if not new:
        return
    for obj in new:
        with sess.no_autoflush:  # a photo follows its delegate
            obj.edition_id = edition_id_for(getattr(obj, "delegate", None))


_installed = False


def install() -> None:
    """Listen on every Session (once per process)."""
    global _installed
    if not _installed:
        event.listen(Session, "do_orm_execute", _scope_orm_statements)
        event.listen(Session, "before_flush", _stamp_new_objects)
        _installed = True
