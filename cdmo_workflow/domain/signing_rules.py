"""The rules a gate signature must pass, in the order they are checked.

Each rule is a small function with a stable id (the ``[rule: ...]`` a refusal names) and a
one-line description; ``Project.sign`` runs them in order and the first that raises refuses
the signature. A new rule goes here (see CONTRIBUTING.md): write the function, add it to
``SIGNING_RULES`` where it belongs in the order, and add its refusal test to
``tests/unit/test_project_rules.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..spec.models import Decision, GateDef, PhaseDef, SignoffQuota
from .errors import RuleViolation
from .limits import MAX_CONDITIONS, check_optional, check_text
from .records import GateReview, Meaning, PhaseRun, iso


class Signer(Protocol):
    @property
    def user(self) -> str: ...


class Project(Protocol):
    """What the rules read of the aggregate (``domain.project.Project``)."""

    @property
    def phases(self) -> Mapping[str, PhaseRun]: ...

    def require_active(self, action: str) -> None: ...

    def require_role(self, user: str, role: str, action: str) -> None: ...

    def open_review(self, gate_id: str) -> GateReview | None: ...


@dataclass
class Attempt:
    """One signature being checked; rules fill in what they establish (review, quota, ...)."""

    project: Project
    gate_id: str
    gate: GateDef
    phase: PhaseDef
    signer: Signer
    role: str
    decision: str
    meaning: str
    conditions: list[str]
    comment: str = ""
    review: GateReview | None = None
    quota: SignoffQuota | None = None
    parsed_decision: Decision | None = None
    parsed_meaning: Meaning | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def open_review(self) -> GateReview:
        assert self.review is not None, "rule order: gate-open comes first"
        return self.review


def project_active(a: Attempt) -> None:
    a.project.require_active(f"sign gate {a.gate_id!r}")


def gate_open(a: Attempt) -> None:
    a.review = a.project.open_review(a.gate_id)
    if a.review is None:
        state = a.project.phases[a.phase.id].state.value
        raise RuleViolation(
            "gate-not-open",
            f"gate {a.gate_id!r} is not open for signature (phase {a.phase.id!r} is {state})",
            gate=a.gate_id,
            phase=a.phase.id,
        )


def role_in_gate(a: Attempt) -> None:
    a.quota = next((q for q in a.gate.signoffs if q.role == a.role), None)
    if a.quota is None:
        roles = ", ".join(q.role for q in a.gate.signoffs)
        raise RuleViolation(
            "role-not-in-gate",
            f"role {a.role!r} does not sign gate {a.gate_id!r} (it needs: {roles})",
            gate=a.gate_id,
            role=a.role,
        )


def assigned_to_role(a: Attempt) -> None:
    a.project.require_role(a.signer.user, a.role, f"sign gate {a.gate_id!r} as {a.role!r}")


def signs_once(a: Attempt) -> None:
    review = a.open_review()
    prior = next((s for s in review.signatures if s.user == a.signer.user), None)
    if prior is not None:
        raise RuleViolation(
            "already-signed",
            f"user {a.signer.user!r} already signed gate {a.gate_id!r} (review {review.number}) "
            f"as {prior.role!r} at {iso(prior.signed_at)}; a person counts once per gate",
            user=a.signer.user,
            gate=a.gate_id,
        )


def quota_open(a: Attempt) -> None:
    assert a.quota is not None
    if sum(1 for s in a.open_review().signatures if s.role == a.role) >= a.quota.min:
        raise RuleViolation(
            "quota-met",
            f"the {a.role!r} quota of gate {a.gate_id!r} is already met",
            gate=a.gate_id,
            role=a.role,
        )


def independent(a: Attempt) -> None:
    assert a.quota is not None
    if a.quota.independent and a.signer.user in a.project.phases[a.phase.id].contributors:
        raise RuleViolation(
            "not-independent",
            f"user {a.signer.user!r} submitted a deliverable or confirmed a check of phase "
            f"{a.phase.id!r} and cannot sign gate {a.gate_id!r} as independent role {a.role!r}",
            user=a.signer.user,
            gate=a.gate_id,
            role=a.role,
        )


def decision_allowed(a: Attempt) -> None:
    try:
        a.parsed_decision = Decision(a.decision)
    except ValueError:
        a.parsed_decision = None
    if a.parsed_decision is None or a.parsed_decision not in a.gate.decisions:
        allowed = ", ".join(d.value for d in a.gate.decisions)
        raise RuleViolation(
            "decision-not-allowed",
            f"decision {a.decision!r} is not allowed at gate {a.gate_id!r} (allowed: {allowed})",
            gate=a.gate_id,
            decision=a.decision,
        )


def meaning_known(a: Attempt) -> None:
    try:
        a.parsed_meaning = Meaning(a.meaning)
    except ValueError:
        raise RuleViolation(
            "invalid-meaning",
            f"meaning {a.meaning!r} is not one of: {', '.join(m.value for m in Meaning)}",
            meaning=a.meaning,
        ) from None


def text_within_limits(a: Attempt) -> None:
    check_optional("comment", a.comment or None)
    for text in a.conditions:
        check_text("condition", text)
    if len(a.conditions) > MAX_CONDITIONS:
        raise RuleViolation(
            "too-many-conditions",
            f"a signature may attach at most {MAX_CONDITIONS} conditions, not {len(a.conditions)}",
            limit=MAX_CONDITIONS,
        )


def conditions_match_decision(a: Attempt) -> None:
    if a.parsed_decision == Decision.CONDITIONAL_GO and not a.conditions:
        raise RuleViolation(
            "conditions-required",
            "a conditional-go needs at least one condition (--condition TEXT)",
            gate=a.gate_id,
        )
    if a.conditions and a.parsed_decision != Decision.CONDITIONAL_GO:
        assert a.parsed_decision is not None
        raise RuleViolation(
            "conditions-need-conditional-go",
            f"conditions can only be attached to a conditional-go, not to "
            f"{a.parsed_decision.value}",
            gate=a.gate_id,
        )


def kill_has_reason(a: Attempt) -> None:
    if a.parsed_decision == Decision.KILL and not a.comment.strip():
        raise RuleViolation(
            "kill-needs-reason",
            f"a kill at gate {a.gate_id!r} needs a reason in the comment (--comment TEXT)",
            gate=a.gate_id,
            user=a.signer.user,
        )


@dataclass(frozen=True)
class SigningRule:
    id: str
    checks: str
    check: Callable[[Attempt], None]


SIGNING_RULES: tuple[SigningRule, ...] = (
    SigningRule("project-not-active", "the project is active (not on hold, done or killed)",
                project_active),
    SigningRule("gate-not-open", "the gate has an open review", gate_open),
    SigningRule("role-not-in-gate", "the role is one of the gate's quotas", role_in_gate),
    SigningRule("not-assigned-to-role", "the signer holds that role on the project",
                assigned_to_role),
    SigningRule("already-signed", "a person signs a review once, in one role", signs_once),
    SigningRule("quota-met", "the role's quota still needs a signature", quota_open),
    SigningRule("not-independent",
                "an independent quota refuses anyone who contributed to the phase", independent),
    SigningRule("decision-not-allowed", "the decision is one the gate allows", decision_allowed),
    SigningRule("invalid-meaning", "the meaning is approval, review, responsibility or "
                "authorship", meaning_known),
    SigningRule("field-too-long", "the comment and conditions fit the limits table",
                text_within_limits),
    SigningRule("conditions-required",
                "a conditional-go carries conditions, and only a conditional-go does",
                conditions_match_decision),
    SigningRule("kill-needs-reason", "a kill says why (the comment)", kill_has_reason),
)  # fmt: skip
"""Checked in this order; the first failing rule names the refusal."""
