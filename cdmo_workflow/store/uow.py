"""The unit of work: one transaction per command, rolled back unless ``commit()`` is called."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from cdmo_workflow.store.audit_trail import AuditHead, AuditRepository
from cdmo_workflow.store.costs import CostRepository
from cdmo_workflow.store.credentials import OneTimeCodeRepository, SessionRepository
from cdmo_workflow.store.engine import make_engine, migrate, translate_connect_errors
from cdmo_workflow.store.history import PhaseRunRepository
from cdmo_workflow.store.idempotency import IdempotencyRepository
from cdmo_workflow.store.outbox import OutboxRepository
from cdmo_workflow.store.people import DelegationRepository, PeopleRepository
from cdmo_workflow.store.projects import ProjectRepository, SnapshotRepository
from cdmo_workflow.store.sla import SlaNoticeRepository
from cdmo_workflow.store.users import UserRepository

log = logging.getLogger("cdmo_workflow.store")


class CommitListener(Protocol):
    """Called after a successful ``commit()`` with the newest row appended to each chain.

    The audit package's checkpoint writer is one (``cdmo_workflow.audit.CheckpointWriter``).
    A listener that raises is logged; it never undoes the committed transaction.
    """

    def __call__(self, heads: Sequence[AuditHead]) -> None: ...


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
    delegations: DelegationRepository
    people: PeopleRepository
    costs: CostRepository
    history: PhaseRunRepository

    def __init__(
        self,
        engine: Engine,
        *,
        read_only: bool = False,
        commit_listeners: Iterable[CommitListener] = (),
    ) -> None:
        self.engine = engine
        self.read_only = read_only
        self.commit_listeners = list(commit_listeners)
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
        self.delegations = DelegationRepository(self.session, now)
        self.people = PeopleRepository(self.session, now)
        self.costs = CostRepository(self.session, now)
        self.history = PhaseRunRepository(self.session, now)
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
        appended, self.audit.appended = self.audit.appended, []
        if appended and self.commit_listeners:
            last: dict[str, AuditHead] = {}
            for head in appended:
                if head.chain not in last or head.seq > last[head.chain].seq:
                    last[head.chain] = head
            heads = list(last.values())
            for listener in self.commit_listeners:
                try:
                    listener(heads)
                except Exception as err:  # the transaction is committed; verify sees the gap
                    log.error("commit listener %r failed: %s", listener, err)

    def rollback(self) -> None:
        self.session.rollback()
        if self._open:
            self.audit.appended = []

    @property
    def committed(self) -> bool:
        return self._committed


class Database:
    """The engine for one URL plus ``unit_of_work()``, which migrates on first use."""

    def __init__(
        self,
        url: str | None = None,
        *,
        auto_migrate: bool = True,
        commit_listeners: Iterable[CommitListener] = (),
    ) -> None:
        if url is None:
            from cdmo_workflow.config import Settings

            url = Settings.from_env().database_url
        self.url = url
        self.auto_migrate = auto_migrate
        self.commit_listeners: list[CommitListener] = list(commit_listeners)
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
        return UnitOfWork(self.engine, read_only=read_only, commit_listeners=self.commit_listeners)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        from cdmo_workflow.config import mask_url

        return f"Database({mask_url(self.url)!r})"
