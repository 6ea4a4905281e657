"""Baselines: the agreed plan of a project, kept per change. Pure.

Baseline 0 is the plan stored when the project starts (``plan.baseline_of``). Each approved
change request that moves the schedule, or migrates the project to a version whose plan
differs, appends baseline *n* naming the request, when it was approved and by whom. Earlier
baselines are never changed: the forecast's slip is measured against the newest one, and
reports can show the others.

A baseline is general on purpose: a start and end per phase, plus optional named milestones
(``{name: time}``), so another source (an agreed plan file) can supply baseline 0 too.

**Re-baselining** (:func:`rebaseline`), given the previous baseline, the process before and
after the change, the phases' states and a signed schedule impact:

1. Every phase keeps its previous baseline dates when it existed before with the same
   ``after`` list and duration and none of its predecessors was re-planned.
2. Any other phase is re-planned: it starts when the last of its ``after`` phases ends in the
   new baseline (a phase without ``after`` keeps its previous start, or starts at the
   approval when it is new) and takes its planned duration.
3. The schedule impact then moves the remaining work: a pending phase's start and end, an
   active phase's end, and every milestone after the approval, by the impact (backwards for
   a negative one). Completed phases never move.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..spec.durations import Duration, DurationError, WorkingDays, parse_duration
from ..spec.models import ProcessDef
from .calendar import WorkCalendar
from .errors import RuleViolation
from .limits import check_text
from .plan import _iso, planned_end, topological
from .records import PhaseState, iso, parse_time

START = "start"
"""Source of baseline 0 computed from the definition's durations when the project starts."""
CHANGE = "change"
"""Source of a baseline appended by an approved change request."""

_SIGNED = re.compile(r"^\s*(?P<sign>[+-]?)\s*(?P<rest>.+)$")


