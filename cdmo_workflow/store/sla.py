"""What the SLA watcher reads and writes: open gate reviews and the ``sla_notices`` ledger.

Exactly-once comes from the database: a notice is an ``sla_notices`` row, unique on
(project, gate, review, kind, period, recipient), inserted with ``ON CONFLICT DO NOTHING`` in
the same unit of work as its outbox row (``uow.outbox.add``). Any number of watchers on any
schedule send each notice once. The rules (who is reminded when) are ``notify/watcher.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cdmo_workflow.store.tables import process_snapshots, projects, sla_notices

Clock = Callable[[], datetime]

NOTICE_KEYS = ("project", "gate", "review", "kind", "period", "recipient")
"""The columns that make a notice unique (a reminder period or the escalation, per person)."""

NoticeKey = tuple[str, str, int, str, int, str]

_CHUNK = 500


class SlaNoticeRepository:
    """``uow.sla``: the watcher's queries inside one unit of work."""

    def __init__(self, session: Session, now: Clock) -> None:
        self._s = session
        self._now = now

    def open_gate_projects(self) -> list[tuple[str, str]]:
        """(code, version_hash) of active projects whose summary lists an open gate review or
        an open condition (a project without a summary is listed too: only its document can
        tell)."""
        p = projects.c
        query = sa.select(p.code, p.version_hash, p.summary).where(p.state == "active")
        out = []
        for code, version_hash, summary in self._s.execute(query):
            if summary is None or summary.get("open_gates") or summary.get("open_conditions"):
                out.append((code, version_hash))
        return out

    def documents(self, codes: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(code, document) of the projects ``codes``, read in chunks."""
        p = projects.c
        for start in range(0, len(codes), _CHUNK):
            chunk = list(codes[start : start + _CHUNK])
            yield from self._s.execute(sa.select(p.code, p.document).where(p.code.in_(chunk)))

    def snapshots(self, version_hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
        """version hash -> stored snapshot document, for several hashes in chunked queries."""
        wanted = sorted(set(version_hashes))
        c = process_snapshots.c
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            query = sa.select(c.version_hash, c.document).where(c.version_hash.in_(chunk))
            found.update({h: doc for h, doc in self._s.execute(query)})
        return found

    def record(
        self, notices: Iterable[Mapping[str, Any]], at: datetime | None = None
    ) -> list[NoticeKey]:
        """Insert one ``sla_notices`` row per notice (a mapping with :data:`NOTICE_KEYS`),
        ignoring those already recorded; returns the keys this call inserted."""
        when = at or self._now()
        rows = {tuple(n[k] for k in NOTICE_KEYS): n for n in notices}
        if not rows:
            return []
        if self._s.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            make: Any = pg_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            make = sqlite_insert
        # One cached statement, many parameter sets ("insertmanyvalues"), RETURNING the keys won.
        stmt = (
            make(sla_notices)
            .on_conflict_do_nothing(index_elements=list(NOTICE_KEYS))
            .returning(*(sla_notices.c[k] for k in NOTICE_KEYS))
        )
        values = [{**dict(zip(NOTICE_KEYS, key, strict=True)), "created_at": when} for key in rows]
        inserted: list[NoticeKey] = []
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            inserted.extend(tuple(r) for r in self._s.execute(stmt, chunk))
        return inserted
