"""Team changes on a running project (pure): who may, what stays valid, what is refused."""

from __future__ import annotations

from cdmo_workflow.domain import events as ev
from cdmo_workflow.domain.project import Project

from .builders import Clock, complete_work, diamond, pass_phase, signer, start
from .test_project_rules import refused


def test_the_manager_adds_replaces_and_removes(project: Project, clock: Clock) -> None:
    change = project.change_team("add", "qa", "qa3", None, "pat", "second QA", clock())
    assert project.team["qa"] == ["qa1", "qa2", "dev2", "qa3"]
    assert change.action == "team.add" and change.subject == "qa/qa3"
    assert change.old == {"qa": ["qa1", "qa2", "dev2"]}
    (event,) = [e for e in project.drain_events() if e.name == ev.TEAM_CHANGED]
    assert event.data["notify_users"] == ["qa3", "pat"]
    project.change_team("replace", "qa", "qa1", "qa4", "pat", "qa1 moved site", clock())
    assert project.team["qa"] == ["qa4", "qa2", "dev2", "qa3"]
    event = next(e for e in project.drain_events() if e.name == ev.TEAM_CHANGED)
    assert event.data["notify_users"] == ["qa1", "qa4", "pat"]
    project.change_team("remove", "qa", "qa3", None, "pat", "not needed", clock())
    assert "qa3" not in project.team["qa"]
    assert project.summary()["people"] == sorted(
        {"pat", "dev1", "dev2", "qc1", "qa4", "qa2", "cust1"}
    )


def test_team_change_refusals(project: Project, clock: Clock) -> None:
    refused(
        project,
        "not-project-manager",
        lambda: project.change_team("add", "qa", "qa3", None, "qa1", "me too", clock()),
        "qa1",
    )
    refused(
        project,
        "reason-required",
        lambda: project.change_team("add", "qa", "qa3", None, "pat", " ", clock()),
    )
    refused(
        project,
        "unknown-role",
        lambda: project.change_team("add", "ghost", "qa3", None, "pat", "r", clock()),
    )
    refused(
        project,
        "already-assigned",
        lambda: project.change_team("add", "qa", "qa1", None, "pat", "r", clock()),
    )
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.change_team("remove", "qa", "nobody", None, "pat", "r", clock()),
    )
    refused(
        project,
        "manager-required",
        lambda: project.change_team("remove", "pm", "pat", None, "pat", "leaving", clock()),
    )
    refused(
        project,
        "invalid-identifier",
        lambda: project.change_team("add", "qa", "bad id", None, "pat", "r", clock()),
    )
    # an administrator may restaff (the service says who is one)
    project.change_team("add", "qa", "qa3", None, "ada", "PM away", clock(), by_is_admin=True)


def test_a_change_that_makes_a_gate_impossible_is_refused_naming_it(
    project: Project, clock: Clock
) -> None:
    """g-d needs two independent qa; the customer role has one person."""
    refused(
        project,
        "team-cannot-meet-quota",
        lambda: project.change_team("remove", "customer", "cust1", None, "pat", "r", clock()),
        "'g-a'",
    )
    project.change_team("remove", "qa", "qa1", None, "pat", "r", clock())
    refused(
        project,
        "team-cannot-meet-quota",
        lambda: project.change_team("remove", "qa", "qa2", None, "pat", "r", clock()),
        "'g-d'",
    )
    refused(
        project,
        "team-cannot-deliver",
        lambda: project.change_team("remove", "qc", "qc1", None, "pat", "r", clock()),
        "'a-check'",
    )


def test_signatures_already_given_stay_valid_and_count(clock: Clock) -> None:
    project = start(diamond())
    for pid in ("a", "b", "c"):
        pass_phase(project, pid, clock())
    complete_work(project, "d", clock())
    project.sign("g-d", signer("qa1"), "qa", "go", "approval", clock())
    # qa1 signed; removing qa1 leaves qa2 and dev2 (dev2 contributed to d? no: dev1 did)
    project.change_team("remove", "qa", "qa1", None, "pat", "left the company", clock())
    review = project.open_review("g-d")
    assert review is not None and [s.user for s in review.signatures] == ["qa1"]
    assert project.missing(review) == [
        {"role": "qa", "needed": 1},
        {"role": "customer", "needed": 1},
    ]
    # removing one more would leave one unsigned qa for the one slot: still fine
    project.change_team("remove", "qa", "dev2", None, "pat", "r", clock())
    # but not the last one
    refused(
        project,
        "team-cannot-meet-quota",
        lambda: project.change_team("remove", "qa", "qa2", None, "pat", "r", clock()),
        "'g-d'",
        "more",
    )
    refused(
        project,
        "not-assigned-to-role",
        lambda: project.sign("g-d", signer("qa1"), "qa", "go", "approval", clock()),
    )


def test_replacing_hands_over_owned_conditions_and_removing_is_refused(
    project: Project, clock: Clock
) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "c", clock())
    project.sign(
        "g-c",
        signer("qa1"),
        "qa",
        "conditional-go",
        "approval",
        clock(),
        conditions=["bridge study"],
        condition_owner=["user:qc1"],
    )
    project.sign("g-c", signer("pat"), "pm", "go", "approval", clock())
    refused(
        project,
        "owns-open-conditions",
        lambda: project.change_team("remove", "qc", "qc1", None, "pat", "r", clock()),
        "C1",
    )
    project.change_team("add", "qc", "qc2", None, "pat", "second analyst", clock())
    project.change_team("replace", "qc", "qc1", "qc3", "pat", "qc1 left", clock())
    assert project.conditions[0].owner_user == "qc3"
