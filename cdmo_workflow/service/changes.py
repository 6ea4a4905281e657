"""Change requests and migrations: one function per command, shared by the CLI and the forms.

Every state-changing command goes through ``runner.execute``. A target version is read
before the transaction (``Command.prepare``: a git revision or a folder), its snapshot is
stored with the request's proposal (like a project's snapshot at start), and approval
migrates to exactly that stored snapshot, so a moving branch name never changes what was
approved. Reads (list, show, the impact of a migration, the definitions diff with its
projects) need no credential.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdmo_workflow.domain import change_control as cc
from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.migration import Impact, analyse
from cdmo_workflow.domain.project import Change, Project, Signer
from cdmo_workflow.domain.views import change_summary
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.ports import UnitOfWork
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import Step, load, project_command, snapshot
from cdmo_workflow.service.signing import refuse_admin_signer
from cdmo_workflow.spec.models import ProcessSnapshot

RUNNING = ("active", "on-hold")


def _version(ctx: Context, ref: str, *, allow_folder: bool = True) -> Any:
    """The definitions at ``ref`` (a git revision of the definitions' repository, or a
    folder), or the refusal naming the rule (and, for files, ``REF:path:line:column``)."""
    from cdmo_workflow.domain.limits import check_text
    from cdmo_workflow.spec.revisions import VersionError, load_version

    check_text("version reference", ref)
    try:
        return load_version(ref, ctx.definitions_dir, allow_folder=allow_folder)
    except VersionError as err:
        raise RuleViolation(err.rule, err.message, ref=ref) from None


def target_snapshot(
    ctx: Context, ref: str, process_id: str, *, allow_folder: bool = True
) -> ProcessSnapshot:
    """The snapshot of ``process_id`` at version ``ref`` (refused when unknown or invalid)."""
    from cdmo_workflow.spec.revisions import VersionError

    version = _version(ctx, ref, allow_folder=allow_folder)
    try:
        snap: ProcessSnapshot = version.snapshot(process_id)
    except VersionError as err:
        raise RuleViolation(err.rule, err.message, ref=ref) from None
    return snap


def _store_snapshot(uow: UnitOfWork, snap: ProcessSnapshot) -> None:
    uow.snapshots.put(
        snap.model_dump(mode="json", by_alias=True),
        snap.version_hash,
        snap.process.id,
        snap.git.commit if snap.git else None,
        snap.git.dirty if snap.git else None,
    )


def _process_of(ctx: Context, code: str) -> str:
    with ctx.db.unit_of_work(read_only=True) as uow:
        stored = uow.projects.get(code)
        if stored is None:
            raise NotFound("project", code, "see `cdmo project list`")
        return stored.process_id


def propose_change(
    ctx: Context,
    code: str,
    by: str,
    title: str,
    reason: str,
    *,
    schedule_impact: str | None = None,
    cost_impact: str | None = None,
    currency: str | None = None,
    to_version: str | None = None,
    allow_folder: bool = True,
    idempotency_key: str | None = None,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """Create ``CR-<n>`` as a draft. ``to_version`` is read and validated first; its snapshot
    is stored with the proposal. ``allow_folder=False`` (the Prefect form) takes git
    revisions only, never a path on the worker."""

    def prepare() -> ProcessSnapshot | None:
        if not to_version:
            return None
        return target_snapshot(ctx, to_version, _process_of(ctx, code), allow_folder=allow_folder)

    def apply(project: Project, step: Step) -> Change:
        target: ProcessSnapshot | None = step.prepared
        change = cc.propose(
            project,
            by,
            title,
            reason,
            step.now,
            schedule_impact=schedule_impact,
            cost_impact=cost_impact,
            currency=currency,
            target=target,
            target_ref=to_version,
        )
        if target is not None:
            _store_snapshot(step.uow, target)
        return change

    arguments = {
        "title": title,
        "reason": reason,
        "schedule_impact": schedule_impact,
        "cost_impact": cost_impact,
        "currency": currency,
        "to_version": to_version,
    }
    return project_command(
        ctx, "change.propose", code, code, arguments, Credential(by, password, session), apply,
        idempotency_key, prepare,
    )  # fmt: skip


def submit_change(
    ctx: Context,
    code: str,
    cr: str,
    by: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """Send a draft for approval; the approvers are notified."""
    return project_command(
        ctx, "change.submit", code, cr, {"change": cr}, Credential(by, password, session),
        lambda p, s: cc.submit(p, cr, by, s.now), idempotency_key,
    )  # fmt: skip


def withdraw_change(
    ctx: Context,
    code: str,
    cr: str,
    by: str,
    reason: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    return project_command(
        ctx, "change.withdraw", code, cr, {"change": cr, "reason": reason},
        Credential(by, password, session),
        lambda p, s: cc.withdraw(p, cr, by, reason, s.now), idempotency_key,
    )  # fmt: skip


def sign_change(
    ctx: Context,
    code: str,
    cr: str,
    user: str,
    password: str | None,
    role: str,
    decision: str,
    meaning: str,
    comment: str | None = None,
    idempotency_key: str | None = None,
) -> CommandResult:
    """An approver's e-signature (the password every time, never a session). The signature
    that approves the request applies it in the same transaction: a migration that is
    refused refuses the signature, and nothing changes."""

    def apply(project: Project, step: Step) -> Change:
        account = step.require_actor()
        refuse_admin_signer(ctx, account, user, f"sign change request {cr}")
        found = cc.find(project, cr)
        target = None
        if found.target is not None:
            try:
                target = snapshot(ctx, step.uow, found.target.version_hash)
            except NotFound:
                target = None
        change = cc.sign(
            project,
            cr,
            Signer(account.user_id, account.name),
            role,
            decision,
            meaning,
            step.now,
            comment=comment,
            target=target,
        )
        return change

    attempted = {
        "change": cr,
        "role": role,
        "decision": decision,
        "meaning": meaning,
        "comment": comment,
    }
    return project_command(
        ctx, "change.sign", code, cr, attempted, Credential(user, password), apply,
        idempotency_key,
    )  # fmt: skip


def migrate_project(
    ctx: Context,
    code: str,
    to_version: str,
    by: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo project migrate`` without ``--dry-run``: only under an approved change request
    naming that version that has not been applied yet (see ``change_control``)."""

    def prepare() -> ProcessSnapshot:
        return target_snapshot(ctx, to_version, _process_of(ctx, code))

    def apply(project: Project, step: Step) -> Change:
        target: ProcessSnapshot = step.prepared
        _store_snapshot(step.uow, target)
        return cc.migrate_approved(project, target, by, step.now)

    return project_command(
        ctx, "project.migrate", code, code, {"to_version": to_version},
        Credential(by, password, session), apply, idempotency_key, prepare,
    )  # fmt: skip


