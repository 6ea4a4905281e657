"""Memory of ``cdmo serve`` across many in-process re-executions of resumed gate runs.

Since ``cdmo serve`` re-executes resumed gate runs in its own process (``fast_resume.py``),
a leak per execution would grow the long-lived runner. This resumes one waiting gate run
``BENCH_REEXEC_N`` times with a refresh input (each resume is one claim and one run of
Prefect's flow engine in the serving process) and records the runner's RSS along the way,
next to Prefect's bare suspend → resume round trip measured in the same run.
Run with ``python -m bench reexec``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_prefect import (
    PASSWORD,
    TEAM,
    _rss_mb,
    _spawn,
    _stop,
    _wait,
    prepare,
    resume,
    start_server,
)

N = int(os.environ.get("BENCH_REEXEC_N", "300"))
EVERY = int(os.environ.get("BENCH_REEXEC_EVERY", "50"))


def measure(tmp: Path) -> dict[str, float]:
    server, env, defs, db_url = start_server(tmp)
    out: dict[str, float] = {}
    serve = bare = None
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            from prefect import get_client
            from prefect.deployments import run_deployment
            from prefect.input import keyset_from_paused_state

            from cdmo_workflow import service
            from cdmo_workflow.orchestration.forms import refresh_input_for
            from cdmo_workflow.orchestration.runs import gate_runs

            _plain, ctx = prepare(db_url, defs, server.api_url)
            cdmo = str(Path(sys.executable).with_name("cdmo"))
            serve = _spawn([cdmo, "serve", "--poll", "1"], env, tmp / "serve.log", b"Serving")
            bare = _spawn(
                [sys.executable, "bench/bare_flow.py"], env, tmp / "bare.log", b"being served"
            )
            service.start_project(
                ctx, "RX-1", "mini-programme", "Bench", TEAM, by="pm1", password=PASSWORD
            )
            service.submit_deliverable(
                ctx, "RX-1", "design", "spec", "pm1", "DMS-1", password=PASSWORD
            )

            def waiting_run(not_state: Any = None) -> Any:
                """The run once it waits with its form stored (Prefect saves the form's
                schema just after the run enters Paused)."""
                with get_client(sync_client=True) as c:
                    for r in gate_runs(c, "RX-1", "design-review"):
                        if r.state.is_paused() and r.state.id != not_state:
                            schema = keyset_from_paused_state(r.state)["schema"]
                            with contextlib.suppress(Exception):  # 404 until stored
                                c.read_flow_run_input(r.id, schema)
                                return r
                return None

            run = _wait(waiting_run, 300)
            time.sleep(5)  # the first housekeeping pass
            run = _wait(waiting_run)
            out["rss_mb_before"] = _rss_mb(serve.pid)
            out["threads_before"] = float(len(os.listdir(f"/proc/{serve.pid}/task")))
            t0 = time.perf_counter()
            for i in range(1, N + 1):
                with get_client(sync_client=True) as c:
                    resume(run.id, refresh_input_for(c, run))
                run = _wait(lambda s=run.state.id: waiting_run(s), every=0.02)
                if i % EVERY == 0:
                    out[f"rss_mb_after_{i}"] = _rss_mb(serve.pid)
                    out[f"threads_after_{i}"] = float(len(os.listdir(f"/proc/{serve.pid}/task")))
            out["refresh_round_trip_mean_s"] = (time.perf_counter() - t0) / N
            ran_here = (tmp / "serve.log").read_text().count("no subprocess start")
            out["re_executed_in_process"] = float(ran_here)

            bare_times = []
            for _ in range(5):
                fr = run_deployment("bare-suspend/bare-suspend", timeout=0)

                def state_of(fid: Any) -> Any:
                    with get_client(sync_client=True) as c:
                        return c.read_flow_run(fid).state

                _wait(lambda fid=fr.id: state_of(fid).is_paused())
                t0 = time.perf_counter()
                resume(fr.id, {"value": "x"})
                _wait(lambda fid=fr.id: state_of(fid).is_completed(), every=0.02)
                bare_times.append(time.perf_counter() - t0)
            out["bare_round_trip_p50_s"] = sorted(bare_times)[2]
    finally:
        for p in (serve, bare):
            if p is not None:
                _stop(p)
        server.stop()
    return out


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-reexec-") as d:
        results = measure(Path(d))
    for k, v in results.items():
        print(f"   {k:45s} {v:8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
