"""When will a project be done, and what drives the date: a forecast over the phase DAG.

Pure: standard library, the definition models and the project's plain data. The caller
passes ``today`` (no clock here), so every number is reproducible.

The rules (documented in docs/reports.md, tested in tests/reports/test_forecast.py):

* A phase's planned length is its ``duration`` (``10d``, ``12w``, ``15bd`` with weekends,
  and the holidays and shutdowns of the project's site calendar, skipped, ...); a phase
  without a duration counts as 0 days.
* **Completed** phases use their actual start and end.
* **Active** phases (working, or waiting at their gate) started at their actual start and
  end at the later of their planned end (actual start + duration) and ``today``.
* **Pending** phases start when the last of their ``after`` phases ends (never before
  ``today``) and take their planned duration. A phase with no ``after`` starts at the
  project's start.
* A **recycle** reopens a phase with a fresh start (its earlier runs stay in ``runs``); the
  phases downstream are pending again, so they are pushed behind it.
* A project **on hold** does not progress: an active phase's planned end is pushed by the
  time the project has been on hold so far (the remaining work waits), and is never
  before ``today``; pending phases therefore start no earlier than that.
* A **killed** project has no forecast: its completion is ``None``; phases that never ran
  have no dates and the phases running at the kill end at the kill.
* The **baseline** is this same forecast computed when the project started (stored in the
  project as baseline 0); documents from before baselines were stored get it recomputed from
  the pinned snapshot and the start time, which gives the identical result. An approved
  change request that moves the plan appends a newer baseline (domain/baselines.py): the
  slip is always against the **newest** one, and ``baselines`` lists them all.
* The **critical path** runs backwards from the phase that ends last, each time through
  the predecessor that ends last. **Slip** is forecast end minus baseline end, in days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..spec.models import PhaseDef
from .calendar import calendar_of
from .plan import (
    _days,
    _iso,
    _iso_or_none,
    _utc,
    baseline_of,
    planned_days,
    planned_end,
    topological,
)
from .records import PhaseState, ProjectState, ReviewState, parse_time
from .sla import gate_due_at, is_overdue

if TYPE_CHECKING:  # pragma: no cover - typing only (project.py imports this module)
    from .project import Project


@dataclass(frozen=True)
class Run:
    """One activation of a phase: ``end`` is None while it still runs."""

    cycle: int
    start: datetime
    end: datetime | None
    outcome: str | None
    """go, conditional-go, recycled; None for the activation that is still running."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "start": _iso(self.start),
            "end": _iso_or_none(self.end),
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class PhaseForecast:
    id: str
    name: str
    state: str
    cycle: int
    duration: str | None
    planned_days: float
    after: tuple[str, ...]
    baseline_start: datetime | None
    baseline_end: datetime | None
    actual_start: datetime | None
    """Start of the current activation (None while pending)."""
    actual_end: datetime | None
    """End of the current activation (completed phases; a killed project's running phases)."""
    start: datetime | None
    """Forecast start (None only for phases of a killed project that never ran)."""
    end: datetime | None
    planned_end: datetime | None
    """Planned end of the current activation: actual start + duration (None while pending)."""
    runs: tuple[Run, ...]
    critical: bool
    slack_days: float | None
    slip_days: float | None

    @property
    def overdue(self) -> bool:
        """Running past its planned end (the forecast then tracks ``today``)."""
        return (
            self.actual_end is None
            and self.planned_end is not None
            and self.end is not None
            and self.end > self.planned_end
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "cycle": self.cycle,
            "duration": self.duration,
            "planned_days": self.planned_days,
            "after": list(self.after),
            "baseline": {
                "start": _iso_or_none(self.baseline_start),
                "end": _iso_or_none(self.baseline_end),
            },
            "actual": {
                "start": _iso_or_none(self.actual_start),
                "end": _iso_or_none(self.actual_end),
            },
            "forecast": {"start": _iso_or_none(self.start), "end": _iso_or_none(self.end)},
            "planned_end": _iso_or_none(self.planned_end),
            "overdue": self.overdue,
            "critical": self.critical,
            "slack_days": self.slack_days,
            "slip_days": self.slip_days,
            "runs": [r.to_dict() for r in self.runs],
        }


