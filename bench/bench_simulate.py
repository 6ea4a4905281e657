"""Wall time of ``cdmo simulate --all`` on the shipped tree, next to ``cdmo validate``.

Both are real subprocesses of the installed ``cdmo`` command on the same tree (the
repository's ``definitions/``, with its scenarios, and ``gates/``), run alternately so a
busy machine slows both alike: ``cdmo validate`` is the anchor. Wall time and the child's
CPU time (user + system, less sensitive to a shared machine) are both reported. Also
reports the time of the dry runs themselves in-process (reading the definitions once, then
each scenario: read, check, run), which is what a scenario costs beyond the interpreter's
start-up and imports.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 7
REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0
"""A pre-commit hook: the whole ``cdmo simulate --all`` under a second."""


def _cdmo() -> str:
    exe = Path(sys.executable).parent / "cdmo"
    return str(exe) if exe.exists() else (shutil.which("cdmo") or "cdmo")


def _time(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def in_process(rounds: int = 20) -> tuple[int, int, float]:
    """(scenarios, steps, median seconds of reading and running all of them once)."""
    from cdmo_workflow.simulation import prepare, scenario_files, simulate
    from cdmo_workflow.spec.loader import load_catalog

    times: list[float] = []
    steps = 0
    files = scenario_files(REPO)
    for _ in range(rounds):
        start = time.perf_counter()
        catalog = load_catalog(REPO)
        steps = 0
        for path in files:
            ready = prepare(path, catalog, base=REPO)
            assert not isinstance(ready, list), ready
            outcome = simulate(ready.file, ready.scenario, ready.snapshot)
            assert outcome.passed
            steps += len(outcome.steps) - 1
        times.append(time.perf_counter() - start)
    return len(files), steps, statistics.median(times)


def measure(runs: int = RUNS) -> dict[str, list[tuple[float, float]]]:
    cdmo = _cdmo()
    commands = {
        "validate": [cdmo, "validate"],
        "simulate": [cdmo, "simulate", "--all", "--quiet"],
    }
    for cmd in commands.values():  # warm the file cache and check both pass
        subprocess.run(cmd, cwd=REPO, capture_output=True, check=True)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(_time(cmd))
    return times


def main() -> int:
    load = os.getloadavg()[0]
    times = measure()
    scenarios, steps, run_seconds = in_process()
    for name, values in times.items():
        wall = [w for w, _ in values]
        cpu = [c for _, c in values]
        print(
            f"cdmo {name}: wall median {statistics.median(wall):.3f} s over {len(wall)} runs "
            f"(min {min(wall):.3f} s, max {max(wall):.3f} s); CPU median "
            f"{statistics.median(cpu):.3f} s"
        )
    print(
        f"in-process: {scenarios} scenarios, {steps} steps read, checked and run in "
        f"{run_seconds * 1000:.1f} ms (median of 20); load average {load:.2f}"
    )
    return 0 if statistics.median(w for w, _ in times["simulate"]) < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
