"""What an accepted command did, handed to the caller and to the post-commit hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cdmo_workflow.domain.events import DomainEvent
from cdmo_workflow.domain.project import Change

if TYPE_CHECKING:
    from cdmo_workflow.domain.project import Project


@dataclass
class CommandResult:
    """The audit change, its events and the new status; ``aggregate`` saves hooks a reload."""

    project: str | None
    change: Change | None
    events: list[DomainEvent] = field(default_factory=list)
    status: dict[str, Any] | None = None
    audit_seq: int | None = None
    replayed: bool = False
    aggregate: Project | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        change = self.change
        return {
            "project": self.project,
            "action": change.action if change else None,
            "subject": change.subject if change else None,
            "new": change.new if change else None,
            "events": [e.to_dict() for e in self.events],
            "audit_seq": self.audit_seq,
            "replayed": self.replayed,
            **({"data": self.data} if self.data else {}),
        }