@dataclass(frozen=True)
class Forecast:
    """Every phase's baseline, actual and forecast dates, the critical path and the slip."""

    project: str
    state: str
    today: datetime
    start: datetime
    completion: datetime | None
    """Forecast completion; the actual one for a completed project; None once killed."""
    baseline_completion: datetime | None
    slip_days: float | None
    critical_path: tuple[str, ...]
    phases: tuple[PhaseForecast, ...]
    baseline_source: str
    """``stored`` (computed at start) or ``recomputed`` (older documents)."""
    on_hold_since: datetime | None = None
    ended_at: datetime | None = None
    """When a completed or killed project ended."""
    baseline_number: int = 0
    """Which baseline the slip is measured against (the newest)."""
    baselines: tuple[dict[str, Any], ...] = ()
    """Every baseline, oldest first: ``{number, at, source, change, approved_by, end, ...}``."""

    def phase(self, phase_id: str) -> PhaseForecast:
        for p in self.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "state": self.state,
            "today": _iso(self.today),
            "start": _iso(self.start),
            "completion": _iso_or_none(self.completion),
            "baseline_completion": _iso_or_none(self.baseline_completion),
            "slip_days": self.slip_days,
            "critical_path": list(self.critical_path),
            "baseline_source": self.baseline_source,
            "on_hold_since": _iso_or_none(self.on_hold_since),
            "ended_at": _iso_or_none(self.ended_at),
            "baseline_number": self.baseline_number,
            "baselines": [dict(b) for b in self.baselines],
            "phases": [p.to_dict() for p in self.phases],
        }


def _runs(history: Sequence[Mapping[str, Any]]) -> list[Run]:
    """Earlier activations, one per cycle: the first record of a cycle holds its real end
    (a passed phase that is later recycled gets a second ``recycled`` record)."""
    by_cycle: dict[int, Run] = {}
    for h in history:
        start = parse_time(h.get("started_at"))
        if start is None:
            continue
        cycle = int(h.get("cycle") or 0)
        end = parse_time(h.get("ended_at"))
        outcome = h.get("outcome")
        prior = by_cycle.get(cycle)
        if prior is None:
            by_cycle[cycle] = Run(cycle, start, end, str(outcome) if outcome else None)
        elif outcome == "recycled" and prior.outcome != "recycled":
            by_cycle[cycle] = Run(cycle, prior.start, prior.end, f"{prior.outcome}, recycled")
    return [by_cycle[c] for c in sorted(by_cycle)]


def forecast(project: Project, today: datetime) -> Forecast:
    """The forecast of ``project`` as seen on ``today`` (see the module's rules)."""
    today = _utc(today)
    process = project.snapshot.process
    cal = calendar_of(project.snapshot)
    order = topological(process)
    if project.baseline:
        base_doc, source = project.baseline, "stored"
    else:
        base_doc, source = baseline_of(process, project.created_at, cal), "recomputed"
    baseline: dict[str, tuple[datetime | None, datetime | None]] = {
        pid: (parse_time(v.get("start")), parse_time(v.get("end"))) for pid, v in base_doc.items()
    }
    killed = project.state == ProjectState.KILLED
    hold_at = project.hold.at if project.state == ProjectState.ON_HOLD and project.hold else None
    held_for = max(today - hold_at, timedelta(0)) if hold_at is not None else timedelta(0)

    starts: dict[str, datetime | None] = {}
    ends: dict[str, datetime | None] = {}
    actual: dict[str, tuple[datetime | None, datetime | None, datetime | None]] = {}
    for p in order:
        run = project.phases[p.id]
        pred_ends = [x for a in p.after if (x := ends.get(a)) is not None]
        earliest = max(pred_ends, default=project.created_at)
        s: datetime | None
        e: datetime | None
        a_start: datetime | None = None
        a_end: datetime | None = None
        p_end: datetime | None = None
        if run.state == PhaseState.COMPLETED and run.started_at and run.completed_at:
            s, e = run.started_at, run.completed_at
            a_start, a_end = s, e
            p_end = planned_end(p, s, cal)
        elif run.state == PhaseState.PENDING or run.started_at is None:
            if killed:
                s = e = None
            else:
                s = max(earliest, today)
                e = planned_end(p, s, cal)
        else:  # active or at its gate
            s = a_start = run.started_at
            p_end = planned_end(p, s, cal)
            if killed:
                e = a_end = project.completed_at or today
            else:
                pushed = p_end
                if hold_at is not None and p_end > hold_at:
                    pushed = p_end + held_for  # the work left at the hold waits
                e = max(pushed, today)
        starts[p.id], ends[p.id] = s, e
        actual[p.id] = (a_start, a_end, p_end)

    finished = project.state in (ProjectState.COMPLETED, ProjectState.KILLED)
    if killed:
        completion: datetime | None = None
    elif project.state == ProjectState.COMPLETED and project.completed_at:
        completion = project.completed_at
    else:
        completion = max((e for e in ends.values() if e is not None), default=None)

    critical = _critical_path(order, ends) if not killed else ()
    slack = _slack(order, starts, ends, completion, project) if completion else {}
    base_completion = max((e for _, e in baseline.values() if e is not None), default=None)

    phases: list[PhaseForecast] = []
    for pdef in process.phases:
        run = project.phases[pdef.id]
        b_start, b_end = baseline.get(pdef.id, (None, None))
        a_start, a_end, p_end = actual[pdef.id]
        f_end = ends[pdef.id]
        runs = _runs(run.history)
        if run.state in (PhaseState.ACTIVE, PhaseState.GATE_REVIEW) and run.started_at:
            runs.append(Run(run.cycle, run.started_at, a_end, None))
        phases.append(
            PhaseForecast(
                id=pdef.id,
                name=pdef.name,
                state=run.state.value,
                cycle=run.cycle,
                duration=pdef.duration,
                planned_days=round(planned_days(pdef), 1),
                after=tuple(pdef.after),
                baseline_start=b_start,
                baseline_end=b_end,
                actual_start=a_start,
                actual_end=a_end,
                start=starts[pdef.id],
                end=f_end,
                planned_end=p_end,
                runs=tuple(runs),
                critical=pdef.id in critical,
                slack_days=slack.get(pdef.id),
                slip_days=_days(f_end - b_end) if f_end and b_end else None,
            )
        )
    return Forecast(
        project=project.code,
        state=project.state.value,
        today=today,
        start=project.created_at,
        completion=completion,
        baseline_completion=base_completion,
        slip_days=(_days(completion - base_completion) if completion and base_completion else None),
        critical_path=critical,
        phases=tuple(phases),
        baseline_source=source,
        on_hold_since=hold_at,
        ended_at=project.completed_at if finished else None,
        baseline_number=project.baselines[-1].number if project.baselines else 0,
        baselines=tuple(b.summary() for b in project.baselines),
    )


