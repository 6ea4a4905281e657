"""What the signed audit checkpoints cost a command (``python -m bench checkpoint``).

* Ed25519: sign one checkpoint message; sign + append one JSON line with ``fsync``;
* a command (submit a deliverable, SQLite WAL, the ``mini`` process) through the service,
  with the checkpoint listener and without it, alternating command by command so that
  machine load hits both alike, plus the listener's own time inside the command; the
  "without" figure is the anchor (the command of the ``bench engine`` table in
  docs/performance.md, measured in this run);
* the one-off cost per process of importing ``cryptography``'s Ed25519 module;
* ``audit verify`` of the resulting chain against its checkpoints.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "tests" / "service" / "defs"
PASSWORD = "bench-password-1"


def _sign_costs(tmp: Path) -> dict[str, float]:
    from datetime import UTC, datetime

    from cdmo_workflow.audit.checkpoints import append_lines, chain_file, sign_checkpoint
    from cdmo_workflow.audit.keys import load_or_create

    key = load_or_create(tmp / "bench-key.pem")
    now = datetime.now(UTC)
    n = 5000
    t0 = time.perf_counter()
    for i in range(n):
        sign_checkpoint(key, "BENCH", i, "ab" * 32, now)
    sign_us = (time.perf_counter() - t0) / n * 1e6
    msg = b"x" * 200
    t0 = time.perf_counter()
    for _ in range(n):
        key.sign(msg)
    raw_us = (time.perf_counter() - t0) / n * 1e6
    path = chain_file(tmp / "cps", "BENCH")
    path.parent.mkdir()
    out = {"ed25519_sign_us": raw_us, "checkpoint_sign_us": sign_us}
    for fsync in (False, True):
        times = []
        for i in range(300):
            t = time.perf_counter()
            cp = sign_checkpoint(key, "BENCH", i, "ab" * 32, now)
            append_lines(path, [cp.to_line()], fsync=fsync)
            times.append((time.perf_counter() - t) * 1e6)
        out["sign_append_fsync_us" if fsync else "sign_append_us"] = statistics.median(times)
    return out


def _command_costs(tmp: Path) -> dict[str, float]:
    from cdmo_workflow import audit, service

    url = f"sqlite:///{tmp / 'bench.db'}"
    ctx = service.open_context(
        db_url=url,
        definitions=DEFS,
        checkpoint_dir_override=tmp / "checkpoints",
        audit_key_file_override=tmp / "audit-key.pem",
    )
    service.provision_user(ctx, "pm", "Pat Manager", ["pm"], PASSWORD)
    service.provision_user(ctx, "qa1", "QA One", ["qa"], PASSWORD)
    service.provision_user(ctx, "mfg", "Max Production", ["mfg"], PASSWORD)
    service.start_project(
        ctx,
        "BENCH-0",
        "mini",
        "Acme",
        {"pm": ["pm"], "qa": ["qa1"], "mfg": ["mfg"]},
        "pm",
        password=PASSWORD,
    )
    writer = ctx.db.commit_listeners[0]
    listener_us: list[float] = []

    def timed(heads: Any) -> None:  # the checkpoint writer, timed inside the command
        t = time.perf_counter()
        writer(heads)
        listener_us.append((time.perf_counter() - t) * 1e6)

    listeners = [timed]
    counter = iter(range(10**9))

    def submit() -> float:
        t = time.perf_counter()
        service.submit_deliverable(
            ctx, "BENCH-0", "build", "d1", "mfg", f"DMS-{next(counter)}", password=PASSWORD
        )
        return (time.perf_counter() - t) * 1000

    for _ in range(30):
        submit()
    with_cp: list[float] = []
    without: list[float] = []
    for _ in range(800):  # alternate command by command: load hits both alike
        ctx.db.commit_listeners[:] = listeners
        with_cp.append(submit())
        ctx.db.commit_listeners[:] = []
        without.append(submit())
    ctx.db.commit_listeners[:] = listeners
    submit()  # rows written without the listener are covered by this last checkpoint
    t = time.perf_counter()
    report = audit.verify_all(ctx.db, ctx.settings, "BENCH-0")
    verify_ms = (time.perf_counter() - t) * 1000
    rows = report.chains[0].rows if report.chains else 0
    return {
        "submit_with_ms": statistics.median(with_cp),
        "submit_without_ms": statistics.median(without),
        "submit_with_p90_ms": statistics.quantiles(with_cp, n=10)[-1],
        "submit_without_p90_ms": statistics.quantiles(without, n=10)[-1],
        "listener_us": statistics.median(listener_us),
        "listener_p90_us": statistics.quantiles(listener_us, n=10)[-1],
        "verify_ms": verify_ms,
        "verify_rows": float(rows),
    }


def _import_cost() -> float:
    code = (
        "import time, sqlalchemy, cdmo_workflow.service, cdmo_workflow.audit;"
        "t=time.perf_counter();"
        "import cryptography.hazmat.primitives.asymmetric.ed25519;"
        "print((time.perf_counter()-t)*1000)"
    )
    out = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
            ).stdout
        )
        for _ in range(5)
    ]
    return statistics.median(out)


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        result: dict[str, Any] = {}
        result.update(_sign_costs(tmp))
        result.update(_command_costs(tmp))
        result["import_ed25519_ms"] = _import_cost()
    for k, v in result.items():
        print(f"   {k:24s} {v:10.3f}")
    delta = result["submit_with_ms"] - result["submit_without_ms"]
    print(f"   checkpoint cost per command: {delta * 1000:+.0f} µs (median with - without)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
