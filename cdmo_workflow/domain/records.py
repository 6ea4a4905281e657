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


class ChangeDecision(StrEnum):
    """What an approver decides on a change request (``domain/change_control.py``)."""

    APPROVE = "approve"
    REJECT = "reject"


def decision_of(value: str) -> Decision | ChangeDecision:
    """A stored signature's decision: a gate decision, else a change-request decision."""
    try:
        return Decision(value)
    except ValueError:
        return ChangeDecision(value)


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
    """A deliverable submission or a check confirmation.

    ``carried`` is set when the phase owner carried a deliverable of an earlier cycle forward
    after a recycle (``{by, at, reason, from_cycle}``); ``by``/``evidence``/``at`` stay the
    original submission's."""

    by: str
    evidence: str
    at: datetime
    carried: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"by": self.by, "evidence": self.evidence, "at": iso(self.at)}
        if self.carried is not None:
            out["carried"] = dict(self.carried)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        at = parse_time(d["at"])
        assert at is not None
        carried = d.get("carried")
        return cls(
            by=d["by"],
            evidence=d["evidence"],
            at=at,
            carried=dict(carried) if carried else None,
        )


@dataclass
class Signature:
    """An electronic signature with its manifestation and the hash of the record it signs
    (a gate review's, or a change request's: then ``decision`` is approve or reject)."""

    user: str
    name: str
    role: str
    decision: Decision | ChangeDecision
    meaning: Meaning
    signed_at: datetime
    record_hash: str
    comment: str | None = None
    conditions: list[str] = field(default_factory=list)
    on_behalf_of: str | None = None
    """The delegator when a delegate signs for them; ``user`` is always who signed."""
    on_behalf_of_name: str | None = None
    delegation: dict[str, Any] | None = None
    """The delegation in force when signing: ``{id, role, project, starts_at, ends_at, ...}``."""
    condition_terms: list[dict[str, Any]] = field(default_factory=list)
    """Per condition (same order as ``conditions``): ``{owner, due, blocks}`` as given."""

    @property
    def principal(self) -> str:
        """Whose quota slot the signature fills: the delegator, or the signer in person."""
        return self.on_behalf_of or self.user

    @property
    def people(self) -> set[str]:
        """Everyone this signature counts for at its review (signer and delegator)."""
        return {self.user, self.principal}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
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
        if self.on_behalf_of is not None:
            out["on_behalf_of"] = self.on_behalf_of
            out["on_behalf_of_name"] = self.on_behalf_of_name
            out["delegation"] = dict(self.delegation or {})
        if any(self.condition_terms):
            out["condition_terms"] = [dict(t) for t in self.condition_terms]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signature:
        at = parse_time(d["signed_at"])
        assert at is not None
        return cls(
            user=d["user"],
            name=d["name"],
            role=d["role"],
            decision=decision_of(d["decision"]),
            meaning=Meaning(d["meaning"]),
            signed_at=at,
            record_hash=d["record_hash"],
            comment=d.get("comment"),
            conditions=list(d.get("conditions") or []),
            on_behalf_of=d.get("on_behalf_of"),
            on_behalf_of_name=d.get("on_behalf_of_name"),
            delegation=dict(d["delegation"]) if d.get("delegation") else None,
            condition_terms=[dict(t) for t in d.get("condition_terms") or []],
        )

    def manifestation(self) -> str:
        """The human-readable signature line required by 21 CFR 11.50."""
        behalf = (
            f" on behalf of {self.on_behalf_of_name or self.on_behalf_of} ({self.on_behalf_of})"
            if self.on_behalf_of
            else ""
        )
        return (
            f"{self.name} ({self.user}, {self.role}){behalf} — {self.meaning.value} — "
            f"{self.decision.value} — {iso(self.signed_at)}"
        )


CONDITION_OPEN = "open"
CONDITION_CLOSED = "closed"
CONDITION_ACCEPTED = "accepted"


