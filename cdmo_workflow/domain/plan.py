"""The planned schedule of a process: phase dates from the template's durations.

``Project.start`` stores ``baseline_of`` as the baseline; the forecast (``forecast.py``) reads
the same plan. Kept apart from the forecast so the aggregate does not import it back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    """The phases in an order where each comes after its ``after`` phases (stable)."""
    placed: set[str] = set()
    order: list[PhaseDef] = []
    remaining = list(process.phases)
    while remaining:
        ready = [p for p in remaining if all(a in placed for a in p.after)]
        if not ready:  # a cycle: validated definitions never have one; keep going anyway
            ready = remaining[:1]
        for p in ready:
            order.append(p)
            placed.add(p.id)
        remaining = [p for p in remaining if p.id not in placed]
    return order


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
