"""Budgets at scale: a 5,000-row ERP import, and a command's cost as the cost table grows.

On SQLite and PostgreSQL, in one run each, with a session credential (no argon2 per command):

* ``cost import`` of a 5,000-row CSV (checking, the look-up of the 5,000 refs, the insert,
  the totals) and the same file again (all 5,000 skipped);
* ``cost add`` (one entry), ``budget``-bearing ``project status`` and, as the **anchor**,
  ``project hold`` + ``resume`` (a command that never touches costs), each the median of 20,
  when the project holds 10, 5,000 and 50,000 cost entries.

Run: ``python -m bench budget``. The figures go to docs/performance.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "tests" / "fixtures" / "budget"
PW = "bench-password-1"
TEAM = {"pm": ["pm"], "fin": ["fin"], "qa": ["qa"], "mfg": ["mfg"], "customer": ["cust"]}


def _ms(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _csv(start: int, rows: int) -> str:
    lines = ["phase,kind,amount,ref,note,booked_on"]
    for i in range(start, start + rows):
        phase = "build" if i % 3 else "release"
        kind = "actual" if i % 2 else "committed"
        lines.append(f"{phase},{kind},{(i % 997) + 0.37:.2f},ERP-{i:07d},line {i},2026-11-02")
    return "\n".join(lines) + "\n"


def measure(url: str) -> dict[str, Any]:
    from cdmo_workflow import service
    from cdmo_workflow.service import budget

    ctx = service.open_context(url, DEFS)
    for uid, role in (("pm", "pm"), ("fin", "fin"), ("qa", "qa"), ("mfg", "mfg"),
                      ("cust", "customer")):  # fmt: skip
        service.provision_user(ctx, uid, uid, [role], PW)
    service.start_project(ctx, "B-1", "costed", "Acme", TEAM, "pm", password=PW)
    token = service.login(ctx, "pm", PW).data["token"]
    budget.set_quote(ctx, "B-1", "build", "5000000", "pm", session=token)
    out: dict[str, Any] = {}
    counter = iter(range(10**9))

    def add() -> None:
        i = next(counter)
        budget.add_cost(ctx, "B-1", "build", "12.50", "actual", f"ADD-{i}", "pm", session=token)

    def hold_resume() -> None:
        service.hold_project(ctx, "B-1", "pm", "bench", session=token)
        service.resume_project(ctx, "B-1", "pm", "bench", session=token)

    def status() -> None:
        service.project_status(ctx, "B-1")

    loaded = 0
    for entries in (10, 5_000, 50_000):
        while loaded < entries:
            rows = min(5_000, entries - loaded)
            t0 = time.perf_counter()
            budget.import_costs(ctx, "B-1", _csv(loaded, rows), "erp.csv", "pm", session=token)
            seconds = time.perf_counter() - t0
            if rows == 5_000 and "import_5000_s" not in out:
                out["import_5000_s"] = seconds
                t0 = time.perf_counter()
                budget.import_costs(ctx, "B-1", _csv(loaded, rows), "erp.csv", "pm", session=token)
                out["reimport_5000_s"] = time.perf_counter() - t0
            loaded += rows
        out[entries] = {
            "cost_add_ms": _ms(add, 20),
            "status_ms": _ms(status, 20),
            "anchor_hold_resume_ms": _ms(hold_resume, 20) / 2,
        }
        loaded += 20
    return out


def _pg() -> tuple[str, Callable[[], None]]:
    from bench.bench_report import _pg_database

    return _pg_database()


def main() -> int:
    # PostgreSQL has no file to keep checkpoints beside: keep them out of the work tree's
    # .cdmo/ (where they would meet another database's chains of the same name).
    os.environ.setdefault("CDMO_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="bench-checkpoints-"))
    from cdmo_workflow.store import Database

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        Database(url).migrate()
        results["SQLite"] = measure(url)
    try:
        url, drop = _pg()
    except Exception as exc:  # pragma: no cover - no server
        print(f"   PostgreSQL unavailable ({exc}); SQLite only")
    else:
        try:
            Database(url).migrate()
            results["PostgreSQL"] = measure(url)
        finally:
            drop()
    for backend, r in results.items():
        print(
            f"   {backend}: import of 5,000 rows {r['import_5000_s']:.2f} s, the same file again "
            f"(all skipped) {r['reimport_5000_s']:.2f} s"
        )
        for entries in (10, 5_000, 50_000):
            m = r[entries]
            print(
                f"   {backend:<10} {entries:>6} entries: cost add {m['cost_add_ms']:.1f} ms, "
                f"project status {m['status_ms']:.1f} ms, anchor (hold or resume) "
                f"{m['anchor_hold_resume_ms']:.1f} ms  (p50)"
            )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
