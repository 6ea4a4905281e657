"""``uow.audit``: the append-only, hash-chained audit rows of each chain."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import Session

from cdmo_workflow.hashing import GENESIS_HASH, record_hash
from cdmo_workflow.store import tables as t
from cdmo_workflow.store.errors import ConcurrentUpdate
from cdmo_workflow.store.sql import Clock, json_ready


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
            "old": json_ready(old),
            "new": json_ready(new),
            "events": json_ready(list(events or [])),
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
