"""The customer report (``cdmo report CODE --for customer``): where the programme stands.

What a project manager sends the sponsor: status, the milestones (each phase's planned end,
for now the baseline) against the forecast and the actual dates, the forecast with its
P50/P80/P95 bands, the budget when the process shares it (``share_budget: true``), the open
actions and conditions with their owners, the evidence references, the hold history and the
gate decisions with the signers' printed names.

It leaves out what is internal: user ids (people appear by printed name), record hashes, the
definition's version hash and git data, the audit trail. The inspector's printout
(``cdmo audit export --format html``) and the internal report keep them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..domain.budget import budget_view
from ..domain.records import PhaseState, ProjectState, ReviewState
from ..domain.views import open_items

if TYPE_CHECKING:
    from ..domain.forecast import Forecast
    from ..domain.montecarlo import Confidence
    from ..domain.project import Project


def people_in(project: Project, holds: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every user id the customer report may need a printed name for."""
    ids = {u for users in project.team.values() for u in users}
    for review in project.reviews:
        ids.update(s.user for s in review.signatures)
    for run in project.phases.values():
        ids.update(e.by for e in run.deliverables.values())
        ids.update(e.by for e in run.checks.values())
    for cond in project.conditions:
        ids.add(cond.raised_by)
        if cond.closed_by:
            ids.add(cond.closed_by)
    for h in holds:
        ids.update(x for x in (h.get("by"), h.get("resumed_by")) if x)
    ids.add(project.created_by)
    return sorted(ids)


def customer_context(
    project: Project,
    fc: Forecast,
    bands: Confidence | None,
    *,
    names: Mapping[str, str],
    holds: Sequence[Mapping[str, Any]],
    timeline_svg: str,
    generated_at: datetime,
    zone: str | None,
    version: str,
) -> dict[str, Any]:
    """Everything the customer template shows; user ids are turned into printed names here,
    so the template never sees one."""

    def name(user: str | None) -> str:
        if not user:
            return "–"
        if user == "gate":
            return "gate decision"
        return names.get(user) or "a team member"

    def owners(role: str) -> str:
        people = [name(u) for u in project.team.get(role, [])]
        return ", ".join(people) or "not assigned"

    snap = project.snapshot
    phase_names = {p.id: p.name for p in snap.process.phases}
    milestones = []
    for pf in fc.phases:
        band = bands.phases.get(pf.id) if bands is not None else None
        late = pf.baseline_end is not None and pf.end is not None and pf.end > pf.baseline_end
        milestones.append(
            {
                "name": pf.name,
                "state": pf.state,
                "planned_end": pf.baseline_end,
                "forecast_end": None if pf.state == PhaseState.COMPLETED.value else pf.end,
                "actual_end": pf.actual_end,
                "band": band,
                "late": late and pf.actual_end is None,
                "slip": pf.slip_days,
            }
        )
    agreed = project.baselines[-1].milestones if project.baselines else {}
    for title, when in agreed.items():  # named customer milestones of the agreed plan
        milestones.append(
            {
                "name": title,
                "state": "agreed milestone",
                "planned_end": when,
                "forecast_end": None,
                "actual_end": None,
                "band": None,
                "late": False,
                "slip": None,
            }
        )
    actions = []
    for ph in open_items(project):
        for item in ph["items"]:
            actions.append(
                {
                    "phase": ph["name"],
                    "kind": item["kind"],
                    "what": item["name"],
                    "owner_role": snap.process.roles.get(item["owner_role"], item["owner_role"]),
                    "owners": owners(item["owner_role"]),
                }
            )
    for review in project.open_reviews():
        for m in project.missing(review):
            actions.append(
                {
                    "phase": phase_names.get(review.phase, review.phase),
                    "kind": "decision",
                    "what": f"{snap.gates[review.gate].name}: {m['needed']} more sign-off(s)",
                    "owner_role": snap.process.roles.get(m["role"], m["role"]),
                    "owners": owners(m["role"]),
                }
            )
    conditions = [
        {
            "text": c.text,
            "phase": phase_names.get(c.phase, c.phase),
            "raised_by": name(c.raised_by),
            "raised_at": c.raised_at,
            "state": c.state,
            "owner": owners(snap.phase(c.phase).owner),
            "closed_by": name(c.closed_by) if c.closed_by else None,
            "closed_at": c.closed_at,
            "evidence": c.evidence,
        }
        for c in project.conditions
    ]
    evidence = []
    for pdef in snap.process.phases:
        run = project.phases[pdef.id]
        for d in pdef.deliverables:
            ev = run.deliverables.get(d.id)
            if ev is not None:
                evidence.append(
                    {
                        "phase": pdef.name,
                        "item": d.name,
                        "ref": ev.evidence,
                        "at": ev.at,
                        "by": name(ev.by),
                    }
                )
        for c in snap.gates[pdef.gate].checks:
            ev = run.checks.get(c.id)
            if ev is not None:
                evidence.append(
                    {
                        "phase": pdef.name,
                        "item": c.name,
                        "ref": ev.evidence,
                        "at": ev.at,
                        "by": name(ev.by),
                    }
                )
    decisions = []
    for review in project.reviews:
        if review.state != ReviewState.DECIDED:
            continue
        decisions.append(
            {
                "gate": snap.gates[review.gate].name,
                "phase": phase_names.get(review.phase, review.phase),
                "review": review.number,
                "outcome": review.outcome.value if review.outcome else "–",
                "decided_at": review.decided_at,
                "signers": [
                    {
                        "name": s.name,
                        "role": snap.process.roles.get(s.role, s.role),
                        "meaning": s.meaning.value,
                        "decision": s.decision.value,
                        "signed_at": s.signed_at,
                        "comment": s.comment,
                    }
                    for s in review.signatures
                ],
            }
        )
    team = [
        {"role": snap.process.roles.get(role, role), "people": owners(role)}
        for role in project.team
    ]
    budget = budget_view(project) if snap.process.share_budget else None
    return {
        "project": {
            "code": project.code,
            "customer": project.customer,
            "state": project.state.value,
            "created_at": project.created_at,
        },
        "process_name": snap.process.name,
        "fc": fc,
        "bands": bands,
        "current": [phase_names[p] for p in project.current_phases()],
        "on_hold": project.state == ProjectState.ON_HOLD,
        "milestones": milestones,
        "actions": actions,
        "conditions": conditions,
        "evidence": evidence,
        "holds": [
            {
                "held_at": h["held_at"],
                "by": name(h.get("by")),
                "reason": h.get("reason"),
                "gate": snap.gates[h["gate"]].name if h.get("gate") in snap.gates else None,
                "resumed_at": h.get("resumed_at"),
                "resumed_by": name(h.get("resumed_by")) if h.get("resumed_by") else None,
                "resume_reason": h.get("resume_reason"),
            }
            for h in holds
        ],
        "decisions": decisions,
        "team": team,
        "budget": budget,
        "timeline_svg": timeline_svg,
        "generated_at": generated_at,
        "zone": zone,
        "version": version,
    }
