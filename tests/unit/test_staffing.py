"""Impossible teams: every gate's quotas must be reachable with distinct, independent people."""

from __future__ import annotations

import pytest

from cdmo_workflow.domain.errors import RuleViolation
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.staffing import team_shortfalls

from .builders import T0, TEAM, diamond, gate, phase, snapshot


def test_the_builders_team_can_pass_every_gate() -> None:
    snap = diamond()
    assert team_shortfalls(snap.process, snap.gates, TEAM) == []


def test_one_qa_for_a_gate_needing_two_is_refused_at_start() -> None:
    team = {**TEAM, "qa": ["qa1"]}
    snap = diamond()
    found = team_shortfalls(snap.process, snap.gates, team)
    assert [(f.gate, f.role, f.needed, f.assigned) for f in found] == [("g-d", "qa", 2, 1)]
    with pytest.raises(RuleViolation) as info:
        Project.start("P-1", "Acme", snap, team, "pat", T0)
    v = info.value
    assert v.rule == "team-cannot-meet-quota"
    assert "'g-d'" in v.message and "'qa'" in v.message and "needs 2" in v.message
    assert "assigns 1" in v.message
    assert v.facts["gate"] == "g-d" and v.facts["needed"] == 2 and v.facts["assigned"] == 1


def test_a_person_counts_once_per_gate() -> None:
    # g-x needs one pm and one qa; the only pm is also the only qa.
    snap = snapshot(
        "one-person",
        ["pm", "qa"],
        [phase("x", "pm", gate_id="g-x")],
        [gate("g-x", [{"role": "pm"}, {"role": "qa"}])],
    )
    found = team_shortfalls(snap.process, snap.gates, {"pm": ["ann"], "qa": ["ann"]})
    assert len(found) == 1 and found[0].role is None and found[0].needed == 2
    assert "2 distinct signers" in found[0].message
    assert team_shortfalls(snap.process, snap.gates, {"pm": ["ann"], "qa": ["ann", "bo"]}) == []


def test_an_independent_signer_must_be_possible() -> None:
    # The only qa person owns the phase's deliverable, so cannot sign independently.
    snap = snapshot(
        "indep",
        ["pm", "qa"],
        [
            phase(
                "x",
                "qa",
                gate_id="g-x",
                deliverables=[{"id": "rep", "name": "Report", "owner": "qa"}],
            )
        ],
        [gate("g-x", [{"role": "qa", "independent": True}])],
    )
    found = team_shortfalls(snap.process, snap.gates, {"pm": ["pat"], "qa": ["q1"]})
    assert len(found) == 1 and "independent" in found[0].message
    assert team_shortfalls(snap.process, snap.gates, {"pm": ["pat"], "qa": ["q1", "q2"]}) == []
