"""``cdmo up``: the server, the database, the served flows and the demo, idempotently."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, wait_for

pytestmark = pytest.mark.slow


def _start(tmp: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    for k in ("PREFECT_API_URL", "CDMO_DATABASE_URL", "PREFECT_HOME"):
        env.pop(k, None)
    env["CDMO_DEFINITIONS"] = str(ROOT)
    cdmo = str(Path(sys.executable).with_name("cdmo"))
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [cdmo, "up", "--port", str(port), "--home", str(tmp / "home")],
            cwd=tmp, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_for(lambda: proc.poll() is not None or b"Press Ctrl-C" in log.read_bytes(), 120, "cdmo up")
    assert proc.poll() is None, log.read_text()
    return proc


def _stop(proc: subprocess.Popen[bytes], log: Path, port: int) -> None:
    from cdmo_workflow.orchestration.server import port_in_use

    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    assert "Stopped." in log.read_text()
    wait_for(lambda: not port_in_use(port), 30, "server port released")


def test_cdmo_up_twice(tmp_path: Path) -> None:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from cdmo_workflow.orchestration.server import free_port

    port = free_port()
    log = tmp_path / "up1.log"
    proc = _start(tmp_path, port, log)
    try:
        out = log.read_text()
        assert f"Prefect UI:  http://127.0.0.1:{port}" in out
        assert "Demo project DEMO-001 (created): open gates: scoping-go" in out
        assert "password for all: demo-password-123" in out
        for uid in ("demo-pm", "demo-qa", "demo-customer", "demo-site-head", "demo-admin"):
            assert uid in out
        assert (tmp_path / "home" / "cdmo.db").exists()
        assert (tmp_path / "home" / "prefect").is_dir()
        assert (tmp_path / ".cdmo" / "prefect-api-url").exists()
        with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
            from cdmo_workflow.orchestration.runs import gate_runs

            def waiting():
                with get_client(sync_client=True) as c:
                    return gate_runs(c, "DEMO-001", "scoping-go")

            runs = wait_for(waiting, 60, "demo gate waiting")
            assert runs[0].name == "DEMO-001 · Go to process development"
            first_id = runs[0].id
    finally:
        _stop(proc, log, port)
    assert not (tmp_path / ".cdmo" / "prefect-api-url").exists()

    log2 = tmp_path / "up2.log"
    proc = _start(tmp_path, port, log2)
    try:
        assert "Demo project DEMO-001 (reused): open gates: scoping-go" in log2.read_text()
        with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
            with get_client(sync_client=True) as c:
                runs = gate_runs(c, "DEMO-001", waiting_only=False)
            assert [r.id for r in runs] == [first_id]  # the same waiting run, not a new one
        time.sleep(0.1)
    finally:
        _stop(proc, log2, port)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cdmo_up_stops_within_10s_with_its_server(tmp_path: Path, sig: signal.Signals) -> None:
    """Also with SIGINT inherited as ignored (a background job of a non-interactive shell)."""
    from cdmo_workflow.orchestration.server import free_port, port_in_use
    from tests.prefect_support import group_members, stop_group

    port = free_port()
    log = tmp_path / "up.log"
    env = dict(os.environ)
    for k in ("PREFECT_API_URL", "CDMO_DATABASE_URL", "PREFECT_HOME"):
        env.pop(k, None)
    env["CDMO_DEFINITIONS"] = str(ROOT)
    cdmo = str(Path(sys.executable).with_name("cdmo"))
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [cdmo, "up", "--port", str(port), "--home", str(tmp_path / "home"), "--no-demo"],
            cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )  # fmt: skip
    try:
        wait_for(lambda: proc.poll() is not None or b"Press Ctrl-C" in log.read_bytes(), 120, "up")
        assert proc.poll() is None, log.read_text()
        server_pid = int((tmp_path / "home" / "prefect" / "server.pid").read_text())
        started = time.monotonic()
        proc.send_signal(sig)
        proc.wait(30)
        took = time.monotonic() - started
        assert took < 10, f"cdmo up took {took:.1f} s to stop"
        assert "Stopped." in log.read_text()
        wait_for(lambda: not port_in_use(port), 10, "server port released")
        assert not group_members(server_pid), "the Prefect server's processes are left"
        assert not group_members(proc.pid)
    finally:
        stop_group(proc, 5)
