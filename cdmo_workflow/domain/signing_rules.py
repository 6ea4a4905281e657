"""The rules a gate signature must pass, in the order they are checked.

Each rule is a small function with a stable id (the ``[rule: ...]`` a refusal names) and a
one-line description; ``Project.sign`` runs them in order and the first that raises refuses
the signature. A new rule goes here (see CONTRIBUTING.md): write the function, add it to
``SIGNING_RULES`` where it belongs in the order, and add its refusal test to
``tests/unit/test_project_rules.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..spec.models import Decision, GateDef, PhaseDef, SignoffQuota
from . import conditions as cond_rules
from .delegation import Delegation
from .errors import RuleViolation
from .holds import require_phase_not_held
from .limits import MAX_CONDITIONS, check_optional, check_text
from .records import GateReview, Meaning, iso

if TYPE_CHECKING:
    from .aggregate import Aggregate as Project


class Signer(Protocol):
    @property
    def user(self) -> str: ...


@dataclass
class Attempt:
    """One signature being checked; rules fill in what they establish (review, quota, ...).

    ``on_behalf_of`` is the delegator when a delegate signs under ``delegation``: the
    signature then fills the delegator's slot (``principal``), and both people count."""

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
    now: datetime | None = None
    on_behalf_of: str | None = None
    delegation: Delegation | None = None
    terms: list[dict[str, Any]] = field(default_factory=list)
    """Per condition: ``{owner, due, blocks}`` as given (paired with ``conditions``)."""
    review: GateReview | None = None
    quota: SignoffQuota | None = None
    parsed_decision: Decision | None = None
    parsed_meaning: Meaning | None = None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def principal(self) -> str:
        """Whose slot the signature fills: the delegator, or the signer in person."""
        return self.on_behalf_of or self.signer.user

    @property
    def people(self) -> set[str]:
        return {self.signer.user, self.principal}

    def open_review(self) -> GateReview:
        assert self.review is not None, "rule order: gate-open comes first"
        return self.review


def project_active(a: Attempt) -> None:
    a.project.require_active(f"sign gate {a.gate_id!r}")


def phase_not_held(a: Attempt) -> None:
    require_phase_not_held(a.project, a.phase.id, f"sign gate {a.gate_id!r}")


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


def delegation_in_force(a: Attempt) -> None:
    """A signature on behalf of someone needs a delegation in force for that person, role and
    project at the moment of signing; one without ``on_behalf_of`` uses none."""
    d = a.delegation
    if a.on_behalf_of is None:
        if d is not None:
            raise RuleViolation(
                "delegation-not-in-force",
                f"a delegation was given without --on-behalf-of (user {a.signer.user!r})",
                user=a.signer.user,
            )
        return
    user, delegator = a.signer.user, a.on_behalf_of
    if delegator == user:
        raise RuleViolation(
            "delegation-to-self",
            f"user {user!r} cannot sign on behalf of themselves",
            user=user,
        )
    now = a.now
    assert now is not None, "a delegated signature is checked at the command's time"
    if d is None or d.delegator != delegator or d.delegate != user:
        raise RuleViolation(
            "delegation-not-in-force",
            f"user {user!r} holds no delegation from {delegator!r} and cannot sign gate "
            f"{a.gate_id!r} on their behalf",
            user=user,
            delegator=delegator,
            gate=a.gate_id,
        )
    if d.role != a.role or not d.covers(a.project.code):
        raise RuleViolation(
            "delegation-not-in-force",
            f"delegation {d.id} from {delegator!r} to {user!r} covers role {d.role!r} on "
            f"{d.scope()}, not role {a.role!r} on project {a.project.code}",
            user=user,
            delegator=delegator,
            delegation=d.id,
        )
    status = d.status(now)
    if status != "in force":
        when = {
            "scheduled": f"starts at {iso(d.starts_at)}",
            "ended": f"ended at {iso(d.ends_at)}",
            "revoked": f"was revoked at {iso(d.revoked_at)} by {d.revoked_by}",
        }[status]
        raise RuleViolation(
            "delegation-not-in-force",
            f"delegation {d.id} from {delegator!r} to {user!r} {when}: user {user!r} cannot "
            f"sign gate {a.gate_id!r} on behalf of {delegator!r} now ({iso(now)})",
            user=user,
            delegator=delegator,
            delegation=d.id,
            status=status,
        )


