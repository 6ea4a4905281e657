"""Records the processes of the `up` fixture for tests/flows/test_no_leftovers.py (a no-op
unless CDMO_PROBE_FILE is set). Runs last in this package, on the package's `cdmo up`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .conftest import CdmoUp


def test_record_fixture_processes(up: CdmoUp) -> None:
    target = os.environ.get("CDMO_PROBE_FILE")
    if not target:
        return
    server_pid = int((up.home / "prefect" / "server.pid").read_text())
    with Path(target).open("a") as fh:
        fh.write(json.dumps({"fixture": "e2e.up", "pids": [up.proc.pid, server_pid]}) + "\n")
