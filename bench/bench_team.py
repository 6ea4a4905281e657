"""The team set-up at scale: N open gates on a PostgreSQL-backed Prefect server, 2 workers.

``BENCH_TEAM_GATES=1000 python -m bench team`` (default 1000). Everything is real: a fresh
PostgreSQL database for Prefect (with pg_trgm) and one for the project, ``prefect deploy
--all`` of ``prefect.yaml`` (through ``cdmo deploy``), two ``prefect worker start --limit
10`` processes, one ``cdmo listen`` (the sign-off listener, as docs/orchestration.md runs
it), and the bare baseline flow deployed to the same pool. Measured in one run:

* time from "N gates open in the database, no run yet" until all N runs are Suspended
  (one reconcile pass creates the runs; the workers bring them to Suspended);
* RSS of the server (process tree) and of each worker (the worker process itself, and its
  tree; the third entry is the listener) before the gates open and with N waiting;
* sign-off latency: ``resume_flow_run`` with a valid sign-off → the gate's run waits again
  with a fresh form, ``BENCH_TEAM_SIGNS`` (10) times with N waiting: p50, p95;
* Prefect's bare suspend → resume → Completed at the same load, same count;
* a reconcile pass over the N waiting gates (``runs.reconcile_runs``, in this process).

Set ``BENCH_TEAM_PG_ADMIN`` for another PostgreSQL (default the test server).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_prefect import TEAM, USERS, _defs, _rss_mb, _tree_rss_mb, _wait, resume

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
GATES = int(os.environ.get("BENCH_TEAM_GATES", "1000"))
SIGNS = int(os.environ.get("BENCH_TEAM_SIGNS", "10"))
WORKER_LIMIT = os.environ.get("BENCH_TEAM_WORKER_LIMIT", "10")
"""Flow runs at once per worker, as the systemd unit in docs/orchestration.md sets it."""
PG_ADMIN = os.environ.get("BENCH_TEAM_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_db(extension: bool = False) -> str:
    import psycopg

    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    if extension:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    return url


def _drop(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def _stop(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def run(tmp: Path) -> dict[str, Any]:
    from cdmo_workflow.orchestration.server import PrefectServer, free_port

    defs = _defs(tmp / "defs")
    prefect_db = _pg_db(extension=True)
    project_db = _pg_db()
    db_url = "postgresql+psycopg://" + project_db.split("://", 1)[1]
    port = free_port()
    server = PrefectServer(
        tmp / "prefect",
        port,
        env={
            "PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://"
            + prefect_db.split("://", 1)[1]
        },
    )
    workers: list[subprocess.Popen[bytes]] = []
    out: dict[str, Any] = {"gates": GATES, "signs": SIGNS}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CDMO_"))}
    base_env |= {
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": server.api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    try:
        server.start()
        env = base_env | {"PREFECT_HOME": str(tmp / "deployer"), "CDMO_CHECKOUT": str(ROOT)}
        cdmo = str(Path(sys.executable).with_name("cdmo"))
        r = subprocess.run([cdmo, "deploy"], env=env, cwd=ROOT, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(r.stdout + r.stderr)
        prefect = str(Path(sys.executable).with_name("prefect"))
        # the bare baseline on the same pool and workers
        r = subprocess.run(
            [sys.executable, "-c", BARE_DEPLOY], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if r.returncode:
            raise RuntimeError(r.stdout + r.stderr)
        for name in ("bench-a", "bench-b"):
            home = tmp / name
            home.mkdir()
            wenv = base_env | {
                "HOME": str(home),
                "PREFECT_HOME": str(home / ".prefect"),
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "PREFECT_WORKER_PREFETCH_SECONDS": "2",
                "CDMO_DATABASE_URL": db_url,
                "CDMO_DEFINITIONS": str(defs),
            }
            with open(tmp / f"{name}.log", "ab") as log:
                workers.append(
                    subprocess.Popen(
                        [
                            prefect,
                            "worker",
                            "start",
                            "--pool",
                            "cdmo",
                            "--name",
                            name,
                            "--limit",
                            WORKER_LIMIT,
                        ],
                        env=wenv,
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        # the sign-off listener, as the team set-up runs it on one machine
        listen_env = wenv | {"HOME": str(tmp), "PREFECT_HOME": str(tmp / "listener")}
        with open(tmp / "listen.log", "ab") as log:
            workers.append(
                subprocess.Popen(
                    [cdmo, "listen"],
                    env=listen_env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        time.sleep(15)  # workers up, the housekeeping run started
        assert server.proc is not None

        def memory() -> dict[str, float]:
            assert server.proc is not None
            return {
                "server_mb": round(_tree_rss_mb(server.proc.pid), 1),
                "worker_mb": [round(_rss_mb(w.pid), 1) for w in workers],
                "worker_tree_mb": [round(_tree_rss_mb(w.pid), 1) for w in workers],
            }

        out["memory_idle"] = memory()
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            from prefect import get_client
            from prefect.deployments import run_deployment

            from cdmo_workflow import service
            from cdmo_workflow.orchestration.hooks import PrefectHook
            from cdmo_workflow.orchestration.reads import last_seq
            from cdmo_workflow.orchestration.runs import read_gate_runs, reconcile_runs

            ctx = service.open_context(db_url=db_url, definitions=defs)
            ctx.db.migrate()
            for uid, role in USERS:
                service.provision_user(ctx, uid, uid, [role], PASSWORD)
            t0 = time.monotonic()
            for i in range(GATES):
                code = f"N-{i:04d}"
                service.start_project(
                    ctx, code, "mini-programme", "Bench", TEAM, by="pm1", password=PASSWORD
                )
                service.submit_deliverable(
                    ctx, code, "design", "spec", "pm1", "DMS-1", password=PASSWORD
                )
            out["open_gates_in_db_s"] = round(time.monotonic() - t0, 1)
            client_cm = get_client(sync_client=True)
            client = client_cm.__enter__()
            t0 = time.monotonic()
            first = reconcile_runs(ctx, client)
            out["reconcile_creating_s"] = first.seconds
            out["created"] = first.created

            def paused() -> int:
                return len(read_gate_runs(client, ("PAUSED",)))

            _wait(lambda: paused() >= GATES, timeout=4 * 3600, every=5)
            out["all_suspended_s"] = round(time.monotonic() - t0, 1)
            time.sleep(10)
            out["memory_waiting"] = memory()

            passes = [reconcile_runs(ctx, client) for _ in range(3)]
            out["reconcile_pass_s"] = [p.seconds for p in passes]
            out["reconcile_last"] = {
                k: v for k, v in passes[-1].__dict__.items() if v and k != "seconds"
            }

            hooked = service.open_context(db_url=db_url, definitions=defs)
            hooked.after_commit.append(PrefectHook(hooked, api_url=server.api_url))

            def waiting(code: str) -> Any:
                base = f"design-review-1-{last_seq(ctx, code)}"
                from cdmo_workflow.orchestration.runs import gate_runs

                for r in gate_runs(client, code, "design-review"):
                    key = str(r.state.state_details.pause_key or "")
                    if key == base or key.startswith(base + "-"):
                        return r
                return None

            ours: list[float] = []
            committed: list[float] = []
            bare: list[float] = []
            for i in range(SIGNS):
                code = f"N-{i:04d}"
                run = _wait(lambda code=code: waiting(code), 300, 0.2)
                form = {"user": "pm1", "role": "pm", "decision": "go", "meaning": "approval",
                        "comment": "", "conditions": [], "password": PASSWORD}  # fmt: skip
                t = time.perf_counter()
                resume(run.id, form)
                _wait(lambda code=code, s=last_seq(ctx, code): last_seq(ctx, code) > s, 300, 0.05)
                committed.append(time.perf_counter() - t)
                _wait(lambda code=code: waiting(code), 300, 0.1)
                ours.append(time.perf_counter() - t)

                fr = run_deployment("bare-suspend/bare-suspend", timeout=0)
                _wait(lambda fid=fr.id: client.read_flow_run(fid).state.is_paused(), 300, 0.1)
                t = time.perf_counter()
                resume(fr.id, {"value": "x"})
                _wait(lambda fid=fr.id: client.read_flow_run(fid).state.is_completed(), 300, 0.1)
                bare.append(time.perf_counter() - t)
            out["signoff_s"] = {
                "p50": round(statistics.median(ours), 2),
                "p95": round(_pct(ours, 0.95), 2),
            }
            out["committed_s"] = {
                "p50": round(statistics.median(committed), 2),
                "p95": round(_pct(committed, 0.95), 2),
            }
            out["bare_s"] = {
                "p50": round(statistics.median(bare), 2),
                "p95": round(_pct(bare, 0.95), 2),
            }
            out["signoff_p50_over_bare"] = round(
                statistics.median(ours) / statistics.median(bare), 2
            )
            out["memory_after_signs"] = memory()
            client_cm.__exit__(None, None, None)
    finally:
        for w in workers:
            _stop(w)
        server.stop()
        from cdmo_workflow.store import dispose_engines

        with contextlib.suppress(Exception):
            dispose_engines(db_url)
        for url in (prefect_db, project_db):
            with contextlib.suppress(Exception):
                _drop(url)
    return out


def reconcile_scale(tmp: Path, n: int) -> dict[str, Any]:
    """The reconcile pass alone over ``n`` waiting gate runs, without workers: the runs are
    created by a reconcile pass and put in the state a suspended gate run has (Suspended,
    pause key ``design-review-1-<seq>``) through the API, so n can be 1,000 on 2 cores."""
    from cdmo_workflow.orchestration.server import PrefectServer, free_port

    defs = _defs(tmp / "defs")
    prefect_db = _pg_db(extension=True)
    project_db = _pg_db()
    db_url = "postgresql+psycopg://" + project_db.split("://", 1)[1]
    server = PrefectServer(
        tmp / "prefect",
        free_port(),
        env={
            "PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://"
            + prefect_db.split("://", 1)[1]
        },
    )
    out: dict[str, Any] = {"gates": n}
    try:
        server.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CDMO_"))}
        env |= {
            "PYTHONPATH": str(ROOT),
            "PREFECT_API_URL": server.api_url,
            "PREFECT_HOME": str(tmp / "deployer"),
            "CDMO_CHECKOUT": str(ROOT),
        }
        cdmo = str(Path(sys.executable).with_name("cdmo"))
        r = subprocess.run([cdmo, "deploy"], env=env, cwd=ROOT, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(r.stdout + r.stderr)
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            from prefect import get_client
            from prefect.states import Suspended

            from cdmo_workflow import service
            from cdmo_workflow.orchestration.reads import last_seqs
            from cdmo_workflow.orchestration.runs import read_gate_runs, reconcile_runs

            ctx = service.open_context(db_url=db_url, definitions=defs)
            ctx.db.migrate()
            for uid, role in USERS:
                service.provision_user(ctx, uid, uid, [role], PASSWORD)
            t0 = time.monotonic()
            for i in range(n):
                code = f"R-{i:04d}"
                service.start_project(
                    ctx, code, "mini-programme", "Bench", TEAM, by="pm1", password=PASSWORD
                )
                service.submit_deliverable(
                    ctx, code, "design", "spec", "pm1", "DMS-1", password=PASSWORD
                )
            out["open_gates_in_db_s"] = round(time.monotonic() - t0, 1)
            with get_client(sync_client=True) as client:
                first = reconcile_runs(ctx, client)
                out["pass_creating_runs_s"] = first.seconds
                seqs = last_seqs(ctx)
                t0 = time.monotonic()
                for run in read_gate_runs(client, ("SCHEDULED",)):
                    code = run.parameters["project"]
                    key = f"design-review-1-{seqs[code]}"
                    client.set_flow_run_state(
                        run.id, Suspended(timeout_seconds=None, pause_key=key), force=True
                    )
                out["suspend_via_api_s"] = round(time.monotonic() - t0, 1)
                passes = [reconcile_runs(ctx, client) for _ in range(3)]
                out["pass_all_current_s"] = [p.seconds for p in passes]
                out["waiting_seen"] = passes[-1].waiting
    finally:
        server.stop()
        from cdmo_workflow.store import dispose_engines

        with contextlib.suppress(Exception):
            dispose_engines(db_url)
        for url in (prefect_db, project_db):
            with contextlib.suppress(Exception):
                _drop(url)
    return out


BARE_DEPLOY = """
import os
from prefect import flow
flow.from_source(source=os.getcwd(), entrypoint="bench/bare_flow.py:bare_suspend").deploy(
    name="bare-suspend", work_pool_name="cdmo", print_next_steps=False,
)
"""


def main() -> int:
    """``BENCH_TEAM_RECONCILE=1000`` measures the reconcile pass alone at that size first."""
    n = int(os.environ.get("BENCH_TEAM_RECONCILE", "0"))
    if n:
        with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp:
            print(json.dumps({"reconcile_only": reconcile_scale(Path(tmp), n)}, indent=2))
    if GATES:
        with tempfile.TemporaryDirectory(prefix="bench-team-") as tmp:
            print(json.dumps(run(Path(tmp)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
