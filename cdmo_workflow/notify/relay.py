"""The outbox relay: claim due rows, send them with apprise, record the outcome.

Delivery is at-least-once with a dedup key: a row is marked sent by one autocommit statement right
after apprise returns, so a crash between the two re-sends at most that one message, carrying
the same ``X-CDMO-Dedup-Key`` (e-mail header, JSON field ``dedup_key`` and body footer).

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
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cdmo_workflow.notify.masking import mask_text, quiet_apprise, register_secret_url
from cdmo_workflow.notify.targets import ConfigFile, config_file, db_targets
from cdmo_workflow.notify.templates import Message, render
from cdmo_workflow.store.tables import outbox

log = logging.getLogger("cdmo_workflow.notify.relay")

DEDUP_HEADER = "X-CDMO-Dedup-Key"
DEFAULT_LEASE_S = 300.0
DEFAULT_BACKOFF_BASE_S = 5.0
DEFAULT_BACKOFF_CAP_S = 3600.0
MAX_ERROR_CHARS = 2000


@dataclass
class RelayStats:
    """What one :func:`relay_once` did: ``failed`` rows will be retried, ``dead`` will not."""

    sent: int = 0
    failed: int = 0
    dead: int = 0

    @property
    def claimed(self) -> int:
        return self.sent + self.failed + self.dead

    def __iadd__(self, other: RelayStats) -> RelayStats:
        self.sent += other.sent
        self.failed += other.failed
        self.dead += other.dead
        return self


def resolve_engine(db: Any) -> Engine:
    """An :class:`Engine` from an engine, a database URL, or an object with ``.engine``."""
    if isinstance(db, Engine):
        return db
    if isinstance(db, str):
        from cdmo_workflow.store.engine import make_engine

        return make_engine(db)
    engine = getattr(db, "engine", None)
    if isinstance(engine, Engine):
        return engine
    raise TypeError(f"expected an Engine, a database URL or an object with .engine, got {db!r}")


def db_now(conn: Connection) -> datetime:
    """The database's clock (PostgreSQL ``now()``); SQLite has none, so the host's UTC clock."""
    if conn.dialect.name == "postgresql":
        value = conn.execute(sa.select(sa.func.now())).scalar_one()
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def backoff(
    attempts: int, base: float = DEFAULT_BACKOFF_BASE_S, cap: float = DEFAULT_BACKOFF_CAP_S
) -> timedelta:
    """Delay before the next try after ``attempts`` failed tries: base, 2 x base, ... capped."""
    exponent = max(attempts - 1, 0)
    seconds = cap if exponent >= 64 else min(base * (2**exponent), cap)
    return timedelta(seconds=seconds)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        outbox.c.state == "pending",
        outbox.c.next_attempt_at <= now,
        sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
    )


def claim(conn: Connection, *, now: datetime, batch: int, lease: float) -> list[dict[str, Any]]:
    """Claim up to ``batch`` due rows until ``now + lease``; returns them oldest first.

    Two statements in the caller's transaction: select the due ids (``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL), then update them with the due condition checked again, so a row
    another relay claimed in between is left out (``RETURNING`` gives only the rows won).
    """
    due = (
        sa.select(outbox.c.id)
        .where(_due(now))
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(batch)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    stmt = (
        sa.update(outbox)
        .where(outbox.c.id.in_(ids), _due(now))
        .values(claimed_until=now + timedelta(seconds=lease))
        .returning(
            outbox.c.id,
            outbox.c.dedup_key,
            outbox.c.event,
            outbox.c.notify_event,
            outbox.c.project,
            outbox.c.gate,
            outbox.c.recipient,
            outbox.c.payload,
            outbox.c.attempts,
        )
    )
    rows = [dict(r._mapping) for r in conn.execute(stmt)]
    rows.sort(key=lambda r: r["id"])
    return rows


class _Clock:
    """Host time shifted to the database clock, or a fixed instant when injected (tests)."""

    def __init__(self, fixed: datetime | None, db_time: datetime) -> None:
        self.fixed = fixed
        self.offset = db_time - datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.fixed if self.fixed is not None else datetime.now(UTC) + self.offset


@dataclass
class _Outcome:
    ok: bool
    error: str | None = None
    retry: bool = True


class _Sender:
    """Builds one apprise object per recipient (per relay batch) and sends rendered messages."""

    def __init__(
        self,
        targets: Mapping[str, list[str]],
        config: ConfigFile | None,
        body_format: str,
        ui_url: str | None,
        timeout: float,
    ) -> None:
        self.targets = targets
        self.config = config
        self.body_format = body_format
        self.ui_url = ui_url
        self.timeout = timeout
        self._cache: dict[str, tuple[Any, int]] = {}

    def _apprise_for(self, user: str) -> tuple[Any, int]:
        if user in self._cache:
            return self._cache[user]
        import apprise

        ap = apprise.Apprise()
        invalid = 0
        for url in self.targets.get(user, []):
            register_secret_url(url)
            if not ap.add(url, tag=user):
                invalid += 1
        if self.config is not None:
            try:
                if self.config.has(user):
                    ap.add(self.config.load())
            except OSError as exc:
                log.warning("cannot read the apprise config file: %s", mask_text(str(exc)))
        # Apprise throttles each plugin instance (5.5 s between e-mails by default). The
        # instances are cached per recipient across a batch, so that throttle would stall the
        # whole relay for every further message; delivery pacing is the relay's own job.
        for service in ap.find(tag=user, match_always=False):
            service.request_rate_per_sec = 0
        self._cache[user] = (ap, invalid)
        return ap, invalid

    def send(self, row: Mapping[str, Any]) -> _Outcome:
        user = str(row["recipient"])
        ap, invalid = self._apprise_for(user)
        if len(ap) == 0:
            reason = f"no notification target for user {user}"
            if invalid:
                reason = f"no valid notification target for user {user} ({invalid} invalid)"
            return _Outcome(False, reason, retry=False)
        payload = dict(row["payload"] or {})
        payload["recipient"] = user
        message: Message = render(
            payload,
            notify_event=row["notify_event"],
            ui_url=self.ui_url,
            dedup_key=row["dedup_key"],
        )
        extras = {
            "dedup_key": row["dedup_key"],
            "event": row["event"],
            "notify_event": row["notify_event"],
            "project": row["project"],
            "gate": row["gate"],
            "recipient": user,
        }
        for service in ap.find(tag=user, match_always=False):
            headers = getattr(service, "headers", None)
            if isinstance(headers, dict):
                headers[DEDUP_HEADER] = row["dedup_key"]
            extra_fields = getattr(service, "payload_extras", None)
            if isinstance(extra_fields, dict):
                extra_fields.update({k: v for k, v in extras.items() if v is not None})
        try:
            result = ap.notify(
                body=message.body,
                title=message.subject,
                body_format=self.body_format,
                tag=user,
                match_always=False,
                timeout=self.timeout,
            )
        except Exception as exc:  # apprise reports most failures in the result; be safe
            return _Outcome(False, mask_text(f"{type(exc).__name__}: {exc}"))
        if result:
            return _Outcome(True)
        lines = []
        for entry in result.logs():
            if entry.level in ("WARNING", "ERROR", "CRITICAL"):
                lines.append(entry.message)
        status = getattr(result.status, "name", str(result.status))
        text = "; ".join(dict.fromkeys(lines)) or "delivery failed"
        return _Outcome(False, mask_text(f"apprise {status}: {text}")[:MAX_ERROR_CHARS])


# Built once (no per-message statement construction); see _Marker for how they run.
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


class _Marker:
    """Runs each mark as its own atomic unit on one connection: a single autocommit statement
    on PostgreSQL (one round trip), a short ``BEGIN IMMEDIATE`` transaction on SQLite.

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

    def execute(self, stmt: Any, params: Mapping[str, Any]) -> None:
        if self.autocommit:
            self.conn.execute(stmt, params)
            return
        with self.conn.begin():
            self.conn.execute(stmt, params)


