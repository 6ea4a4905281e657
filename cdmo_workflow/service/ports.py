"""The ports the service needs from the store, as Protocols (cosmicpython's unit of work).

The service never names SQLAlchemy: it talks to a ``UnitOfWork`` that the composition root
hands it (``store.Database`` in production, ``tests/service/fakes.py`` in rule-level tests).
The repository types are the store's, named for the type checker only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cdmo_workflow.store.audit_trail import AuditRepository
    from cdmo_workflow.store.costs import CostRepository
    from cdmo_workflow.store.credentials import OneTimeCodeRepository, SessionRepository
    from cdmo_workflow.store.history import PhaseRunRepository
    from cdmo_workflow.store.idempotency import IdempotencyRepository
    from cdmo_workflow.store.outbox import OutboxRepository
    from cdmo_workflow.store.people import DelegationRepository, PeopleRepository
    from cdmo_workflow.store.projects import ProjectRepository, SnapshotRepository
    from cdmo_workflow.store.sla import SlaNoticeRepository
    from cdmo_workflow.store.users import UserRepository


class UnitOfWork(Protocol):
    """One transaction: rolled back on exit unless ``commit()`` was called."""

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

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def now(self) -> datetime: ...

    def commit(self) -> None: ...


class Database(Protocol):
    """Opens units of work; ``store.Database`` is the real one."""

    url: str

    @property
    def engine(self) -> Any:
        """The SQLAlchemy engine, for adapters that stream (audit verification, the relay)."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork: ...

    def migrate(self) -> None: ...


UnitOfWorkFactory = Callable[..., UnitOfWork]
