"""Project documents stored before issue #16 still load and behave as they did: conditions
copied per successor without owner (closed by the phase owner or the PM, no acceptance),
the single ``hold`` of a held project, signatures without delegation fields."""

from __future__ import annotations

import json
from typing import Any

from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import PhaseState, ProjectState

from .builders import Clock, complete_work, diamond, sign_all, start
from .test_project_rules import refused


def _as_stored_before(project: Project) -> dict[str, Any]:
    """The document as the previous version wrote it: no holds, conditions without owners."""
    doc = json.loads(json.dumps(project.to_dict()))
    doc.pop("holds", None)
    for c in doc["conditions"]:
        for key in (
            "phases",
            "review",
            "raised_role",
            "raised_on_behalf_of",
            "owner_role",
            "owner_user",
            "due_at",
            "needs_acceptance",
            "accepted_by",
            "accepted_at",
            "accept_comment",
            "rejections",
        ):
            c.pop(key, None)
    for r in doc["reviews"]:
        for s in r["signatures"]:
            s.pop("condition_terms", None)
    return doc


def _legacy_conditions(doc: dict[str, Any]) -> dict[str, Any]:
    """Two copies of one condition, one per successor, as the old engine raised them."""
    (c,) = doc["conditions"]
    doc["conditions"] = [
        {**c, "id": "C1", "phase": "b", "state": "open"},
        {**c, "id": "C2", "phase": "c", "state": "open"},
    ]
    return doc


def test_old_conditions_load_and_close_as_before(clock: Clock) -> None:
    project = start(diamond())
    complete_work(project, "a", clock())
    sign_all(project, "g-a", clock(), decision="conditional-go", conditions=["update the FMEA"])
    doc = _legacy_conditions(_as_stored_before(project))
    old = Project.from_dict(doc, project.snapshot)
    c1, c2 = old.conditions
    assert (c1.phases, c2.phases) == (["b"], ["c"]) and not c1.needs_acceptance
    assert c1.owner is None
    complete_work(old, "b", clock())
    assert old.phases["b"].state == PhaseState.ACTIVE  # C1 still blocks b
    refused(old, "not-condition-owner", lambda: old.close_condition("C1", "qa1", "E", clock()))
    old.close_condition("C1", "dev1", "DMS-9", clock())  # b's owner, as before
    assert old.phases["b"].state == PhaseState.GATE_REVIEW  # closed is done for old ones
    refused(
        old,
        "condition-needs-no-acceptance",
        lambda: old.accept_condition("C1", "qa1", clock()),
    )
    old.close_condition("C2", "pat", "DMS-10", clock())  # the project manager, as before
    assert old.open_conditions() == []
    assert json.loads(json.dumps(old.to_dict()))["conditions"][0]["phase"] == "b"


def test_an_old_single_hold_loads_as_the_first_hold_and_resumes(clock: Clock) -> None:
    project = start(diamond())
    project.put_on_hold("pat", "budget review", clock())
    doc = _as_stored_before(project)
    assert "holds" not in doc and doc["hold"]["reason"] == "budget review"
    old = Project.from_dict(doc, project.snapshot)
    assert old.state == ProjectState.ON_HOLD and old.hold is not None and old.hold.id == "H1"
    old.resume("pat", "approved", clock())
    assert old.state == ProjectState.ACTIVE and old.holds[0].released_by == "pat"


def test_old_signatures_have_no_delegation(clock: Clock) -> None:
    project = start(diamond())
    complete_work(project, "a", clock())
    sign_all(project, "g-a", clock())
    old = Project.from_dict(_as_stored_before(project), project.snapshot)
    sig = old.reviews[0].signatures[0]
    assert sig.on_behalf_of is None and sig.principal == sig.user and sig.delegation is None
    assert "on_behalf_of" not in sig.to_dict()
