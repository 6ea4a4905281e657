"""Change-request records: what the project document keeps of each ``CR-<n>``. Pure.

The commands and rules are in ``change_control.py``; the aggregate (``project.py``) only
stores and loads these records, so it does not import the commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .records import ChangeDecision, Signature, iso, parse_time
from .sla import missing_in


class ChangeState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


OPEN_STATES = (ChangeState.DRAFT, ChangeState.SUBMITTED)


@dataclass(frozen=True)
class TargetVersion:
    """The definition a request moves the project to, pinned by its version hash."""

    ref: str
    """What the proposer named: a git revision or a folder."""
    version_hash: str
    process: str
    git_commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "version_hash": self.version_hash,
            "process": self.process,
            "git_commit": self.git_commit,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetVersion:
        return cls(d["ref"], d["version_hash"], d["process"], d.get("git_commit"))


@dataclass
class ChangeRequest:
    """One change request of a project; ``id`` is ``CR-<number>``."""

    number: int
    title: str
    reason: str
    proposed_by: str
    proposed_at: datetime
    base_version: str
    """The version hash the project was on when it was proposed."""
    state: ChangeState = ChangeState.DRAFT
    schedule_impact: str | None = None
    """A signed duration, e.g. ``+10bd`` or ``-5d`` (domain/baselines.py)."""
    cost_impact: str | None = None
    """A decimal amount as text (``12500.00``); see :attr:`cost`."""
    currency: str | None = None
    target: TargetVersion | None = None
    touches: dict[str, list[str]] = field(default_factory=dict)
    """What the change touches (gmp, signoffs, schedule, cost, version), each with why."""
    approvers: list[dict[str, Any]] = field(default_factory=list)
    """``[{role, min, because}]``: the quotas that must approve (fixed when proposed)."""
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    signatures: list[Signature] = field(default_factory=list)
    decided_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None
    withdraw_reason: str | None = None
    applied: dict[str, Any] | None = None
    """What approving it did: ``{at, baseline, migrated, cost_impact, currency}``."""

    @property
    def id(self) -> str:
        return change_id(self.number)

    @property
    def cost(self) -> Decimal | None:
        return Decimal(self.cost_impact) if self.cost_impact is not None else None

    @property
    def approver_roles(self) -> list[str]:
        return [a["role"] for a in self.approvers]

    def missing(self) -> list[dict[str, Any]]:
        """Approver quotas not met yet: ``[{role, needed}]``."""
        quotas = ((a["role"], int(a["min"])) for a in self.approvers)
        approving = (s.role for s in self.signatures if s.decision == ChangeDecision.APPROVE)
        return missing_in(quotas, approving)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "reason": self.reason,
            "state": self.state.value,
            "proposed_by": self.proposed_by,
            "proposed_at": iso(self.proposed_at),
            "base_version": self.base_version,
            "schedule_impact": self.schedule_impact,
            "cost_impact": self.cost_impact,
            "currency": self.currency,
            "target": self.target.to_dict() if self.target else None,
            "touches": {k: list(v) for k, v in self.touches.items()},
            "approvers": [dict(a) for a in self.approvers],
            "submitted_by": self.submitted_by,
            "submitted_at": iso(self.submitted_at),
            "signatures": [s.to_dict() for s in self.signatures],
            "decided_at": iso(self.decided_at),
            "withdrawn_by": self.withdrawn_by,
            "withdrawn_at": iso(self.withdrawn_at),
            "withdraw_reason": self.withdraw_reason,
            "applied": self.applied,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChangeRequest:
        proposed = parse_time(d["proposed_at"])
        assert proposed is not None
        return cls(
            number=int(d["number"]),
            title=d["title"],
            reason=d["reason"],
            proposed_by=d["proposed_by"],
            proposed_at=proposed,
            base_version=d["base_version"],
            state=ChangeState(d.get("state") or "draft"),
            schedule_impact=d.get("schedule_impact"),
            cost_impact=d.get("cost_impact"),
            currency=d.get("currency"),
            target=TargetVersion.from_dict(d["target"]) if d.get("target") else None,
            touches={k: list(v) for k, v in (d.get("touches") or {}).items()},
            approvers=[dict(a) for a in d.get("approvers") or []],
            submitted_by=d.get("submitted_by"),
            submitted_at=parse_time(d.get("submitted_at")),
            signatures=[Signature.from_dict(s) for s in d.get("signatures") or []],
            decided_at=parse_time(d.get("decided_at")),
            withdrawn_by=d.get("withdrawn_by"),
            withdrawn_at=parse_time(d.get("withdrawn_at")),
            withdraw_reason=d.get("withdraw_reason"),
            applied=d.get("applied"),
        )


def change_id(number: int) -> str:
    return f"CR-{number}"
