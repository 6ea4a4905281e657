"""Read views of a project: the status document that the CLI, flows and reports render."""

from __future__ import annotations

from typing import Any

from .budget import budget_view
from .change_records import ChangeRequest
from .conditions import acceptors_of, owners_of
from .holds import phase_hold
from .project import Project
from .records import iso


def status(project: Project) -> dict[str, Any]:
    """The ``project status --json`` document (a superset of the documented contract)."""
    snap = project.snapshot
    phases: list[dict[str, Any]] = []
    for pdef in snap.process.phases:
        run = project.phases[pdef.id]
        gdef = snap.gates[pdef.gate]
        phases.append(
            {
                "id": pdef.id,
                "name": pdef.name,
                "owner": pdef.owner,
                "state": run.state.value,
                "cycle": run.cycle,
                "after": list(pdef.after),
                "gate": pdef.gate,
                "duration": pdef.duration,
                "started_at": iso(run.started_at),
                "completed_at": iso(run.completed_at),
                "deliverables": [
                    {
                        "id": d.id,
                        "name": d.name,
                        "owner": d.owner,
                        "required": d.required,
                        "submitted": run.deliverables[d.id].to_dict()
                        if d.id in run.deliverables
                        else None,
                    }
                    for d in pdef.deliverables
                ],
                "checks": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "confirmed_by": c.confirmed_by,
                        "confirmed": run.checks[c.id].to_dict() if c.id in run.checks else None,
                    }
                    for c in gdef.checks
                ],
                "history": list(run.history),
                "held_by": (hold.id if (hold := phase_hold(project, pdef.id)) else None),
            }
        )
    return {
        "code": project.code,
        "customer": project.customer,
        "state": project.state.value,
        "process": {
            "id": snap.process.id,
            "name": snap.process.name,
            "version_hash": snap.version_hash,
            "git_commit": snap.git.commit if snap.git else None,
            "git_dirty": snap.git.dirty if snap.git else None,
        },
        "team": project.team,
        "created_at": iso(project.created_at),
        "created_by": project.created_by,
        "completed_at": iso(project.completed_at),
        "hold": project.hold.to_dict() if project.hold else None,
        "holds": [h.to_dict() for h in project.holds],
        "phases": phases,
        "gates": project.gate_views(),
        "conditions": [
            {
                **c.to_dict(),
                "owner": c.owner,
                "owners": owners_of(project, c),
                "done": c.done,
            }
            for c in project.conditions
        ],
        "open_items": open_items(project),
        "calendar": snap.calendar.id if snap.calendar is not None else None,
        "budget": budget_view(project),
        "baselines": [b.summary() for b in project.baselines],
        "change_requests": [change_summary(c) for c in project.change_requests],
    }


def change_summary(cr: ChangeRequest) -> dict[str, Any]:
    """One change request as ``project status`` and ``change list`` show it."""
    return {
        "id": cr.id,
        "title": cr.title,
        "state": cr.state.value,
        "proposed_by": cr.proposed_by,
        "proposed_at": iso(cr.proposed_at),
        "schedule_impact": cr.schedule_impact,
        "cost_impact": cr.cost_impact,
        "currency": cr.currency,
        "target_version": cr.target.version_hash if cr.target else None,
        "target_ref": cr.target.ref if cr.target else None,
        "approvers": [f"{a['role']} × {a['min']}" for a in cr.approvers],
        "missing": cr.missing() if cr.state.value == "submitted" else [],
        "signatures": len(cr.signatures),
    }


def open_items(project: Project) -> list[dict[str, Any]]:
    """For each active phase: the deliverables, checks and conditions still open, and owners.

    One entry per active phase (state ``active`` or ``gate-review``) of an active project:
    ``{phase, name, gate, items: [{kind, id, name, owner_role, owners}]}``; ``owners`` are the
    user ids holding ``owner_role`` on the project team. Optional deliverables are left out.
    """
    if project.state.value != "active":
        return []
    snap = project.snapshot
    out: list[dict[str, Any]] = []
    for pdef in snap.process.phases:
        run = project.phases[pdef.id]
        if run.state.value not in ("active", "gate-review"):
            continue
        gdef = snap.gates[pdef.gate]
        items: list[dict[str, Any]] = []

        def add(
            kind: str,
            item_id: str,
            name: str,
            role: str,
            items: list[Any] = items,
            owners: list[str] | None = None,
        ) -> None:
            items.append(
                {
                    "kind": kind,
                    "id": item_id,
                    "name": name,
                    "owner_role": role,
                    "owners": list(project.team.get(role, [])) if owners is None else owners,
                }
            )

        for d in pdef.deliverables:
            if d.required and d.id not in run.deliverables:
                add("deliverable", d.id, d.name, d.owner)
        for c in gdef.checks:
            if c.id not in run.checks:
                add("check", c.id, c.name, c.confirmed_by)
        for cond in project.conditions:
            if not cond.blocks(pdef.id):
                continue
            if cond.state == "open":
                role = cond.owner_role or (f"user {cond.owner_user}" if cond.owner_user else "")
                add(
                    "condition",
                    cond.id,
                    cond.text,
                    role or pdef.owner,
                    owners=owners_of(project, cond),
                )
            else:
                add(
                    "acceptance",
                    cond.id,
                    cond.text,
                    " or ".join(r for r in (cond.raised_role, snap.process.quality_role) if r),
                    owners=acceptors_of(project, cond),
                )
        out.append({"phase": pdef.id, "name": pdef.name, "gate": pdef.gate, "items": items})
    return out


def must_meet_items(project: Project, gate_id: str) -> list[dict[str, Any]]:
    """Each must-meet item of a gate with its evidence: what gatekeepers review before signing."""
    gdef, pdef = project.gate_def(gate_id)
    run = project.phases[pdef.id]
    items: list[dict[str, Any]] = []
    for d in pdef.deliverables:
        ev = run.deliverables.get(d.id)
        items.append(
            {
                "kind": "deliverable",
                "id": d.id,
                "name": d.name,
                "required": d.required,
                "done": ev is not None,
                "evidence": ev.evidence if ev else None,
                "by": ev.by if ev else None,
                "at": iso(ev.at) if ev else None,
            }
        )
    for c in gdef.checks:
        ev = run.checks.get(c.id)
        items.append(
            {
                "kind": "check",
                "id": c.id,
                "name": c.name,
                "required": True,
                "done": ev is not None,
                "evidence": ev.evidence if ev else None,
                "by": ev.by if ev else None,
                "at": iso(ev.at) if ev else None,
            }
        )
    for cond in project.conditions:
        if pdef.id in cond.phases:
            items.append(
                {
                    "kind": "condition",
                    "id": cond.id,
                    "name": cond.text,
                    "required": True,
                    "done": cond.done,
                    "state": cond.state,
                    "accepted_by": cond.accepted_by,
                    "evidence": cond.evidence,
                    "by": cond.closed_by,
                    "at": iso(cond.closed_at),
                }
            )
    return items
