"""Project commands (start, deliverables, checks, conditions, hold, resume) and read models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cdmo_workflow.domain.agreed_plan import set_plan as agree_plan
from cdmo_workflow.domain.budget import open_budget
from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.project import Change, Project
from cdmo_workflow.domain.views import status as status_view
from cdmo_workflow.service.authority import ADMIN_ROLE
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import Command, Step, execute, load, project_command
from cdmo_workflow.spec.models import ProcessSnapshot
from cdmo_workflow.spec.plan_file import PlanDef, PlanFileError, read_plan


def start_project(
    ctx: Context,
    code: str,
    process_id: str,
    customer: str,
    team: dict[str, list[str]],
    by: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
    currency: str | None = None,
    calendar: str | None = None,
    plan: str | None = None,
) -> CommandResult:
    """Start a project on the current definitions, pinning their snapshot and version hash
    (with the site calendar: ``calendar`` or the process's) and its currency (``currency``
    or the process's); with ``plan``, the agreed plan is baseline 0 in the same transaction."""

    def prepare() -> tuple[ProcessSnapshot, PlanDef | None]:
        snap = _snapshot_to_start()
        return snap, read_agreed_plan(Path(plan), snap) if plan is not None else None

    def _snapshot_to_start() -> ProcessSnapshot:
        from cdmo_workflow.spec.errors import UnknownCalendarError
        from cdmo_workflow.spec.loader import load_catalog

        catalog = load_catalog(ctx.definitions_dir)
        try:
            catalog.process(process_id)
        except KeyError:
            known = ", ".join(sorted(catalog.processes)) or "none"
            raise NotFound("process", process_id, f"known processes: {known}") from None
        try:
            return catalog.snapshot(process_id, calendar)
        except UnknownCalendarError as exc:
            known = ", ".join(exc.known) or "none (add calendars/<id>.yaml)"
            raise NotFound("calendar", exc.calendar_id, f"known calendars: {known}") from None

    def apply(step: Step) -> Change:
        uow = step.uow
        snap: ProcessSnapshot = step.prepared[0]
        agreed: PlanDef | None = step.prepared[1]
        if uow.projects.get(code) is not None:
            raise RuleViolation("project-exists", f"project {code!r} already exists", project=code)
        from cdmo_workflow.service.people import require_member

        for role, users in team.items():
            for uid in users:
                require_member(uow, uid, role)
        actor = step.require_actor()
        project, change = Project.start(
            code, customer, snap, team, by, step.now, by_is_admin=ADMIN_ROLE in actor.roles
        )
        chosen = open_budget(project, currency)
        if agreed is not None:
            planned = _agree(project, agreed, by, step.now)
            change = Change(
                change.action,
                change.subject,
                change.old,
                {**(change.new or {}), "plan": planned.new},
            )
        if chosen is not None or snap.calendar is not None:
            extra = {"currency": chosen, "calendar": snap.calendar.id if snap.calendar else None}
            change = Change(
                change.action, change.subject, change.old, {**(change.new or {}), **extra}
            )
        uow.snapshots.put(
            snap.model_dump(mode="json", by_alias=True),
            snap.version_hash,
            snap.process.id,
            snap.git.commit if snap.git else None,
            snap.git.dirty if snap.git else None,
        )
        step.created = project
        return change

    return execute(
        ctx,
        Command(
            "project.start",
            Credential(by, password, session),
            code,
            {
                "code": code,
                "process": process_id,
                "customer": customer,
                "team": team,
                **({"currency": currency} if currency else {}),
                **({"calendar": calendar} if calendar else {}),
                **({"plan": plan} if plan is not None else {}),
            },
            apply,
            idempotency_key=idempotency_key,
            prepare=prepare,
        ),
    )


def read_agreed_plan(path: Path, snap: ProcessSnapshot) -> PlanDef:
    """The plan file checked against the process, or a refusal listing every finding."""
    try:
        return read_plan(path, snap.process)
    except PlanFileError as exc:
        lines = "\n".join(f"  {f}" for f in exc.findings[:20])
        raise RuleViolation(
            "invalid-plan",
            f"the plan file has {len(exc.findings)} error(s), nothing was changed:\n{lines}",
            file=str(path)[:200],
        ) from None


def _agree(project: Project, plan: PlanDef, by: str, now: datetime) -> Change:
    phases = {pid: (d.start, d.end) for pid, d in plan.phases.items()}
    return agree_plan(project, phases, dict(plan.milestones), by, now)


def set_plan(
    ctx: Context,
    code: str,
    path: str,
    by: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo plan set``: the agreed dates become baseline 0, before the first gate decision
    (project manager); later the dates move only through approved change requests."""

    def prepare() -> PlanDef:
        with ctx.db.unit_of_work(read_only=True) as uow:
            project, _ = load(ctx, uow, code)
        return read_agreed_plan(Path(path), project.snapshot)

    return project_command(
        ctx, "plan.set", code, code, {"plan": path}, Credential(by, password, session),
        lambda project, step: _agree(project, step.prepared, by, step.now), idempotency_key,
        prepare,
    )  # fmt: skip


def submit_deliverable(
    ctx: Context,
    code: str,
    phase: str,
    deliverable: str,
    by: str,
    evidence: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    return project_command(
        ctx,
        "deliverable.submit",
        code,
        f"{phase}/{deliverable}",
        {"phase": phase, "deliverable": deliverable, "evidence": evidence},
        Credential(by, password, session),
        lambda p, s: p.submit_deliverable(phase, deliverable, by, evidence, s.now),
        idempotency_key,
    )


def confirm_check(
    ctx: Context,
    code: str,
    gate: str,
    check: str,
    by: str,
    evidence: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    return project_command(
        ctx,
        "check.confirm",
        code,
        f"{gate}/{check}",
        {"gate": gate, "check": check, "evidence": evidence},
        Credential(by, password, session),
        lambda p, s: p.confirm_check(gate, check, by, evidence, s.now),
        idempotency_key,
    )


def close_condition(
    ctx: Context,
    code: str,
    condition_id: str,
    by: str,
    evidence: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    return project_command(
        ctx,
        "condition.close",
        code,
        condition_id,
        {"condition": condition_id, "evidence": evidence},
        Credential(by, password, session),
        lambda p, s: p.close_condition(condition_id, by, evidence, s.now),
        idempotency_key,
    )


def hold_project(
    ctx: Context,
    code: str,
    by: str,
    reason: str,
    idempotency_key: str | None = None,
    *,
    phase: str | None = None,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """Hold the project (manager or quality role) or one phase (quality role)."""
    return project_command(
        ctx,
        "project.hold",
        code,
        f"{code}/{phase}" if phase else code,
        {"reason": reason, **({"phase": phase} if phase else {})},
        Credential(by, password, session),
        lambda p, s: p.put_on_hold(by, reason, s.now, phase),
        idempotency_key,
    )


def resume_project(
    ctx: Context,
    code: str,
    by: str,
    reason: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    return project_command(
        ctx,
        "project.resume",
        code,
        code,
        {"reason": reason},
        Credential(by, password, session),
        lambda p, s: p.resume(by, reason, s.now),
        idempotency_key,
    )


# ---------------------------------------------------------------------- read models


def project_status(ctx: Context, code: str) -> dict[str, Any]:
    with ctx.db.unit_of_work(read_only=True) as uow:
        project, _ = load(ctx, uow, code)
        return status_view(project)


def load_project(ctx: Context, code: str) -> Project:
    """The aggregate itself, read-only (flows render descriptions from it)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        project, _ = load(ctx, uow, code)
        return project


def list_projects(ctx: Context, states: Sequence[str] | None = None) -> list[dict[str, Any]]:
    with ctx.db.unit_of_work(read_only=True) as uow:
        rows = uow.projects.list(list(states) if states else None)
        return [
            {
                "code": r.code,
                "process": r.process_id,
                "customer": r.customer,
                "state": r.state,
                "phases": (r.summary or {}).get("phases", []),
                "open_gates": (r.summary or {}).get("open_gates", []),
                "updated_at": r.updated_at.isoformat() if r.updated_at else None,
            }
            for r in rows
        ]


def project_exists(ctx: Context, code: str) -> bool:
    with ctx.db.unit_of_work(read_only=True) as uow:
        return uow.projects.get(code) is not None
