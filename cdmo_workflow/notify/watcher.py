"""The SLA watcher: reminders to missing signers and escalations of overdue gate reviews.

For each open gate review of an active project whose gate has an ``sla``:

* every ``remind_every`` after the review opened (period ``n = floor(elapsed / remind_every)``,
  n >= 1), each team member of a role whose quota is not met, and who has not signed this
  review, gets one reminder for period ``n`` (a watcher that missed periods sends only the
  current one);
* once ``decide_within`` has passed, the escalation roles get one escalation (period 1).

Exactly-once comes from the database: a notice is an ``sla_notices`` row, unique on
(project, gate, review, kind, period, recipient), inserted with ``ON CONFLICT DO NOTHING``
in the same transaction as its outbox row. Any number of watchers on any schedule send each
notice once. Business-day durations (``10bd``) skip weekends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cdmo_workflow.notify.relay import db_now, resolve_engine
from cdmo_workflow.notify.routing import (
    escalation_roles,
    escalation_rows,
    people_of,
    reminder_rows,
)
from cdmo_workflow.spec.durations import Duration, add_business_days, parse_duration
from cdmo_workflow.spec.models import ProcessSnapshot
from cdmo_workflow.store.tables import outbox, process_snapshots, projects, sla_notices, users

log = logging.getLogger("cdmo_workflow.notify.watcher")

_CHUNK = 500
NOTICE_KEYS = ("project", "gate", "review", "kind", "period", "recipient")


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
    gate = snapshot.gates[review["gate"]]
    signatures = review.get("signatures") or []
    missing = []
    for quota in gate.signoffs:
        have = sum(1 for s in signatures if s.get("role") == quota.role)
        if have < quota.min:
            missing.append(quota.role)
    return missing


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
        due_at = (
            parse_duration(gate.sla.decide_within).add_to(opened)
            if gate.sla.decide_within
            else None
        )
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
        if due_at is not None and now >= due_at:
            people = people_of(escalation_roles(snapshot, gate), team)
            for row in escalation_rows(recipients=people, **common):
                notices.append(
                    Notice(code, gate.id, number, "escalation", 1, row["recipient"], row)
                )
    return notices


def _insert_notices(conn: Connection, notices: Sequence[Notice], now: datetime) -> list[Notice]:
    """Insert sla_notices rows, ignoring existing ones; the notices actually inserted."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as make_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as make_insert  # type: ignore[assignment]
    by_key = {(n.project, n.gate, n.review, n.kind, n.period, n.recipient): n for n in notices}
    inserted: list[Notice] = []
    items = list(by_key.values())
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        stmt = (
            make_insert(sla_notices)
            .values(
                [
                    {
                        "project": n.project,
                        "gate": n.gate,
                        "review": n.review,
                        "kind": n.kind,
                        "period": n.period,
                        "recipient": n.recipient,
                        "created_at": now,
                    }
                    for n in chunk
                ]
            )
            .on_conflict_do_nothing(index_elements=list(NOTICE_KEYS))
            .returning(*(sla_notices.c[k] for k in NOTICE_KEYS))
        )
        for r in conn.execute(stmt):
            inserted.append(by_key[tuple(r)])
    return inserted


def _insert_outbox(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as make_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as make_insert  # type: ignore[assignment]
    for start in range(0, len(rows), _CHUNK):
        values = [
            {
                **{k: r[k] for k in ("dedup_key", "event", "notify_event", "project", "gate")},
                "recipient": r["recipient"],
                "payload": r["payload"],
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for r in rows[start : start + _CHUNK]
        ]
        conn.execute(
            make_insert(outbox).values(values).on_conflict_do_nothing(index_elements=["dedup_key"])
        )


def _candidates(conn: Connection) -> list[tuple[str, str]]:
    """(code, version_hash) of active projects whose summary lists an open gate."""
    query = sa.select(projects.c.code, projects.c.version_hash, projects.c.summary).where(
        projects.c.state == "active"
    )
    out = []
    for code, version_hash, summary in conn.execute(query):
        if summary is None or (summary or {}).get("open_gates"):
            out.append((code, version_hash))  # no summary: look at the document
    return out


def _snapshots(conn: Connection, hashes: Iterable[str], cache: dict[str, ProcessSnapshot]) -> None:
    wanted = sorted(set(hashes) - set(cache))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = sa.select(process_snapshots.c.version_hash, process_snapshots.c.document).where(
            process_snapshots.c.version_hash.in_(chunk)
        )
        for version_hash, document in conn.execute(query):
            cache[version_hash] = ProcessSnapshot.model_validate(document)


def _names(conn: Connection, user_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(user_ids))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = sa.select(users.c.user_id, users.c.name).where(users.c.user_id.in_(chunk))
        names.update({u: n for u, n in conn.execute(query)})
    return names


_snapshot_cache: dict[str, ProcessSnapshot] = {}


def watch_once(db: Any, now: datetime | None = None) -> WatchStats:
    """Queue every reminder and escalation due now; returns counts. One transaction.

    ``now`` fixes the clock (tests); otherwise the database's clock is used.
    """
    import time

    started = time.perf_counter()
    engine = resolve_engine(db)
    stats = WatchStats()
    with engine.begin() as conn:
        at = now or db_now(conn)
        candidates = _candidates(conn)
        stats.projects = len(candidates)
        _snapshots(conn, {h for _, h in candidates}, _snapshot_cache)
        notices: list[Notice] = []
        codes = [c for c, _ in candidates]
        hashes = dict(candidates)
        for start in range(0, len(codes), _CHUNK):
            chunk = codes[start : start + _CHUNK]
            query = sa.select(projects.c.code, projects.c.document).where(
                projects.c.code.in_(chunk)
            )
            for code, document in conn.execute(query):
                snapshot = _snapshot_cache.get(hashes[code])
                if snapshot is None:
                    continue
                stats.open_reviews += sum(
                    1 for r in document.get("reviews") or [] if r.get("state") == "open"
                )
                notices.extend(due_notices(document, snapshot, at))
        if notices:
            fresh = _insert_notices(conn, notices, at)
            if fresh:
                names = _names(conn, {n.recipient for n in fresh})
                rows = []
                for n in fresh:
                    row = dict(n.row)
                    payload = dict(row["payload"])
                    payload["people"] = {**payload.get("people", {}), **names}
                    row["payload"] = payload
                    rows.append(row)
                _insert_outbox(conn, rows, at)
            stats.reminders = sum(1 for n in fresh if n.kind == "reminder")
            stats.escalations = sum(1 for n in fresh if n.kind == "escalation")
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
