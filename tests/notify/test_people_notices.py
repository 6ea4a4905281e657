"""Who hears of the people events (pure): condition owners and acceptors, the people a team
change concerns, and the SLA watcher's condition reminders and escalations."""

from __future__ import annotations

from datetime import timedelta

from cdmo_workflow.domain.project import Project
from cdmo_workflow.notify.routing import outbox_rows
from cdmo_workflow.notify.templates import render
from cdmo_workflow.notify.watcher import due_notices
from cdmo_workflow.spec.models import ProcessSnapshot
from tests.unit.builders import T0, TEAM, gate, phase, signer, snapshot


def _snap() -> ProcessSnapshot:
    phases = [
        phase("a", "dev", deliverables=[{"id": "a-report", "name": "A", "owner": "dev"}]),
        phase("b", "dev", after=["a"]),
    ]
    gates = [
        gate(
            "g-a",
            [{"role": "pm"}, {"role": "qa"}],
            condition_due="2d",
            sla={"decide_within": "5d", "remind_every": "1d", "escalate_to": ["customer"]},
        ),
        gate("g-b", [{"role": "qa"}], decisions=["go", "kill"]),
    ]
    return snapshot("notices", ("pm", "dev", "qc", "qa", "customer"), phases, gates)


def _project() -> tuple[Project, ProcessSnapshot]:
    snap = _snap()
    project, _ = Project.start("N-1", "Acme", snap, dict(TEAM), "pat", T0)
    project.submit_deliverable("a", "a-report", "dev1", "DMS-1", T0)
    project.sign("g-a", signer("pat"), "pm", "go", "approval", T0)
    project.drain_events()
    project.sign(
        "g-a",
        signer("qa1"),
        "qa",
        "conditional-go",
        "approval",
        T0,
        conditions=["Close CAPA-17"],
        condition_owner=["user:qc1"],
    )
    return project, snap


def test_the_owner_hears_of_a_condition_raised() -> None:
    project, snap = _project()
    rows = outbox_rows(project.drain_events(), snap, project.team, 7)
    opened = [r for r in rows if r["notify_event"] == "condition-opened"]
    assert "qc1" in {r["recipient"] for r in opened}  # the owner, not a role of the phase
    message = render(opened[0]["payload"])
    assert "Owner: user:qc1" in message.body and "Due:" in message.body


def test_acceptors_hear_of_a_closure_and_the_closer_of_the_verdict() -> None:
    project, snap = _project()
    project.drain_events()
    project.close_condition("C1", "qc1", "CAPA-17-CLOSURE", T0 + timedelta(hours=1))
    rows = outbox_rows(project.drain_events(), snap, project.team, 8)
    told = {r["recipient"] for r in rows if r["notify_event"] == "condition-closed"}
    assert {"qa1", "qa2", "dev2"} <= told  # the quality role (the raiser's role too)
    project.reject_condition("C1", "qa2", "effectiveness check missing", T0 + timedelta(hours=2))
    rows = outbox_rows(project.drain_events(), snap, project.team, 9)
    assert "qc1" in {r["recipient"] for r in rows if r["notify_event"] == "condition-rejected"}
    assert "effectiveness check missing" in render(rows[-1]["payload"]).body


def test_a_team_change_tells_the_people_it_concerns() -> None:
    project, snap = _project()
    project.drain_events()
    project.change_team("remove", "qa", "dev2", None, "pat", "moved", T0)
    rows = outbox_rows(project.drain_events(), snap, project.team, 10)
    assert {r["recipient"] for r in rows} >= {"dev2", "pat"}
    body = render(rows[0]["payload"]).body
    assert "leaves role qa" in body and "moved" in body


def test_the_watcher_reminds_and_escalates_conditions_like_gates() -> None:
    project, snap = _project()
    doc = project.to_dict()

    def kinds(at_hours: float) -> set[tuple[str, str, int]]:
        notices = due_notices(doc, snap, T0 + timedelta(hours=at_hours))
        return {(n.kind, n.recipient, n.period) for n in notices if n.gate == "condition:C1"}

    assert kinds(12) == set()
    assert kinds(25) == {("c-reminder", "qc1", 1)}
    # due after 2 days: strictly after, the owner and the escalation role hear of it
    assert ("c-escalation", "cust1", 1) not in kinds(48)
    late = kinds(49)
    assert {("c-reminder", "qc1", 2), ("c-escalation", "qc1", 1)} <= late
    assert ("c-escalation", "cust1", 1) in late
    # once closed, the acceptors are reminded; once accepted, nobody
    project.close_condition("C1", "qc1", "CAPA-17-CLOSURE", T0 + timedelta(hours=50))
    doc = project.to_dict()
    reminded = {n.recipient for n in due_notices(doc, snap, T0 + timedelta(hours=73))}
    assert {"qa1", "qa2"} <= reminded and "qc1" not in {
        n.recipient
        for n in due_notices(doc, snap, T0 + timedelta(hours=73))
        if n.kind == "c-reminder"
    }
    project.accept_condition("C1", "qa2", T0 + timedelta(hours=74))
    doc = project.to_dict()
    assert not [
        n for n in due_notices(doc, snap, T0 + timedelta(hours=99)) if n.gate == "condition:C1"
    ]