# ---------------------------------------------------------------------- read models


def list_changes(ctx: Context, code: str) -> list[dict[str, Any]]:
    with ctx.db.unit_of_work(read_only=True) as uow:
        project, _ = load(ctx, uow, code)
        return [change_summary(c) for c in project.change_requests]


def show_change(ctx: Context, code: str, cr: str) -> dict[str, Any]:
    with ctx.db.unit_of_work(read_only=True) as uow:
        project, _ = load(ctx, uow, code)
        return cc.view(project, cc.find(project, cr))


def migration_impact(ctx: Context, code: str, to_version: str) -> Impact:
    """``cdmo project migrate --dry-run``: the impact, changing nothing."""
    target = target_snapshot(ctx, to_version, _process_of(ctx, code))
    with ctx.db.unit_of_work(read_only=True) as uow:
        project, _ = load(ctx, uow, code)
    return analyse(project, target)


def running_projects(ctx: Context) -> list[Project]:
    """Every active or on-hold project, with its pinned snapshot (``definitions diff
    --projects``)."""
    out: list[Project] = []
    with ctx.db.unit_of_work(read_only=True) as uow:
        for document, version_hash in uow.projects.documents(RUNNING):
            out.append(Project.from_dict(document, snapshot(ctx, uow, version_hash)))
    return out


def projects_impact(
    ctx: Context, new: dict[str, ProcessSnapshot], old: dict[str, ProcessSnapshot]
) -> list[dict[str, Any]]:
    """For each running project of a process that ``new`` has at another version: the
    impact of moving it there, and whether it is pinned to ``old``'s version."""
    out: list[dict[str, Any]] = []
    for project in running_projects(ctx):
        target = new.get(project.process_id)
        if target is None or target.version_hash == project.snapshot.version_hash:
            continue
        before = old.get(project.process_id)
        impact = analyse(project, target)
        out.append(
            {
                "project": project.code,
                "customer": project.customer,
                "state": project.state.value,
                "pinned_to_old": before is not None
                and before.version_hash == project.snapshot.version_hash,
                **impact.to_dict(),
            }
        )
    return out


def definitions_dir(ctx: Context) -> Path:
    return Path(ctx.definitions_dir)
