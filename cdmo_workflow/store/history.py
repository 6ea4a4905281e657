"""Completed phase runs (``phase_runs``): the site's own history for the forecast.

One row per phase run that passed its gate, written in the command's transaction (the runner
hands ``domain.history.completed_runs`` to :meth:`PhaseRunRepository.add`). The Monte Carlo
forecast asks for the runs of some phase ids or kinds across every project in the database;
the ratio of actual to planned length is computed by the core (``domain/montecarlo.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cdmo_workflow.store.tables import phase_runs

Clock = Callable[[], datetime]

_CHUNK = 500


@dataclass(frozen=True)
class StoredRun:
    project: str
    process_id: str
    phase: str
    kind: str | None
    cycle: int
    started_at: datetime
    ended_at: datetime
    planned_seconds: int | None
    outcome: str | None


class PhaseRunRepository:
    """``uow.history``: record completed runs; read them by phase id or kind."""

    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def add(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert completed runs; a (project, phase, cycle) already there is left alone."""
        if not rows:
            return 0
        from cdmo_workflow.store.sql import insert_ignore

        return insert_ignore(self._s, phase_runs, list(rows), ["project", "phase", "cycle"])

    def runs(
        self, phases: Iterable[str] = (), kinds: Iterable[str] = (), *, limit: int = 5000
    ) -> list[StoredRun]:
        """Completed runs whose phase id is in ``phases`` or whose kind is in ``kinds``, newest
        first, at most ``limit`` per query chunk (one or a few queries)."""
        ids, tags = sorted(set(phases)), sorted(set(kinds))
        if not ids and not tags:
            return []
        c = phase_runs.c
        cond = []
        if ids:
            cond.append(c.phase.in_(ids))
        if tags:
            cond.append(c.kind.in_(tags))
        stmt = (
            sa.select(
                c.project,
                c.process_id,
                c.phase,
                c.kind,
                c.cycle,
                c.started_at,
                c.ended_at,
                c.planned_seconds,
                c.outcome,
            )
            .where(sa.or_(*cond))
            .order_by(c.ended_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [StoredRun(**r) for r in self._s.execute(stmt).mappings()]