@contextlib.contextmanager
def _marking(conn: Connection) -> Iterator[_Marker]:
    marker = _Marker(conn)
    try:
        yield marker
    finally:
        if marker.autocommit:
            with contextlib.suppress(Exception):
                marker.conn.exec_driver_sql("RESET synchronous_commit")


def _mark_sent(conn: _Marker, row_id: int, at: datetime) -> None:
    conn.execute(_MARK_SENT, {"row_id": row_id, "at": at})


_FORGET = (
    sa.update(outbox).where(outbox.c.id == sa.bindparam("row_id")).values(payload=sa.bindparam("p"))
)


def _forget_secret(conn: _Marker, row: Mapping[str, Any]) -> None:
    """A one-time code leaves the outbox once delivered: only its hash stays (in the codes
    table), so nobody reading the database later learns a code that still works."""
    payload = row.get("payload") or {}
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or "code" not in data:
        return
    redacted = {**data, "code": "(delivered)", "body": "(one-time code delivered; redacted)"}
    conn.execute(_FORGET, {"row_id": row["id"], "p": {**payload, "data": redacted}})


def _mark_failed(
    conn: _Marker,
    row: Mapping[str, Any],
    at: datetime,
    error: str,
    *,
    retry: bool,
    max_attempts: int,
    base: float,
    cap: float,
) -> bool:
    """Record a failed try; returns True when the row is now dead."""
    attempts = int(row["attempts"]) + 1
    dead = (not retry) or attempts >= max_attempts
    conn.execute(
        _MARK_FAILED,
        {
            "row_id": row["id"],
            "new_state": "dead" if dead else "pending",
            "new_attempts": attempts,
            "next_at": at if dead else at + backoff(attempts, base, cap),
            "error": mask_text(error)[:MAX_ERROR_CHARS],
        },
    )
    return dead


