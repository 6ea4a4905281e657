"""A recycle resets only the phases on its path; the phase owner carries still-valid
deliverables forward (pure)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cdmo_workflow.domain import events as ev
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import PhaseState
from cdmo_workflow.spec.graph import between, downstream, graph_of, upstream

from .builders import Clock, complete_work, diamond, pass_phase, sign_all, signer, start
from .test_project_rules import names, refused, states


def test_a_completed_parallel_branch_keeps_its_state_and_signatures() -> None:
    """b's gate recycles to a: the path is a → b; c (a parallel branch, fully signed) stays."""
    project = start(diamond(recycle_to_b="a"))
    clock = Clock()
    pass_phase(project, "a", clock())
    pass_phase(project, "c", clock())
    c_before = project.phases["c"].to_dict()
    c_review = project.latest_review("g-c")
    complete_work(project, "b", clock())
    project.drain_events()
    sign_all(project, "g-b", clock(), decision="recycle")
    assert states(project) == {"a": "active", "b": "pending", "c": "completed", "d": "pending"}
    assert project.phases["c"].to_dict() == c_before
    assert project.latest_review("g-c") is c_review and c_review is not None
    assert [e for e in names(project) if e == ev.PHASE_RESET] == [ev.PHASE_RESET]  # b only
    assert project.recycle_scope("g-b") == ["b"]
    # a passes again: b restarts, c is not redone, d waits for b
    pass_phase(project, "a", clock())
    assert states(project) == {"a": "completed", "b": "active", "c": "completed", "d": "pending"}
    pass_phase(project, "b", clock())
    assert project.phases["d"].state == PhaseState.ACTIVE


def test_recycle_resets_downstream_keeps_the_old_behaviour() -> None:
    project = start(diamond(recycle_to_b="a", recycle_resets="downstream"))
    clock = Clock()
    pass_phase(project, "a", clock())
    pass_phase(project, "c", clock())
    complete_work(project, "b", clock())
    sign_all(project, "g-b", clock(), decision="recycle")
    assert states(project) == {"a": "active", "b": "pending", "c": "pending", "d": "pending"}
    assert project.recycle_scope("g-b") == ["b", "c", "d"]


def test_the_phase_owner_carries_a_still_valid_deliverable_forward() -> None:
    project = start(diamond(recycle_to_b="a"))
    clock = Clock()
    pass_phase(project, "a", clock())
    original = project.phases["a"].deliverables["a-report"]
    complete_work(project, "b", clock())
    sign_all(project, "g-b", clock(), decision="recycle")
    run = project.phases["a"]
    assert run.deliverables == {} and set(run.carryable) == {"a-report"}
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.carry_deliverable("a", "a-report", "qc1", "still valid", clock()),
    )
    refused(
        project,
        "reason-required",
        lambda: project.carry_deliverable("a", "a-report", "dev1", " ", clock()),
    )
    refused(
        project,
        "nothing-to-carry",
        lambda: project.carry_deliverable("a", "a-notes", "dev1", "same", clock()),
    )
    refused(
        project,
        "phase-not-active",
        lambda: project.carry_deliverable("b", "b-report", "dev1", "same", clock()),
    )
    change = project.carry_deliverable("a", "a-report", "dev2", "method unchanged", clock())
    carried = project.phases["a"].deliverables["a-report"]
    assert (carried.by, carried.evidence, carried.at) == (
        original.by,
        original.evidence,
        original.at,
    )
    assert carried.carried is not None and carried.carried["by"] == "dev2"
    assert carried.carried["from_cycle"] == 1 and change.action == "deliverable.carry"
    assert "dev2" in project.phases["a"].contributors
    refused(
        project,
        "already-submitted",
        lambda: project.carry_deliverable("a", "a-report", "dev1", "again", clock()),
    )
    project.confirm_check("g-a", "a-check", "qc1", "CHK-2", clock())
    assert project.open_review("g-a") is not None  # the carried report counts


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    n = draw(st.integers(2, 7))
    ids = [f"p{i}" for i in range(n)]
    return {
        pid: sorted(draw(st.sets(st.sampled_from(ids[:i]), max_size=i))) if i else []
        for i, pid in enumerate(ids)
    }


@settings(max_examples=300, deadline=None)
@given(graph=dags(), data=st.data())
def test_the_path_lies_between_its_ends(graph: dict[str, list[str]], data: st.DataObject) -> None:
    """``between(g, s, t)``: s and t included, every phase after s and before t, and only
    those; a recycle scope is a subset of the old downstream scope."""
    target = data.draw(st.sampled_from(sorted(graph)))
    later = sorted(downstream(graph, target) | {target})
    gated = data.draw(st.sampled_from(later))
    path = between(graph, target, gated)
    assert target in path and gated in path
    for pid in path:
        assert pid == target or pid in downstream(graph, target)
        assert pid == gated or pid in upstream(graph, gated)
    for pid in graph:
        on = (pid == target or pid in downstream(graph, target)) and (
            pid == gated or pid in upstream(graph, gated)
        )
        assert (pid in path) == on
    assert path - {target} <= downstream(graph, target)


def test_graph_of_the_diamond() -> None:
    g = graph_of(diamond().process)
    assert between(g, "a", "d") == {"a", "b", "c", "d"}
    assert between(g, "a", "b") == {"a", "b"}
    assert between(g, "b", "c") == set()


def test_recycle_to_itself_resets_nothing_else(project: Project, clock: Clock) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "b", clock())
    project.sign("g-b", signer("qa1"), "qa", "recycle", "review", clock())
    project.sign("g-b", signer("cust1"), "customer", "go", "approval", clock())
    assert project.recycle_scope("g-b") == []
    assert states(project)["b"] == "active" and project.phases["b"].cycle == 2
