"""Small builders of process snapshots and projects for the pure unit tests.

Everything here is plain data: no loader, no YAML, no database. Times are explicit UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cdmo_workflow.domain.project import Project, Signer
from cdmo_workflow.domain.records import PhaseState
from cdmo_workflow.spec.models import SCHEMA_V1, Decision, GateDef, ProcessDef, ProcessSnapshot

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday


def at(minutes: int) -> datetime:
    """A moment ``minutes`` after :data:`T0`."""
    return T0 + timedelta(minutes=minutes)


def gate(
    gate_id: str,
    signoffs: Sequence[Mapping[str, Any]],
    *,
    checks: Sequence[Mapping[str, Any]] = (),
    decisions: Sequence[str] | None = None,
    recycle_to: str | None = None,
    **extra: Any,
) -> GateDef:
    data: dict[str, Any] = {
        "schema": SCHEMA_V1,
        "kind": "gate",
        "id": gate_id,
        "name": f"Gate {gate_id}",
        "checks": [dict(c) for c in checks],
        "signoffs": [dict(s) for s in signoffs],
        **extra,
    }
    if decisions is not None:
        data["decisions"] = list(decisions)
    if recycle_to is not None:
        data["recycle_to"] = recycle_to
    return GateDef.model_validate(data)


def phase(
    phase_id: str,
    owner: str,
    *,
    after: Sequence[str] = (),
    deliverables: Sequence[Mapping[str, Any]] = (),
    gate_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": phase_id,
        "name": f"Phase {phase_id}",
        "owner": owner,
        "after": list(after),
        "deliverables": [dict(d) for d in deliverables],
        "gate": gate_id or f"g-{phase_id}",
    }


def snapshot(
    process_id: str,
    roles: Iterable[str],
    phases: Sequence[Mapping[str, Any]],
    gates: Iterable[GateDef],
    *,
    manager_role: str = "pm",
) -> ProcessSnapshot:
    process = ProcessDef.model_validate(
        {
            "schema": SCHEMA_V1,
            "kind": "process",
            "id": process_id,
            "name": f"Process {process_id}",
            "roles": {r: f"the {r} role" for r in roles},
            "manager_role": manager_role,
            "phases": [dict(p) for p in phases],
        }
    )
    return ProcessSnapshot(
        process=process,
        gates={g.id: g for g in gates},
        version_hash=f"test-{process_id}",
    )


ROLES = ("pm", "dev", "qc", "qa", "customer")

# dev2 is both a developer and a QA person: the segregation-of-duties case.
TEAM: dict[str, list[str]] = {
    "pm": ["pat"],
    "dev": ["dev1", "dev2"],
    "qc": ["qc1"],
    "qa": ["qa1", "qa2", "dev2"],
    "customer": ["cust1"],
}

NAMES = {u: u.upper() for users in TEAM.values() for u in users}


def signer(user: str) -> Signer:
    return Signer(user=user, name=NAMES.get(user, user.title()))


def diamond(
    *,
    recycle_to_d: str | None = None,
    recycle_to_b: str | None = None,
    veto_b: bool = False,
    process_id: str = "diamond",
    recycle_resets: str = "path",
    delegable_d: bool = True,
    condition_due: str | None = None,
) -> ProcessSnapshot:
    """a → (b ∥ c) → d.

    * a: deliverable ``a-report`` (dev) + optional ``a-notes``; gate g-a has check ``a-check``
      (qc) and needs pm + customer.
    * b: deliverable ``b-report`` (dev); gate g-b needs 1 independent qa (optionally a veto)
      and customer.
    * c: deliverable ``c-report`` (qc); gate g-c needs qa (veto) and pm.
    * d: deliverable ``d-report`` (dev); gate g-d needs 2 independent qa and customer; the
      final gate does not allow conditional-go.
    """
    phases = [
        phase(
            "a",
            "dev",
            deliverables=[
                {"id": "a-report", "name": "A report", "owner": "dev"},
                {"id": "a-notes", "name": "A notes", "owner": "dev", "required": False},
            ],
        ),
        phase(
            "b", "dev", after=["a"], deliverables=[{"id": "b-report", "name": "B", "owner": "dev"}]
        ),
        phase(
            "c", "qc", after=["a"], deliverables=[{"id": "c-report", "name": "C", "owner": "qc"}]
        ),
        phase(
            "d",
            "dev",
            after=["b", "c"],
            deliverables=[{"id": "d-report", "name": "D", "owner": "dev"}],
        ),
    ]
    gates = [
        gate(
            "g-a",
            [{"role": "pm"}, {"role": "customer"}],
            checks=[{"id": "a-check", "name": "A check", "confirmed_by": "qc"}],
            **({"condition_due": condition_due} if condition_due else {}),
        ),
        gate(
            "g-b",
            [{"role": "qa", "independent": True, "veto": veto_b}, {"role": "customer"}],
            recycle_to=recycle_to_b,
            recycle_resets=recycle_resets,
        ),
        gate("g-c", [{"role": "qa", "veto": True}, {"role": "pm"}]),
        gate(
            "g-d",
            [
                {"role": "qa", "min": 2, "independent": True, "delegable": delegable_d},
                {"role": "customer"},
            ],
            decisions=["go", "hold", "recycle", "kill"],
            recycle_to=recycle_to_d,
            recycle_resets=recycle_resets,
        ),
    ]
    return snapshot(process_id, ROLES, phases, gates)


def start(
    snap: ProcessSnapshot | None = None, team: Mapping[str, list[str]] | None = None
) -> Project:
    """A started project with its start events drained."""
    project, _ = Project.start(
        "P-001", "Acme Pharma", snap or diamond(), dict(team or TEAM), "pat", T0
    )
    project.drain_events()
    return project


class Clock:
    """A strictly increasing ``now`` for a sequence of commands."""

    def __init__(self) -> None:
        self.minutes = 0

    def __call__(self) -> datetime:
        self.minutes += 1
        return at(self.minutes)


def complete_work(project: Project, phase_id: str, now: datetime, evidence: str = "DMS-1") -> None:
    """Submit every required deliverable and confirm every check of an active phase."""
    pdef = project.phase_def(phase_id)
    gdef = project.snapshot.gates[pdef.gate]
    # Submit as someone who is never asked to be independent (the first member of the role).
    for d in pdef.deliverables:
        if d.required and d.id not in project.phases[phase_id].deliverables:
            project.submit_deliverable(phase_id, d.id, project.team[d.owner][0], evidence, now)
    for c in gdef.checks:
        if c.id not in project.phases[phase_id].checks:
            project.confirm_check(pdef.gate, c.id, project.team[c.confirmed_by][0], evidence, now)


def eligible_signers(project: Project, gate_id: str, role: str) -> list[str]:
    """Users who may still sign ``role`` on the open review of ``gate_id``."""
    gdef, pdef = project.gate_def(gate_id)
    review = project.open_review(gate_id)
    assert review is not None, f"gate {gate_id} is not open"
    quota = next(q for q in gdef.signoffs if q.role == role)
    signed = {u for s in review.signatures for u in s.people}
    contributors = project.phases[pdef.id].contributors
    return [
        u
        for u in project.team.get(role, [])
        if u not in signed and not (quota.independent and u in contributors)
    ]


def sign_all(
    project: Project,
    gate_id: str,
    now: datetime,
    decision: Decision | str = Decision.GO,
    *,
    conditions: Sequence[str] = (),
    decisions: Mapping[str, Decision | str] | None = None,
) -> None:
    """Fill every quota of the open review of ``gate_id`` (``decisions`` per role override)."""
    gdef, _ = project.gate_def(gate_id)
    for quota in gdef.signoffs:
        for _ in range(quota.min):
            review = project.open_review(gate_id)
            if review is None:
                return  # decided early (veto)
            user = eligible_signers(project, gate_id, quota.role)[0]
            dec = Decision((decisions or {}).get(quota.role, decision))
            project.sign(
                gate_id,
                signer(user),
                quota.role,
                dec,
                "approval",
                now,
                conditions=conditions if dec == Decision.CONDITIONAL_GO else (),
            )


def pass_phase(project: Project, phase_id: str, now: datetime, **kwargs: Any) -> None:
    """Do the work of an active phase and sign its gate (go unless told otherwise)."""
    assert project.phases[phase_id].state == PhaseState.ACTIVE, project.phases[phase_id].state
    complete_work(project, phase_id, now)
    sign_all(project, project.phase_def(phase_id).gate, now, **kwargs)