@dataclass
class Condition:
    """A condition raised by a Conditional Go: one per text, shared by every phase it blocks.

    Life: ``open`` → the owner closes it with evidence (``closed``) → the raiser's role or
    the quality role accepts the closure (``accepted``) or rejects it (back to ``open``). It
    blocks the gates of ``phases`` until it is done. Documents written before owned
    conditions (one copy per successor, no owner) load with ``needs_acceptance`` false:
    for them ``closed`` is done, as it was.
    """

    id: str
    text: str
    phase: str
    """The first phase it blocks (kept for readers of older documents; see ``phases``)."""
    gate: str
    raised_by: str
    raised_at: datetime
    state: str = CONDITION_OPEN
    closed_by: str | None = None
    closed_at: datetime | None = None
    evidence: str | None = None
    phases: list[str] = field(default_factory=list)
    review: int | None = None
    raised_role: str | None = None
    raised_on_behalf_of: str | None = None
    owner_role: str | None = None
    owner_user: str | None = None
    due_at: datetime | None = None
    needs_acceptance: bool = False
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    accept_comment: str | None = None
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.phases:
            self.phases = [self.phase]

    @property
    def done(self) -> bool:
        """No longer blocks a gate: accepted, or closed when no acceptance is needed."""
        if self.state == CONDITION_ACCEPTED:
            return True
        return self.state == CONDITION_CLOSED and not self.needs_acceptance

    def blocks(self, phase_id: str) -> bool:
        return phase_id in self.phases and not self.done

    @property
    def owner(self) -> str | None:
        """``user:<id>``, ``role:<id>`` or None (an older condition: phase owner or manager)."""
        if self.owner_user:
            return f"user:{self.owner_user}"
        if self.owner_role:
            return f"role:{self.owner_role}"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "phase": self.phase,
            "phases": list(self.phases),
            "gate": self.gate,
            "review": self.review,
            "raised_by": self.raised_by,
            "raised_role": self.raised_role,
            "raised_on_behalf_of": self.raised_on_behalf_of,
            "raised_at": iso(self.raised_at),
            "owner_role": self.owner_role,
            "owner_user": self.owner_user,
            "due_at": iso(self.due_at),
            "state": self.state,
            "needs_acceptance": self.needs_acceptance,
            "closed_by": self.closed_by,
            "closed_at": iso(self.closed_at),
            "evidence": self.evidence,
            "accepted_by": self.accepted_by,
            "accepted_at": iso(self.accepted_at),
            "accept_comment": self.accept_comment,
            "rejections": [dict(r) for r in self.rejections],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Condition:
        raised = parse_time(d["raised_at"])
        assert raised is not None
        phases = list(d.get("phases") or [d["phase"]])
        return cls(
            id=d["id"],
            text=d["text"],
            phase=d.get("phase") or phases[0],
            gate=d["gate"],
            raised_by=d["raised_by"],
            raised_at=raised,
            state=d["state"],
            closed_by=d.get("closed_by"),
            closed_at=parse_time(d.get("closed_at")),
            evidence=d.get("evidence"),
            phases=phases,
            review=d.get("review"),
            raised_role=d.get("raised_role"),
            raised_on_behalf_of=d.get("raised_on_behalf_of"),
            owner_role=d.get("owner_role"),
            owner_user=d.get("owner_user"),
            due_at=parse_time(d.get("due_at")),
            needs_acceptance=bool(d.get("needs_acceptance", False)),
            accepted_by=d.get("accepted_by"),
            accepted_at=parse_time(d.get("accepted_at")),
            accept_comment=d.get("accept_comment"),
            rejections=[dict(r) for r in d.get("rejections") or []],
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
    carryable: dict[str, Evidence] = field(default_factory=dict)
    """Deliverables of the cycle a recycle reset: the phase owner may carry them forward."""
    carryable_cycle: int | None = None

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
            **(
                {
                    "carryable": {k: v.to_dict() for k, v in self.carryable.items()},
                    "carryable_cycle": self.carryable_cycle,
                }
                if self.carryable
                else {}
            ),
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
            carryable={k: Evidence.from_dict(v) for k, v in (d.get("carryable") or {}).items()},
            carryable_cycle=d.get("carryable_cycle"),
        )


@dataclass
class Hold:
    """A hold on the whole project or on one phase, active until released.

    ``gate``/``phase`` are set when a gate decided Hold (its review reopens on release);
    ``held_phase`` is set for a hold on one phase only (the project stays active). A
    ``quality`` hold (placed by the process's quality role, or decided at a gate where that
    role chose hold) is released only with a signature of the quality role
    (``release_signature``); any other hold by the project manager (``project resume``).
    """

    by: str
    reason: str
    at: datetime
    gate: str | None = None
    phase: str | None = None
    id: str | None = None
    held_phase: str | None = None
    quality: bool = False
    role: str | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None
    release_signature: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    @property
    def scope(self) -> str:
        """``project`` or ``phase <id>``, as status and reports print it."""
        return f"phase {self.held_phase}" if self.held_phase else "project"

    def record(self, project: str) -> dict[str, Any]:
        """What a release signature is linked to (its SHA-256): the hold as placed."""
        return {
            "project": project,
            "hold": self.id,
            "by": self.by,
            "reason": self.reason,
            "at": iso(self.at),
            "gate": self.gate,
            "held_phase": self.held_phase,
            "quality": self.quality,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "by": self.by,
            "role": self.role,
            "reason": self.reason,
            "at": iso(self.at),
            "gate": self.gate,
            "phase": self.phase,
            "held_phase": self.held_phase,
            "quality": self.quality,
            "released_at": iso(self.released_at),
            "released_by": self.released_by,
            "release_reason": self.release_reason,
            "release_signature": dict(self.release_signature) if self.release_signature else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hold:
        at = parse_time(d["at"])
        assert at is not None
        sig = d.get("release_signature")
        return cls(
            by=d["by"],
            reason=d["reason"],
            at=at,
            gate=d.get("gate"),
            phase=d.get("phase"),
            id=d.get("id"),
            held_phase=d.get("held_phase"),
            quality=bool(d.get("quality", False)),
            role=d.get("role"),
            released_at=parse_time(d.get("released_at")),
            released_by=d.get("released_by"),
            release_reason=d.get("release_reason"),
            release_signature=dict(sig) if sig else None,
        )
