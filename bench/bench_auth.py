"""A command's cost at 10 and at 5,000 audit events of the same project, and the cost of the
credential: argon2id at OWASP's parameters per signature, next to the legacy scrypt (N=2^14)
and a session check, all measured in the same run on SQLite.

Run: ``python -m bench auth``. Record the figures in docs/performance.md.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
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


def main() -> int:
    from cdmo_workflow import service
    from cdmo_workflow.identity import hash_password, verify_password

    stored = hash_password(PW)
    argon = _ms(lambda: verify_password(PW, stored), 30)
    scrypt = _ms(
        lambda: hashlib.scrypt(PW.encode(), salt=b"0" * 16, n=2**14, r=8, p=1, dklen=32), 30
    )
    print(f"argon2id verify (m=19 MiB, t=2, p=1): p50 {argon[0]:.1f} ms, p95 {argon[1]:.1f} ms")
    print(f"scrypt N=2^14 (legacy, same run):      p50 {scrypt[0]:.1f} ms, p95 {scrypt[1]:.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        ctx = service.open_context(db_url=url, definitions=DEFS)
        for uid, role in (("pm", "pm"), ("qa1", "qa"), ("mfg", "mfg")):
            service.provision_user(ctx, uid, uid, [role], PW)
        team = {"pm": ["pm"], "qa": ["qa1"], "mfg": ["mfg"]}
        service.start_project(ctx, "B-1", "mini", "Acme", team, "pm", password=PW)
        token = service.login(ctx, "pm", PW).data["token"]

        def hold_resume(**cred: Any) -> None:
            service.hold_project(ctx, "B-1", "pm", "bench", **cred)
            service.resume_project(ctx, "B-1", "pm", "bench", **cred)

        results = {}
        for events in (10, 5000):
            with ctx.db.unit_of_work() as uow:
                have = uow.audit.last("B-1")
                count = have.seq if have else 0
            while count < events:
                hold_resume(session=token)
                count += 2
            sess = _ms(lambda: hold_resume(session=token), 20)
            pwd = _ms(lambda: hold_resume(password=PW), 20)
            results[events] = (sess[0] / 2, pwd[0] / 2)
            print(
                f"{events:>5} audit events: a command with a session {sess[0] / 2:.2f} ms, "
                f"with the password {pwd[0] / 2:.2f} ms (p50)"
            )
    return 0
