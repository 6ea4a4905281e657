"""Quality holds (pure): the quality role holds the project or a phase at any time, and only a
signature of the quality role releases it; the manager's own hold keeps its behaviour."""

from __future__ import annotations

from cdmo_workflow.domain import events as ev
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import PhaseState, ProjectState, sha256_of

from .builders import Clock, complete_work, pass_phase, signer
from .test_project_rules import names, refused


def test_the_manager_hold_is_as_before(project: Project, clock: Clock) -> None:
    change = project.put_on_hold("pat", "budget review", clock())
    assert project.state == ProjectState.ON_HOLD and project.hold is not None
    assert change.new is not None and change.new["quality"] is False and change.new["id"] == "H1"
    project.resume("pat", "budget approved", clock())
    assert project.state == ProjectState.ACTIVE and project.hold is None
    assert project.holds[0].released_by == "pat"  # the history stays


def test_a_quality_hold_is_released_only_by_the_quality_role(
    project: Project, clock: Clock
) -> None:
    project.put_on_hold("qa1", "OOS result on batch 3", clock())
    assert project.holds[-1].quality and project.state == ProjectState.ON_HOLD
    refused(project, "quality-hold", lambda: project.resume("pat", "go on", clock()), "H1")
    refused(
        project,
        "not-quality-role",
        lambda: project.release_hold("H1", signer("pat"), "approval", "go on", clock()),
        "manager cannot release it alone",
    )
    refused(
        project,
        "invalid-meaning",
        lambda: project.release_hold("H1", signer("qa2"), "liking", "ok", clock()),
    )
    refused(
        project,
        "reason-required",
        lambda: project.release_hold("H1", signer("qa2"), "approval", " ", clock()),
    )
    now = clock()
    record = sha256_of(project.holds[0].record(project.code))
    change = project.release_hold("H1", signer("qa2"), "approval", "investigation closed", now)
    assert project.state == ProjectState.ACTIVE
    sig = project.holds[0].release_signature
    assert sig is not None and sig["user"] == "qa2" and sig["role"] == "qa"
    assert sig["meaning"] == "approval" and sig["record_hash"] == record
    assert change.new is not None and change.new["signed_at"] == sig["signed_at"]
    refused(
        project,
        "hold-released",
        lambda: project.release_hold("H1", signer("qa1"), "approval", "again", clock()),
    )


def test_quality_may_hold_a_held_project_and_both_must_release(
    project: Project, clock: Clock
) -> None:
    project.put_on_hold("pat", "customer funding", clock())
    project.put_on_hold("qa1", "audit finding", clock())
    refused(project, "already-held", lambda: project.put_on_hold("qa2", "another", clock()), "H2")
    project.resume("pat", "funding back", clock())
    assert project.state == ProjectState.ON_HOLD  # QA's hold remains
    assert ev.HOLD_RELEASED in names(project)
    project.release_hold("H2", signer("qa2"), "approval", "finding closed", clock())
    assert project.state == ProjectState.ACTIVE


def test_a_phase_hold_stops_that_phase_only(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    refused(
        project,
        "phase-hold-needs-quality-role",
        lambda: project.put_on_hold("pat", "r", clock(), "b"),
    )
    project.put_on_hold("qa1", "deviation DEV-9 under investigation", clock(), "b")
    assert project.state == ProjectState.ACTIVE
    assert ev.PHASE_ON_HOLD in names(project)
    refused(
        project,
        "phase-on-hold",
        lambda: project.submit_deliverable("b", "b-report", "dev1", "DMS-1", clock()),
        "H1",
    )
    # c goes on
    complete_work(project, "c", clock())
    assert project.phases["c"].state == PhaseState.GATE_REVIEW
    refused(project, "already-held", lambda: project.put_on_hold("qa2", "again", clock(), "b"))
    project.release_hold("H1", signer("qa2"), "review", "DEV-9 closed", clock())
    complete_work(project, "b", clock())
    assert project.phases["b"].state == PhaseState.GATE_REVIEW


def test_a_phase_held_in_gate_review_refuses_signatures(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "c", clock())
    project.put_on_hold("qa1", "CoA discrepancy", clock(), "c")
    refused(
        project,
        "phase-on-hold",
        lambda: project.sign("g-c", signer("pat"), "pm", "go", "approval", clock()),
    )
    refused(
        project,
        "phase-completed",
        lambda: project.put_on_hold("qa1", "late", clock(), "a"),
    )


def test_a_quality_veto_hold_is_a_quality_hold_and_reopens_its_gate(
    project: Project, clock: Clock
) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "c", clock())
    project.sign("g-c", signer("qa1"), "qa", "hold", "review", clock())  # g-c: qa is a veto
    hold = project.holds[-1]
    assert hold.quality and hold.gate == "g-c" and project.state == ProjectState.ON_HOLD
    refused(project, "quality-hold", lambda: project.resume("pat", "go", clock()))
    project.release_hold(str(hold.id), signer("qa2"), "approval", "resolved", clock())
    review = project.open_review("g-c")
    assert review is not None and review.number == 2


def test_a_manager_decided_hold_stays_the_managers(project: Project, clock: Clock) -> None:
    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "hold", "review", clock())
    project.sign("g-a", signer("cust1"), "customer", "go", "approval", clock())
    hold = project.holds[-1]
    assert not hold.quality and hold.gate == "g-a"
    refused(
        project,
        "not-a-quality-hold",
        lambda: project.release_hold(str(hold.id), signer("qa1"), "approval", "x", clock()),
    )
    project.resume("pat", "decided", clock())
    assert project.open_review("g-a") is not None


def test_no_one_else_may_hold(project: Project, clock: Clock) -> None:
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.put_on_hold("dev1", "r", clock()),
        "'pm'",
        "'qa'",
    )
    refused(project, "reason-required", lambda: project.put_on_hold("qa1", "", clock()))
