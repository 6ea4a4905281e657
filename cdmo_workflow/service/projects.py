"""Project commands (start, deliverables, checks, conditions, hold, resume) and read models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.project import Change, Project
from cdmo_workflow.domain.views import status as status_view
from cdmo_workflow.service.authority import ADMIN_ROLE
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import Command, Step, execute, load
from cdmo_workflow.spec.models import ProcessSnapshot


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
) -> CommandResult:
    """Start a project on the current definitions, pinning their snapshot and version hash."""

    def prepare() -> ProcessSnapshot:
        from cdmo_workflow.spec.loader import load_catalog

        catalog = load_catalog(ctx.definitions_dir)
        try:
            return catalog.snapshot(process_id)
        except KeyError:
            known = ", ".join(sorted(catalog.processes)) or "none"
            raise NotFound("process", process_id, f"known processes: {known}") from None

    def apply(step: Step) -> Change:
        uow = step.uow
        snap: ProcessSnapshot = step.prepared
        if uow.projects.get(code) is not None:
            raise RuleViolation("project-exists", f"project {code!r} already exists", project=code)
        for role, users in team.items():
            for uid in users:
                member = uow.users.get(uid)
                if member is None:
                    raise NotFound("user", uid, "add it with `cdmo users add`")
                if not member.active:
                    raise RuleViolation("user-inactive", f"user {uid!r} is deactivated", user=uid)
                if role not in member.roles and ADMIN_ROLE not in member.roles:
                    raise RuleViolation(
                        "role-not-held",
                        f"user {uid!r} does not hold the role {role!r} "
                        f"(holds: {', '.join(member.roles)}); "
                        "add the role to the user before assigning it",
                        user=uid,
                        role=role,
                    )
        actor = step.require_actor()
        project, change = Project.start(
            code, customer, snap, team, by, step.now, by_is_admin=ADMIN_ROLE in actor.roles
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
            {"code": code, "process": process_id, "customer": customer, "team": team},
            apply,
            idempotency_key=idempotency_key,
            prepare=prepare,
        ),
    )


def _project_command(
    ctx: Context,
    action: str,
    code: str,
    subject: str,
    arguments: dict[str, Any],
    credential: Credential,
    apply: Any,
    idempotency_key: str | None,
) -> CommandResult:
    return execute(
        ctx,
        Command(
            action,
            credential,
            subject,
            arguments,
            lambda step: apply(step.require_project(), step),
            project=code,
            idempotency_key=idempotency_key,
        ),
    )


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
    return _project_command(
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
    return _project_command(
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
    return _project_command(
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
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    return _project_command(
        ctx,
        "project.hold",
        code,
        code,
        {"reason": reason},
        Credential(by, password, session),
        lambda p, s: p.put_on_hold(by, reason, s.now),
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
    return _project_command(
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
