"""Repositories used inside a unit of work. Core statements over the typed tables."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import Session

from cdmo_workflow.hashing import GENESIS_HASH, canonical_json, record_hash
from cdmo_workflow.store import tables as t
from cdmo_workflow.store.errors import (
    ConcurrentUpdate,
    DuplicateProject,
    DuplicateUser,
    UnknownUser,
)

# Re-exported: service/ports.py names it here. It lives in store/sla.py with the watcher's queries.
from cdmo_workflow.store.sla import SlaNoticeRepository as SlaNoticeRepository

Clock = Callable[[], datetime]

_CHUNK = 500


def _insert_ignore(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], keys: list[str]
) -> int:
    """INSERT ... ON CONFLICT (keys) DO NOTHING on SQLite and PostgreSQL; rows inserted."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        make: Any = pg_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        make = sqlite_insert
    # One cached statement executed with many parameter sets ("insertmanyvalues"): a
    # .values(rows) statement would be compiled afresh for every distinct row count.
    stmt = make(table).on_conflict_do_nothing(index_elements=keys).returning(table.c[keys[0]])
    inserted = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = list(rows[start : start + _CHUNK])
        inserted += len(session.execute(stmt, chunk).all())  # rowcount is unreliable here
    return inserted


def _json_ready(value: Any) -> Any:
    """The exact JSON value that is stored (and hashed): tuples become lists, times ISO text."""
    return None if value is None else json.loads(canonical_json(value))


# --------------------------------------------------------------------------- projects


@dataclass(frozen=True)
class StoredProject:
    code: str
    process_id: str
    version_hash: str
    customer: str
    state: str
    document: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    summary: dict[str, Any] | None = None


@dataclass(frozen=True)
class ProjectSummary:
    code: str
    process_id: str
    version_hash: str
    customer: str
    state: str
    version: int
    updated_at: datetime
    summary: dict[str, Any]


