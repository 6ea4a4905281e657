"""The SLA watcher: reminders to missing signers and escalations of overdue gate reviews.

For each open gate review of an active project whose gate has an ``sla``:

* every ``remind_every`` after the review opened (period ``n = floor(elapsed / remind_every)``,
  n >= 1), each team member of a role whose quota is not met, and who has not signed this
  review, gets one reminder for period ``n`` (a watcher that missed periods sends only the
  current one);
* once the review is overdue (strictly after ``opened_at + decide_within``: the one rule of
  :mod:`cdmo_workflow.domain.sla`), the escalation roles get one escalation (period 1).

Exactly-once comes from the database: a notice is an ``sla_notices`` row, unique on
(project, gate, review, kind, period, recipient), inserted with ``ON CONFLICT DO NOTHING``
in the same unit of work as its outbox row (``uow.sla.record`` then ``uow.outbox.add``; the
queries are ``cdmo_workflow.store.sla``'s). Any number of watchers on any schedule send each
notice once. Business-day durations (``10bd``) skip weekends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cdmo_workflow.domain.sla import gate_due_at, is_overdue, missing_quotas
from cdmo_workflow.notify.relay import resolve_engine
from cdmo_workflow.notify.routing import (
    escalation_roles,
    escalation_rows,
    people_of,
    reminder_rows,
)
from cdmo_workflow.spec.durations import Duration, add_business_days, parse_duration
from cdmo_workflow.spec.models import ProcessSnapshot
from cdmo_workflow.store.sla import NOTICE_KEYS
from cdmo_workflow.store.uow import UnitOfWork

log = logging.getLogger("cdmo_workflow.notify.watcher")


@dataclass
class WatchStats:
    """What one :func:`watch_once` did."""

    projects: int = 0
    open_reviews: int = 0
    reminders: int = 0
    escalations: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Notice:
    """One reminder or escalation due now, with its outbox row."""

    project: str
    gate: str
    review: int
    kind: str
    period: int
    recipient: str
    row: dict[str, Any] = field(hash=False, compare=False)


def _parse_time(text: str | datetime) -> datetime:
    if isinstance(text, datetime):
        return text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def periods_elapsed(every: Duration, start: datetime, now: datetime) -> int:
    """How many whole ``every`` periods lie between ``start`` and ``now`` (0 before the first)."""
    if now <= start:
        return 0
    if every.business_days is None:
        return int((now - start) / every.delta)
    n = every.business_days
    # business days elapsed, counted like add_business_days (weekend start -> next Monday)
    weeks, _ = divmod((now - start).days, 7)
    k = max((weeks * 5) // n - 1, 0)  # a safe lower bound, then step forward
    while add_business_days(start, n * (k + 1)) <= now:
        k += 1
    return k


def _missing_roles(review: Mapping[str, Any], snapshot: ProcessSnapshot) -> list[str]:
    """The roles still short of their quota, by the domain's one rule (on the raw document)."""
    gate = snapshot.gates[review["gate"]]
    signatures = review.get("signatures") or []
    return [m["role"] for m in missing_quotas(gate, (s.get("role") for s in signatures))]


def due_notices(
    document: Mapping[str, Any],
    snapshot: ProcessSnapshot,
    now: datetime,
    *,
    context: Mapping[str, Any] | None = None,
) -> list[Notice]:
    """Every reminder and escalation due at ``now`` for one project document. Pure."""
    if document.get("state", "active") != "active":
        return []
    code = str(document["code"])
    team: Mapping[str, Sequence[str]] = document.get("team") or {}
    ctx = {"customer": document.get("customer"), **(context or {})}
    notices: list[Notice] = []
    for review in document.get("reviews") or []:
        if review.get("state") != "open":
            continue
        gate = snapshot.gates.get(review["gate"])
        if gate is None or gate.sla is None:
            continue
        opened = _parse_time(review["opened_at"])
        number = int(review.get("number", 1))
        missing = _missing_roles(review, snapshot)
        if not missing:
            continue
        due_at = gate_due_at(gate, opened)
        common = {
            "snapshot": snapshot,
            "project": code,
            "phase": review.get("phase"),
            "gate_id": gate.id,
            "review": number,
            "missing_roles": missing,
            "opened_at": opened,
            "due_at": due_at,
            "context": ctx,
        }
        if gate.sla.remind_every:
            period = periods_elapsed(parse_duration(gate.sla.remind_every), opened, now)
            if period >= 1:
                signed = {s.get("user") for s in review.get("signatures") or []}
                people = [u for u in people_of(missing, team) if u not in signed]
                for row in reminder_rows(period=period, recipients=people, **common):
                    notices.append(
                        Notice(code, gate.id, number, "reminder", period, row["recipient"], row)
                    )
        if is_overdue(due_at, now):
            people = people_of(escalation_roles(snapshot, gate), team)
            for row in escalation_rows(recipients=people, **common):
                notices.append(
                    Notice(code, gate.id, number, "escalation", 1, row["recipient"], row)
                )
    return notices


def _key(n: Notice) -> tuple[str, str, int, str, int, str]:
    return (n.project, n.gate, n.review, n.kind, n.period, n.recipient)


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
        candidates = uow.sla.open_gate_projects()
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
            stats.reminders = sum(1 for n in fresh if n.kind == "reminder")
            stats.escalations = sum(1 for n in fresh if n.kind == "escalation")
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
