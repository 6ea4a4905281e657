"""The simulator's tables agree with the scenario model, and its watcher sends exactly what
the real watcher's rule would send at every 15-minute wake-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdmo_workflow.domain.project import Project, Signer
from cdmo_workflow.notify.sla_notices import due_notices
from cdmo_workflow.simulation.expectations import EXPECTATIONS
from cdmo_workflow.simulation.steps import STEPS
from cdmo_workflow.simulation.watch import SimulatedWatcher
from cdmo_workflow.spec.catalog import snapshot_hash
from cdmo_workflow.spec.loader import load_catalog
from cdmo_workflow.spec.models import ProcessSnapshot
from cdmo_workflow.spec.scenario import STEP_KINDS, Expectation, Step
from cdmo_workflow.spec.scenario_checks import SCENARIO_CONTAINERS

from .conftest import REPO

MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EVERY = timedelta(minutes=15)


def test_one_step_kind_per_field_of_the_model() -> None:
    assert tuple(STEPS) == STEP_KINDS == tuple(Step.model_fields)


def test_one_check_per_expectation_field() -> None:
    assert ["refused", *EXPECTATIONS] == list(Expectation.model_fields)


def test_commands_are_the_steps_with_arguments_models() -> None:
    commands = [kind for kind, step in STEPS.items() if step.command]
    assert commands == [
        "submit",
        "confirm",
        "sign",
        "close",
        "accept",
        "reject",
        "hold",
        "resume",
        "release",
    ]
    assert all(kind in SCENARIO_CONTAINERS for kind in commands)
    assert all(STEPS[k].run is not None for k in STEP_KINDS if k not in commands)


def _snapshot() -> ProcessSnapshot:
    catalog = load_catalog(REPO)
    process = catalog.process("api-clinical-program")
    gates = catalog.gates_of("api-clinical-program")
    return ProcessSnapshot(process=process, gates=gates, version_hash=snapshot_hash(process, gates))


SNAPSHOT = _snapshot()
TEAM = {
    "pm": ["paula"],
    "customer": ["carl"],
    "site-head": ["sita"],
    "pd": ["pedro"],
    "qc": ["quinn"],
    "mfg": ["mia"],
    "qa": ["quentin"],
    "ra": ["rae"],
}


def _open_scoping_gate(at: datetime) -> Project:
    project, _ = Project.start("SIM-1", "Helix", SNAPSHOT, TEAM, "paula", MONDAY)
    for d in SNAPSHOT.process.phases[0].deliverables:
        project.submit_deliverable("scoping", d.id, TEAM[d.owner][0], "DMS-1", at)
    project.confirm_check("scoping-go", "capacity-confirmed", "paula", "DMS-2", at)
    assert project.open_review("scoping-go") is not None
    return project


def _brute_force(project: Project, start: datetime, end: datetime, sent: set[object]) -> set:
    """The real watcher's rule, asked at every 15-minute wake-up from the origin."""
    out = set()
    document = project.to_dict()
    t = MONDAY + ((start - MONDAY) // EVERY + 1) * EVERY
    while t <= end:
        for n in due_notices(document, project.snapshot, t):
            if n.key not in sent:
                sent.add(n.key)
                out.add((t, n.key))
        t += EVERY
    return out


@settings(max_examples=25, deadline=None)
@given(
    opened_after=st.integers(min_value=0, max_value=7 * 24 * 4),
    signed=st.sets(st.sampled_from(["paula", "carl"])),
    hops=st.lists(st.integers(min_value=1, max_value=9 * 24 * 4), min_size=1, max_size=4),
)
def test_the_simulated_watcher_is_the_real_rule_at_every_wakeup(
    opened_after: int, signed: set[str], hops: list[int]
) -> None:
    """Quarter-hours: the gate opens at any of them, the clock jumps by any number of them."""
    opened = MONDAY + opened_after * EVERY
    project = _open_scoping_gate(opened)
    roles = {"paula": "pm", "carl": "customer"}
    for user in sorted(signed):
        project.sign("scoping-go", Signer(user, user), roles[user], "go", "approval", opened)
    watcher = SimulatedWatcher(MONDAY, EVERY)
    sent: set[object] = set()
    now = opened
    for hop in hops:
        until = now + hop * EVERY
        fast = {(b.at, n.key) for b in watcher.advance(project, now, until, {}) for n in b.notices}
        slow = _brute_force(project, now, until, sent)
        assert fast == slow
        now = until


@pytest.mark.parametrize("state", ["on-hold", "decided"])
def test_no_notice_while_the_project_is_not_active(state: str) -> None:
    project = _open_scoping_gate(MONDAY)
    if state == "on-hold":
        project.put_on_hold("paula", "audit", MONDAY)
    else:
        for user, role in (("paula", "pm"), ("carl", "customer"), ("sita", "site-head")):
            project.sign("scoping-go", Signer(user, user), role, "go", "approval", MONDAY)
        assert project.open_review("scoping-go") is None
    watcher = SimulatedWatcher(MONDAY, EVERY)
    assert watcher.advance(project, MONDAY, MONDAY + timedelta(weeks=5), {}) == []
