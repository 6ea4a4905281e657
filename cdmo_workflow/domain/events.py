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
CHANGE_PROPOSED = "change.proposed"
CHANGE_SUBMITTED = "change.submitted"
CHANGE_SIGNED = "change.signed"
CHANGE_APPROVED = "change.approved"
CHANGE_REJECTED = "change.rejected"
CHANGE_APPLIED = "change.applied"
CHANGE_WITHDRAWN = "change.withdrawn"
PROJECT_MIGRATED = "project.migrated"
# people (issue #16): team changes, owned conditions, quality holds, carried deliverables
TEAM_CHANGED = "team.changed"
CONDITION_ACCEPTED = "condition.accepted"
CONDITION_REJECTED = "condition.rejected"
PHASE_ON_HOLD = "phase.on-hold"
PHASE_RESUMED = "phase.resumed"
HOLD_RELEASED = "hold.released"
DELIVERABLE_CARRIED = "deliverable.carried"
BUDGET_QUOTED = "budget.quoted"
COSTS_RECORDED = "costs.recorded"
BUDGET_OVERRUN = "budget.overrun"

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
    CHANGE_PROPOSED: "change-proposed",
    CHANGE_SUBMITTED: "change-submitted",
    CHANGE_SIGNED: "change-signed",
    CHANGE_APPROVED: "change-approved",
    CHANGE_REJECTED: "change-rejected",
    CHANGE_APPLIED: "change-applied",
    CHANGE_WITHDRAWN: "change-withdrawn",
    TEAM_CHANGED: "team-changed",
    CONDITION_ACCEPTED: "condition-accepted",
    CONDITION_REJECTED: "condition-rejected",
    PHASE_ON_HOLD: "on-hold",
    PHASE_RESUMED: "resumed",
    HOLD_RELEASED: "resumed",
    BUDGET_OVERRUN: "budget-overrun",
}
"""Domain event name -> the key of a ``notify:`` block that routes it (others are not announced).

An event's ``data["notify_users"]`` names people who hear of it besides its roles (the owner
of a condition, the person a team change concerns)."""


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
