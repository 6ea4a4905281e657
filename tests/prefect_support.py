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
