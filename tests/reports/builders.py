"""Plain-data builders for the report tests: a small process with planned durations.

``a (10d) → (b (20d) ∥ c (5d)) → d (10d)``: every phase has one deliverable owned by ``dev``
and a gate signed by one ``pm`` and one ``qa``; gate ``g-d`` recycles to ``b``. Times are
explicit UTC; ``day(n)`` is ``n`` days after the start, a Monday.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cdmo_workflow.domain.project import Project, Signer
from cdmo_workflow.spec.models import SCHEMA_V1, GateDef, ProcessDef, ProcessSnapshot

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
TEAM = {"pm": ["pat"], "dev": ["dev1"], "qa": ["qa1"], "customer": ["cust1"]}
NAMES = {"pat": "Pat Manager", "dev1": "Dana Developer", "qa1": "Dr. Quinn Assurance"}


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def snapshot(
    durations: Mapping[str, str | None] | None = None,
    *,
    extra_phases: Sequence[Mapping[str, Any]] = (),
    sla: str | None = None,
) -> ProcessSnapshot:
    durations = {"a": "10d", "b": "20d", "c": "5d", "d": "10d", **(durations or {})}
    after = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    phases: list[dict[str, Any]] = []
    for pid in ("a", "b", "c", "d"):
        p: dict[str, Any] = {
            "id": pid,
            "name": f"Phase {pid.upper()}",
            "owner": "dev",
            "after": after[pid],
            "deliverables": [{"id": f"{pid}-report", "name": f"{pid} report", "owner": "dev"}],
            "gate": f"g-{pid}",
        }
        if durations.get(pid):
            p["duration"] = durations[pid]
        phases.append(p)
    phases.extend(dict(p) for p in extra_phases)
    gates = []
    for p in phases:
        g: dict[str, Any] = {
            "schema": SCHEMA_V1,
            "kind": "gate",
            "id": p["gate"],
            "name": f"Gate {p['gate']}",
            "signoffs": [{"role": "pm"}, {"role": "qa"}],
        }
        if p["id"] == "d":
            g["recycle_to"] = "b"
        if sla:
            g["sla"] = {"decide_within": sla}
        gates.append(GateDef.model_validate(g))
    process = ProcessDef.model_validate(
        {
            "schema": SCHEMA_V1,
            "kind": "process",
            "id": "forecast-demo",
            "name": "Forecast demo",
            "roles": {r: r for r in TEAM},
            "phases": phases,
        }
    )
    return ProcessSnapshot(
        process=process, gates={g.id: g for g in gates}, version_hash="test-forecast"
    )


def start(snap: ProcessSnapshot | None = None, at: datetime = T0) -> Project:
    project, _ = Project.start("F-001", "Acme Pharma", snap or snapshot(), TEAM, "pat", at)
    project.drain_events()
    return project


def submit(project: Project, phase: str, now: datetime) -> None:
    """Submit the phase's deliverable: its gate opens."""
    project.submit_deliverable(phase, f"{phase}-report", "dev1", f"DMS-{phase}", now)


def sign(
    project: Project,
    phase: str,
    now: datetime,
    decision: str = "go",
    *,
    qa_decision: str | None = None,
    conditions: Sequence[str] = (),
) -> None:
    """pm then qa sign the phase's gate (the last signature decides it)."""
    gate = project.phase_def(phase).gate
    for user, role, dec in (("pat", "pm", decision), ("qa1", "qa", qa_decision or decision)):
        if project.open_review(gate) is None:
            return
        project.sign(
            gate,
            Signer(user, NAMES[user]),
            role,
            dec,
            "approval",
            now,
            conditions=conditions if dec == "conditional-go" else (),
            comment="the programme stops" if dec == "kill" else None,
        )


def finish(project: Project, phase: str, now: datetime, decision: str = "go", **kw: Any) -> None:
    submit(project, phase, now)
    sign(project, phase, now, decision, **kw)
