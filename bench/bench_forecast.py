"""The Monte Carlo forecast: its calibration on the shipped example projects, and its cost.

**Backtest.** The demo portfolio (``reports/examples.py``, six projects on
``api-clinical-program``, driven through the service with a simulated clock) is built in a
throw-away SQLite database. For every phase run that passed its gate (``phase_runs``), the
project is rebuilt as it stood one minute after the run started, by replaying its audit trail
up to that moment through the core (``audit/replay.py``); the forecast with confidence is
computed as of that moment, with the site's history as it was then (only runs that had ended;
no look-ahead), and the run's actual end is compared with its P50, P80 and P95 dates. A
second pass uses every other project's runs as history (look-ahead across projects), to
exercise the history path where the example data allow it. Calibration = the share of
actual ends on or before the P80 date (a calibrated forecast: about 80 %).

**Cost.** The forecast of HX-042 with 2,000 iterations, the history query, and the portfolio
bands (500 iterations each), next to the deterministic forecast of the same project (the
anchor), medians of 20.

Run: ``python -m bench forecast``. The figures go to docs/performance.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = 2026


def _ms(fn: Callable[[], Any], n: int = 20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def backtest(ctx: Any, *, look_ahead: bool, at_half: bool = False) -> dict[str, Any]:
    from cdmo_workflow.audit.replay import replay
    from cdmo_workflow.domain.montecarlo import confidence, ratios
    from cdmo_workflow.reports.data import load_project

    with ctx.db.unit_of_work(read_only=True) as uow:
        runs = uow.history.runs([p for p in _phase_ids(ctx)], [])
        rows = {code: list(uow.audit.rows(code)) for code in {r.project for r in runs}}
    hits = {50: 0, 80: 0, 95: 0}
    cases = []
    for run in sorted(runs, key=lambda r: (r.project, r.started_at)):
        as_of = run.started_at + timedelta(minutes=1)
        if at_half:
            as_of = run.started_at + (run.ended_at - run.started_at) / 2
        project, _ = load_project(ctx, run.project)
        trail = [r for r in rows[run.project] if r["at"] <= as_of]
        past, problems = replay(run.project, trail, project.snapshot)
        if past is None or problems:
            continue
        if look_ahead:
            seen = [r for r in runs if r.project != run.project]
        else:
            seen = [r for r in runs if r.ended_at <= as_of]
        bands = confidence(past, as_of, ratios(seen), iterations=2000, seed=SEED)
        band = bands.phases.get(run.phase)
        if band is None:
            continue
        inside = {p: run.ended_at <= getattr(band, f"p{p}") for p in hits}
        for p, ok in inside.items():
            hits[p] += ok
        cases.append((run.project, run.phase, bands.spreads[run.phase].source, inside[80]))
    n = len(cases)
    observed = sorted(
        (r.ended_at - r.started_at).total_seconds() / r.planned_seconds
        for r in runs
        if r.planned_seconds
    )
    return {
        "ratios": (observed[0], statistics.median(observed), observed[-1]) if observed else None,
        "cases": n,
        **{f"p{p}": hits[p] / n if n else 0.0 for p in hits},
        "history_cases": sum(1 for c in cases if c[2] == "history"),
    }


def _clone(ctx: Any, total: int) -> int:
    """Clone the six demo projects to ``total`` active projects (as bench_report does)."""
    import copy

    codes = ("HX-042", "OR-009", "NV-017", "KE-118", "AU-203", "BL-311")
    with ctx.db.unit_of_work() as uow:
        stored = [uow.projects.get(c) for c in codes]
        for i in range(total - len(stored)):
            src = stored[i % len(stored)]
            doc = copy.deepcopy(src.document)
            doc["code"] = f"CL-{i:04d}"
            uow.projects.add(doc["code"], src.process_id, src.version_hash, src.customer,
                             src.state, doc, summary=src.summary)  # fmt: skip
        uow.commit()
    return total


def _phase_ids(ctx: Any) -> list[str]:
    from cdmo_workflow.spec.loader import load_catalog

    return [p.id for p in load_catalog(ROOT).process("api-clinical-program").phases]


def main() -> int:
    from cdmo_workflow.domain.forecast import forecast
    from cdmo_workflow.domain.montecarlo import confidence
    from cdmo_workflow.reports import data, examples
    from cdmo_workflow.service import open_context
    from cdmo_workflow.store import Database

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'examples.db'}"
        Database(url).migrate()
        ctx = open_context(url, ROOT)
        examples.build(ctx)
        strict = backtest(ctx, look_ahead=False)
        ahead = backtest(ctx, look_ahead=True)
        half = backtest(ctx, look_ahead=False, at_half=True)
        low, mid, high = strict["ratios"]
        print(f"   example runs: actual/planned from {low:.2f} (median {mid:.2f}) to {high:.2f}")
        for label, r in (
            ("at each start, no look-ahead", strict),
            ("at each start, other projects' runs", ahead),
            ("half-way through each run, no look-ahead", half),
        ):
            print(
                f"   backtest ({label}): {r['cases']} completed phase runs; actual end on or "
                f"before P50 {r['p50']:.0%}, P80 "
                f"{r['p80']:.0%}, P95 {r['p95']:.0%}; {r['history_cases']} drew from history"
            )
        project, _ = data.load_project(ctx, "HX-042")
        history = data.load_history(ctx, [project])
        today = examples.TODAY
        anchor = _ms(lambda: forecast(project, today))
        mc = _ms(lambda: confidence(project, today, history, iterations=2000))
        query = _ms(lambda: data.load_history(ctx, [project]))
        projects, _ = data.load_portfolio(ctx)
        portfolio = _ms(
            lambda: [confidence(p, today, history, iterations=200) for p in projects], 10
        )
        clones = _clone(ctx, 1000)
        many, _ = data.load_portfolio(ctx)
        assert len(many) >= clones
        history_all = data.load_history(ctx, many)
        bases = [forecast(p, today) for p in many]
        forecasts = _ms(lambda: [forecast(p, today) for p in many], 3)
        bands_all = _ms(
            lambda: [
                confidence(p, today, history_all, iterations=200, base=b, phase_bands=False)
                for p, b in zip(many, bases, strict=True)
            ],
            3,
        )
        print(
            f"   portfolio of {len(many)} projects: deterministic forecasts (anchor) "
            f"{forecasts / 1000:.2f} s; completion P50/P80/P95 at 200 iterations as the "
            f"portfolio computes them {bands_all / 1000:.2f} s"
        )
        print(
            f"   cost: deterministic forecast (anchor) {anchor:.2f} ms; Monte Carlo 2,000 "
            f"iterations {mc:.1f} ms; history query {query:.1f} ms; bands of the "
            f"{len(projects)}-project portfolio at 200 iterations {portfolio:.1f} ms "
            f"({portfolio / len(projects):.1f} ms a project)"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
