"""Nothing the test fixtures start survives pytest, even when SIGINT is ignored.

A job started in the background from a non-interactive shell (`nohup make test &`) inherits
SIGINT as ignored. This runs the suites' server fixtures (`cdmo up` of tests/e2e, the
server and runner of tests/flows) in a pytest child whose SIGINT is ignored, then checks that
no process of theirs is left: neither the pids they recorded nor any process whose command
line or environment names the child's temporary folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.prefect_support import group_members, stop_group

from .conftest import ROOT

pytestmark = pytest.mark.slow


def _mentions(pid: int, needle: bytes) -> bool:
    for part in ("cmdline", "environ"):
        try:
            if needle in Path(f"/proc/{pid}/{part}").read_bytes():
                return True
        except OSError:
            continue
    return False


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_server_fixtures_leave_nothing_with_sigint_ignored(tmp_path: Path) -> None:
    probe = tmp_path / "probe.jsonl"
    base = tmp_path / "inner"
    env = dict(os.environ, CDMO_PROBE_FILE=str(probe))
    env.pop("PYTEST_CURRENT_TEST", None)
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={base}",
        "tests/e2e/test_zz_probe.py", "tests/flows/test_zz_probe.py",
    ]  # fmt: skip
    with open(tmp_path / "inner.log", "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )  # fmt: skip
        try:
            code = proc.wait(400)
        finally:
            stop_group(proc, 5)
    out = (tmp_path / "inner.log").read_text()
    assert code == 0, out[-3000:]
    records = [json.loads(line) for line in probe.read_text().splitlines()]
    assert {r["fixture"] for r in records} == {"e2e.up", "flows.orchestra"}, out[-2000:]
    deadline = time.monotonic() + 5
    pids = [p for r in records for p in r["pids"]]
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not [p for p in pids if _alive(p)], f"left running: {pids}"
    needle = str(base).encode()
    left = [int(p) for p in os.listdir("/proc") if p.isdigit() and _mentions(int(p), needle)]
    left = [p for p in left if _alive(p) and p != os.getpid()]
    assert not left, f"processes of the fixtures still running: {left}"
    assert not group_members(proc.pid)
