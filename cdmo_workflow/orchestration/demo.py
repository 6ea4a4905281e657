"""The demo project ``cdmo up`` creates on first start (idempotent on later starts)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from .. import service
from ..domain.errors import RuleViolation
from ..domain.records import PhaseState

DEMO_PROCESS = "api-clinical-program"
DEMO_PROJECT = "DEMO-001"
DEMO_CUSTOMER = "Demo Pharma"
DEMO_PASSWORD = "demo-password-123"
PRINTED_NAMES = {
    "pm": "Dana Demo (project manager)",
    "qa": "Quinn Demo (QA)",
    "qa2": "Quentin Demo (QA)",
    "qc": "Cleo Demo (QC)",
    "mfg": "Max Demo (manufacturing)",
    "pd": "Pat Demo (process development)",
    "ra": "Rae Demo (regulatory)",
    "customer": "Casey Demo (sponsor)",
    "site-head": "Sam Demo (site head)",
    "admin": "Ada Demo (administrator)",
}


@dataclass
class DemoResult:
    project: str
    users: dict[str, list[str]] = field(default_factory=dict)  # user id -> roles
    created_users: int = 0
    created_project: bool = False
    open_gates: list[str] = field(default_factory=list)


def demo_users(roles: list[str], admin_role: str) -> dict[str, tuple[str, list[str]]]:
    users: dict[str, tuple[str, list[str]]] = {}
    for role in roles:
        if role == admin_role:
            continue
        users[f"demo-{role}"] = (PRINTED_NAMES.get(role, f"Demo {role}"), [role])
    if "qa" in roles:  # two QA people: independence rules need a second one
        users["demo-qa2"] = (PRINTED_NAMES["qa2"], ["qa"])
    users["demo-admin"] = (PRINTED_NAMES["admin"], [admin_role])
    return users


def seed(ctx: Any, code: str = DEMO_PROJECT, process_id: str = DEMO_PROCESS) -> DemoResult:
    """Users for every role, the demo project, its first phase submitted: its gate opens."""
    from ..spec.loader import load_catalog

    snapshot = load_catalog(ctx.definitions_dir).snapshot(process_id)
    process = snapshot.process
    admin_role = getattr(process, "admin_role", None) or "admin"
    users = demo_users(list(process.roles), admin_role)
    result = DemoResult(project=code, users={u: r for u, (_, r) in users.items()})
    existing = {u["user"] for u in service.list_users(ctx)}
    for uid, (name, roles) in users.items():
        if uid not in existing:
            service.provision_user(ctx, uid, name, roles, DEMO_PASSWORD, actor="cdmo-up")
            result.created_users += 1
    known = {p["code"] for p in service.list_projects(ctx)}
    if code not in known:
        team: dict[str, list[str]] = {}
        for uid, (_, roles) in users.items():
            for role in roles:
                if role != admin_role:
                    team.setdefault(role, []).append(uid)
        manager = team[process.manager_role][0]
        service.start_project(
            ctx, code, process_id, DEMO_CUSTOMER, team, by=manager, password=DEMO_PASSWORD
        )
        result.created_project = True
        _complete_first_phases(ctx, code)
    project = service.load_project(ctx, code)
    result.open_gates = [r.gate for r in project.open_reviews()]
    return result


def _complete_first_phases(ctx: Any, code: str) -> None:
    """Submit every deliverable and confirm every check of the active phases."""
    project = service.load_project(ctx, code)
    for pdef in project.snapshot.process.phases:
        if project.phases[pdef.id].state != PhaseState.ACTIVE:
            continue
        gdef = project.snapshot.gates[pdef.gate]
        for d in pdef.deliverables:
            if d.required:
                by = project.team[d.owner][0]
                service.submit_deliverable(
                    ctx,
                    code,
                    pdef.id,
                    d.id,
                    by,
                    f"DMS-DEMO-{pdef.id}-{d.id}",
                    password=DEMO_PASSWORD,
                )
        for c in gdef.checks:
            by = project.team[c.confirmed_by][0]
            with contextlib.suppress(service.Refused, RuleViolation):
                service.confirm_check(
                    ctx,
                    code,
                    gdef.id,
                    c.id,
                    by,
                    f"DMS-DEMO-{gdef.id}-{c.id}",
                    password=DEMO_PASSWORD,
                )
