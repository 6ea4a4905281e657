"""``cdmo report`` on a project with 1,000 audit events, and the portfolio over 1,000 projects.

* The demo project HX-042 (examples.py: conditional go, recycle, 11 signatures) gets real
  deliverable re-submissions through the service until its chain holds 1,000 events. Then
  ``cdmo report HX-042`` (forecast, timeline PNG + SVG, chain verification of the 1,000
  events, HTML) and ``cdmo audit export HX-042 --format html`` are timed in-process (median
  of 5) and as a real ``cdmo`` subprocess (median of 3) (interpreter start-up and imports included).
* The six demo projects are cloned (documents and pinned snapshot shared) to 1,000 active
  projects; ``cdmo report --portfolio`` is timed the same way.

Run: ``python -m bench report`` (needs PostgreSQL at 127.0.0.1:5432 for the PG rows).
Results go to docs/performance.md by hand (the numbers printed here).
"""

from __future__ import annotations

import copy
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TODAY = "2026-11-25T09:00:00Z"
AUDIT_EVENTS = 1000
PROJECTS = 1000
TARGET_S = 2.0


def _median_s(fn: Callable[[], Any], n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _seed(url: str) -> Any:
    from cdmo_workflow import service
    from cdmo_workflow.reports import examples
    from cdmo_workflow.store import Database

    Database(url).migrate()
    ctx = service.open_context(url, ROOT)
    examples.build(ctx)
    # Re-submit tech-transfer deliverables (the phase runs again) until 1,000 audit events.
    with ctx.db.unit_of_work() as uow:
        have = uow.audit.last("HX-042").seq
    items = [("transfer-package", "pedro"), ("gap-analysis", "pedro"), ("mbr-draft", "mia")]
    tokens = {u: service.login(ctx, u, examples.PASSWORD).data["token"] for u in ("pedro", "mia")}
    for i in range(AUDIT_EVENTS - have):
        d, user = items[i % len(items)]
        service.submit_deliverable(
            ctx, "HX-042", "tech-transfer", d, user, f"DMS-{d}-r{i}", session=tokens[user]
        )
    # 1,000 active projects: clones of the six demo projects.
    with ctx.db.unit_of_work() as uow:
        stored = [uow.projects.get(c) for c in ("HX-042", "OR-009", "NV-017", "KE-118",
                                                 "AU-203", "BL-311")]  # fmt: skip
        for i in range(PROJECTS - len(stored)):
            src = stored[i % len(stored)]
            doc = copy.deepcopy(src.document)
            doc["code"] = f"CL-{i:04d}"
            uow.projects.add(doc["code"], src.process_id, src.version_hash, src.customer,
                             src.state, doc, summary=src.summary)  # fmt: skip
        uow.commit()
    with ctx.db.unit_of_work() as uow:
        assert uow.audit.last("HX-042").seq == AUDIT_EVENTS
        assert len(uow.projects.list(["active", "on-hold"])) == PROJECTS
    return ctx


def _cli(url: str, *args: str) -> float:
    env = {**os.environ, "CDMO_DATABASE_URL": url, "CDMO_DEFINITIONS": str(ROOT)}
    cdmo = str(Path(sys.executable).with_name("cdmo"))
    return _median_s(
        lambda: subprocess.run([cdmo, *args], env=env, check=True, capture_output=True), 3
    )


def _measure(url: str) -> dict[str, float]:
    from cdmo_workflow.reports.audit_print import export_audit_html
    from cdmo_workflow.reports.data import parse_today
    from cdmo_workflow.reports.html import write_portfolio_report, write_project_report

    ctx = _seed(url)
    today = parse_today(TODAY)
    out = Path(tempfile.mkdtemp(prefix="bench-report-"))
    return {
        "report": _median_s(lambda: write_project_report(ctx, "HX-042", out, today)),
        "audit_html": _median_s(lambda: export_audit_html(ctx, "HX-042")),
        "portfolio": _median_s(lambda: write_portfolio_report(ctx, out, today)),
        "report_cli": _cli(url, "report", "HX-042", "--out", str(out), "--today", TODAY),
        "audit_cli": _cli(
            url, "audit", "export", "HX-042", "--format", "html", "--out", str(out / "a.html")
        ),
        "portfolio_cli": _cli(url, "report", "--portfolio", "--out", str(out), "--today", TODAY),
    }


def _pg_database() -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"cdmo_bench_{secrets.token_hex(4)}"
    admin = PG_ADMIN.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        from cdmo_workflow.store import dispose_engines

        dispose_engines(url)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def main() -> int:
    # PostgreSQL has no file to keep checkpoints beside: keep them out of the work tree's
    # .cdmo/ (where they would meet another database's chains of the same name).
    os.environ.setdefault("CDMO_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="bench-checkpoints-"))
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = _measure(f"sqlite:///{Path(tmp) / 'bench.db'}")
    try:
        url, drop = _pg_database()
    except Exception as exc:  # pragma: no cover - no server
        print(f"   PostgreSQL unavailable ({exc}); SQLite only")
    else:
        try:
            results["PostgreSQL"] = _measure(url)
        finally:
            drop()
    print(
        f"   {'backend':<11} {'report':>8} {'report cli':>11} {'audit html':>11} "
        f"{'audit cli':>10} {'portfolio':>10} {'portf. cli':>11}   (seconds; target < {TARGET_S})"
    )
    worst = 0.0
    for backend, r in results.items():
        print(
            f"   {backend:<11} {r['report']:8.2f} {r['report_cli']:11.2f} {r['audit_html']:11.2f} "
            f"{r['audit_cli']:10.2f} {r['portfolio']:10.2f} {r['portfolio_cli']:11.2f}"
        )
        worst = max(worst, r["report_cli"], r["portfolio_cli"], r["report"], r["portfolio"])
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