def _critical_path(
    order: Sequence[PhaseDef], ends: Mapping[str, datetime | None]
) -> tuple[str, ...]:
    """Back from the phase that ends last, each time through the predecessor ending last."""
    index = {p.id: i for i, p in enumerate(order)}
    by_id = {p.id: p for p in order}
    dated = [p.id for p in order if ends.get(p.id) is not None]
    if not dated:
        return ()

    def key(pid: str) -> tuple[datetime, int]:
        e = ends[pid]
        assert e is not None
        return (e, index[pid])

    path = [max(dated, key=key)]
    while True:
        preds = [a for a in by_id[path[-1]].after if ends.get(a) is not None]
        if not preds:
            break
        path.append(max(preds, key=key))
    return tuple(reversed(path))


def _slack(
    order: Sequence[PhaseDef],
    starts: Mapping[str, datetime | None],
    ends: Mapping[str, datetime | None],
    completion: datetime,
    project: Project,
) -> dict[str, float]:
    """Total float in days of the phases not yet completed: how much later each could end
    without moving the completion."""
    latest_start: dict[str, datetime] = {}
    out: dict[str, float] = {}
    for p in reversed(order):
        s, e = starts.get(p.id), ends.get(p.id)
        if s is None or e is None:
            continue
        succ = [latest_start[x] for x in project.successors(p.id) if x in latest_start]
        latest_finish = min(succ, default=completion)
        latest_start[p.id] = latest_finish - (e - s)
        if project.phases[p.id].state != PhaseState.COMPLETED:  # float matters for work ahead
            out[p.id] = max(_days(latest_finish - e), 0.0)
    return out


def overdue_gates(project: Project, today: datetime) -> list[dict[str, Any]]:
    """Open gate reviews past their ``sla.decide_within`` (counted from ``opened_at``; overdue
    strictly after the due instant, the one rule of :mod:`cdmo_workflow.domain.sla`)."""
    today = _utc(today)
    cal = calendar_of(project.snapshot)
    out: list[dict[str, Any]] = []
    for review in project.reviews:
        if review.state != ReviewState.OPEN:
            continue
        gdef = project.snapshot.gates[review.gate]
        due = gate_due_at(gdef, review.opened_at, cal)
        if due is not None and is_overdue(due, today):
            out.append(
                {
                    "gate": review.gate,
                    "name": gdef.name,
                    "phase": review.phase,
                    "review": review.number,
                    "opened_at": _iso(review.opened_at),
                    "due": _iso(due),
                    "days_overdue": _days(today - due),
                    "missing": project.missing(review),
                }
            )
    return out


def gate_due(project: Project, gate_id: str, opened_at: datetime) -> datetime | None:
    """When a review of ``gate_id`` opened at ``opened_at`` must be decided (SLA), if any."""
    return gate_due_at(project.snapshot.gates[gate_id], opened_at, calendar_of(project.snapshot))
