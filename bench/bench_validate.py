"""Wall time of ``cdmo validate`` on a generated tree of 200 definition files.

The tree holds 20 processes of 9 phases each and 180 gates (9 per process), all valid.
Each run is a real subprocess of the installed ``cdmo`` command, so interpreter start-up
and imports are counted, as a pre-commit hook would see them. Reports the median of
several runs; the target is under 0.5 s.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROCESSES = 20
PHASES = 9
RUNS = 7
TARGET_SECONDS = 0.5


def _process(n: int) -> str:
    lines = [
        "# yaml-language-server: $schema=../schemas/process.schema.json",
        "schema: cdmo-workflow/v1",
        "kind: process",
        f"id: bench-process-{n}",
        f"name: Benchmark process {n}",
        "roles:",
        "  pm: Project manager",
        "  qa: Quality assurance",
        "  mfg: Manufacturing",
        "  customer: Sponsor representative",
        "  site-head: Site lead",
        "phases:",
    ]
    for i in range(PHASES):
        lines += [
            f"  - id: phase-{i}",
            f"    name: Phase {i}",
            "    owner: pm",
            "    duration: 10bd",
        ]
        if i:
            lines.append(
                f"    after: [phase-{i - 1}]"
                if i % 3
                else f"    after: [phase-{i - 1}, phase-{i - 2}]"
            )
        lines += [
            "    deliverables:",
            f"      - id: report-{i}",
            f"        name: Report {i}",
            "        owner: mfg",
            f"      - id: approval-{i}",
            f"        name: Approval {i}",
            "        owner: customer",
            "        required: false",
            f"    gate: gate-{n}-{i}",
        ]
    return "\n".join(lines) + "\n"


def _gate(n: int, i: int) -> str:
    decisions = (
        "[go, hold, recycle, kill]"
        if i == PHASES - 1
        else "[go, conditional-go, hold, recycle, kill]"
    )
    return f"""\
# yaml-language-server: $schema=../schemas/gate.schema.json
schema: cdmo-workflow/v1
kind: gate
id: gate-{n}-{i}
name: Gate {i} of process {n}
checks:
  - id: risk-closed
    name: Risks closed
    confirmed_by: mfg
signoffs:
  - role: qa
    min: 1
    independent: true
    veto: true
  - role: customer
    min: 1
decisions: {decisions}
sla:
  decide_within: 10d
  remind_every: 2d
  escalate_to: [site-head]
notify:
  opened: [pm, qa, customer]
  decided: [pm, qa, mfg, customer]
"""


def generate(root: Path) -> int:
    """Write the tree under ``root``; return the number of files."""
    (root / "definitions").mkdir(parents=True)
    (root / "gates").mkdir()
    count = 0
    for n in range(PROCESSES):
        (root / "definitions" / f"bench-process-{n}.yaml").write_text(_process(n))
        count += 1
        for i in range(PHASES):
            (root / "gates" / f"gate-{n}-{i}.yaml").write_text(_gate(n, i))
            count += 1
    return count


def _cdmo() -> str:
    exe = Path(sys.executable).parent / "cdmo"
    return str(exe) if exe.exists() else (shutil.which("cdmo") or "cdmo")


def measure(runs: int = RUNS) -> tuple[int, list[float]]:
    with tempfile.TemporaryDirectory(prefix="cdmo-bench-") as tmp:
        root = Path(tmp)
        files = generate(root)
        cmd = [_cdmo(), "validate"]
        first = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        if first.returncode != 0:
            raise SystemExit(f"benchmark tree is invalid:\n{first.stdout}{first.stderr}")
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=root, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
    return files, times


def main() -> int:
    files, times = measure()
    median = statistics.median(times)
    print(
        f"cdmo validate, {files} files: median {median:.3f} s over {len(times)} runs "
        f"(min {min(times):.3f} s, max {max(times):.3f} s; target < {TARGET_SECONDS} s)"
    )
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
