"""A forecast with confidence: P50, P80 and P95 completion dates from a seeded Monte Carlo.

Pure: the standard library (``random.Random(seed)``), the definition models, the phase graph
walks of ``spec/graph.py`` and the deterministic forecast (``domain/forecast.py``), whose
rules for completed, active, pending and held phases it follows. The caller passes the
site's history (completed runs of the same phases) and ``today``; nothing reads a clock or
a database here, so the same inputs and seed always give the same dates.

**The model** (documented in docs/reports.md):

* Each remaining phase takes ``r × L``: ``L`` is its planned length (its ``duration`` from the
  start the deterministic forecast gives it, so business days skip the site calendar's
  closed days) and ``r`` a ratio of actual to planned length drawn from the **site's own
  history**: the completed runs, across every project in the database, of phases with the
  same ``kind:`` when the phase has one, else the same phase id. Each run gives
  ``r = (ended - started) / planned``.
* With at least :data:`MIN_OBSERVATIONS` ratios, ``r`` is drawn uniformly from them (a
  bootstrap). With fewer, from the **default spread**: triangular, from
  :data:`DEFAULT_SPREAD` (0.9, most likely 1.0, at most 1.6 times the plan), held as its
  4,096 quantiles and drawn the same way.
* Walking the phase DAG in start order (``spec.graph.topological_order``): a completed phase
  keeps its actual dates; a pending phase starts when the last of its ``after`` phases ends
  (never before today); a running phase (active, or waiting at its gate) started at its
  actual start and ends at ``start + r × L``, ``r`` drawn from the part of its spread that
  ends it after today (it has not ended yet: the spread conditioned on that); when no ratio
  of the spread reaches today, it ends today. A project on hold pushes a running phase's end
  by the time held so far, as the deterministic forecast does.
* Each iteration's completion is the latest phase end. P50, P80 and P95 are nearest-rank
  percentiles (to the minute) of :data:`DEFAULT_ITERATIONS` iterations, for the project and
  for each phase not yet completed; P50 ≤ P80 ≤ P95 always holds.
* A killed project has no forecast; a completed one completes on its actual date.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from ..spec.graph import graph_of, topological_order
from .calendar import calendar_of
from .forecast import Forecast, forecast
from .plan import _iso, _utc, planned_end
from .records import PhaseState, ProjectState

if TYPE_CHECKING:
    from .project import Project

DEFAULT_ITERATIONS = 2000
MIN_OBSERVATIONS = 5
"""Fewer completed runs than this and a phase falls back to the default spread."""
DEFAULT_SPREAD = (0.9, 1.0, 1.6)
"""(low, most likely, high) ratio of actual to planned length without enough history."""
PERCENTILES = (50, 80, 95)


class RunLike(Protocol):
    """A completed run as the store returns it (``store.history.StoredRun``)."""

    @property
    def phase(self) -> str: ...

    @property
    def kind(self) -> str | None: ...

    @property
    def started_at(self) -> datetime: ...

    @property
    def ended_at(self) -> datetime: ...

    @property
    def planned_seconds(self) -> int | None: ...


@dataclass(frozen=True)
class Spread:
    """Where one phase's ratios come from: the site's history, or the default spread."""

    key: str
    """``kind:<kind>`` or ``phase:<id>``."""
    ratios: tuple[float, ...]

    @property
    def source(self) -> str:
        return "history" if len(self.ratios) >= MIN_OBSERVATIONS else "default"

    def draws(self, rng: random.Random, n: int, above: float | None = None) -> list[float] | None:
        """``n`` ratios: a bootstrap of the history, or of the default spread's quantiles
        (:data:`DEFAULT_QUANTILES`). With ``above``, from the values greater than it only (the
        spread given that a running phase has not ended yet); None when there is none."""
        pool = _sorted(self.ratios) if self.source == "history" else DEFAULT_QUANTILES
        if above is not None:
            pool = pool[bisect.bisect_right(pool, above) :]
        if not pool:
            return None
        uniform, k = rng.random, len(pool)
        return [pool[int(uniform() * k)] for _ in range(n)]

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(self.ratios)
        return {
            "key": self.key,
            "source": self.source,
            "observations": len(self.ratios),
            "median_ratio": round(_rank(ordered, 50), 3) if ordered else None,
        }


def _triangular_quantile(u: float) -> float:
    low, mode, high = DEFAULT_SPREAD
    width = high - low
    if u < (mode - low) / width:
        return low + math.sqrt(u * width * (mode - low))
    return high - math.sqrt((1 - u) * width * (high - mode))


QUANTILES = 4096
DEFAULT_QUANTILES: tuple[float, ...] = tuple(
    _triangular_quantile((i + 0.5) / QUANTILES) for i in range(QUANTILES)
)
"""The default spread as 4,096 equally likely values (its quantiles at (i + ½) / 4096):
drawing one is a bootstrap like the history's, and conditioning on "not ended yet" is a cut."""