class ProjectRepository:
    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def get(self, code: str) -> StoredProject | None:
        p = t.projects.c
        row = (
            self._s.execute(
                sa.select(
                    p.code,
                    p.process_id,
                    p.version_hash,
                    p.customer,
                    p.state,
                    p.document,
                    p.version,
                    p.created_at,
                    p.updated_at,
                    p.summary,
                ).where(p.code == code)
            )
            .mappings()
            .first()
        )
        return StoredProject(**row) if row is not None else None

    def exists(self, code: str) -> bool:
        p = t.projects.c
        return self._s.execute(sa.select(p.code).where(p.code == code)).first() is not None

    def add(
        self,
        code: str,
        process_id: str,
        version_hash: str,
        customer: str,
        state: str,
        document: dict[str, Any],
        summary: dict[str, Any] | None = None,
    ) -> StoredProject:
        if self.exists(code):
            raise DuplicateProject(code)
        now = self._now()
        values = {
            "code": code,
            "process_id": process_id,
            "version_hash": version_hash,
            "customer": customer,
            "state": state,
            "document": _json_ready(document),
            "summary": _json_ready(summary),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        try:
            self._s.execute(sa.insert(t.projects).values(**values))
        except exc.IntegrityError as err:
            if self._is_pk_violation(err):
                raise DuplicateProject(code) from None
            raise
        return StoredProject(**values)

    @staticmethod
    def _is_pk_violation(err: exc.IntegrityError) -> bool:
        text = str(err.orig)
        return "pk_projects" in text or "projects.code" in text

    def save(
        self,
        code: str,
        document: dict[str, Any],
        state: str,
        expected_version: int,
        summary: dict[str, Any] | None = None,
        version_hash: str | None = None,
    ) -> int:
        """UPDATE ... WHERE version = expected; the new version, or ``ConcurrentUpdate``.
        ``version_hash`` moves the project to another stored snapshot (a migration)."""
        p = t.projects.c
        values: dict[str, Any] = {
            "document": _json_ready(document),
            "state": state,
            "version": expected_version + 1,
            "updated_at": self._now(),
        }
        if summary is not None:
            values["summary"] = _json_ready(summary)
        if version_hash is not None:
            values["version_hash"] = version_hash
        result: Any = self._s.execute(
            sa.update(t.projects)
            .where(p.code == code, p.version == expected_version)
            .values(**values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(code, expected_version)
        return expected_version + 1

    def documents(self, states: Iterable[str]) -> builtins.list[tuple[dict[str, Any], str]]:
        """(document, version_hash) of every project in ``states``, by code, in one query."""
        p = t.projects.c
        stmt = (
            sa.select(p.document, p.version_hash)
            .where(p.state.in_(builtins.list(states)))
            .order_by(p.code)
        )
        return [(r.document, r.version_hash) for r in self._s.execute(stmt)]

    def listing_of(self, state: str) -> builtins.list[tuple[str, str, dict[str, Any]]]:
        """(code, customer, listing summary) of every project in ``state``; no documents."""
        p = t.projects.c
        stmt = sa.select(p.code, p.customer, p.summary).where(p.state == state)
        return [(r.code, r.customer, r.summary or {}) for r in self._s.execute(stmt)]

    def state_and_summary(self, code: str) -> tuple[str, dict[str, Any]] | None:
        p = t.projects.c
        row = self._s.execute(sa.select(p.state, p.summary).where(p.code == code)).first()
        return (row.state, row.summary or {}) if row is not None else None

    def states(self, codes: Iterable[str]) -> dict[str, str]:
        """project code -> state for the given codes (unknown codes are absent)."""
        wanted = sorted(set(codes))
        p = t.projects.c
        out: dict[str, str] = {}
        for i in range(0, len(wanted), _CHUNK):
            stmt = sa.select(p.code, p.state).where(p.code.in_(wanted[i : i + _CHUNK]))
            out.update({r.code: r.state for r in self._s.execute(stmt)})
        return out

    def list(self, states: Iterable[str] | None = None) -> list[ProjectSummary]:
        p = t.projects.c
        stmt = sa.select(
            p.code,
            p.process_id,
            p.version_hash,
            p.customer,
            p.state,
            p.version,
            p.updated_at,
            p.summary,
        ).order_by(p.code)
        if states is not None:
            stmt = stmt.where(p.state.in_(list(states)))
        return [
            ProjectSummary(
                code=r.code,
                process_id=r.process_id,
                version_hash=r.version_hash,
                customer=r.customer,
                state=r.state,
                version=r.version,
                updated_at=r.updated_at,
                summary=r.summary or {},
            )
            for r in self._s.execute(stmt)
        ]


# --------------------------------------------------------------------------- snapshots


class SnapshotRepository:
    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def put(
        self,
        snapshot_json: dict[str, Any],
        version_hash: str,
        process_id: str,
        git_commit: str | None = None,
        git_dirty: bool | None = None,
    ) -> bool:
        """Store a snapshot once per version hash; True when this call inserted it."""
        row = {
            "version_hash": version_hash,
            "process_id": process_id,
            "document": _json_ready(snapshot_json),
            "git_commit": git_commit,
            "git_dirty": git_dirty,
            "created_at": self._now(),
        }
        return _insert_ignore(self._s, t.process_snapshots, [row], ["version_hash"]) == 1

    def get(self, version_hash: str) -> dict[str, Any] | None:
        c = t.process_snapshots.c
        doc = self._s.execute(
            sa.select(c.document).where(c.version_hash == version_hash)
        ).scalar_one_or_none()
        return doc


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class StoredUser:
    user_id: str
    name: str
    roles: list[str]
    password_hash: str
    password_changed_at: datetime
    failed_attempts: int
    locked: bool
    locked_at: datetime | None
    active: bool
    created_at: datetime
    must_change_password: bool = False
    time_zone: str | None = None
    """IANA zone the user reads times in (messages, reports); None is UTC."""


class UserRepository:
    """Users are never deleted and a user id is never reused (deactivate instead)."""

    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def get(self, user_id: str) -> StoredUser | None:
        u = t.users.c
        row = self._s.execute(sa.select(t.users).where(u.user_id == user_id)).mappings().first()
        if row is None:
            return None
        data = dict(row)
        data["roles"] = list(data["roles"] or [])
        return StoredUser(**data)

    def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """Printed names of several users in one query (for notification messages)."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        u = t.users.c
        rows = self._s.execute(sa.select(u.user_id, u.name).where(u.user_id.in_(ids)))
        return {r.user_id: r.name for r in rows}

    def list(self) -> list[StoredUser]:
        rows = self._s.execute(sa.select(t.users).order_by(t.users.c.user_id)).mappings()
        return [StoredUser(**{**r, "roles": list(r["roles"] or [])}) for r in rows]

    def add(
        self,
        user_id: str,
        name: str,
        roles: Iterable[str],
        password_hash: str,
        time_zone: str | None = None,
    ) -> StoredUser:
        if self.get(user_id) is not None:
            raise DuplicateUser(user_id)
        now = self._now()
        values = {
            "time_zone": time_zone,
            "user_id": user_id,
            "name": name,
            "roles": list(roles),
            "password_hash": password_hash,
            "password_changed_at": now,
            "failed_attempts": 0,
            "locked": False,
            "locked_at": None,
            "active": True,
            "created_at": now,
        }
        try:
            self._s.execute(sa.insert(t.users).values(**values))
        except exc.IntegrityError:
            raise DuplicateUser(user_id) from None
        return StoredUser(**values)  # type: ignore[arg-type]

    def _update(self, user_id: str, **values: Any) -> None:
        result: Any = self._s.execute(
            sa.update(t.users).where(t.users.c.user_id == user_id).values(**values)
        )
        if result.rowcount != 1:
            raise UnknownUser(user_id)

    def record_failure(self, user_id: str, lock_after: int = 5) -> tuple[int, bool]:
        """Count a failed sign-in; lock at ``lock_after``. (attempts, locked by this call)."""
        u = t.users.c
        result: Any = self._s.execute(
            sa.update(t.users)
            .where(u.user_id == user_id)
            .values(failed_attempts=u.failed_attempts + 1)
        )
        if result.rowcount != 1:
            return (0, False)
        attempts, locked = self._s.execute(
            sa.select(u.failed_attempts, u.locked).where(u.user_id == user_id)
        ).one()
        if not locked and attempts >= lock_after:
            self._update(user_id, locked=True, locked_at=self._now())
            return (attempts, True)
        return (attempts, False)

    def reset_failures(self, user_id: str) -> None:
        self._update(user_id, failed_attempts=0)

    def unlock(self, user_id: str) -> None:
        self._update(user_id, failed_attempts=0, locked=False, locked_at=None)

    def set_password(self, user_id: str, password_hash: str, *, must_change: bool = False) -> None:
        """A new password; ``must_change`` after an administrator's reset. Also unlocks."""
        self._update(
            user_id,
            password_hash=password_hash,
            password_changed_at=self._now(),
            must_change_password=must_change,
            failed_attempts=0,
            locked=False,
            locked_at=None,
        )

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Store a stronger hash of the same password (transparent upgrade at sign-in)."""
        self._update(user_id, password_hash=password_hash)

    def any_active_with_role(self, role: str) -> bool:
        return any(u.active and role in u.roles for u in self.list())

    def set_active(self, user_id: str, active: bool) -> None:
        self._update(user_id, active=active)

    def set_roles(self, user_id: str, roles: Iterable[str]) -> None:
        self._update(user_id, roles=list(roles))

    def set_name(self, user_id: str, name: str) -> None:
        self._update(user_id, name=name)

    def set_time_zone(self, user_id: str, time_zone: str | None) -> None:
        self._update(user_id, time_zone=time_zone)

    def zones(self, user_ids: Iterable[str]) -> dict[str, str]:
        """user id -> IANA zone of the users that chose one (one query)."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        u = t.users.c
        rows = self._s.execute(
            sa.select(u.user_id, u.time_zone).where(u.user_id.in_(ids), u.time_zone.is_not(None))
        )
        return {r.user_id: r.time_zone for r in rows}

    def targets(self, user_id: str) -> builtins.list[str]:
        c = t.user_targets.c
        return list(
            self._s.execute(sa.select(c.url).where(c.user_id == user_id).order_by(c.id)).scalars()
        )

    def add_target(self, user_id: str, url: str) -> None:
        """Add an apprise URL (a secret: never logged; display it with ``mask_target``)."""
        if self.get(user_id) is None:
            raise UnknownUser(user_id)
        if url in self.targets(user_id):
            return
        self._s.execute(
            sa.insert(t.user_targets).values(user_id=user_id, url=url, created_at=self._now())
        )

    def remove_target(self, user_id: str, url: str) -> bool:
        c = t.user_targets.c
        result: Any = self._s.execute(
            sa.delete(t.user_targets).where(c.user_id == user_id, c.url == url)
        )
        return bool(result.rowcount)


def mask_target(url: str) -> str:
    """Show an apprise URL without its secrets: scheme and the first characters only."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    return f"{scheme}://{rest[:3]}***" if len(rest) > 6 else f"{scheme}://***"


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class AuditRecord:
    id: int
    chain: str
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    outcome: str
    rule: str | None
    reason: str | None
    old: Any
    new: Any
    events: list[Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditHead:
    """The newest row a transaction appended to one chain (what a checkpoint signs)."""

    chain: str
    seq: int
    hash: str
    at: datetime


@dataclass(frozen=True)
class ChainHead:
    """One chain in the database: how many rows, and its last row."""

    chain: str
    rows: int
    seq: int
    hash: str
    at: datetime


OUTCOMES = ("accepted", "refused")


class AuditRepository:
    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now
        self.appended: list[AuditHead] = []
        """Rows appended in this unit of work (the unit of work reports them after commit)."""

    def rows(self, chain: str | None = None) -> Iterator[Mapping[str, Any]]:
        """Every row of ``chain`` (or of all chains) in (chain, seq) order, streamed."""
        c = t.audit_events.c
        stmt = sa.select(t.audit_events).order_by(c.chain, c.seq)
        if chain is not None:
            stmt = stmt.where(c.chain == chain)
        result = self._s.execute(stmt, execution_options={"yield_per": 1000})
        yield from result.mappings()  # type: ignore[misc]

    def heads(self, chain: str | None = None) -> builtins.list[ChainHead]:
        """Each chain's row count and last row (one query for the counts, one per chain)."""
        c = t.audit_events.c
        stmt = sa.select(c.chain, sa.func.count(), sa.func.max(c.seq)).group_by(c.chain)
        if chain is not None:
            stmt = stmt.where(c.chain == chain)
        out = []
        for name, count, top in self._s.execute(stmt.order_by(c.chain)).all():
            row = self._s.execute(
                sa.select(c.hash, c.at).where(c.chain == name, c.seq == top)
            ).one()
            out.append(ChainHead(name, int(count), int(top), row.hash, row.at))
        return out

    def outcome_counts(self, chain: str) -> dict[str, int]:
        c = t.audit_events.c
        stmt = sa.select(c.outcome, sa.func.count()).where(c.chain == chain).group_by(c.outcome)
        return {str(k): int(v) for k, v in self._s.execute(stmt).all()}

    def last_seqs(self) -> dict[str, int]:
        """chain -> its last sequence number (one grouped query)."""
        c = t.audit_events.c
        stmt = sa.select(c.chain, sa.func.max(c.seq)).group_by(c.chain)
        return {chain: int(seq or 0) for chain, seq in self._s.execute(stmt)}

    def last_accepted(self, action: str, chain: str | None = None) -> dict[str, int]:
        """chain -> seq of its last accepted ``action`` row (absent when there is none)."""
        c = t.audit_events.c
        stmt = sa.select(c.chain, sa.func.max(c.seq)).where(
            c.action == action, c.outcome == "accepted"
        )
        if chain is not None:
            stmt = stmt.where(c.chain == chain)
        stmt = stmt.group_by(c.chain)
        return {ch: int(seq) for ch, seq in self._s.execute(stmt) if seq is not None}

    def last(self, chain: str) -> AuditRecord | None:
        c = t.audit_events.c
        row = (
            self._s.execute(
                sa.select(t.audit_events).where(c.chain == chain).order_by(c.seq.desc()).limit(1)
            )
            .mappings()
            .first()
        )
        return AuditRecord(**row) if row is not None else None

    def list(self, chain: str, after_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        c = t.audit_events.c
        stmt = (
            sa.select(t.audit_events)
            .where(c.chain == chain, c.seq > after_seq)
            .order_by(c.seq)
            .limit(limit)
        )
        return [AuditRecord(**r) for r in self._s.execute(stmt).mappings()]

    def append(
        self,
        chain: str,
        actor: str,
        action: str,
        subject: str,
        outcome: str = "accepted",
        rule: str | None = None,
        reason: str | None = None,
        old: Any = None,
        new: Any = None,
        events: Iterable[Any] | None = None,
        at: datetime | None = None,
    ) -> AuditRecord:
        """Append one event to ``chain``. A concurrent append raises ``ConcurrentUpdate``."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        c = t.audit_events.c
        last = self._s.execute(
            sa.select(c.seq, c.hash).where(c.chain == chain).order_by(c.seq.desc()).limit(1)
        ).first()
        seq, prev = (last.seq + 1, last.hash) if last is not None else (1, GENESIS_HASH)
        when = self._now() if at is None else at
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        fields = {
            "chain": chain,
            "seq": seq,
            "at": when,
            "actor": actor,
            "action": action,
            "subject": subject,
            "outcome": outcome,
            "rule": rule,
            "reason": reason,
            "old": _json_ready(old),
            "new": _json_ready(new),
            "events": _json_ready(list(events or [])),
        }
        digest = record_hash(fields, prev)
        try:
            new_id = self._s.execute(
                sa.insert(t.audit_events)
                .values(**fields, prev_hash=prev, hash=digest)
                .returning(c.id)
            ).scalar_one()
        except exc.IntegrityError:
            raise ConcurrentUpdate(chain, seq - 1, "the audit chain advanced") from None
        self.appended.append(AuditHead(chain, seq, digest, when))
        return AuditRecord(id=new_id, **fields, prev_hash=prev, hash=digest)


# --------------------------------------------------------------------------- outbox

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
            v["payload"] = _json_ready(row.get("payload") or {})
            v["state"] = "pending"
            v["attempts"] = 0
            v["next_attempt_at"] = row.get("next_attempt_at") or now
            v["created_at"] = now
            values.append(v)
        return _insert_ignore(self._s, t.outbox, values, ["dedup_key"])


# --------------------------------------------------------------------------- idempotency


class IdempotencyRepository:
    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def get(self, key: str) -> dict[str, Any] | None:
        c = t.idempotency_keys.c
        row = self._s.execute(sa.select(c.result).where(c.key == key)).first()
        if row is None:
            return None
        return row.result if isinstance(row.result, dict) else {"result": row.result}

    def put(self, key: str, command: str, project: str | None, result: dict[str, Any]) -> None:
        try:
            self._s.execute(
                sa.insert(t.idempotency_keys).values(
                    key=key,
                    command=command,
                    project=project,
                    result=_json_ready(result),
                    created_at=self._now(),
                )
            )
        except exc.IntegrityError:
            raise ConcurrentUpdate(key, None, "idempotency key already used") from None
