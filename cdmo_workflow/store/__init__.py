"""The store: SQLAlchemy tables, Alembic migrations and the unit of work.

db = Database(url)                      # or make_engine(url) + migrate(engine)
with db.unit_of_work() as uow:
    project = uow.projects.get("P-1")
    ...
    uow.audit.append("P-1", actor, action, subject, new=..., events=[...])
    uow.outbox.add(rows)
    uow.commit()                        # otherwise everything is rolled back
"""

from cdmo_workflow.store.audit_trail import AuditHead, AuditRecord, ChainHead
from cdmo_workflow.store.engine import (
    dispose_engines,
    head_revision,
    make_engine,
    migrate,
)
from cdmo_workflow.store.errors import (
    ConcurrentUpdate,
    DatabaseUnavailable,
    DuplicateProject,
    DuplicateUser,
    StoreError,
    UnknownUser,
)
from cdmo_workflow.store.projects import ProjectSummary, StoredProject
from cdmo_workflow.store.uow import CommitListener, Database, UnitOfWork
from cdmo_workflow.store.users import StoredUser, mask_target

__all__ = [
    "AuditHead",
    "AuditRecord",
    "ChainHead",
    "CommitListener",
    "ConcurrentUpdate",
    "Database",
    "DatabaseUnavailable",
    "DuplicateProject",
    "DuplicateUser",
    "ProjectSummary",
    "StoreError",
    "StoredProject",
    "StoredUser",
    "UnitOfWork",
    "UnknownUser",
    "dispose_engines",
    "head_revision",
    "make_engine",
    "mask_target",
    "migrate",
]