def relay_once(
    db: Any,
    *,
    batch: int = 100,
    max_attempts: int = 8,
    now: datetime | None = None,
    worker_id: str | None = None,
    lease: float = DEFAULT_LEASE_S,
    backoff_base: float = DEFAULT_BACKOFF_BASE_S,
    backoff_cap: float = DEFAULT_BACKOFF_CAP_S,
    body_format: str = "text",
    ui_url: str | None = None,
    apprise_config: str | None = None,
    timeout: float = 0.0,
    after_send: Callable[[Mapping[str, Any]], None] | None = None,
) -> RelayStats:
    """Send up to ``batch`` due outbox rows once; returns how many were sent, failed, died.

    ``db`` is an Engine, a database URL or an object with ``.engine``. ``now`` fixes the clock
    (tests); otherwise the database's clock is used. ``timeout`` bounds one apprise call in
    seconds (0: each service's own timeouts only). ``after_send`` is called after apprise
    accepted a message and before the row is marked sent (crash tests use it).
    """
    quiet_apprise()
    engine = resolve_engine(db)
    stats = RelayStats()
    with engine.begin() as conn:
        clock = _Clock(now, now or db_now(conn))
        rows = claim(conn, now=clock(), batch=batch, lease=lease)
        if not rows:
            return stats
        targets = db_targets(conn, {r["recipient"] for r in rows})
    sender = _Sender(targets, config_file(apprise_config), body_format, ui_url, timeout)
    with engine.connect() as conn, _marking(conn) as marker:
        for row in rows:
            outcome = sender.send(row)
            if outcome.ok:
                if after_send is not None:
                    after_send(row)
                _mark_sent(marker, row["id"], clock())
                _forget_secret(marker, row)
                stats.sent += 1
                continue
            dead = _mark_failed(
                marker,
                row,
                clock(),
                outcome.error or "delivery failed",
                retry=outcome.retry,
                max_attempts=max_attempts,
                base=backoff_base,
                cap=backoff_cap,
            )
            if dead:
                stats.dead += 1
            else:
                stats.failed += 1
            log.warning(
                "outbox row %s to %s %s: %s",
                row["id"],
                row["recipient"],
                "is dead" if dead else "failed, will retry",
                mask_text(outcome.error or ""),
            )
    log.info(
        "relay%s: sent %d, failed %d, dead %d",
        f" {worker_id}" if worker_id else "",
        stats.sent,
        stats.failed,
        stats.dead,
    )
    return stats


def relay_forever(
    db: Any,
    interval: float = 5.0,
    *,
    stop: threading.Event | None = None,
    **options: Any,
) -> RelayStats:
    """Run :func:`relay_once` until ``stop`` is set; drains full batches without waiting."""
    total = RelayStats()
    stop = stop or threading.Event()
    batch = int(options.get("batch", 100))
    while not stop.is_set():
        try:
            stats = relay_once(db, **options)
        except Exception as exc:  # a database hiccup must not end the relay
            log.error("relay cycle failed: %s", mask_text(f"{type(exc).__name__}: {exc}"))
            stats = RelayStats()
        total += stats
        if stats.claimed < batch:
            stop.wait(interval)
    return total


def retry(db: Any, *, ids: list[int] | None = None, dead: bool = False) -> int:
    """Put rows back to pending with attempts 0 (by id, or every dead row); returns the count."""
    engine = resolve_engine(db)
    with engine.begin() as conn:
        now = db_now(conn)
        cond: list[sa.ColumnElement[bool]] = []
        if ids:
            cond.append(outbox.c.id.in_(ids))
        if dead:
            cond.append(outbox.c.state == "dead")
        if not cond:
            return 0
        result = conn.execute(
            sa.update(outbox)
            .where(sa.or_(*cond), outbox.c.state != "pending")
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=now,
                claimed_until=None,
                sent_at=None,
            )
        )
        return int(result.rowcount or 0)


def pending_rows(db: Any, *, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Outbox rows for listings, newest first (no URL is ever in a row)."""
    engine = resolve_engine(db)
    query = sa.select(
        outbox.c.id,
        outbox.c.dedup_key,
        outbox.c.event,
        outbox.c.notify_event,
        outbox.c.project,
        outbox.c.gate,
        outbox.c.recipient,
        outbox.c.state,
        outbox.c.attempts,
        outbox.c.next_attempt_at,
        outbox.c.last_error,
        outbox.c.created_at,
        outbox.c.sent_at,
    ).order_by(outbox.c.id.desc())
    if state:
        query = query.where(outbox.c.state == state)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.limit(limit))]
