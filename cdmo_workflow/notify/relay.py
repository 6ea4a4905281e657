"""The outbox relay: claim due rows, send them with apprise, record the outcome.

Delivery is at-least-once with a dedup key: a row is marked sent by one autocommit statement right
after apprise returns, so a crash between the two re-sends at most that one message, carrying
the same ``X-CDMO-Dedup-Key`` (e-mail header, JSON field ``dedup_key`` and body footer).

Claiming, leases and marks are the store's (``cdmo_workflow.store.outbox``: ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite, autocommit marks); the rules stay here:
exponential backoff, when a row is dead, and the masking of every error before it is stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from cdmo_workflow.notify.masking import mask_text, quiet_apprise, register_secret_url
from cdmo_workflow.notify.targets import ConfigFile, config_file, db_targets, db_zones
from cdmo_workflow.notify.templates import Message, render
from cdmo_workflow.store.outbox import OutboxMarks, OutboxQueue, outbox_marks
from cdmo_workflow.store.outbox import db_now as db_now  # re-exported (tests, callers)

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


def backoff(
    attempts: int, base: float = DEFAULT_BACKOFF_BASE_S, cap: float = DEFAULT_BACKOFF_CAP_S
) -> timedelta:
    """Delay before the next try after ``attempts`` failed tries: base, 2 x base, ... capped."""
    exponent = max(attempts - 1, 0)
    seconds = cap if exponent >= 64 else min(base * (2**exponent), cap)
    return timedelta(seconds=seconds)


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
        zones: Mapping[str, str] | None = None,
    ) -> None:
        self.targets = targets
        self.zones = dict(zones or {})
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
        payload["recipient_tz"] = self.zones.get(user)  # local times in the message
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


def _mark_failed(
    marks: OutboxMarks,
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
    marks.failed(
        row["id"],
        attempts=attempts,
        dead=dead,
        next_attempt_at=at if dead else at + backoff(attempts, base, cap),
        error=mask_text(error)[:MAX_ERROR_CHARS],
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
        queue = OutboxQueue(conn)
        clock = _Clock(now, now or queue.now())
        rows = queue.claim(now=clock(), batch=batch, lease=lease)
        if not rows:
            return stats
        recipients = {r["recipient"] for r in rows}
        targets = db_targets(conn, recipients)
        zones = db_zones(conn, recipients)
    sender = _Sender(targets, config_file(apprise_config), body_format, ui_url, timeout, zones)
    with engine.connect() as conn, outbox_marks(conn) as marks:
        for row in rows:
            outcome = sender.send(row)
            if outcome.ok:
                if after_send is not None:
                    after_send(row)
                marks.sent(row["id"], clock())
                marks.forget_secret(row)
                stats.sent += 1
                continue
            dead = _mark_failed(
                marks,
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
    if not ids and not dead:
        return 0
    with resolve_engine(db).begin() as conn:
        return OutboxQueue(conn).retry(ids=ids, dead=dead)


def pending_rows(db: Any, *, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Outbox rows for listings, newest first (no URL is ever in a row)."""
    with resolve_engine(db).connect() as conn:
        return OutboxQueue(conn).listing(state=state, limit=limit)
