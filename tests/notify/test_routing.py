"""Routing is pure: events + snapshot + team -> outbox rows."""

from __future__ import annotations

from cdmo_workflow.domain import events as ev
from cdmo_workflow.domain.events import DomainEvent
from cdmo_workflow.notify.routing import (
    escalation_roles,
    outbox_rows,
    people_of,
    reminder_rows,
    roles_for,
)
from tests.notify.factories import TEAM, snapshot


def recipients(rows: list[dict]) -> list[str]:
    return [r["recipient"] for r in rows]


def test_opened_defaults_to_signoff_roles_and_manager() -> None:
    snap = snapshot()
    e = DomainEvent(ev.GATE_OPENED, "P-1", phase="scoping", gate="g-scoping")
    rows = outbox_rows([e], snap, TEAM, audit_seq=7)
    assert recipients(rows) == ["quinn", "quentin", "carla", "paula"]
    assert rows[0]["dedup_key"] == "P-1:7:0:quinn"
    assert {r["notify_event"] for r in rows} == {"opened"}
    assert {r["event"] for r in rows} == {"gate.opened"}
    assert rows[0]["gate"] == "g-scoping" and rows[0]["project"] == "P-1"
    assert rows[0]["payload"]["gate_name"] == "G Scoping"
    assert rows[0]["payload"]["phase_name"] == "Scoping"
    assert rows[0]["payload"]["event"] == e.to_dict()


def test_builtin_defaults_for_each_event() -> None:
    snap = snapshot()
    team_all = ["paula", "quinn", "quentin", "carla", "pedro", "hugo", "ada"]
    cases = {
        ev.GATE_SIGNED: ["paula"],
        ev.GATE_DECIDED: team_all,
        ev.PROJECT_STARTED: team_all,
        ev.PROJECT_KILLED: team_all,
        ev.PHASE_ACTIVATED: ["pedro", "paula"],
        ev.CONDITION_OPENED: ["pedro", "paula"],
    }
    for name, expected in cases.items():
        e = DomainEvent(name, "P-1", phase="development", gate="g-dev")
        assert sorted(recipients(outbox_rows([e], snap, TEAM, 1))) == sorted(expected), name


def test_unannounced_events_make_no_rows() -> None:
    e = DomainEvent(ev.DELIVERABLE_SUBMITTED, "P-1", phase="scoping")
    assert outbox_rows([e], snapshot(), TEAM, 1) == []


def test_gate_notify_wins_over_process_then_defaults() -> None:
    snap = snapshot(
        process_notify={"decided": ["head"], "default": ["pm"]},
        gate_extra={"notify": {"decided": ["customer"], "default": ["qa"]}},
    )
    decided = DomainEvent(ev.GATE_DECIDED, "P-1", phase="scoping", gate="g-scoping")
    assert recipients(outbox_rows([decided], snap, TEAM, 1)) == ["carla"]
    # g-dev has no notify block: the process's decided entry applies
    decided_dev = DomainEvent(ev.GATE_DECIDED, "P-1", phase="development", gate="g-dev")
    assert recipients(outbox_rows([decided_dev], snap, TEAM, 1)) == ["hugo"]
    # signed is named nowhere: the gate's default, then the process default
    signed = DomainEvent(ev.GATE_SIGNED, "P-1", phase="scoping", gate="g-scoping")
    assert recipients(outbox_rows([signed], snap, TEAM, 1)) == ["quinn", "quentin"]
    signed_dev = DomainEvent(ev.GATE_SIGNED, "P-1", phase="development", gate="g-dev")
    assert recipients(outbox_rows([signed_dev], snap, TEAM, 1)) == ["paula"]


def test_people_are_deduplicated_and_keys_unique() -> None:
    snap = snapshot(process_notify={"started": ["pm", "pd"]})
    e = DomainEvent(ev.PROJECT_STARTED, "P-1")
    rows = outbox_rows([e, e], snap, TEAM, 3)
    assert recipients(rows) == ["paula", "pedro", "paula", "pedro"]
    keys = [r["dedup_key"] for r in rows]
    assert keys == ["P-1:3:0:paula", "P-1:3:0:pedro", "P-1:3:1:paula", "P-1:3:1:pedro"]
    assert people_of(["pd", "pm", "nobody"], TEAM) == ["pedro", "paula"]


def test_payload_carries_names_decision_and_override() -> None:
    snap = snapshot(messages={"decided": {"subject": "{{ project }} -> {{ decision }}"}})
    e = DomainEvent(
        ev.GATE_DECIDED,
        "P-1",
        phase="scoping",
        gate="g-scoping",
        data={"decision": "go", "signers": [{"user": "quinn", "role": "qa"}]},
    )
    ctx = {"customer": "Acme Pharma", "people": {"quinn": "Quinn Q."}, "flow_run_id": "abc"}
    row = outbox_rows([e], snap, TEAM, 1, context=ctx)[0]
    p = row["payload"]
    assert p["customer"] == "Acme Pharma"
    assert p["decision"] == "go"
    assert p["process_name"] == "API programme"
    assert p["flow_run_id"] == "abc"
    assert p["template"] == {"subject": "{{ project }} -> {{ decision }}", "body": None}


def test_roles_for_security_and_escalation() -> None:
    snap = snapshot()
    assert roles_for("security", snap, TEAM) == ["admin", "pm"]
    g = snap.gates["g-scoping"]
    assert escalation_roles(snap, g) == ["pm"]
    snap2 = snapshot(gate_extra={"sla": {"decide_within": "5d", "escalate_to": ["head"]}})
    assert escalation_roles(snap2, snap2.gates["g-scoping"]) == ["head"]


def test_reminder_rows_have_stable_period_keys() -> None:
    rows = reminder_rows(
        snapshot=snapshot(),
        project="P-1",
        phase="scoping",
        gate_id="g-scoping",
        review=2,
        period=3,
        recipients=["quinn", "quinn", "carla"],
        missing_roles=["qa", "customer"],
        opened_at="2026-01-05T09:00:00+00:00",
        due_at=None,
    )
    assert [r["dedup_key"] for r in rows] == [
        "P-1:sla:g-scoping:2:reminder:3:quinn",
        "P-1:sla:g-scoping:2:reminder:3:carla",
    ]
    assert rows[0]["notify_event"] == "reminder"
    assert rows[0]["payload"]["missing_roles"] == ["qa", "customer"]