@dataclass
class Baseline:
    """One agreed plan: ``{phase: {"start", "end"}}`` (UTC ISO 8601), optional milestones."""

    number: int
    phases: dict[str, dict[str, str]]
    at: datetime
    """When it was set: the start of the project, or the approval of the change."""
    source: str = START
    version_hash: str | None = None
    """The definition version the plan was computed on."""
    change: str | None = None
    """The change request that caused it (``CR-3``); None for baseline 0."""
    approved_by: list[str] = field(default_factory=list)
    reason: str | None = None
    milestones: dict[str, str] = field(default_factory=dict)
    schedule_impact: str | None = None

    @property
    def end(self) -> datetime | None:
        """The planned completion: the latest phase end."""
        ends = [parse_time(v.get("end")) for v in self.phases.values()]
        return max((e for e in ends if e is not None), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "phases": {k: dict(v) for k, v in self.phases.items()},
            "at": iso(self.at),
            "source": self.source,
            "version_hash": self.version_hash,
            "change": self.change,
            "approved_by": list(self.approved_by),
            "reason": self.reason,
            "milestones": dict(self.milestones),
            "schedule_impact": self.schedule_impact,
        }

    def summary(self) -> dict[str, Any]:
        """What a forecast or a status shows of an earlier baseline."""
        return {
            "number": self.number,
            "at": iso(self.at),
            "source": self.source,
            "change": self.change,
            "approved_by": list(self.approved_by),
            "schedule_impact": self.schedule_impact,
            "end": iso(self.end),
            "milestones": dict(self.milestones),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Baseline:
        at = parse_time(d["at"])
        assert at is not None
        return cls(
            number=int(d["number"]),
            phases={k: dict(v) for k, v in (d.get("phases") or {}).items()},
            at=at,
            source=str(d.get("source") or START),
            version_hash=d.get("version_hash"),
            change=d.get("change"),
            approved_by=list(d.get("approved_by") or []),
            reason=d.get("reason"),
            milestones=dict(d.get("milestones") or {}),
            schedule_impact=d.get("schedule_impact"),
        )


def load_baselines(d: Mapping[str, Any], created_at: datetime) -> list[Baseline]:
    """The baselines of a stored document; one that only has ``baseline`` (stored before
    baselines were kept per change) loads it as baseline 0; none at all loads none."""
    if d.get("baselines"):
        return [Baseline.from_dict(b) for b in d["baselines"]]
    if d.get("baseline"):
        return [Baseline(0, dict(d["baseline"]), created_at, START, d.get("version_hash"))]
    return []


# --------------------------------------------------------------------------- impacts


@dataclass(frozen=True)
class ScheduleImpact:
    """A signed duration: ``+10bd`` moves the remaining plan later, ``-5d`` earlier."""

    text: str
    duration: Duration
    sign: int

    def move(self, t: datetime, calendar: WorkingDays | None = None) -> datetime:
        """``t`` moved by the impact; business days skip the site calendar's closed days."""
        if self.sign > 0:
            return self.duration.add_to(t, calendar)
        return self.duration.subtract_from(t, calendar)

    @property
    def days(self) -> float:
        return self.sign * self.duration.days


def parse_schedule_impact(text: str) -> ScheduleImpact:
    """``10bd``, ``+2w``, ``-5d``, ``P10D``: refused with rule ``invalid-schedule-impact``."""
    check_text("schedule impact", text)
    m = _SIGNED.match(text or "")
    try:
        if m is None:
            raise DurationError(text)
        duration = parse_duration(m["rest"].strip())
    except DurationError as err:
        raise RuleViolation(
            "invalid-schedule-impact",
            f"schedule impact {text!r} is not a duration: {err} (prefix - to bring the plan "
            "forward)",
            value=text,
        ) from None
    sign = -1 if m["sign"] == "-" else 1
    return ScheduleImpact(f"{'-' if sign < 0 else '+'}{duration.text.strip()}", duration, sign)


# --------------------------------------------------------------------------- plans


def _unchanged(old: ProcessDef | None, new_phase: Any) -> bool:
    if old is None:
        return False
    before = next((p for p in old.phases if p.id == new_phase.id), None)
    return (
        before is not None
        and list(before.after) == list(new_phase.after)
        and before.duration == new_phase.duration
    )


def rebaseline(
    previous: Mapping[str, Mapping[str, str]],
    old_process: ProcessDef | None,
    new_process: ProcessDef,
    states: Mapping[str, PhaseState],
    now: datetime,
    impact: ScheduleImpact | None = None,
    milestones: Mapping[str, str] | None = None,
    calendar: WorkCalendar | None = None,
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The phases and milestones of the next baseline (see the module's rules)."""
    out: dict[str, tuple[datetime, datetime]] = {}
    replanned: set[str] = set()
    for p in topological(new_process):
        prev = previous.get(p.id)
        p_start = parse_time(prev.get("start")) if prev else None
        p_end = parse_time(prev.get("end")) if prev else None
        keep = (
            p_start is not None
            and p_end is not None
            and _unchanged(old_process, p)
            and not any(a in replanned for a in p.after)
        )
        if keep:
            assert p_start is not None and p_end is not None
            out[p.id] = (p_start, p_end)
            continue
        replanned.add(p.id)
        pred = [out[a][1] for a in p.after if a in out]
        start = max(pred) if pred else p_start if p_start is not None else now
        out[p.id] = (start, planned_end(p, start, calendar))
    if impact is not None:
        for pid, (start, end) in list(out.items()):
            state = states.get(pid, PhaseState.PENDING)
            if state == PhaseState.COMPLETED:
                continue
            if state == PhaseState.PENDING:
                out[pid] = (impact.move(start, calendar), impact.move(end, calendar))
            else:
                out[pid] = (start, max(start, impact.move(end, calendar)))
    moved: dict[str, str] = {}
    for name, when in (milestones or {}).items():
        t = parse_time(when)
        if t is not None and impact is not None and t > now:
            t = impact.move(t, calendar)
        moved[name] = _iso(t) if t is not None else when
    return {pid: {"start": _iso(s), "end": _iso(e)} for pid, (s, e) in out.items()}, moved
