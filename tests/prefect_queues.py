"""Test helper shared by the suites that run a Prefect server."""

from __future__ import annotations


def drain_prefect_queues(timeout: float = 30.0) -> None:
    """Flush the events and logs this test process queued for a Prefect server, before the
    server stops: otherwise Prefect's workers retry them against a dead port at exit (minutes).
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (EventsWorker, APILogWorker):
        worker.drain_all(timeout=timeout, at_exit=False)
