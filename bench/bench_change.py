"""Costs of change control, each next to its anchor measured in the same run.

1. ``cdmo definitions diff OLD NEW`` on the shipped definitions at two git revisions (a
   real subprocess: start-up, two ``git archive`` exports, two loads, the diff) against the
   anchor ``cdmo validate`` on the same tree (start-up and one load). Median of 7 runs.
2. The migration impact (``domain.migration.analyse``) of an api-clinical-program project
   half-way (three phases passed, a gate open) to a version with a raised quota and a new
   phase, against the anchor ``domain.forecast.forecast`` of the same project. In-process,
   median of 7 rounds of 200 calls.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
CALLS = 200


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org",
           "GIT_CONFIG_GLOBAL": "/dev/null"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _repo(base: Path) -> Path:
    repo = base / "defs"
    for sub in ("definitions", "gates"):
        shutil.copytree(ROOT / sub, repo / sub)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "v1")
    _git(repo, "tag", "v1")
    gate = repo / "gates" / "clinical-release.yaml"
    gate.write_text(gate.read_text().replace("min: 1", "min: 2", 1))
    _git(repo, "commit", "-q", "-am", "v2")
    _git(repo, "tag", "v2")
    return repo


def _median_subprocess(args: list[str], cwd: Path) -> float:
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _median_calls(fn: object) -> float:
    rounds = []
    for _ in range(RUNS):
        t = time.perf_counter()
        for _ in range(CALLS):
            fn()  # type: ignore[operator]
        rounds.append((time.perf_counter() - t) / CALLS)
    return statistics.median(rounds)


def _project_half_way() -> tuple[object, object]:
    from datetime import UTC, datetime

    from cdmo_workflow.domain.project import Project, Signer
    from cdmo_workflow.spec.loader import load_catalog

    snap = load_catalog(ROOT).snapshot("api-clinical-program")
    team = {"pm": ["pm1"], "qa": ["qa1", "qa2"], "qc": ["qc1"], "mfg": ["mfg1"], "pd": ["pd1"],
            "ra": ["ra1"], "customer": ["cust1"], "site-head": ["site1"]}  # fmt: skip
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    project, _ = Project.start("B-1", "Bench", snap, team, "pm1", now)
    for phase in ("scoping", "process-development", "tech-transfer"):
        pdef = project.phase_def(phase)
        for d in pdef.deliverables:
            if d.required:
                project.submit_deliverable(phase, d.id, team[d.owner][0], "DMS", now)
        gdef = snap.gates[pdef.gate]
        for c in gdef.checks:
            project.confirm_check(gdef.id, c.id, team[c.confirmed_by][0], "DMS", now)
        if phase == "tech-transfer":
            project.sign(gdef.id, Signer("cust1", "C"), "customer", "go", "approval", now)
            break
        signed: set[str] = set()
        for q in gdef.signoffs:
            for user in [u for u in team[q.role] if u not in signed][: q.min]:
                project.sign(gdef.id, Signer(user, user), q.role, "go", "approval", now)
                signed.add(user)
    gates = dict(snap.gates)
    gates["gmp-readiness"] = gates["gmp-readiness"].model_copy(
        update={
            "signoffs": [
                q.model_copy(update={"min": 2}) if q.role == "qa" else q
                for q in gates["gmp-readiness"].signoffs
            ]
        }
    )
    from cdmo_workflow.spec.models import ProcessSnapshot

    new = ProcessSnapshot(process=snap.process, gates=gates, version_hash="bench-v2")
    return project, new


def main() -> int:
    cdmo = str(Path(sys.executable).with_name("cdmo"))
    print(f"load average: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        repo = _repo(Path(tmp))
        diff = _median_subprocess([cdmo, "definitions", "diff", "v1", "v2"], repo)
        validate = _median_subprocess([cdmo, "validate"], repo)
    print(f"cdmo definitions diff v1 v2: median {diff * 1000:.0f} ms (anchor cdmo validate "
          f"{validate * 1000:.0f} ms, ratio {diff / validate:.2f})")  # fmt: skip
    from cdmo_workflow.domain.forecast import forecast
    from cdmo_workflow.domain.migration import analyse

    project, new = _project_half_way()
    today = project.created_at  # type: ignore[attr-defined]
    impact = _median_calls(lambda: analyse(project, new))  # type: ignore[arg-type]
    anchor = _median_calls(lambda: forecast(project, today))  # type: ignore[arg-type]
    print(f"migration impact (analyse): median {impact * 1e6:.0f} µs per call (anchor "
          f"forecast {anchor * 1e6:.0f} µs, ratio {impact / anchor:.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
