"""What a command runs in: settings, the database port, snapshot cache, post-commit hooks.

The composition root (``cdmo_workflow.bootstrap``) adds the hooks that reach Prefect; the
service itself never imports orchestration, the CLI or the flows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdmo_workflow.config import Settings, get_settings
from cdmo_workflow.service.ports import Database

if TYPE_CHECKING:
    from cdmo_workflow.service.results import CommandResult
    from cdmo_workflow.spec.models import ProcessSnapshot

AfterCommit = Callable[["CommandResult"], None]


@dataclass
class Context:
    """Wires the adapters for one caller (a CLI process, a flow run, a test)."""

    settings: Settings
    after_commit: list[AfterCommit] = field(default_factory=list)
    database: Database | None = None
    snapshots: dict[str, ProcessSnapshot] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        if self.database is None:
            from cdmo_workflow.audit import checkpoint_listeners
            from cdmo_workflow.store import Database as StoreDatabase

            listeners = checkpoint_listeners(self.settings)  # signed heads after each commit
            self.database = StoreDatabase(self.settings.database_url, commit_listeners=listeners)
        return self.database

    @property
    def definitions_dir(self) -> Path:
        return self.settings.definitions_dir


def open_context(
    db_url: str | None = None,
    definitions: str | Path | None = None,
    **overrides: Any,
) -> Context:
    """A context from the environment with overrides, and no post-commit hooks.

    Callers that want the Prefect UI kept in step use ``bootstrap.open_context``.
    """
    base = get_settings()
    changes: dict[str, Any] = dict(overrides)
    if db_url:
        changes["database_url"] = db_url
    if definitions:
        changes["definitions_dir"] = Path(definitions)
    if changes:
        base = replace(base, **changes)
    return Context(settings=base)
