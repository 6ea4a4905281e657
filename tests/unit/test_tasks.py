"""Task lists (pure): what waits for whom, with due dates and lateness."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cdmo_workflow.domain.delegation import Delegation
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.tasks import people_concerned, tasks_for, who_can_sign

from .builders import T0, Clock, at, complete_work, diamond, pass_phase, signer, start


def kinds(
    project: Project, user: str, now: datetime, delegations: Sequence[Delegation] = ()
) -> set[tuple[str, str]]:
    return {(t.kind, t.subject) for t in tasks_for(user, [project], delegations, now)}


def qa_delegation(hours: int = 240, delegate: str = "qa9") -> Delegation:
    return Delegation(
        id="D3",
        delegator="qa1",
        delegate=delegate,
        role="qa",
        project=None,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=hours),
        reason="leave",
        granted_by="qa1",
        granted_at=T0,
    )


def test_work_and_signatures_wait_for_their_people(project: Project, clock: Clock) -> None:
    now = clock()
    assert kinds(project, "dev1", now) == {("deliverable", "a/a-report")}
    assert kinds(project, "qc1", now) == {("check", "g-a/a-check")}
    assert kinds(project, "qa1", now) == set()
    complete_work(project, "a", clock())
    now = clock()
    assert kinds(project, "pat", now) == {("sign", "g-a")}
    (task,) = tasks_for("cust1", [project], [], now)
    assert task.roles == ("customer",) and task.due_at is None and task.late_days is None


def test_delegates_see_the_gates_they_can_sign_and_who_can_sign_is_tagged(
    project: Project, clock: Clock
) -> None:
    pass_phase(project, "a", clock())
    complete_work(project, "b", clock())
    d = qa_delegation()
    now = clock()
    (task,) = tasks_for("qa9", [project], [d], now)
    assert task.kind == "sign" and task.roles == ("qa on behalf of qa1",)
    signers = who_can_sign(project, "g-b", [d], now)
    # g-b: independent qa (dev2 contributed? no: dev1 did) and customer
    assert signers == {"qa": ["dev2", "qa1", "qa2", "qa9"], "customer": ["cust1"]}
    project.sign(
        "g-b", signer("qa9"), "qa", "go", "approval", now, on_behalf_of="qa1", delegation=d
    )
    assert who_can_sign(project, "g-b", [d], clock()) == {"customer": ["cust1"]}
    assert kinds(project, "qa1", clock(), [d]) == set()  # filled by the delegate


def test_conditions_holds_and_delegations_ending(clock: Clock) -> None:
    project = start(diamond(condition_due="2d"))
    complete_work(project, "a", clock())
    project.sign("g-a", signer("pat"), "pm", "go", "approval", clock())
    decided = clock()
    project.sign(
        "g-a",
        signer("cust1"),
        "customer",
        "conditional-go",
        "approval",
        decided,
        conditions=["sign the quality agreement"],
        condition_owner=["user:dev1"],
    )
    (cond,) = project.conditions
    assert cond.due_at == decided + timedelta(days=2)
    late = decided + timedelta(days=3)
    (task,) = [t for t in tasks_for("dev1", [project], [], late) if t.kind == "condition-close"]
    assert task.late_days == 1.0 and task.to_dict()["overdue"] is True
    project.close_condition("C1", "dev1", "QA-AGR-7", clock())
    assert ("condition-accept", "C1") in kinds(project, "cust1", late)
    assert ("condition-accept", "C1") in kinds(project, "qa2", late)
    assert ("condition-accept", "C1") not in kinds(project, "dev1", late)
    assert ("condition-accept", "C1") not in kinds(project, "pat", late)  # pm: not an acceptor
    project.put_on_hold("qa1", "audit", clock())
    assert ("hold-release", "H1") in kinds(project, "qa2", clock())
    assert kinds(project, "dev1", clock()) == set()  # nothing to do while the project is held
    d = qa_delegation(hours=48)
    ending = tasks_for("qa9", [], [d], at(60))
    assert [t.kind for t in ending] == ["delegation-ending"]
    assert tasks_for("qa9", [], [qa_delegation(hours=24 * 10)], at(60)) == []


def test_people_concerned_include_the_delegates(project: Project) -> None:
    d = qa_delegation()
    assert "qa9" in people_concerned(project, [d])
    assert "qa9" not in people_concerned(project, [])
