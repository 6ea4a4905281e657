"""A real store.Database that counts its units of work and SQL statements (cost budgets).

``COUNT_TRACE=1`` prints, for each unit of work, the cdmo functions that opened it: the
first thing to look at when a budget test fails.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from cdmo_workflow.store import Database


class CountingDatabase(Database):
    """A real store.Database that counts the units of work it opens and the SQL it runs."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.units = 0
        self.statements = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.statements += 1

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        self.units += 1
        if os.environ.get("COUNT_TRACE"):
            frames = [f for f in traceback.extract_stack()[:-1] if "cdmo_workflow" in f.filename]
            print("unit of work:", " < ".join(f.name for f in reversed(frames[-6:])))
        return super().unit_of_work(read_only=read_only)

    @contextmanager
    def measure(self) -> Iterator[dict[str, int]]:
        self.units = self.statements = 0
        out: dict[str, int] = {}
        yield out
        out.update(units=self.units, statements=self.statements)
