"""Cost entries of projects (``cost_entries``): commitments and actual costs per phase.

Amounts are stored as exact decimal text (``"12500.00"``) in the project's currency, never a
float: the same digits on SQLite and PostgreSQL, read back as ``Decimal``. The table is
insert-only (triggers refuse UPDATE and DELETE), unique on (project, kind, ref). A command never
sums it: the project document keeps the running totals (``domain/budget.py``), so recording a
cost costs the same with 10 or 50,000 entries in the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cdmo_workflow.store.tables import cost_entries

Clock = Callable[[], datetime]

_CHUNK = 500


@dataclass(frozen=True)
class StoredCost:
    """One recorded entry (the columns of ``cost_entries``)."""

    id: int
    project: str
    phase: str
    kind: str
    amount: Decimal
    currency: str
    ref: str
    note: str | None
    booked_on: str | None
    source: str
    batch: str | None
    row: int | None
    recorded_by: str
    recorded_at: datetime


def _stored(row: Any) -> StoredCost:
    data = dict(row)
    data["amount"] = Decimal(data["amount"])
    return StoredCost(**data)


class CostRepository:
    """``uow.costs``: add entries and look them up inside a unit of work."""

    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def find(
        self, project: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredCost]:
        """(kind, ref) -> the stored entry, for the given keys of ``project``: one indexed
        look-up per kind and 500 refs (the unique index on project, kind, ref), so the cost
        does not grow with the entries already recorded."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        c = cost_entries.c
        by_kind: dict[str, list[str]] = {}
        for kind, ref in wanted:
            by_kind.setdefault(kind, []).append(ref)
        out: dict[tuple[str, str], StoredCost] = {}
        for kind, refs in by_kind.items():
            for i in range(0, len(refs), _CHUNK):
                stmt = sa.select(cost_entries).where(
                    c.project == project, c.kind == kind, c.ref.in_(refs[i : i + _CHUNK])
                )
                for row in self._s.execute(stmt).mappings():
                    entry = _stored(row)
                    out[(entry.kind, entry.ref)] = entry
        return out

    def add(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert entries (``amount`` a ``Decimal``, written as its exact text); their count.
        A (project, kind, ref) that exists raises the database's integrity error: callers
        look keys up first (:meth:`find`) inside the same transaction."""
        if not rows:
            return 0
        values = []
        now: datetime | None = None
        for r in rows:
            v = dict(r)
            v["amount"] = format(Decimal(v["amount"]), "f")
            if v.get("recorded_at") is None:
                now = now or self._now()  # one clock read per batch, not per row
                v["recorded_at"] = now
            values.append(v)
        stmt = sa.insert(cost_entries)
        for i in range(0, len(values), _CHUNK):
            self._s.execute(stmt, values[i : i + _CHUNK])
        return len(values)

    def list(self, project: str, phase: str | None = None) -> list[StoredCost]:
        """Every entry of ``project`` (or of one phase), in the order they were recorded."""
        c = cost_entries.c
        stmt = sa.select(cost_entries).where(c.project == project)
        if phase is not None:
            stmt = stmt.where(c.phase == phase)
        return [_stored(r) for r in self._s.execute(stmt.order_by(c.id)).mappings()]

    def count(self, project: str) -> int:
        c = cost_entries.c
        return int(
            self._s.execute(sa.select(sa.func.count()).where(c.project == project)).scalar_one()
        )