@lru_cache(maxsize=1024)
def _sorted(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(sorted(values))


def key_of(phase_id: str, kind: str | None) -> str:
    return f"kind:{kind}" if kind else f"phase:{phase_id}"


def ratios(runs: Iterable[RunLike]) -> dict[str, list[float]]:
    """``kind:<k>`` and ``phase:<id>`` -> ratios of actual to planned length (runs without a
    planned length, or of zero length, give none)."""
    out: dict[str, list[float]] = {}
    for run in runs:
        planned = run.planned_seconds
        if not planned or planned <= 0:
            continue
        actual = (_utc(run.ended_at) - _utc(run.started_at)).total_seconds()
        if actual <= 0:
            continue
        r = actual / planned
        out.setdefault(key_of(run.phase, None), []).append(r)
        if run.kind:
            out.setdefault(key_of(run.phase, run.kind), []).append(r)
    return out


def spreads_for(project: Project, history: Mapping[str, Sequence[float]]) -> dict[str, Spread]:
    """Each phase's spread: by its ``kind`` when tagged, else by its id."""
    out: dict[str, Spread] = {}
    for pdef in project.snapshot.process.phases:
        key = key_of(pdef.id, pdef.kind)
        out[pdef.id] = Spread(key, tuple(history.get(key, ())))
    return out


@dataclass(frozen=True)
class Band:
    """P50, P80 and P95 dates of one end (completion or a phase's end)."""

    p50: datetime
    p80: datetime
    p95: datetime

    def to_dict(self) -> dict[str, str]:
        return {"p50": _iso(self.p50), "p80": _iso(self.p80), "p95": _iso(self.p95)}


@dataclass(frozen=True)
class Confidence:
    """The Monte Carlo forecast of one project as seen on ``today``."""

    project: str
    today: datetime
    iterations: int
    seed: int
    completion: Band | None
    """None for a killed project."""
    phases: dict[str, Band] = field(default_factory=dict)
    """Phases not yet completed -> the band of their end."""
    spreads: dict[str, Spread] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "today": _iso(self.today),
            "iterations": self.iterations,
            "seed": self.seed,
            "min_observations": MIN_OBSERVATIONS,
            "default_spread": {
                "low": DEFAULT_SPREAD[0],
                "mode": DEFAULT_SPREAD[1],
                "high": DEFAULT_SPREAD[2],
            },
            "completion": self.completion.to_dict() if self.completion else None,
            "phases": {pid: band.to_dict() for pid, band in self.phases.items()},
            "spreads": {pid: s.to_dict() for pid, s in self.spreads.items()},
        }


def default_seed(code: str) -> int:
    """The seed used unless one is given: stable per project, so reports do not flicker."""
    return int(hashlib.sha256(code.encode("utf-8")).hexdigest()[:12], 16)


def _rank(ordered: Sequence[float], p: int) -> float:
    """Nearest-rank percentile of sorted values (p in 1..100)."""
    index = max(math.ceil(p / 100 * len(ordered)) - 1, 0)
    return ordered[index]


