"""Domain events: what happened to a project, collected by the aggregate and drained at commit.

The service turns them into one audit row per command, into outbox rows (notifications) and,
in the Prefect layer, into Prefect events. ``name`` is the stable vocabulary below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROJECT_STARTED = "project.started"
PHASE_ACTIVATED = "phase.activated"
PHASE_RESET = "phase.reset"
PHASE_COMPLETED = "phase.completed"
GATE_OPENED = "gate.opened"
GATE_SIGNED = "gate.signed"
GATE_DECIDED = "gate.decided"
GATE_REOPENED = "gate.reopened"
DELIVERABLE_SUBMITTED = "deliverable.submitted"
CHECK_CONFIRMED = "check.confirmed"
CONDITION_OPENED = "condition.opened"
CONDITION_CLOSED = "condition.closed"
PROJECT_ON_HOLD = "project.on-hold"
PROJECT_RESUMED = "project.resumed"
PROJECT_COMPLETED = "project.completed"
PROJECT_KILLED = "project.killed"
SECURITY_ALERT = "security.alert"

NOTIFY_EVENT_OF: dict[str, str] = {
    PROJECT_STARTED: "started",
    PHASE_ACTIVATED: "phase-activated",
    GATE_OPENED: "opened",
    GATE_SIGNED: "signed",
    GATE_DECIDED: "decided",
    CONDITION_OPENED: "condition-opened",
    CONDITION_CLOSED: "condition-closed",
    PROJECT_ON_HOLD: "on-hold",
    PROJECT_RESUMED: "resumed",
    PROJECT_COMPLETED: "completed",
    PROJECT_KILLED: "killed",
    SECURITY_ALERT: "security",
}
"""Domain event name -> the key of a ``notify:`` block that routes it (others are not announced)."""


@dataclass(frozen=True)
class DomainEvent:
    """One thing that happened. ``data`` holds JSON-ready facts (names, decision, evidence...)."""

    name: str
    project: str
    phase: str | None = None
    gate: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "project": self.project,
            "phase": self.phase,
            "gate": self.gate,
            "data": self.data,
        }
