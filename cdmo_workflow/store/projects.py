"""``uow.projects`` and ``uow.snapshots``: project documents with their listing columns and
optimistic version, and the process snapshots they are pinned to."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import Session

from cdmo_workflow.store import tables as t
from cdmo_workflow.store.errors import (
    ConcurrentUpdate,
    DuplicateProject,
)
from cdmo_workflow.store.sql import CHUNK, Clock, insert_ignore, json_ready


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
            "document": json_ready(document),
            "summary": json_ready(summary),
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
            "document": json_ready(document),
            "state": state,
            "version": expected_version + 1,
            "updated_at": self._now(),
        }
        if summary is not None:
            values["summary"] = json_ready(summary)
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
        for i in range(0, len(wanted), CHUNK):
            stmt = sa.select(p.code, p.state).where(p.code.in_(wanted[i : i + CHUNK]))
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
            "document": json_ready(snapshot_json),
            "git_commit": git_commit,
            "git_dirty": git_dirty,
            "created_at": self._now(),
        }
        return insert_ignore(self._s, t.process_snapshots, [row], ["version_hash"]) == 1

    def get(self, version_hash: str) -> dict[str, Any] | None:
        c = t.process_snapshots.c
        doc = self._s.execute(
            sa.select(c.document).where(c.version_hash == version_hash)
        ).scalar_one_or_none()
        return doc
