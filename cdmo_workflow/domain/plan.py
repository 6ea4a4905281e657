"""The planned schedule of a process: phase dates from the template's durations.

``Project.start`` stores ``baseline_of`` as the baseline; the forecast (``forecast.py``) reads
the same plan. Kept apart from the forecast so the aggregate does not import it back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..spec.graph import graph_of, reachable_order
from ..spec.models import PhaseDef, ProcessDef
from .calendar import WorkCalendar, add_duration
from .calendar import duration as _duration

SECONDS_PER_DAY = 86400.0


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _iso_or_none(t: datetime | None) -> str | None:
    return None if t is None else _iso(t)


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / SECONDS_PER_DAY, 1)


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def planned_end(pdef: PhaseDef, start: datetime, calendar: WorkCalendar | None = None) -> datetime:
    """``start`` plus the phase's planned duration (0 days when it has none); business days
    skip the site calendar's closed days."""
    if not pdef.duration:
        return start
    return add_duration(pdef.duration, start, calendar)


def planned_days(pdef: PhaseDef) -> float:
    """Calendar length of the planned duration in days (business days count 7/5)."""
    return _duration(pdef.duration).days if pdef.duration else 0.0


def topological(process: ProcessDef) -> list[PhaseDef]:
    """The phases in an order where each comes after its ``after`` phases (the graph's one
    walk, ``spec.graph.reachable_order``); phases that can never start (only in a definition
    that failed validation) follow in file order."""
    order = reachable_order(graph_of(process))
    placed = set(order)
    by_id = {p.id: p for p in process.phases}
    return [by_id[i] for i in order] + [p for p in process.phases if p.id not in placed]


def plan(
    process: ProcessDef, start: datetime, calendar: WorkCalendar | None = None
) -> dict[str, tuple[datetime, datetime]]:
    """The pure plan: every phase starts when the last of its ``after`` phases ends."""
    out: dict[str, tuple[datetime, datetime]] = {}
    for p in topological(process):
        s = max((out[a][1] for a in p.after if a in out), default=start)
        out[p.id] = (s, planned_end(p, s, calendar))
    return out


def baseline_of(
    process: ProcessDef, start: datetime, calendar: WorkCalendar | None = None
) -> dict[str, dict[str, str]]:
    """The baseline a project stores when it starts: ``{phase: {"start", "end"}}`` in UTC."""
    return {
        pid: {"start": _iso(s), "end": _iso(e)}
        for pid, (s, e) in plan(process, start, calendar).items()
    }
