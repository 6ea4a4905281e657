"""Drive the shipped `api-clinical-program` through the service functions (shared by tests).

Every phase's deliverables are submitted and checks confirmed by their owner roles, then every
quota signs go; the development gate is a Conditional Go whose condition is closed by its owner and
accepted by QA.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdmo_workflow import service

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "programme-password-1"
ROLES = ["pm", "customer", "site-head", "pd", "qc", "mfg", "qa", "ra"]
NAMES = {
    "pm": "Paula Manager",
    "customer": "Carl Sponsor",
    "site-head": "Sita Head",
    "pd": "Pedro Developer",
    "qc": "Quinn Lab",
    "mfg": "Mia Production",
    "qa": "Dr. Quentin Assurance",
    "ra": "Rae Regulatory",
}


def user_of(role: str) -> str:
    return f"{role}-user"


def add_team(ctx: service.Context, targets: dict[str, list[str]] | None = None) -> None:
    """One user per role (id ``<role>-user``), with the given apprise targets."""
    for role in ROLES:
        uid = user_of(role)
        service.provision_user(
            ctx, uid, NAMES[role], [role], PASSWORD, (targets or {}).get(uid, [])
        )


def run_programme(ctx: service.Context, code: str, customer: str = "Helix Bio") -> dict[str, Any]:
    """Start ``code`` and take it through every gate to completion; the final status."""
    team = {role: [user_of(role)] for role in ROLES}
    service.start_project(
        ctx, code, "api-clinical-program", customer, team, user_of("pm"), password=PASSWORD
    )
    project = service.load_project(ctx, code)
    snapshot = project.snapshot
    done: set[str] = set()
    handled: set[str] = set()  # conditions closed and accepted (one may block several phases)
    while True:
        status = service.project_status(ctx, code)
        if status["state"] != "active":
            return status
        progressed = False
        for phase in status["phases"]:
            if phase["state"] == "active" and phase["id"] not in done:
                for cond in status["conditions"]:
                    if phase["id"] not in cond["phases"] or cond["done"]:
                        continue
                    if cond["id"] in handled:
                        continue
                    handled.add(cond["id"])
                    if cond["state"] == "open":  # its owner closes it (the PM by default)
                        service.close_condition(
                            ctx,
                            code,
                            cond["id"],
                            cond["owners"][0],
                            f"EVID-{cond['id']}",
                            password=PASSWORD,
                        )
                    service.accept_condition(  # QA verifies the closure
                        ctx, code, cond["id"], user_of("qa"), password=PASSWORD
                    )
                pdef = snapshot.phase(phase["id"])
                for d in pdef.deliverables:
                    if d.required:
                        service.submit_deliverable(
                            ctx,
                            code,
                            pdef.id,
                            d.id,
                            user_of(d.owner),
                            f"DMS-{d.id}",
                            password=PASSWORD,
                        )
                for c in snapshot.gates[pdef.gate].checks:
                    service.confirm_check(
                        ctx,
                        code,
                        pdef.gate,
                        c.id,
                        user_of(c.confirmed_by),
                        f"DMS-{c.id}",
                        password=PASSWORD,
                    )
                done.add(phase["id"])
                progressed = True
        for gate in status["gates"]:
            if gate["state"] != "open":
                continue
            for missing in gate["missing"]:
                role = missing["role"]
                decision, conditions = "go", []
                if gate["id"] == "development-complete" and role == "qc":
                    decision, conditions = "conditional-go", ["Validate the impurity method"]
                service.sign_gate(
                    ctx,
                    code,
                    gate["id"],
                    user_of(role),
                    PASSWORD,
                    role,
                    decision,
                    "approval",
                    conditions=conditions,
                )
                progressed = True
        if not progressed:
            raise AssertionError(f"programme {code} is stuck: {status}")
