"""The site's history of phase runs: what each completed run took against its plan.

When a command completes a phase (``phase.completed``), the runner stores the run in the
``phase_runs`` table in the same transaction: its start, its end and its planned length (the
phase's ``duration`` from that start, with the project's site calendar). The Monte Carlo
forecast (``domain/montecarlo.py``) reads those rows back across every project as ratios of
actual to planned length. Pure: the project's plain data and its events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .calendar import calendar_of
from .events import PHASE_COMPLETED, DomainEvent
from .plan import planned_end
from .records import parse_time

if TYPE_CHECKING:
    from .project import Project


def completed_runs(project: Project, events: Iterable[DomainEvent]) -> list[dict[str, Any]]:
    """One ``phase_runs`` row per phase this command completed."""
    rows: list[dict[str, Any]] = []
    cal = calendar_of(project.snapshot)
    for event in events:
        if event.name != PHASE_COMPLETED or event.phase is None:
            continue
        run = project.phases[event.phase]
        entry = next((h for h in reversed(run.history) if h.get("cycle") == run.cycle), None)
        if entry is None:
            continue
        started, ended = parse_time(entry.get("started_at")), parse_time(entry.get("ended_at"))
        if started is None or ended is None:
            continue
        pdef = project.phase_def(event.phase)
        planned = None
        if pdef.duration:
            planned = int((planned_end(pdef, started, cal) - started).total_seconds())
        rows.append(
            {
                "project": project.code,
                "process_id": project.process_id,
                "phase": event.phase,
                "kind": pdef.kind,
                "cycle": run.cycle,
                "started_at": started,
                "ended_at": ended,
                "planned_seconds": planned,
                "outcome": str(entry.get("outcome") or "")[:32] or None,
            }
        )
    return rows
