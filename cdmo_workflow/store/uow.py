"""The unit of work: one transaction per command, rolled back unless ``commit()`` is called."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from cdmo_workflow.store.credentials import OneTimeCodeRepository, SessionRepository
from cdmo_workflow.store.engine import make_engine, migrate, translate_connect_errors
from cdmo_workflow.store.repositories import (
    AuditRepository,
    IdempotencyRepository,
    OutboxRepository,
    ProjectRepository,
    SnapshotRepository,
    UserRepository,
)
from cdmo_workflow.store.sla import SlaNoticeRepository


class UnitOfWork:
    """``with UnitOfWork(engine) as uow: ...; uow.commit()``.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (writers queue on the lock);
    ``read_only=True`` uses a deferred transaction instead.
    """

    session: Session
    connection: Connection
    projects: ProjectRepository
    snapshots: SnapshotRepository
    users: UserRepository
    audit: AuditRepository
    outbox: OutboxRepository
    idempotency: IdempotencyRepository
    sla: SlaNoticeRepository
    sessions: SessionRepository
    codes: OneTimeCodeRepository

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.read_only = read_only
        self._committed = False
        self._open = False

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self.engine, expire_on_commit=False)
        options: dict[str, Any] = {}
        if self.read_only and self.engine.dialect.name == "sqlite":
            options["sqlite_begin"] = "DEFERRED"
        try:
            with translate_connect_errors(self.engine):
                self.connection = self.session.connection(execution_options=options)
        except BaseException:
            self.session.close()
            raise
        self._open = True
        now = self.now
        self.projects = ProjectRepository(self.session, now)
        self.snapshots = SnapshotRepository(self.session, now)
        self.users = UserRepository(self.session, now)
        self.audit = AuditRepository(self.session, now)
        self.outbox = OutboxRepository(self.session, now)
        self.idempotency = IdempotencyRepository(self.session, now)
        self.sla = SlaNoticeRepository(self.session, now)
        self.sessions = SessionRepository(self.session, now)
        self.codes = OneTimeCodeRepository(self.session, now)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.session.close()
            self._open = False

    def now(self) -> datetime:
        """The database server's current time, tz-aware UTC (never the worker's clock)."""
        if self.engine.dialect.name == "sqlite":
            raw = self.session.execute(
                sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
            ).scalar_one()
            return datetime.fromisoformat(raw).replace(tzinfo=UTC)
        value: datetime = self.session.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        return value.astimezone(UTC)

    def commit(self) -> None:
        self.session.commit()
        self._committed = True

    def rollback(self) -> None:
        self.session.rollback()

    @property
    def committed(self) -> bool:
        return self._committed


class Database:
    """The engine for one URL plus ``unit_of_work()``, which migrates on first use."""

    def __init__(self, url: str | None = None, *, auto_migrate: bool = True) -> None:
        if url is None:
            from cdmo_workflow.config import Settings

            url = Settings.from_env().database_url
        self.url = url
        self.auto_migrate = auto_migrate
        self._migrated = False

    @property
    def engine(self) -> Engine:
        return make_engine(self.url)

    def migrate(self) -> None:
        migrate(self.engine)
        self._migrated = True

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        if self.auto_migrate and not self._migrated:
            self.migrate()
        return UnitOfWork(self.engine, read_only=read_only)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        from cdmo_workflow.config import mask_url

        return f"Database({mask_url(self.url)!r})"
