"""Value records of a project: evidence, signatures, conditions, gate reviews, phase runs.

Each record converts to and from plain JSON-ready dicts, so the store can keep a project as
one document and the audit trail can quote exact old and new values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ..hashing import sha256_of as canonical_sha256
from ..spec.models import Decision


class PhaseState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    GATE_REVIEW = "gate-review"
    COMPLETED = "completed"


class ProjectState(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    KILLED = "killed"


class ReviewState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    VOID = "void"  # never decided: its phase was recycled, or the project was killed


class Meaning(StrEnum):
    """Meaning of an electronic signature (21 CFR 11.50(a)(3))."""

    APPROVAL = "approval"
    REVIEW = "review"
    RESPONSIBILITY = "responsibility"
    AUTHORSHIP = "authorship"


CONSERVATISM: dict[Decision, int] = {
    Decision.GO: 0,
    Decision.CONDITIONAL_GO: 1,
    Decision.HOLD: 2,
    Decision.RECYCLE: 3,
    Decision.KILL: 4,
}
"""Order used to decide a gate: the most conservative decision among its signatures wins."""

VETO_DECISIONS = frozenset({Decision.HOLD, Decision.RECYCLE, Decision.KILL})


def iso(t: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z`` suffix, or None."""
    if t is None:
        return None
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def sha256_of(obj: object) -> str:
    """SHA-256 hex of canonical JSON (sorted keys, no spaces): what a signature is linked to."""
    return canonical_sha256(obj)


@dataclass
class Evidence:
    """A deliverable submission or a check confirmation."""

    by: str
    evidence: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "evidence": self.evidence, "at": iso(self.at)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        at = parse_time(d["at"])
        assert at is not None
        return cls(by=d["by"], evidence=d["evidence"], at=at)


@dataclass
class Signature:
    """An electronic signature with its manifestation and the hash of the record it signs."""

    user: str
    name: str
    role: str
    decision: Decision
    meaning: Meaning
    signed_at: datetime
    record_hash: str
    comment: str | None = None
    conditions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "name": self.name,
            "role": self.role,
            "decision": self.decision.value,
            "meaning": self.meaning.value,
            "signed_at": iso(self.signed_at),
            "record_hash": self.record_hash,
            "comment": self.comment,
            "conditions": list(self.conditions),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signature:
        at = parse_time(d["signed_at"])
        assert at is not None
        return cls(
            user=d["user"],
            name=d["name"],
            role=d["role"],
            decision=Decision(d["decision"]),
            meaning=Meaning(d["meaning"]),
            signed_at=at,
            record_hash=d["record_hash"],
            comment=d.get("comment"),
            conditions=list(d.get("conditions") or []),
        )

    def manifestation(self) -> str:
        """The human-readable signature line required by 21 CFR 11.50."""
        return (
            f"{self.name} ({self.user}, {self.role}) — {self.meaning.value} — "
            f"{self.decision.value} — {iso(self.signed_at)}"
        )


@dataclass
class Condition:
    """A condition raised by a Conditional Go; it blocks its phase's gate until closed."""

    id: str
    text: str
    phase: str
    gate: str
    raised_by: str
    raised_at: datetime
    state: str = "open"
    closed_by: str | None = None
    closed_at: datetime | None = None
    evidence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "phase": self.phase,
            "gate": self.gate,
            "raised_by": self.raised_by,
            "raised_at": iso(self.raised_at),
            "state": self.state,
            "closed_by": self.closed_by,
            "closed_at": iso(self.closed_at),
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Condition:
        raised = parse_time(d["raised_at"])
        assert raised is not None
        return cls(
            id=d["id"],
            text=d["text"],
            phase=d["phase"],
            gate=d["gate"],
            raised_by=d["raised_by"],
            raised_at=raised,
            state=d["state"],
            closed_by=d.get("closed_by"),
            closed_at=parse_time(d.get("closed_at")),
            evidence=d.get("evidence"),
        )


@dataclass
class GateReview:
    """One review of a gate: opened when the phase's must-meet items are done, then decided."""

    gate: str
    phase: str
    number: int
    opened_at: datetime
    state: ReviewState = ReviewState.OPEN
    signatures: list[Signature] = field(default_factory=list)
    outcome: Decision | None = None
    decided_at: datetime | None = None

    @property
    def key(self) -> str:
        """Stable identifier of this review, e.g. ``gmp-readiness-2``."""
        return f"{self.gate}-{self.number}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "phase": self.phase,
            "number": self.number,
            "opened_at": iso(self.opened_at),
            "state": self.state.value,
            "signatures": [s.to_dict() for s in self.signatures],
            "outcome": self.outcome.value if self.outcome else None,
            "decided_at": iso(self.decided_at),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateReview:
        opened = parse_time(d["opened_at"])
        assert opened is not None
        return cls(
            gate=d["gate"],
            phase=d["phase"],
            number=d["number"],
            opened_at=opened,
            state=ReviewState(d["state"]),
            signatures=[Signature.from_dict(s) for s in d.get("signatures", [])],
            outcome=Decision(d["outcome"]) if d.get("outcome") else None,
            decided_at=parse_time(d.get("decided_at")),
        )


@dataclass
class PhaseRun:
    """The live state of one phase. ``cycle`` counts activations (a recycle starts a new one)."""

    id: str
    state: PhaseState = PhaseState.PENDING
    cycle: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    deliverables: dict[str, Evidence] = field(default_factory=dict)
    checks: dict[str, Evidence] = field(default_factory=dict)
    contributors: set[str] = field(default_factory=set)
    """Everyone who ever submitted or confirmed for this phase: never independent of it."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Earlier activations: started/completed times, for timelines and forecasts."""

    def close_cycle(self, now: datetime, outcome: str) -> None:
        """Record the activation that ends now (passed or recycled) in ``history``."""
        if self.started_at is None:
            return
        last = self.history[-1] if self.history else None
        if last is not None and last.get("cycle") == self.cycle:
            # This activation already ended (it passed its gate) and is now recycled.
            if outcome not in str(last.get("outcome")):
                last["outcome"] = f"{last.get('outcome')}, {outcome}"
            return
        self.history.append(
            {
                "cycle": self.cycle,
                "started_at": iso(self.started_at),
                "ended_at": iso(now),
                "outcome": outcome,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state.value,
            "cycle": self.cycle,
            "started_at": iso(self.started_at),
            "completed_at": iso(self.completed_at),
            "deliverables": {k: v.to_dict() for k, v in self.deliverables.items()},
            "checks": {k: v.to_dict() for k, v in self.checks.items()},
            "contributors": sorted(self.contributors),
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhaseRun:
        return cls(
            id=d["id"],
            state=PhaseState(d["state"]),
            cycle=d.get("cycle", 0),
            started_at=parse_time(d.get("started_at")),
            completed_at=parse_time(d.get("completed_at")),
            deliverables={k: Evidence.from_dict(v) for k, v in d.get("deliverables", {}).items()},
            checks={k: Evidence.from_dict(v) for k, v in d.get("checks", {}).items()},
            contributors=set(d.get("contributors", [])),
            history=list(d.get("history", [])),
        )


@dataclass
class Hold:
    """Why a project is on hold; ``gate`` is set when a gate decided Hold."""

    by: str
    reason: str
    at: datetime
    gate: str | None = None
    phase: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "reason": self.reason,
            "at": iso(self.at),
            "gate": self.gate,
            "phase": self.phase,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hold:
        at = parse_time(d["at"])
        assert at is not None
        return cls(by=d["by"], reason=d["reason"], at=at, gate=d.get("gate"), phase=d.get("phase"))
