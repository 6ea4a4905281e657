"""The SLA watcher: reminders to missing signers and escalations of overdue gate reviews.

Which notices are due when is the pure rule of :mod:`cdmo_workflow.notify.sla_notices`
(:func:`due_notices`; the dry-run simulator calls the same function). This module adds the
database: it reads the open gate reviews of active projects, and records each notice once.

Conditions of a Conditional Go with a due date are watched the same way: every
``remind_every`` of their gate's SLA after they were raised, the people who must act (the
owner while open, the acceptors once closed) get a reminder (``condition-reminder``); once the
condition is overdue (``is_overdue(due_at, now)``), its owners and the gate's escalation roles
get one escalation (``condition-escalation``). Their ledger rows use ``condition:<id>`` as
the gate and review 0.

Exactly-once comes from the database: a notice is an ``sla_notices`` row, unique on
(project, gate, review, kind, period, recipient), inserted with ``ON CONFLICT DO NOTHING``
in the same unit of work as its outbox row (``uow.sla.record`` then ``uow.outbox.add``; the
queries are ``cdmo_workflow.store.sla``'s). Any number of watchers on any schedule send each
notice once. Business-day durations (``10bd``) skip weekends, and the holidays and shutdowns
of the site calendar the project pinned (:mod:`cdmo_workflow.domain.calendar`): a holiday
inside a ``remind_every: 2bd`` window moves the reminder to the next working day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cdmo_workflow.notify.relay import resolve_engine
from cdmo_workflow.notify.sla_notices import (
    CONDITION_ESCALATION,
    CONDITION_REMINDER,
    ESCALATION,
    REMINDER,
    Notice,
    due_notices,
    periods_elapsed,
)
from cdmo_workflow.spec.models import ProcessSnapshot
from cdmo_workflow.store.sla import NOTICE_KEYS
from cdmo_workflow.store.uow import UnitOfWork

log = logging.getLogger("cdmo_workflow.notify.watcher")

__all__ = ["Notice", "WatchStats", "due_notices", "periods_elapsed", "watch_forever", "watch_once"]


@dataclass
class WatchStats:
    """What one :func:`watch_once` did."""

    projects: int = 0
    open_reviews: int = 0
    reminders: int = 0
    escalations: int = 0
    seconds: float = 0.0


def _key(n: Notice) -> tuple[str, str, int, str, int, str]:
    return n.key


def _fields(n: Notice) -> dict[str, Any]:
    return dict(zip(NOTICE_KEYS, _key(n), strict=True))


_snapshot_cache: dict[str, ProcessSnapshot] = {}


def watch_once(db: Any, now: datetime | None = None) -> WatchStats:
    """Queue every reminder and escalation due now; returns counts. One transaction.

    ``now`` fixes the clock (tests); otherwise the database's clock is used.
    """
    import time

    started = time.perf_counter()
    stats = WatchStats()
    with UnitOfWork(resolve_engine(db)) as uow:
        at = now or uow.now()
        candidates = uow.sla.open_gate_projects()  # and those with open conditions
        stats.projects = len(candidates)
        hashes = dict(candidates)
        missing = set(hashes.values()) - set(_snapshot_cache)
        for version_hash, doc in uow.sla.snapshots(missing).items():
            _snapshot_cache[version_hash] = ProcessSnapshot.model_validate(doc)
        notices: list[Notice] = []
        for code, document in uow.sla.documents([c for c, _ in candidates]):
            snapshot = _snapshot_cache.get(hashes[code])
            if snapshot is None:
                continue
            stats.open_reviews += sum(
                1 for r in document.get("reviews") or [] if r.get("state") == "open"
            )
            notices.extend(due_notices(document, snapshot, at))
        if notices:
            by_key = {_key(n): n for n in notices}
            fresh = [by_key[k] for k in uow.sla.record((_fields(n) for n in notices), at)]
            if fresh:
                names = uow.users.names({n.recipient for n in fresh})
                rows = []
                for n in fresh:
                    row = dict(n.row)
                    payload = dict(row["payload"])
                    payload["people"] = {**payload.get("people", {}), **names}
                    row["payload"] = payload
                    rows.append(row)
                uow.outbox.add(rows, at=at)
            stats.reminders = sum(1 for n in fresh if n.kind in (REMINDER, CONDITION_REMINDER))
            stats.escalations = sum(
                1 for n in fresh if n.kind in (ESCALATION, CONDITION_ESCALATION)
            )
        uow.commit()
    stats.seconds = time.perf_counter() - started
    log.info(
        "watch: %d projects, %d open reviews, %d reminders, %d escalations in %.2fs",
        stats.projects,
        stats.open_reviews,
        stats.reminders,
        stats.escalations,
        stats.seconds,
    )
    return stats


def watch_forever(db: Any, interval: float = 300.0, *, stop: Any = None) -> None:
    """Run :func:`watch_once` every ``interval`` seconds until ``stop`` (an Event) is set."""
    import threading

    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            watch_once(db)
        except Exception as exc:  # keep watching after a database hiccup
            log.error("watch cycle failed: %s: %s", type(exc).__name__, exc)
        stop.wait(interval)
