"""Where the audit package reads rows: always a store unit of work (never its own SQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cdmo_workflow.store.uow import UnitOfWork

Source = Any
"""A ``store.Database``, a ``store.UnitOfWork`` or an SQLAlchemy ``Engine``."""


@contextmanager
def unit_of_work(source: Source) -> Iterator[UnitOfWork]:
    """A read-only unit of work over ``source`` (an open one is lent, not closed)."""
    from cdmo_workflow.store.uow import Database, UnitOfWork

    if isinstance(source, UnitOfWork):
        yield source
        return
    if isinstance(source, Database):
        uow = source.unit_of_work(read_only=True)
    else:
        uow = UnitOfWork(source, read_only=True)
    with uow:
        yield uow
