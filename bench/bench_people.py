"""The cost of a task list and of the "who can still sign" tags (issue #16), on SQLite.

A portfolio of N projects (one open gate each) on which one person is on a tenth of the
teams: ``cdmo tasks --user`` (``service.task_lists``) reads that person's projects only (the
listing summaries name the people), so its cost follows their projects, not the portfolio.
``signers_now`` is what the post-commit hook computes for a project's run tags. Anchor, same
run: ``project status`` of one project (one document read and its view).

Run: ``python -m bench people``. Record the figures in docs/performance.md.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "tests" / "service" / "defs"
PW = "bench-password-1"


def _ms(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def _portfolio(ctx: Any, n: int) -> None:
    """n projects of the mini process with their first gate open; qa-star on every tenth."""
    from cdmo_workflow import service
    from cdmo_workflow.domain.project import Project
    from cdmo_workflow.spec.loader import load_catalog

    snap = load_catalog(DEFS).snapshot("mini")
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    with ctx.db.unit_of_work() as uow:
        uow.snapshots.put(snap.model_dump(mode="json", by_alias=True), snap.version_hash, "mini")
        for i in range(n):
            qa = ["qa-star", "qa1"] if i % 10 == 0 else ["qa1", "qa2"]
            team = {"pm": ["pm"], "qa": qa, "mfg": ["mfg"]}
            project, _ = Project.start(f"B-{i:04d}", "Acme", snap, team, "pm", t0)
            for d in ("d1", "d2", "d3", "d4"):
                project.submit_deliverable("build", d, "mfg", "DMS", t0 + timedelta(hours=1))
            project.drain_events()
            uow.projects.add(
                project.code,
                "mini",
                snap.version_hash,
                "Acme",
                project.state.value,
                project.to_dict(),
                summary=project.summary(),
            )
        uow.commit()
    for uid, role in (
        ("pm", "pm"),
        ("qa1", "qa"),
        ("qa2", "qa"),
        ("qa-star", "qa"),
        ("mfg", "mfg"),
    ):
        service.provision_user(ctx, uid, uid, [role], PW)


def main() -> int:
    from cdmo_workflow import service

    print(
        "| projects | tasks of one person (on 1 in 10) | who can sign (one project) "
        "| anchor: status of one project |"
    )
    print("|---|---|---|---|")
    for n in (20, 200):
        with tempfile.TemporaryDirectory() as tmp:
            ctx = service.open_context(db_url=f"sqlite:///{tmp}/bench.db", definitions=DEFS)
            _portfolio(ctx, n)
            found = service.task_lists(ctx, ["qa-star"])[1]["qa-star"]
            assert len(found) == (n + 9) // 10, len(found)
            tasks = _ms(lambda c=ctx: service.task_lists(c, ["qa-star"]), 30)
            tags = _ms(lambda c=ctx: service.signers_now(c, "B-0000"), 30)
            anchor = _ms(lambda c=ctx: service.project_status(c, "B-0000"), 30)
            print(
                f"| {n} | p50 {tasks[0]:.1f} ms, p95 {tasks[1]:.1f} ms "
                f"| p50 {tags[0]:.1f} ms, p95 {tags[1]:.1f} ms "
                f"| p50 {anchor[0]:.1f} ms, p95 {anchor[1]:.1f} ms |",
                flush=True,
            )
    return 0
