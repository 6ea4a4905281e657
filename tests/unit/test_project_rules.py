"""One test per rule of the engine and per refusal rule id (pure, milliseconds)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from cdmo_workflow.domain import events as ev
from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import PhaseState, ProjectState, ReviewState
from cdmo_workflow.spec.models import Decision, ProcessSnapshot

from .builders import (
    T0,
    TEAM,
    Clock,
    at,
    complete_work,
    diamond,
    gate,
    pass_phase,
    phase,
    sign_all,
    signer,
    snapshot,
    start,
)


def states(project: Project) -> dict[str, str]:
    return {pid: run.state.value for pid, run in project.phases.items()}


def names(project: Project) -> list[str]:
    return [e.name for e in project.drain_events()]


def refused(project: Project, rule: str, command: Callable[[], Any], *mentions: str) -> str:
    """Run a command that must be refused: rule id, message mentions, nothing changed."""
    before = copy.deepcopy(project.to_dict())
    project.drain_events()
    with pytest.raises(RuleViolation) as info:
        command()
    assert info.value.rule == rule, info.value
    for text in mentions:
        assert text in info.value.message, (text, info.value.message)
    assert project.to_dict() == before, "a refused command changed the project"
    assert project.pending_events == [], "a refused command emitted events"
    return info.value.message


def to_d(project: Project, clock: Clock) -> None:
    """Pass a, b and c with go: d becomes active."""
    pass_phase(project, "a", clock())
    pass_phase(project, "b", clock())
    pass_phase(project, "c", clock())
    assert project.phases["d"].state == PhaseState.ACTIVE


# ---------------------------------------------------------------- start and the DAG


def test_start_activates_start_phases_only(snap: ProcessSnapshot) -> None:
    project, change = Project.start("P-1", "Acme", snap, TEAM, "pat", T0)
    assert states(project) == {"a": "active", "b": "pending", "c": "pending", "d": "pending"}
    assert project.state == ProjectState.ACTIVE
    assert change.action == "project.start" and change.new is not None
    assert [e.name for e in project.drain_events()] == [ev.PROJECT_STARTED, ev.PHASE_ACTIVATED]
    assert project.reviews == []


def test_gate_opens_when_required_deliverables_and_checks_are_done(
    project: Project, clock: Clock
) -> None:
    project.submit_deliverable("a", "a-report", "dev1", "DMS-1", clock())
    assert project.phases["a"].state == PhaseState.ACTIVE
    assert project.open_review("g-a") is None
    # the optional deliverable never blocks; the check does
    project.confirm_check("g-a", "a-check", "qc1", "DMS-2", clock())
    assert project.phases["a"].state == PhaseState.GATE_REVIEW
    review = project.open_review("g-a")
    assert review is not None and review.number == 1
    assert ev.GATE_OPENED in names(project)


def test_phase_without_work_opens_its_gate_at_once() -> None:
    snap = snapshot(
        "empty",
        ["pm"],
        [phase("only", "pm")],
        [gate("g-only", [{"role": "pm"}])],
    )
    project = start(snap, {"pm": ["pat"]})
    assert project.phases["only"].state == PhaseState.GATE_REVIEW
    assert project.open_review("g-only") is not None
    project.sign("g-only", signer("pat"), "pm", "go", "approval", at(1))
    assert project.state == ProjectState.COMPLETED


def test_go_activates_each_successor_only_when_all_its_after_phases_completed(
    project: Project, clock: Clock
) -> None:
    pass_phase(project, "a", clock())
    assert states(project) == {"a": "completed", "b": "active", "c": "active", "d": "pending"}
    pass_phase(project, "b", clock())
    assert project.phases["d"].state == PhaseState.PENDING  # c has not passed yet
    pass_phase(project, "c", clock())
    assert project.phases["d"].state == PhaseState.ACTIVE


def test_final_go_completes_the_project(project: Project, clock: Clock) -> None:
    to_d(project, clock)
    project.drain_events()
    now = clock()
    pass_phase(project, "d", now)
    assert project.state == ProjectState.COMPLETED
    assert project.completed_at == now
    assert all(r.state == PhaseState.COMPLETED for r in project.phases.values())
    assert names(project)[-1] == ev.PROJECT_COMPLETED
    refused(
        project,
        "project-not-active",
        lambda: project.put_on_hold("pat", "why", clock()),
        "P-001",
        "completed",
    )


# ---------------------------------------------------------------- sequence


def test_gate_not_open(project: Project, clock: Clock) -> None:
    refused(
        project,
        "gate-not-open",
        lambda: project.sign("g-a", signer("pat"), "pm", "go", "approval", clock()),
        "g-a",
        "'a'",
    )
    refused(
        project,
        "gate-not-open",
        lambda: project.sign("g-d", signer("qa1"), "qa", "go", "approval", clock()),
        "g-d",
        "pending",
    )


def test_phase_not_active_before_start_and_during_gate_review(
    project: Project, clock: Clock
) -> None:
    refused(
        project,
        "phase-not-active",
        lambda: project.submit_deliverable("b", "b-report", "dev1", "DMS-1", clock()),
        "'b'",
        "pending",
    )
    complete_work(project, "a", clock())
    refused(
        project,
        "phase-not-active",
        lambda: project.submit_deliverable("a", "a-notes", "dev1", "DMS-1", clock()),
        "'a'",
        "gate-review",
    )
    refused(
        project,
        "phase-not-active",
        lambda: project.confirm_check("g-a", "a-check", "qc1", "DMS-1", clock()),
        "'a'",
    )


def test_not_found(project: Project, clock: Clock) -> None:
    before = project.to_dict()
    with pytest.raises(NotFound, match="nope"):
        project.submit_deliverable("nope", "x", "dev1", "E", clock())
    with pytest.raises(NotFound, match="a-report"):  # the hint names the known ones
        project.submit_deliverable("a", "nope", "dev1", "E", clock())
    with pytest.raises(NotFound, match="g-a"):
        project.sign("nope", signer("pat"), "pm", "go", "approval", clock())
    with pytest.raises(NotFound, match="a-check"):
        project.confirm_check("g-a", "nope", "qc1", "E", clock())
    with pytest.raises(NotFound, match="C1"):
        project.close_condition("C1", "pat", "E", clock())
    assert project.to_dict() == before and project.pending_events == []


# ---------------------------------------------------------------- authority and evidence


def test_not_assigned_to_role_for_submit_confirm_and_sign(project: Project, clock: Clock) -> None:
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.submit_deliverable("a", "a-report", "qc1", "DMS-1", clock()),
        "qc1",
        "'dev'",
        "P-001",
    )
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.confirm_check("g-a", "a-check", "stranger", "DMS-1", clock()),
        "stranger",
        "'qc'",
        "holds no role",
    )
    complete_work(project, "a", clock())
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.sign("g-a", signer("qa1"), "customer", "go", "approval", clock()),
        "qa1",
        "'customer'",
        "g-a",
    )


def test_role_not_in_gate(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    refused(
        project,
        "role-not-in-gate",
        lambda: project.sign("g-a", signer("qa1"), "qa", "go", "approval", clock()),
        "'qa'",
        "g-a",
    )


def test_already_signed(clock: Clock) -> None:
    # pat is both pm and customer: a person counts once per gate review
    project = start(team={**TEAM, "customer": ["cust1", "pat"]})
    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    refused(
        project,
        "already-signed",
        lambda: project.sign("g-a", signer("pat"), "customer", "go", "approval", clock()),
        "pat",
        "g-a",
        "review 1",
    )


def test_quota_met(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "b", clock())
    project.sign("g-b", signer("qa1"), "qa", "go", "approval", clock())
    refused(
        project,
        "quota-met",
        lambda: project.sign("g-b", signer("qa2"), "qa", "go", "approval", clock()),
        "'qa'",
        "g-b",
    )


def test_not_independent(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    project.submit_deliverable("b", "b-report", "dev2", "DMS-7", clock())  # dev2 is also qa
    message = refused(
        project,
        "not-independent",
        lambda: project.sign("g-b", signer("dev2"), "qa", "go", "approval", clock()),
        "dev2",
        "g-b",
        "'qa'",
    )
    assert "'b'" in message
    # a non-independent quota accepts a contributor: g-c's qa quota is not independent
    project.submit_deliverable("c", "c-report", "qc1", "DMS-8", clock())
    project.sign("g-c", signer("dev2"), "qa", "go", "approval", clock())


def test_independence_survives_a_recycle(project: Project, clock: Clock) -> None:
    """A contributor of an earlier cycle of the phase is still not independent of it."""
    pass_phase(project, "a", clock())
    project.submit_deliverable("b", "b-report", "dev2", "DMS-1", clock())
    sign_all(project, "g-b", clock(), decision="recycle")
    assert project.phases["b"].state == PhaseState.ACTIVE
    project.submit_deliverable("b", "b-report", "dev1", "DMS-2", clock())
    refused(
        project,
        "not-independent",
        lambda: project.sign("g-b", signer("dev2"), "qa", "go", "approval", clock()),
        "dev2",
    )


def test_decision_not_allowed(project: Project, clock: Clock) -> None:
    to_d(project, clock)
    complete_work(project, "d", clock())
    refused(
        project,
        "decision-not-allowed",
        lambda: project.sign(
            "g-d", signer("qa1"), "qa", "conditional-go", "approval", clock(), conditions=["x"]
        ),
        "conditional-go",
        "g-d",
    )
    refused(
        project,
        "decision-not-allowed",
        lambda: project.sign("g-d", signer("qa1"), "qa", "maybe", "approval", clock()),
        "maybe",
    )


def test_invalid_meaning(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    refused(
        project,
        "invalid-meaning",
        lambda: project.sign("g-a", signer("pat"), "pm", "go", "liking", clock()),
        "liking",
        "approval",
    )


def test_conditions_required_and_need_conditional_go(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    refused(
        project,
        "conditions-required",
        lambda: project.sign(
            "g-a", signer("pat"), "pm", "conditional-go", "approval", clock(), conditions=[" "]
        ),
        "condition",
    )
    refused(
        project,
        "conditions-need-conditional-go",
        lambda: project.sign(
            "g-a", signer("pat"), "pm", "go", "approval", clock(), conditions=["fix it"]
        ),
        "go",
    )


def test_evidence_required(project: Project, clock: Clock) -> None:
    refused(
        project,
        "evidence-required",
        lambda: project.submit_deliverable("a", "a-report", "dev1", "  ", clock()),
        "evidence",
    )
    refused(
        project,
        "evidence-required",
        lambda: project.confirm_check("g-a", "a-check", "qc1", "", clock()),
    )


def test_start_refusals(snap: ProcessSnapshot) -> None:
    with pytest.raises(RuleViolation) as info:
        Project.start("P-1", "Acme", snap, {**TEAM, "janitor": ["joe"]}, "pat", T0)
    assert info.value.rule == "unknown-role"
    assert "janitor" in info.value.message and "diamond" in info.value.message

    with pytest.raises(RuleViolation) as info:
        Project.start("P-1", "Acme", snap, TEAM, "dev1", T0)
    assert info.value.rule == "not-project-manager"
    assert "dev1" in info.value.message and "'pm'" in info.value.message
    # an administrator may start a project for the team
    project, _ = Project.start("P-1", "Acme", snap, TEAM, "admin", T0, by_is_admin=True)
    assert project.created_by == "admin"

    for code, customer, rule in [(" ", "Acme", "invalid-code"), ("P-1", "", "invalid-customer")]:
        with pytest.raises(RuleViolation) as info:
            Project.start(code, customer, snap, TEAM, "pat", T0)
        assert info.value.rule == rule
    with pytest.raises(RuleViolation) as info:
        Project.start("P-1", "Acme", snap, {**TEAM, "qc": []}, "pat", T0)
    assert info.value.rule == "empty-role" and "'qc'" in info.value.message


# ---------------------------------------------------------------- hold and resume


def test_hold_resume_refusals(project: Project, clock: Clock) -> None:
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.put_on_hold("dev1", "budget", clock()),
        "dev1",
        "'pm'",
    )
    refused(project, "reason-required", lambda: project.put_on_hold("pat", " ", clock()))
    refused(
        project,
        "project-not-on-hold",
        lambda: project.resume("pat", "go on", clock()),
        "P-001",
        "active",
    )
    project.put_on_hold("pat", "budget review", clock())
    assert project.state == ProjectState.ON_HOLD
    assert project.hold is not None and project.hold.reason == "budget review"
    refused(
        project,
        "project-not-active",
        lambda: project.submit_deliverable("a", "a-report", "dev1", "E", clock()),
        "P-001",
        "on-hold",
    )
    refused(
        project,
        "project-not-active",
        lambda: project.put_on_hold("pat", "again", clock()),
        "on-hold",
    )
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.resume("qa1", "go on", clock()),
        "qa1",
        "'pm'",
    )
    refused(project, "reason-required", lambda: project.resume("pat", "", clock()))
    project.drain_events()
    project.resume("pat", "budget approved", clock())
    assert project.state == ProjectState.ACTIVE and project.hold is None
    assert names(project) == [ev.PROJECT_RESUMED]


def test_manual_hold_keeps_the_open_review_and_its_signatures(
    project: Project, clock: Clock
) -> None:
    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    project.put_on_hold("pat", "audit", clock())
    refused(
        project,
        "project-not-active",
        lambda: project.sign("g-a", signer("cust1"), "customer", "go", "approval", clock()),
        "on-hold",
    )
    project.resume("pat", "audit done", clock())
    review = project.open_review("g-a")
    assert review is not None and review.number == 1 and len(review.signatures) == 1
    project.sign("g-a", signer("cust1"), "customer", "go", "approval", clock())
    assert project.phases["a"].state == PhaseState.COMPLETED


def test_gate_hold_then_resume_opens_a_fresh_review(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    project.sign("g-a", signer("cust1"), "customer", "hold", "approval", clock())
    first = project.reviews[0]
    assert first.state == ReviewState.DECIDED and first.outcome == Decision.HOLD
    assert project.state == ProjectState.ON_HOLD
    assert project.hold is not None and project.hold.gate == "g-a"
    assert project.phases["a"].state == PhaseState.GATE_REVIEW
    assert project.gate_views()[0]["state"] == "decided"

    project.drain_events()
    project.resume("pat", "customer confirmed funding", clock())
    assert names(project) == [ev.PROJECT_RESUMED, ev.GATE_OPENED]
    review = project.open_review("g-a")
    assert review is not None and review.number == 2 and review.signatures == []
    assert project.missing(review) == [
        {"role": "pm", "needed": 1},
        {"role": "customer", "needed": 1},
    ]
    # the old signatures stay in the history and do not count: pat may sign again
    assert len(project.reviews[0].signatures) == 2
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    assert project.phases["a"].state == PhaseState.GATE_REVIEW
    project.sign("g-a", signer("cust1"), "customer", "go", "approval", clock())
    assert project.phases["a"].state == PhaseState.COMPLETED
    assert project.gate_views()[0]["review"] == 2


# ---------------------------------------------------------------- decisions


def test_most_conservative_decision_wins(project: Project, clock: Clock) -> None:
    to_d(project, clock)
    complete_work(project, "d", clock())
    project.sign("g-d", signer("qa1"), "qa", "go", "approval", clock())
    project.sign("g-d", signer("cust1"), "customer", "recycle", "approval", clock())
    assert project.open_review("g-d") is not None  # a non-veto recycle waits for the quota
    project.sign("g-d", signer("qa2"), "qa", "hold", "review", clock())
    review = project.latest_review("g-d")
    assert review is not None and review.outcome == Decision.RECYCLE


def test_conditional_go_beats_go(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    project.sign(
        "g-a", signer("cust1"), "customer", "conditional-go", "approval", clock(), conditions=["x"]
    )
    assert project.reviews[0].outcome == Decision.CONDITIONAL_GO


def test_veto_decides_at_once(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "c", clock())
    project.drain_events()
    project.sign("g-c", signer("qa1"), "qa", "hold", "approval", clock())  # pm has not signed
    review = project.latest_review("g-c")
    assert review is not None and review.state == ReviewState.DECIDED
    assert review.outcome == Decision.HOLD
    assert project.state == ProjectState.ON_HOLD and project.hold is not None
    assert project.hold.by == "qa1" and project.hold.gate == "g-c"
    decided = next(e for e in project.drain_events() if e.name == ev.GATE_DECIDED)
    assert decided.data["veto_by"] == "qa1"


def test_veto_role_go_does_not_decide_early(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "c", clock())
    project.sign("g-c", signer("qa1"), "qa", "go", "approval", clock())
    assert project.open_review("g-c") is not None


def test_non_veto_kill_waits_for_the_quota(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    project.sign(
        "g-a", signer("cust1"), "customer", "kill", "approval", clock(), comment="no market"
    )
    assert project.state == ProjectState.ACTIVE and project.open_review("g-a") is not None
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    assert project.state == ProjectState.KILLED


def test_conditional_go_raises_one_condition_per_text_shared_by_successors(
    project: Project, clock: Clock
) -> None:
    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    project.drain_events()
    project.sign(
        "g-a",
        signer("cust1"),
        "customer",
        "conditional-go",
        "approval",
        clock(),
        conditions=["update the FMEA", "  ", "sign the quality agreement"],
    )
    assert project.phases["a"].state == PhaseState.COMPLETED
    assert states(project)["b"] == "active" and states(project)["c"] == "active"
    assert [(c.id, c.text, c.phases) for c in project.conditions] == [
        ("C1", "update the FMEA", ["b", "c"]),
        ("C2", "sign the quality agreement", ["b", "c"]),
    ]
    # b (owner dev) and c (owner qc) differ: the manager role owns them by default
    assert all(c.owner_role == "pm" and c.needs_acceptance for c in project.conditions)
    assert all(c.raised_by == "cust1" and c.raised_role == "customer" for c in project.conditions)
    assert names(project).count(ev.CONDITION_OPENED) == 2

    # b's work is done, but its gate waits for its conditions
    complete_work(project, "b", clock())
    assert project.phases["b"].state == PhaseState.ACTIVE and project.open_review("g-b") is None
    refused(
        project, "evidence-required", lambda: project.close_condition("C1", "pat", " ", clock())
    )
    refused(
        project,
        "not-condition-owner",
        lambda: project.close_condition("C1", "dev1", "DMS-9", clock()),
        "dev1",
        "C1",
    )
    project.close_condition("C1", "pat", "DMS-9", clock())
    refused(
        project,
        "condition-closed",
        lambda: project.close_condition("C1", "pat", "DMS-10", clock()),
        "C1",
        "pat",
    )
    project.close_condition("C2", "pat", "DMS-10", clock())
    assert project.open_review("g-b") is None  # closed is not enough: acceptance is due
    refused(
        project,
        "own-closure",
        lambda: project.accept_condition("C1", "pat", clock()),
        "pat",
    )  # pat is the manager *and* closed it; the check names the closure first
    refused(
        project, "not-assigned-to-role", lambda: project.accept_condition("C1", "dev1", clock())
    )
    project.accept_condition("C1", "cust1", clock())  # the raiser's role
    project.accept_condition("C2", "qa1", clock(), comment="verified")  # the quality role
    assert project.phases["b"].state == PhaseState.GATE_REVIEW
    assert project.phases["c"].state == PhaseState.ACTIVE  # c's own work is still due
    review = project.open_review("g-b")
    assert review is not None
    # accepted conditions are part of the record the signatures are linked to
    record = project.review_record(review)
    assert [c["id"] for c in record["conditions"]] == ["C1", "C2"]
    assert project.open_conditions("c") == []  # the same conditions: not closed twice


def test_condition_rejected_goes_back_to_its_owner(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "c", clock())
    project.sign(
        "g-c",
        signer("qa1"),
        "qa",
        "conditional-go",
        "approval",
        clock(),
        conditions=["close CAPA-17 before release"],
        condition_owner=["user:dev1"],
        condition_due=["10bd"],
    )
    project.sign("g-c", signer("pat"), "pm", "go", "approval", clock())
    (cond,) = project.conditions
    assert cond.phases == ["d"] and cond.owner_user == "dev1" and cond.due_at is not None
    assert cond.raised_role == "qa"
    refused(project, "condition-not-closed", lambda: project.accept_condition("C1", "qa2", clock()))
    project.close_condition("C1", "dev1", "CAPA-17 closed", clock())
    refused(project, "reason-required", lambda: project.reject_condition("C1", "qa1", " ", clock()))
    project.reject_condition("C1", "qa1", "the CAPA effectiveness check is missing", clock())
    assert cond.state == "open" and cond.evidence is None and len(cond.rejections) == 1
    project.close_condition("C1", "dev1", "CAPA-17 closed with effectiveness check", clock())
    project.accept_condition("C1", "qa1", clock())
    assert cond.done and cond.accepted_by == "qa1"
    refused(project, "condition-accepted", lambda: project.accept_condition("C1", "qa2", clock()))


def test_conditions_accepted_before_the_successor_starts(project: Project, clock: Clock) -> None:
    """A condition on a phase still pending can be closed and accepted early."""
    pass_phase(project, "a", clock())
    pass_phase(project, "b", clock())
    complete_work(project, "c", clock())
    sign_all(project, "g-c", clock(), decision="conditional-go", conditions=["bridge study"])
    # two signers wrote the same text: one condition on d, owned by d's owner role (dev)
    (cond,) = project.open_conditions("d")
    assert cond.owner_role == "dev" and cond.phases == ["d"]
    assert project.phases["d"].state == PhaseState.ACTIVE
    project.close_condition(cond.id, "dev1", "DMS-3", clock())
    project.accept_condition(cond.id, "qa2", clock())
    complete_work(project, "d", clock())
    assert project.phases["d"].state == PhaseState.GATE_REVIEW


def test_recycle_to_the_gated_phase_itself(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    pass_phase(project, "c", clock())
    complete_work(project, "b", clock())
    project.drain_events()
    sign_all(project, "g-b", clock(), decision="recycle")
    assert states(project) == {"a": "completed", "b": "active", "c": "completed", "d": "pending"}
    run = project.phases["b"]
    assert run.cycle == 2 and run.deliverables == {} and run.checks == {}
    assert run.history[-1]["outcome"] == "recycled"
    assert project.latest_review("g-b") is not None
    assert project.gate_views()[1]["state"] == "waiting"
    # new submissions open a new review
    complete_work(project, "b", clock(), evidence="DMS-2")
    review = project.open_review("g-b")
    assert review is not None and review.number == 2
    sign_all(project, "g-b", clock())
    assert project.phases["d"].state == PhaseState.ACTIVE


def test_recycle_upstream_resets_started_downstream_phases_when_asked() -> None:
    """``recycle_resets: downstream`` keeps the earlier behaviour."""
    snap = diamond(recycle_to_b="a", recycle_resets="downstream")
    project = start(snap)
    clock = Clock()
    pass_phase(project, "a", clock())
    complete_work(project, "c", clock())  # c in gate review (will be voided)
    assert project.open_review("g-c") is not None
    complete_work(project, "b", clock())
    project.drain_events()
    sign_all(project, "g-b", clock(), decision="recycle")
    assert states(project) == {"a": "active", "b": "pending", "c": "pending", "d": "pending"}
    assert project.open_reviews() == []
    void = [r for r in project.reviews if r.gate == "g-c"]
    assert [r.state for r in void] == [ReviewState.VOID]
    for pid in ("b", "c"):
        run = project.phases[pid]
        assert run.deliverables == {} and run.started_at is None
    assert project.phases["a"].deliverables == {} and project.phases["a"].cycle == 2
    emitted = names(project)
    assert emitted.count(ev.PHASE_RESET) == 2 and ev.PHASE_ACTIVATED in emitted
    # the reset phases restart when a passes again
    pass_phase(project, "a", clock())
    assert states(project) == {"a": "completed", "b": "active", "c": "active", "d": "pending"}
    assert project.phases["b"].cycle == 2


def test_recycle_leaves_non_downstream_phases_alone() -> None:
    snap = diamond(recycle_to_d="b")
    project = start(snap)
    clock = Clock()
    to_d(project, clock)
    c_before = project.phases["c"].to_dict()
    complete_work(project, "d", clock())
    sign_all(project, "g-d", clock(), decision="recycle")
    assert states(project) == {"a": "completed", "b": "active", "c": "completed", "d": "pending"}
    assert project.phases["c"].to_dict() == c_before
    assert project.phases["a"].state == PhaseState.COMPLETED
    # d restarts only when b passes again (c is still completed)
    pass_phase(project, "b", clock())
    assert project.phases["d"].state == PhaseState.ACTIVE
    assert project.phases["d"].deliverables == {}


def test_kill_is_terminal(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "c", clock())
    now = clock()
    project.sign("g-c", signer("qa1"), "qa", "kill", "approval", now, comment="no market")  # veto
    assert project.state == ProjectState.KILLED and project.completed_at == now
    assert ev.PROJECT_KILLED in names(project)
    commands: list[tuple[str, Callable[[], Any]]] = [
        (
            "project-not-active",
            lambda: project.submit_deliverable("b", "b-report", "dev1", "E", now),
        ),
        ("project-not-active", lambda: project.confirm_check("g-a", "a-check", "qc1", "E", now)),
        (
            "project-not-active",
            lambda: project.sign("g-c", signer("pat"), "pm", "go", "approval", now),
        ),
        (
            "project-not-active",
            lambda: project.sign("g-b", signer("qa2"), "qa", "go", "approval", now),
        ),
        ("project-not-active", lambda: project.put_on_hold("pat", "x", now)),
        ("project-not-on-hold", lambda: project.resume("pat", "x", now)),
    ]
    for rule, command in commands:
        refused(project, rule, command, "killed")


def test_kill_cancels_the_reviews_still_open_elsewhere(project: Project, clock: Clock) -> None:
    """A killed project has no open gate left (no reminders, no 'open' in its status)."""
    pass_phase(project, "a", clock())
    complete_work(project, "b", clock())
    project.sign("g-b", signer("qa1"), "qa", "go", "approval", clock())
    complete_work(project, "c", clock())
    project.drain_events()
    project.sign(
        "g-c", signer("qa2"), "qa", "kill", "approval", clock(), comment="no market"
    )  # veto
    assert project.state == ProjectState.KILLED
    assert project.open_reviews() == [] and project.summary()["open_gates"] == []
    b_review = next(r for r in project.reviews if r.gate == "g-b")
    assert b_review.state == ReviewState.VOID and len(b_review.signatures) == 1
    killed = next(e for e in project.drain_events() if e.name == ev.PROJECT_KILLED)
    assert killed.data["cancelled_reviews"] == ["g-b-1"]
    views = {v["id"]: v for v in project.gate_views()}
    assert views["g-c"]["state"] == "decided" and views["g-c"]["outcome"] == "kill"
    assert views["g-b"]["state"] != "open"


def test_kill_closes_no_open_condition_but_refuses_closing(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    project.sign(
        "g-a",
        signer("cust1"),
        "customer",
        "conditional-go",
        "approval",
        clock(),
        conditions=["x"],
        condition_blocks=["b"],
    )
    complete_work(project, "c", clock())
    project.sign("g-c", signer("qa1"), "qa", "kill", "approval", clock(), comment="no market")
    (cond,) = project.open_conditions("b")
    refused(
        project,
        "project-not-active",
        lambda: project.close_condition(cond.id, "dev1", "E", clock()),
        "killed",
    )


# ---------------------------------------------------------------- signatures and records


def _signature_hash(evidence: str) -> str:
    project = start()
    project.submit_deliverable("a", "a-report", "dev1", evidence, at(1))
    project.confirm_check("g-a", "a-check", "qc1", "CHK-1", at(2))
    project.sign("g-a", signer("pat"), "pm", "go", "approval", at(3))
    return project.reviews[0].signatures[0].record_hash


def test_signature_is_linked_to_the_evidence() -> None:
    assert _signature_hash("DMS-1") == _signature_hash("DMS-1")
    assert _signature_hash("DMS-1") != _signature_hash("DMS-2")


def test_signature_manifestation_and_change(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    now = clock()
    change = project.sign("g-a", signer("pat"), "pm", "go", "approval", now, comment="ok")
    sig = project.reviews[0].signatures[0]
    assert sig.name == "PAT" and sig.meaning.value == "approval" and sig.signed_at == now
    line = sig.manifestation()
    assert "PAT" in line and "pat" in line and "approval" in line and "go" in line
    assert change.action == "gate.sign" and change.subject == "g-a#1"
    assert change.new is not None and change.new["record_hash"] == sig.record_hash
    review = project.open_review("g-a")
    assert review is not None and sig.record_hash == project.record_hash(review)


def test_round_trip_through_json(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    sign_all(project, "g-a", clock(), decision="conditional-go", conditions=["x"])
    for c in project.open_conditions("c"):
        project.close_condition(c.id, "pat", "DMS-1", clock())
        project.accept_condition(c.id, "qa2", clock())
    complete_work(project, "c", clock())
    project.sign("g-c", signer("qa1"), "qa", "hold", "review", clock())
    assert project.state == ProjectState.ON_HOLD and project.conditions[0].done
    data = project.to_dict()
    text = json.dumps(data)
    loaded = Project.from_dict(json.loads(text), project.snapshot)
    assert loaded.to_dict() == data
    assert loaded.gate_views() == project.gate_views()
    assert loaded.summary() == project.summary()
    for r1, r2 in zip(loaded.reviews, project.reviews, strict=True):
        assert loaded.record_hash(r1) == project.record_hash(r2)
    # the loaded project keeps working: QA's hold is released by QA, with a signature
    refused(loaded, "quality-hold", lambda: loaded.resume("pat", "ok", clock()), "H1")
    loaded.release_hold("H1", signer("qa2"), "approval", "ok", clock())
    assert loaded.open_review("g-c") is not None


def test_change_records_old_and_new_values(project: Project, clock: Clock) -> None:
    first = project.submit_deliverable("a", "a-notes", "dev1", "DMS-1", clock())
    assert first.old is None and first.new is not None and first.new["evidence"] == "DMS-1"
    second = project.submit_deliverable("a", "a-notes", "dev2", "DMS-2", clock())
    assert second.old == first.new and second.new is not None and second.new["by"] == "dev2"


# ---------------------------------------------------------------- views


def test_gate_views_waiting_open_decided(project: Project, clock: Clock) -> None:
    views = {v["id"]: v for v in project.gate_views()}
    assert [v["state"] for v in views.values()] == ["waiting"] * 4
    assert views["g-a"]["review"] is None and views["g-a"]["opened_at"] is None

    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    views = {v["id"]: v for v in project.gate_views()}
    assert views["g-a"]["state"] == "open" and views["g-a"]["review"] == 1
    assert views["g-a"]["missing"] == [{"role": "customer", "needed": 1}]
    assert [s["user"] for s in views["g-a"]["signatures"]] == ["pat"]

    project.sign("g-a", signer("cust1"), "customer", "go", "approval", clock())
    pass_phase(project, "b", clock())
    pass_phase(project, "c", clock())
    complete_work(project, "d", clock())
    project.sign("g-d", signer("qa1"), "qa", "go", "approval", clock())
    views = {v["id"]: v for v in project.gate_views()}
    assert views["g-a"]["state"] == "decided" and views["g-a"]["outcome"] == "go"
    assert views["g-a"]["missing"] == []
    assert views["g-d"]["missing"] == [
        {"role": "qa", "needed": 1},
        {"role": "customer", "needed": 1},
    ]
    summary = project.summary()
    assert summary["phases"] == ["d"]
    assert summary["open_gates"][0]["gate"] == "g-d"


def test_gate_view_of_a_recycled_phase_is_waiting_whatever_the_project_state(
    project: Project, clock: Clock
) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "b", clock())
    sign_all(project, "g-b", clock(), decision="recycle")
    assert project.gate_views()[1]["state"] == "waiting"
    project.put_on_hold("pat", "audit", clock())
    assert project.gate_views()[1]["state"] == "waiting"
    assert project.gate_views()[1]["outcome"] is None


def test_events_carry_names_and_customer(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    events = project.drain_events()
    assert project.drain_events() == []
    opened = next(e for e in events if e.name == ev.GATE_OPENED)
    assert opened.gate == "g-a" and opened.phase == "a" and opened.project == "P-001"
    assert opened.data["gate_name"] == "Gate g-a" and opened.data["customer"] == "Acme Pharma"
    assert opened.data["missing"] == [
        {"role": "pm", "needed": 1},
        {"role": "customer", "needed": 1},
    ]
    json.dumps([e.to_dict() for e in events])


# ---------------------------------------------------------------- the shipped programme


def test_shipped_processes_run_to_completion_with_go(
    shipped_snapshots: list[ProcessSnapshot],
) -> None:
    """Every shipped process completes when every gate says go."""
    assert shipped_snapshots
    for snap in shipped_snapshots:
        team = {role: [f"{role}-1", f"{role}-2", f"{role}-3"] for role in snap.process.roles}
        by = team[snap.process.manager_role][0]
        project, _ = Project.start("S-1", "Acme", snap, team, by, T0)
        clock = Clock()
        for _ in range(4 * len(snap.process.phases) + 1):
            active = [p for p, r in project.phases.items() if r.state == PhaseState.ACTIVE]
            if not active and not project.open_reviews():
                break
            for pid in active:
                complete_work(project, pid, clock())
            for gid in [r.gate for r in project.open_reviews()]:
                sign_all(project, gid, clock())
        assert project.state == ProjectState.COMPLETED, (snap.process.id, states(project))


def test_a_kill_needs_a_reason_and_a_killed_project_lists_no_current_phase(
    project: Project, clock: Clock
) -> None:
    complete_work(project, "a", clock())
    refused(
        project,
        "kill-needs-reason",
        lambda: project.sign("g-a", signer("cust1"), "customer", "kill", "approval", clock()),
        "g-a",
    )
    project.sign("g-a", signer("cust1"), "customer", "kill", "approval", clock(), comment="stop")
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    assert project.state == ProjectState.KILLED
    assert project.current_phases() == []
    gate = next(g for g in project.gate_views() if g["id"] == "g-a")
    assert [r["outcome"] for r in gate["reviews"]] == ["kill"]
