"""Functions run in spawned processes by the store tests (importable by module name)."""

from __future__ import annotations

import time
from typing import Any

from cdmo_workflow.store import ConcurrentUpdate, Database, migrate


def migrate_worker(url: str, barrier: Any, results: Any) -> None:
    from cdmo_workflow.store import make_engine

    engine = make_engine(url)
    barrier.wait()
    try:
        migrate(engine)
        results.put(("ok", None))
    except Exception as err:  # reported to the parent test
        results.put(("error", repr(err)))


def append_worker(url: str, chain: str, n: int, barrier: Any, results: Any) -> None:
    db = Database(url)
    db.migrate()
    barrier.wait()
    retries = 0
    try:
        for i in range(n):
            while True:
                try:
                    with db.unit_of_work() as uow:
                        uow.audit.append(chain, f"worker-{id(db)}", "test.append", f"item {i}")
                        uow.commit()
                    break
                except ConcurrentUpdate:
                    retries += 1
                    time.sleep(0.001)
        results.put(("ok", retries))
    except Exception as err:
        results.put(("error", repr(err)))


def increment_worker(url: str, code: str, n: int, barrier: Any, results: Any) -> None:
    """Read-modify-write the project document n times with optimistic concurrency."""
    db = Database(url)
    db.migrate()
    barrier.wait()
    retries = 0
    try:
        for _ in range(n):
            while True:
                try:
                    with db.unit_of_work() as uow:
                        p = uow.projects.get(code)
                        assert p is not None
                        doc = dict(p.document)
                        doc["counter"] = doc.get("counter", 0) + 1
                        uow.projects.save(code, doc, p.state, p.version)
                        uow.commit()
                    break
                except ConcurrentUpdate:
                    retries += 1
        results.put(("ok", retries))
    except Exception as err:
        results.put(("error", repr(err)))