def quota_delegable(a: Attempt) -> None:
    assert a.quota is not None
    if a.on_behalf_of is not None and not a.quota.delegable:
        raise RuleViolation(
            "not-delegable",
            f"the {a.role!r} signature of gate {a.gate_id!r} cannot be delegated "
            f"(delegable: false): {a.on_behalf_of!r} signs it in person, or another "
            f"{a.role!r} of the team does",
            gate=a.gate_id,
            role=a.role,
            user=a.signer.user,
        )


def assigned_to_role(a: Attempt) -> None:
    """The person whose slot is filled holds the role on the project: the signer, or for a
    delegated signature the delegator (the delegate need not be on the team)."""
    action = f"sign gate {a.gate_id!r} as {a.role!r}"
    if a.on_behalf_of is not None:
        action = f"have {a.signer.user!r} sign gate {a.gate_id!r} as {a.role!r} on their behalf"
    a.project.require_role(a.principal, a.role, action)


def signs_once(a: Attempt) -> None:
    """A person counts once per review, whether they sign in person or through a delegate:
    the signer must not appear in any signature of the review (as signer or as the person
    signed for), and neither may the person signed for."""
    review = a.open_review()
    user = a.signer.user
    prior = next((s for s in review.signatures if user in s.people), None)
    if prior is not None:
        how = (
            f"on behalf of {prior.on_behalf_of!r}"
            if prior.user == user and prior.on_behalf_of
            else ("in person" if prior.user == user else f"through delegate {prior.user!r}")
        )
        raise RuleViolation(
            "already-signed",
            f"user {user!r} already counts at gate {a.gate_id!r} (review {review.number}): "
            f"signed {how} as {prior.role!r} at {iso(prior.signed_at)}; a person counts once "
            "per gate, in person or by delegation",
            user=user,
            gate=a.gate_id,
        )
    if a.on_behalf_of is not None:
        prior = next((s for s in review.signatures if a.on_behalf_of in s.people), None)
        if prior is not None:
            raise RuleViolation(
                "delegator-already-counted",
                f"{a.on_behalf_of!r} already counts at gate {a.gate_id!r} (review "
                f"{review.number}): signed by {prior.user!r} as {prior.role!r} at "
                f"{iso(prior.signed_at)}; a delegator and their delegate cannot both fill a "
                "slot",
                user=user,
                delegator=a.on_behalf_of,
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
    """An independent quota refuses a signer who contributed to the phase; for a delegated
    signature neither the delegate nor the delegator may have contributed."""
    assert a.quota is not None
    if not a.quota.independent:
        return
    contributors = a.project.phases[a.phase.id].contributors
    for person in sorted(a.people & contributors):
        whose = "" if person == a.signer.user else f" (signing on behalf of {person!r})"
        raise RuleViolation(
            "not-independent",
            f"user {person!r} submitted a deliverable or confirmed a check of phase "
            f"{a.phase.id!r}, so {a.signer.user!r}{whose} cannot sign gate {a.gate_id!r} as "
            f"independent role {a.role!r}",
            user=a.signer.user,
            contributor=person,
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


def parse_meaning(meaning: str) -> Meaning:
    """The meaning of a signature (11.50(a)(3)), or the ``invalid-meaning`` refusal; change
    requests use the same rule (``domain/change_control.py``)."""
    try:
        return Meaning(meaning)
    except ValueError:
        raise RuleViolation(
            "invalid-meaning",
            f"meaning {meaning!r} is not one of: {', '.join(m.value for m in Meaning)}",
            meaning=meaning,
        ) from None


def meaning_known(a: Attempt) -> None:
    a.parsed_meaning = parse_meaning(a.meaning)


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


def condition_terms_valid(a: Attempt) -> None:
    """Each condition's owner, due date and blocked phases make sense now (domain/conditions)."""
    if not a.terms or a.parsed_decision != Decision.CONDITIONAL_GO:
        return
    assert a.now is not None
    a.terms = cond_rules.check_terms(a.project, a.gate, a.phase.id, a.terms, a.now)


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
    about_signer: bool = False
    """The rule is about who may sign now (not about the decision, meaning or text): the
    task list and the Prefect run tags run these to find who can still sign."""


SIGNING_RULES: tuple[SigningRule, ...] = (
    SigningRule("project-not-active", "the project is active (not on hold, done or killed)",
                project_active, True),
    SigningRule("phase-on-hold", "the gated phase is not on quality hold", phase_not_held, True),
    SigningRule("gate-not-open", "the gate has an open review", gate_open, True),
    SigningRule("role-not-in-gate", "the role is one of the gate's quotas", role_in_gate, True),
    SigningRule("delegation-not-in-force",
                "a signature on behalf of someone uses a delegation from them to the signer, "
                "for that role and project, in force at the moment of signing",
                delegation_in_force, True),
    SigningRule("not-delegable", "a delegable: false quota is signed in person",
                quota_delegable, True),
    SigningRule("not-assigned-to-role",
                "the person whose slot is filled (the signer, or the delegator) holds that "
                "role on the project", assigned_to_role, True),
    SigningRule("already-signed",
                "a person counts once per review: in one role, in person or by delegation",
                signs_once, True),
    SigningRule("quota-met", "the role's quota still needs a signature", quota_open, True),
    SigningRule("not-independent",
                "an independent quota refuses anyone who contributed to the phase (for a "
                "delegated signature: the delegate and the delegator)", independent, True),
    SigningRule("decision-not-allowed", "the decision is one the gate allows", decision_allowed),
    SigningRule("invalid-meaning", "the meaning is approval, review, responsibility or "
                "authorship", meaning_known),
    SigningRule("field-too-long", "the comment and conditions fit the limits table",
                text_within_limits),
    SigningRule("conditions-required",
                "a conditional-go carries conditions, and only a conditional-go does",
                conditions_match_decision),
    SigningRule("condition-terms",
                "each condition's owner is a role or team member, its due date is ahead and "
                "the phases it blocks come after the gate", condition_terms_valid),
    SigningRule("kill-needs-reason", "a kill says why (the comment)", kill_has_reason),
)  # fmt: skip
"""Checked in this order; the first failing rule names the refusal."""

SIGNER_RULES: tuple[SigningRule, ...] = tuple(r for r in SIGNING_RULES if r.about_signer)
"""The rules about who may sign (see :func:`refusal_for_signer`)."""


def refusal_for_signer(
    project: Project,
    gate_id: str,
    user: str,
    role: str,
    now: datetime,
    *,
    on_behalf_of: str | None = None,
    delegation: Delegation | None = None,
) -> RuleViolation | None:
    """Why ``user`` could not sign ``gate_id`` as ``role`` now (None: they could), checking
    only the rules about the signer: what the task list and the run tags use."""
    gdef, pdef = project.gate_def(gate_id)
    attempt = Attempt(
        project=project,
        gate_id=gate_id,
        gate=gdef,
        phase=pdef,
        signer=_Person(user),
        role=role,
        decision="",
        meaning="",
        conditions=[],
        now=now,
        on_behalf_of=on_behalf_of,
        delegation=delegation,
    )
    try:
        for rule in SIGNER_RULES:
            rule.check(attempt)
    except RuleViolation as violation:
        return violation
    return None


@dataclass(frozen=True)
class _Person:
    user: str
