"""Engine cost per command, and status/list latency, on SQLite and PostgreSQL.

* per-command cost (submit a deliverable; sign a gate with the KDF excluded) with 100 and
  with 10,000 projects in the database, to show it does not grow with the table sizes;
* ``project status`` on a project with 1,000 audit events;
* ``project list`` over 10,000 projects.

Run: ``python -m bench engine`` (needs PostgreSQL at 127.0.0.1:5432 for the PG rows).
Results go to docs/performance.md by hand (the numbers printed here).
"""

from __future__ import annotations

import copy
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "tests" / "service" / "defs"
PASSWORD = "bench-password-1"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _median_ms(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _seed(ctx: Any, n_projects: int) -> None:
    """One real project through the service, then clones written in bulk (with audit rows)."""
    from cdmo_workflow import service

    service.provision_user(ctx, "pm", "Pat Manager", ["pm"], PASSWORD)
    service.provision_user(ctx, "qa1", "QA One", ["qa"], PASSWORD)
    service.provision_user(ctx, "mfg", "Max Production", ["mfg"], PASSWORD)
    team = {"pm": ["pm"], "qa": ["qa1"], "mfg": ["mfg"]}
    service.start_project(ctx, "BENCH-0", "mini", "Acme", team, "pm", password=PASSWORD)
    with ctx.db.unit_of_work() as uow:
        stored = uow.projects.get("BENCH-0")
    doc = stored.document
    batch = 1000
    for start in range(1, n_projects, batch):
        with ctx.db.unit_of_work() as uow:
            for i in range(start, min(start + batch, n_projects)):
                code = f"BENCH-{i}"
                d = copy.deepcopy(doc)
                d["code"] = code
                uow.projects.add(
                    code, "mini", stored.version_hash, "Acme", "active", d, summary={"phases": []}
                )
                for action in ("project.start", "deliverable.submit", "deliverable.submit"):
                    uow.audit.append(chain=code, actor="pm", action=action, subject=code)
            uow.commit()


def _measure(url: str, n_projects: int) -> dict[str, float]:
    from cdmo_workflow import identity, service

    ctx = service.open_context(db_url=url, definitions=DEFS)
    t0 = time.perf_counter()
    _seed(ctx, n_projects)
    seed_s = time.perf_counter() - t0
    code = "BENCH-0"
    counter = iter(range(10**9))

    def submit() -> None:
        service.submit_deliverable(
            ctx, code, "build", "d1", "mfg", f"DMS-{next(counter)}", password=PASSWORD
        )

    for _ in range(20):  # warm caches (snapshot, engine, statements)
        submit()
    submit_ms = _median_ms(submit, 200)
    if n_projects >= 10_000:
        for _ in range(800):  # give BENCH-0 more than 1,000 audit events for the status case
            submit()

    # sign: the KDF is excluded by swapping the password check for a constant-time no-op.
    real_verify = identity.verify_password
    identity.verify_password = lambda password, stored: True  # type: ignore[assignment]
    try:
        for d in ("d2", "d3", "d4"):
            service.submit_deliverable(ctx, code, "build", d, "mfg", "DMS", password=PASSWORD)
        sign_times = []
        t = time.perf_counter()
        service.sign_gate(ctx, code, "build-go", "qa1", PASSWORD, "qa", "hold", "review")
        sign_times.append((time.perf_counter() - t) * 1000)
        for _ in range(30):
            service.resume_project(ctx, code, "pm", "bench", password=PASSWORD)
            t = time.perf_counter()
            service.sign_gate(ctx, code, "build-go", "qa1", PASSWORD, "qa", "hold", "review")
            sign_times.append((time.perf_counter() - t) * 1000)
        sign_ms = statistics.median(sign_times)
    finally:
        identity.verify_password = real_verify  # type: ignore[assignment]
    result = {"seed_s": seed_s, "submit_ms": submit_ms, "sign_ms": sign_ms}
    if n_projects >= 10_000:
        # BENCH-0 now has > 1,000 audit events
        with ctx.db.unit_of_work() as uow:
            result["audit_events"] = float(uow.audit.last(code).seq)
        result["status_ms"] = _median_ms(lambda: service.project_status(ctx, code), 20)
        result["list_ms"] = _median_ms(lambda: service.list_projects(ctx), 5)
    from cdmo_workflow.store import dispose_engines

    dispose_engines(url)
    return result


def _pg_database() -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"cdmo_bench_{secrets.token_hex(4)}"
    admin = PG_ADMIN.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def main() -> int:
    sizes = [100, 10_000]
    if "--quick" in sys.argv:
        sizes = [100, 1_000]
    print(f"{'backend':<11}{'projects':>9}{'submit ms':>11}{'sign ms':>9}{'status ms':>11}"
          f"{'list ms':>9}{'audit rows':>12}")  # fmt: skip
    for backend in ("sqlite", "postgresql"):
        for n in sizes:
            if backend == "sqlite":
                tmp = tempfile.TemporaryDirectory()
                url, cleanup = f"sqlite:///{tmp.name}/bench.db", tmp.cleanup
            else:
                url, cleanup = _pg_database()
            try:
                r = _measure(url, n)
            finally:
                cleanup()
            print(
                f"{backend:<11}{n:>9}{r['submit_ms']:>11.2f}{r['sign_ms']:>9.2f}"
                f"{r.get('status_ms', float('nan')):>11.2f}{r.get('list_ms', float('nan')):>9.1f}"
                f"{int(r.get('audit_events', 0)):>12}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
