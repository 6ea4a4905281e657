"""Test helpers shared by the suites that run a Prefect server (tests/flows, tests/e2e)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(fn: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def drain_prefect_queues(timeout: float = 30.0) -> None:
    """Flush the events and logs this test process queued for a Prefect server, before the
    server stops: otherwise Prefect's workers retry them against a dead port at exit (minutes).
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (EventsWorker, APILogWorker):
        worker.drain_all(timeout=timeout, at_exit=False)


def stop_group(proc: Any, grace: float = 10.0) -> None:
    """Stop a child started with ``start_new_session=True`` and its whole process group:
    SIGTERM, then SIGKILL after ``grace`` seconds (never a single pid: its children too)."""
    from cdmo_workflow.orchestration.server import stop_group as _stop

    _stop(proc, grace)


def kill_server_left(prefect_home: Any, grace: float = 10.0) -> bool:
    """Stop the Prefect server whose ``server.pid`` is in ``prefect_home``, if it still runs
    (its parent died before stopping it). Returns True when one had to be stopped."""
    import contextlib
    import os
    import signal
    from pathlib import Path

    pid_file = Path(prefect_home) / "server.pid"
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return False
    if not _alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        pid_file.unlink()
    return True


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def group_members(pgid: int) -> list[int]:
    """Pids whose process group is ``pgid`` (from /proc), zombies left out."""
    import os

    out: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry))
    return out
