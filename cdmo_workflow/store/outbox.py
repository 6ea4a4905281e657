"""The relay's side of the outbox: claim due rows, mark outcomes, retry, list.

Rows are written by commands inside their unit of work (``uow.outbox.add``, the
:class:`OutboxRepository` at the end of this module; the SLA watcher uses the same method).
Everything the relay does afterwards goes through this module; the relay itself
(``notify/relay.py``) keeps the rules: what a failure costs (backoff), when a row is dead,
how an error is masked.

Claiming: ``SELECT id ... due ... LIMIT batch`` then ``UPDATE outbox SET claimed_until = now +
lease WHERE id IN (...) AND <still due> RETURNING ...`` in one transaction. On PostgreSQL the
select takes ``FOR UPDATE SKIP LOCKED``, so concurrent relays split the work; on SQLite the
transaction is ``BEGIN IMMEDIATE`` (a single writer). A relay that dies leaves its rows claimed
until the lease ends; then another relay takes them. (A single ``UPDATE ... WHERE id IN (SELECT
... LIMIT n FOR UPDATE SKIP LOCKED)`` is not used: PostgreSQL may run the subquery more than
once and claim more than ``n`` rows.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from cdmo_workflow.store import tables as t
from cdmo_workflow.store.sql import Clock, insert_ignore, json_ready
from cdmo_workflow.store.tables import outbox

CLAIMED_COLUMNS = (
    "id",
    "dedup_key",
    "event",
    "notify_event",
    "project",
    "gate",
    "recipient",
    "payload",
    "attempts",
)
LISTED_COLUMNS = (
    "id",
    "dedup_key",
    "event",
    "notify_event",
    "project",
    "gate",
    "recipient",
    "state",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
)


def db_now(conn: Connection) -> datetime:
    """The database's clock (PostgreSQL ``now()``); SQLite has none, so the host's UTC clock."""
    if conn.dialect.name == "postgresql":
        value = conn.execute(sa.select(sa.func.now())).scalar_one()
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """Pending, its next attempt reached, and no lease, or a lease that has ended."""
    return sa.and_(
        outbox.c.state == "pending",
        outbox.c.next_attempt_at <= now,
        sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
    )


class OutboxQueue:
    """The relay's queries on one connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def now(self) -> datetime:
        return db_now(self._c)

    def claim(self, *, now: datetime, batch: int, lease: float) -> list[dict[str, Any]]:
        """Claim up to ``batch`` due rows until ``now + lease``; returns them oldest first.

        Two statements in the caller's transaction: select the due ids (``FOR UPDATE SKIP
        LOCKED`` on PostgreSQL), then update them with the due condition checked again, so a
        row another relay claimed in between is left out (``RETURNING`` gives only the rows
        won).
        """
        due = (
            sa.select(outbox.c.id)
            .where(_due(now))
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(batch)
        )
        if self._c.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(self._c.execute(due).scalars())
        if not ids:
            return []
        stmt = (
            sa.update(outbox)
            .where(outbox.c.id.in_(ids), _due(now))
            .values(claimed_until=now + timedelta(seconds=lease))
            .returning(*(outbox.c[k] for k in CLAIMED_COLUMNS))
        )
        rows = [dict(r._mapping) for r in self._c.execute(stmt)]
        rows.sort(key=lambda r: r["id"])
        return rows

    def retry(self, *, ids: Sequence[int] | None = None, dead: bool = False) -> int:
        """Put rows back to pending with attempts 0 (by id, or every dead row); the count."""
        cond: list[sa.ColumnElement[bool]] = []
        if ids:
            cond.append(outbox.c.id.in_(list(ids)))
        if dead:
            cond.append(outbox.c.state == "dead")
        if not cond:
            return 0
        result = self._c.execute(
            sa.update(outbox)
            .where(sa.or_(*cond), outbox.c.state != "pending")
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=self.now(),
                claimed_until=None,
                sent_at=None,
            )
        )
        return int(result.rowcount or 0)

    def listing(self, *, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Outbox rows for listings, newest first (no URL is ever in a row)."""
        query = sa.select(*(outbox.c[k] for k in LISTED_COLUMNS)).order_by(outbox.c.id.desc())
        if state:
            query = query.where(outbox.c.state == state)
        return [dict(r._mapping) for r in self._c.execute(query.limit(limit))]


# Built once (no per-message statement construction); see OutboxMarks for how they run.
_MARK_SENT = (
    sa.update(outbox)
    .where(outbox.c.id == sa.bindparam("row_id"), outbox.c.state == "pending")
    .values(
        state="sent",
        sent_at=sa.bindparam("at"),
        attempts=outbox.c.attempts + 1,
        claimed_until=None,
        last_error=None,
    )
)
_MARK_FAILED = (
    sa.update(outbox)
    .where(outbox.c.id == sa.bindparam("row_id"), outbox.c.state == "pending")
    .values(
        state=sa.bindparam("new_state"),
        attempts=sa.bindparam("new_attempts"),
        next_attempt_at=sa.bindparam("next_at"),
        claimed_until=None,
        last_error=sa.bindparam("error"),
    )
)
_FORGET = (
    sa.update(outbox).where(outbox.c.id == sa.bindparam("row_id")).values(payload=sa.bindparam("p"))
)


class OutboxMarks:
    """Records each outcome as its own atomic unit on one connection: a single autocommit
    statement on PostgreSQL (one round trip), a short ``BEGIN IMMEDIATE`` transaction on
    SQLite. Open it with :func:`outbox_marks`.

    On PostgreSQL the marks use ``synchronous_commit = off`` (reset before the connection goes
    back to the pool): the server has the mark as soon as the statement returns, so a relay
    crash still re-sends at most one message; only a crash of the database server itself can
    forget the last fraction of a second of marks, and those messages are re-sent with their
    dedup keys. This halves the cost of a mark.
    """

    def __init__(self, conn: Connection) -> None:
        self.autocommit = conn.dialect.name == "postgresql"
        if self.autocommit:
            conn.exec_driver_sql("SET synchronous_commit = off")
            conn.commit()
        self.conn = (
            conn.execution_options(isolation_level="AUTOCOMMIT") if self.autocommit else conn
        )

    def _execute(self, stmt: Any, params: Mapping[str, Any]) -> None:
        if self.autocommit:
            self.conn.execute(stmt, params)
            return
        with self.conn.begin():
            self.conn.execute(stmt, params)

    def sent(self, row_id: int, at: datetime) -> None:
        """The row was delivered at ``at`` (only while it is still pending)."""
        self._execute(_MARK_SENT, {"row_id": row_id, "at": at})

    def failed(
        self, row_id: int, *, attempts: int, dead: bool, next_attempt_at: datetime, error: str
    ) -> None:
        """A failed try: ``attempts`` so far, dead or pending again at ``next_attempt_at``.
        ``error`` is stored as given (the relay masks and bounds it)."""
        self._execute(
            _MARK_FAILED,
            {
                "row_id": row_id,
                "new_state": "dead" if dead else "pending",
                "new_attempts": attempts,
                "next_at": next_attempt_at,
                "error": error,
            },
        )

    def forget_secret(self, row: Mapping[str, Any]) -> None:
        """A one-time code leaves the outbox once delivered: only its hash stays (in the codes
        table), so nobody reading the database later learns a code that still works."""
        payload = row.get("payload") or {}
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict) or "code" not in data:
            return
        redacted = {**data, "code": "(delivered)", "body": "(one-time code delivered; redacted)"}
        self._execute(_FORGET, {"row_id": row["id"], "p": {**payload, "data": redacted}})

    def close(self) -> None:
        if self.autocommit:
            with contextlib.suppress(Exception):
                self.conn.exec_driver_sql("RESET synchronous_commit")


@contextlib.contextmanager
def outbox_marks(conn: Connection) -> Iterator[OutboxMarks]:
    """:class:`OutboxMarks` on ``conn``, with ``synchronous_commit`` reset afterwards."""
    marks = OutboxMarks(conn)
    try:
        yield marks
    finally:
        marks.close()


# ---------------------------------------------------------------- writing (commands)

_OUTBOX_REQUIRED = ("dedup_key", "event", "notify_event", "recipient")
_OUTBOX_KEYS = ("dedup_key", "event", "notify_event", "project", "gate", "recipient", "payload")


class OutboxRepository:
    """``uow.outbox``: queue notifications inside a command's (or the watcher's) transaction.

    Sending, marking and retrying are the relay's: see :mod:`cdmo_workflow.store.outbox`.
    """

    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def add(self, rows: Iterable[dict[str, Any]], at: datetime | None = None) -> int:
        """Queue notifications, due at ``at`` (default: the database's now); rows whose
        dedup_key exists are ignored. Returns the number of rows inserted."""
        now = at or self._now()
        values = []
        for row in rows:
            missing = [k for k in _OUTBOX_REQUIRED if k not in row]
            if missing:
                raise ValueError(f"outbox row lacks {missing}")
            v = {k: row.get(k) for k in _OUTBOX_KEYS}
            v["payload"] = json_ready(row.get("payload") or {})
            v["state"] = "pending"
            v["attempts"] = 0
            v["next_attempt_at"] = row.get("next_attempt_at") or now
            v["created_at"] = now
            values.append(v)
        return insert_ignore(self._s, t.outbox, values, ["dedup_key"])