def confidence(
    project: Project,
    today: datetime,
    history: Mapping[str, Sequence[float]],
    *,
    iterations: int = DEFAULT_ITERATIONS,
    seed: int | None = None,
    base: Forecast | None = None,
    phase_bands: bool = True,
) -> Confidence:
    """P50/P80/P95 of the completion and of each remaining phase's end (see the module).

    ``base``: the deterministic forecast of the same day, when the caller has it;
    ``phase_bands=False``: the completion's band only (the portfolio's table)."""
    today = _utc(today)
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    chosen_seed = default_seed(project.code) if seed is None else seed
    spreads = spreads_for(project, history)
    if project.state == ProjectState.KILLED:
        return Confidence(project.code, today, iterations, chosen_seed, None, {}, spreads)
    if project.state == ProjectState.COMPLETED and project.completed_at is not None:
        done = _utc(project.completed_at)
        return Confidence(
            project.code, today, iterations, chosen_seed, Band(done, done, done), {}, spreads
        )

    if base is None or base.today != today:
        base = forecast(project, today)
    cal = calendar_of(project.snapshot)
    process = project.snapshot.process
    order = topological_order(graph_of(process))
    after = {p.id: tuple(p.after) for p in process.phases}
    hold_at = project.hold.at if project.state == ProjectState.ON_HOLD and project.hold else None
    held = (today - _utc(hold_at)).total_seconds() if hold_at is not None else 0.0
    held = max(held, 0.0)
    hold_s = (_utc(hold_at) - today).total_seconds() if hold_at is not None else None

    # Times in seconds from today (floats are fine for instants: money never comes here).
    fixed: dict[str, float] = {}
    running: dict[str, tuple[float, float]] = {}  # start, planned length
    pending: dict[str, float] = {}  # planned length
    for pf in base.phases:
        run = project.phases[pf.id]
        pdef = project.phase_def(pf.id)
        if run.state == PhaseState.COMPLETED and pf.actual_end is not None:
            fixed[pf.id] = (pf.actual_end - today).total_seconds()
        elif run.state == PhaseState.PENDING or run.started_at is None:
            assert pf.start is not None
            length = (planned_end(pdef, pf.start, cal) - pf.start).total_seconds()
            pending[pf.id] = length
        else:
            began = _utc(run.started_at)
            length = (planned_end(pdef, began, cal) - began).total_seconds()
            running[pf.id] = ((began - today).total_seconds(), length)

    rng = random.Random(chosen_seed)
    n = iterations
    # Column-wise: all iterations of one phase at a time, phases in start order.
    columns: dict[str, list[float]] = {pid: [end] * n for pid, end in fixed.items()}
    remaining = [pid for pid in order if pid not in fixed]
    for pid in remaining:
        spread = spreads[pid]
        if pid in running:
            offset, length = running[pid]
            # Still running today: only ratios that end it after today (after the hold's
            # start when on hold: the hold then pushes the end by the time held).
            threshold = hold_s if hold_s is not None else 0.0
            drawn = (
                spread.draws(rng, n, above=(threshold - offset) / length) if length > 0 else None
            )
            if drawn is None:  # no ratio of the spread reaches today: it ends today
                ends = [0.0] * n
            else:
                ends = []
                for r in drawn:
                    end = offset + r * length
                    if hold_s is not None and end > hold_s:
                        end += held  # the work left at the hold waits
                    ends.append(max(end, 0.0))
        else:
            length = pending[pid]
            preds = [columns[a] for a in after[pid] if a in columns]
            begin = list(map(max, *preds)) if len(preds) > 1 else preds[0] if preds else [0.0] * n
            ratios_ = spread.draws(rng, n) or []
            ends = [(b if b > 0 else 0.0) + r * length for b, r in zip(begin, ratios_, strict=True)]
        columns[pid] = ends
    everything = [columns[pid] for pid in order]
    completions = list(map(max, *everything)) if len(everything) > 1 else everything[0]
    samples = {pid: columns[pid] for pid in remaining}

    def band(values: list[float]) -> Band:
        ordered = sorted(values)
        p50, p80, p95 = (  # whole minutes: the dates, not float noise, are the result
            today + timedelta(minutes=round(_rank(ordered, p) / 60)) for p in PERCENTILES
        )
        return Band(p50, p80, p95)

    return Confidence(
        project.code,
        today,
        iterations,
        chosen_seed,
        band(completions),
        {pid: band(samples[pid]) for pid in remaining} if phase_bands else {},
        spreads,
    )
