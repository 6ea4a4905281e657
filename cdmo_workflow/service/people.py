"""People commands: team changes, delegations, condition acceptance, quality-hold release,
carried deliverables, and the task lists (issue #16).

Every command goes through the one runner (``runner.execute``); the rules live in the pure
core (``domain/team.py``, ``delegation.py``, ``conditions.py``, ``holds.py``). What only the
database knows is checked here: accounts and their global roles (a new team member and a
delegate must hold the role, as ``project start`` checks), the delegations on record, and
the administrator's exception. Delegation rows are audited on the ``_system`` chain (a
delegation may cover every project); a delegated signature records the delegation it used
on the project's own chain.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cdmo_workflow.domain import delegation as deleg
from cdmo_workflow.domain.delegation import Delegation
from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.limits import check_text
from cdmo_workflow.domain.project import Change, Project, Signer
from cdmo_workflow.domain.records import iso
from cdmo_workflow.domain.tasks import Task, people_concerned, tasks_for, who_can_sign
from cdmo_workflow.service.authority import ADMIN_ROLE
from cdmo_workflow.service.context import Context
from cdmo_workflow.service.credentials import Credential
from cdmo_workflow.service.notices import notice
from cdmo_workflow.service.ports import UnitOfWork
from cdmo_workflow.service.results import CommandResult
from cdmo_workflow.service.runner import Command, Step, execute, is_admin, project_command, snapshot

if TYPE_CHECKING:
    from cdmo_workflow.store.users import StoredUser


def require_member(uow: UnitOfWork, user_id: str, role: str) -> StoredUser:
    """An active account holding the global ``role`` (or admin), as ``project start`` checks
    every member of a team."""
    check_text("user id", user_id)
    member = uow.users.get(user_id)
    if member is None:
        raise NotFound("user", user_id, "add it with `cdmo users add`")
    if not member.active:
        raise RuleViolation("user-inactive", f"user {user_id!r} is deactivated", user=user_id)
    if role not in member.roles and ADMIN_ROLE not in member.roles:
        raise RuleViolation(
            "role-not-held",
            f"user {user_id!r} does not hold the role {role!r} "
            f"(holds: {', '.join(member.roles)}); add the role to the user before assigning it",
            user=user_id,
            role=role,
        )
    return member


# ---------------------------------------------------------------------- team changes


def change_team(
    ctx: Context,
    code: str,
    kind: str,
    role: str,
    user: str,
    by: str,
    reason: str,
    new_user: str | None = None,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo team add|replace|remove``: the manager role (or an administrator) restaffs."""

    def apply(project: Project, step: Step) -> Change:
        if kind in ("add", "replace"):
            newcomer = user if kind == "add" else new_user
            if newcomer:
                require_member(step.uow, newcomer, role)
        return project.change_team(
            kind,
            role,
            user,
            new_user,
            by,
            reason,
            step.now,
            by_is_admin=is_admin(step.actor),
        )

    return project_command(
        ctx,
        f"team.{kind}" if kind in ("add", "replace", "remove") else "team.add",
        code,
        f"{role}/{user}",
        {"kind": kind, "role": role, "user": user, "new_user": new_user, "reason": reason},
        Credential(by, password, session),
        apply,
        idempotency_key,
    )


# ---------------------------------------------------------------------- delegations


def _account(uow: UnitOfWork, user_id: str) -> StoredUser:
    check_text("user id", user_id)
    account = uow.users.get(user_id)
    if account is None:
        raise NotFound("user", user_id, "see `cdmo users list`")
    if not account.active:
        raise RuleViolation("user-inactive", f"user {user_id!r} is deactivated", user=user_id)
    return account


def grant_delegation(
    ctx: Context,
    delegator: str,
    delegate: str,
    role: str,
    start: str,
    end: str,
    reason: str,
    by: str,
    project: str | None = None,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo delegate``: the delegator (or an administrator) lets ``delegate`` sign ``role``
    on their behalf from ``start`` to ``end`` (on ``project``, or on every project)."""

    def apply(step: Step) -> Change:
        uow = step.uow
        actor = step.require_actor()
        admin = is_admin(actor)
        if by != delegator and not admin:
            raise RuleViolation(
                "not-delegator",
                f"user {by!r} may not delegate the authority of {delegator!r}: only "
                f"{delegator!r} or an administrator may",
                user=by,
                delegator=delegator,
            )
        if admin and by == delegate and by != delegator:
            raise RuleViolation(
                "self-administration",
                f"an administrator cannot delegate someone's authority to themselves ({by!r})",
                user=by,
            )
        check_text("phase id", role)
        giver, taker = _account(uow, delegator), _account(uow, delegate)
        if project is not None:
            check_text("project code", project)
            stored = uow.projects.get(project)
            if stored is None:
                raise NotFound("project", project, "see `cdmo project list`")
            team = (stored.document or {}).get("team") or {}
            if delegator not in team.get(role, []):
                raise RuleViolation(
                    "not-assigned-to-role",
                    f"user {delegator!r} is not assigned to role {role!r} on project "
                    f"{project} and has no authority there to delegate",
                    user=delegator,
                    role=role,
                    project=project,
                )
        made = deleg.grant(
            new_id="D?",
            delegator=delegator,
            delegate=delegate,
            role=role,
            project=project,
            start=start,
            end=end,
            reason=reason,
            by=by,
            now=step.now,
            delegator_roles=list(giver.roles),
            delegate_roles=list(taker.roles),
            existing=uow.delegations.by_delegator(delegator, role),
        )
        saved = uow.delegations.add(made)
        text = (
            f"{saved.delegate} may sign as {saved.role} on behalf of {saved.delegator} on "
            f"{saved.scope()} from {iso(saved.starts_at)} until {iso(saved.ends_at)} "
            f"({saved.id}, granted by {by}). Reason: {reason}"
        )
        for person in dict.fromkeys((delegator, delegate)):
            step.notices.append(
                notice(person, "delegation", f"[cdmo] Delegation {saved.id}", text, id=saved.id)
            )
        step.data["delegation"] = saved.to_dict(step.now)
        return Change("delegation.grant", saved.id, None, saved.to_dict())

    return execute(
        ctx,
        Command(
            "delegation.grant",
            Credential(by, password, session),
            f"{delegator}->{delegate}",
            {
                "delegator": delegator,
                "delegate": delegate,
                "role": role,
                "project": project,
                "start": start,
                "end": end,
                "reason": reason,
            },
            apply,
            idempotency_key=idempotency_key,
        ),
    )


def revoke_delegation(
    ctx: Context,
    delegation_id: str,
    by: str,
    reason: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo delegate revoke``: the delegator, the delegate or an administrator ends it now."""

    def apply(step: Step) -> Change:
        check_text("delegation id", delegation_id)
        found = step.uow.delegations.get(delegation_id)
        if found is None:
            raise NotFound("delegation", delegation_id, "see `cdmo delegate list`")
        ended = deleg.revoke(
            found, by=by, reason=reason, now=step.now, by_is_admin=is_admin(step.actor)
        )
        step.uow.delegations.revoke(ended)
        text = (
            f"Delegation {found.id} ({found.role}, {found.scope()}) was revoked by {by}: {reason}"
        )
        for person in dict.fromkeys((found.delegator, found.delegate)):
            step.notices.append(
                notice(person, "delegation", f"[cdmo] Delegation {found.id} revoked", text)
            )
        step.data["delegation"] = ended.to_dict(step.now)
        return Change("delegation.revoke", found.id, found.to_dict(), ended.to_dict())

    return execute(
        ctx,
        Command(
            "delegation.revoke",
            Credential(by, password, session),
            delegation_id,
            {"delegation": delegation_id, "reason": reason},
            apply,
            idempotency_key=idempotency_key,
        ),
    )


def list_delegations(ctx: Context, user: str | None = None) -> dict[str, Any]:
    """Every delegation (or those given or received by ``user``), with its status now."""
    if user is not None:
        check_text("user id", user)
    with ctx.db.unit_of_work(read_only=True) as uow:
        now = uow.now()
        found = uow.delegations.of(None if user is None else [user])
    return {"now": iso(now), "delegations": [d.to_dict(now) for d in found]}


def delegation_for_signature(
    uow: UnitOfWork, delegator: str, delegate: StoredUser, role: str, project: str, now: datetime
) -> tuple[Delegation | None, str]:
    """The delegation a signature on behalf of ``delegator`` uses, and the delegator's name.

    The delegate must still hold the role (the grant checked it; an administrator may have
    taken it away since), and the delegator's account must still be active.
    """
    check_text("user id", delegator)
    giver = uow.users.get(delegator)
    if giver is None:
        raise NotFound("user", delegator, "see `cdmo users list`")
    found = deleg.best_match(
        uow.delegations.between(delegator, delegate.user_id),
        delegator=delegator,
        delegate=delegate.user_id,
        role=role,
        project=project,
        now=now,
    )
    if found is not None and found.in_force(now):
        if not giver.active:
            raise RuleViolation(
                "delegation-not-in-force",
                f"the account of {delegator!r} is deactivated: its delegations no longer hold",
                user=delegate.user_id,
                delegator=delegator,
            )
        if found.role not in delegate.roles:
            raise RuleViolation(
                "delegate-lacks-role",
                f"user {delegate.user_id!r} no longer holds the role {found.role!r} and cannot "
                f"sign for it on behalf of {delegator!r}",
                user=delegate.user_id,
                role=found.role,
            )
    return found, giver.name


# ---------------------------------------------------------------------- conditions


def accept_condition(
    ctx: Context,
    code: str,
    condition_id: str,
    by: str,
    comment: str | None = None,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo condition accept``: the raiser's role or the quality role verifies a closure."""
    return project_command(
        ctx,
        "condition.accept",
        code,
        condition_id,
        {"condition": condition_id, "comment": comment},
        Credential(by, password, session),
        lambda p, s: p.accept_condition(condition_id, by, s.now, comment),
        idempotency_key,
    )


def reject_condition(
    ctx: Context,
    code: str,
    condition_id: str,
    by: str,
    reason: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo condition reject``: the closure is not enough; the condition opens again."""
    return project_command(
        ctx,
        "condition.reject",
        code,
        condition_id,
        {"condition": condition_id, "reason": reason},
        Credential(by, password, session),
        lambda p, s: p.reject_condition(condition_id, by, reason, s.now),
        idempotency_key,
    )


# ---------------------------------------------------------------------- holds


def release_hold(
    ctx: Context,
    code: str,
    hold_id: str,
    user: str,
    password: str | None,
    meaning: str,
    reason: str,
    idempotency_key: str | None = None,
) -> CommandResult:
    """``cdmo project release``: the quality role releases a quality hold with a signature
    (the password every time, as for a gate signature)."""

    def apply(step: Step) -> Change:
        account = step.require_actor()
        if is_admin(account) and not ctx.settings.admins_may_sign:
            raise RuleViolation(
                "admin-may-not-sign",
                f"user {user!r} holds the admin role and may not sign (segregation of duties)",
                user=user,
            )
        check_text("hold id", hold_id)
        signer = Signer(user=account.user_id, name=account.name)
        return step.require_project().release_hold(hold_id, signer, meaning, reason, step.now)

    return execute(
        ctx,
        Command(
            "project.release",
            Credential(user, password),
            hold_id,
            {"hold": hold_id, "meaning": meaning, "reason": reason},
            apply,
            project=code,
            idempotency_key=idempotency_key,
        ),
    )


# ---------------------------------------------------------------------- carried deliverables


def carry_deliverable(
    ctx: Context,
    code: str,
    phase: str,
    deliverable: str,
    by: str,
    reason: str,
    idempotency_key: str | None = None,
    *,
    password: str | None = None,
    session: str | None = None,
) -> CommandResult:
    """``cdmo deliverable carry``: the phase owner keeps a still-valid deliverable after a
    recycle instead of submitting the same document again."""
    return project_command(
        ctx,
        "deliverable.carry",
        code,
        f"{phase}/{deliverable}",
        {"phase": phase, "deliverable": deliverable, "reason": reason},
        Credential(by, password, session),
        lambda p, s: p.carry_deliverable(phase, deliverable, by, reason, s.now),
        idempotency_key,
    )


# ---------------------------------------------------------------------- task lists


def _projects(ctx: Context, uow: UnitOfWork, codes: Sequence[str]) -> list[Project]:
    return [
        Project.from_dict(doc, snapshot(ctx, uow, version_hash))
        for doc, version_hash in uow.people.documents(codes)
    ]


def task_lists(
    ctx: Context, users: Iterable[str] | None = None, *, now: datetime | None = None
) -> tuple[datetime, dict[str, list[Task]]]:
    """(now, user -> tasks) for ``users`` (everyone with a task when None).

    Reads the delegations of those people and only the projects whose team names them or
    a delegator of theirs (from the listing summary), in one read-only unit of work.
    """
    at, lists, _ = task_board(ctx, users, now=now, names=False)
    return at, lists


Board = tuple[datetime, dict[str, list[Task]], dict[str, str]]
"""(now, user -> tasks, user id -> printed name): what the ``tasks-<user>`` artifacts show."""


def task_board(
    ctx: Context,
    users: Iterable[str] | None = None,
    *,
    now: datetime | None = None,
    names: bool = True,
) -> Board:
    """:func:`task_lists` and the printed names (user id → name) in the same read."""
    wanted = None if users is None else sorted(set(users))
    for u in wanted or []:
        check_text("user id", u)
    with ctx.db.unit_of_work(read_only=True) as uow:
        return _board(ctx, uow, wanted, now or uow.now(), names)


def _board(
    ctx: Context, uow: UnitOfWork, wanted: list[str] | None, at: datetime, names: bool
) -> Board:
    delegations = uow.delegations.of(wanted)
    if wanted is None:
        codes = uow.people.project_codes(None)
    else:
        givers = {d.delegator for d in delegations if d.delegate in wanted and d.in_force(at)}
        codes = uow.people.project_codes(set(wanted) | givers)
    projects = _projects(ctx, uow, codes)
    printed = {u.user_id: u.name for u in uow.users.list()} if names else {}
    everyone = wanted
    if everyone is None:
        found: set[str] = set()
        for p in projects:
            found |= people_concerned(p, delegations)
        found |= {d.delegate for d in delegations} | {d.delegator for d in delegations}
        everyone = sorted(found)
    out = {u: tasks_for(u, projects, delegations, at) for u in everyone}
    if wanted is None:
        out = {u: t for u, t in out.items() if t}
    return at, out, printed


def tasks_document(ctx: Context, user: str | None = None) -> dict[str, Any]:
    """The ``cdmo tasks --json`` document: ``{now, users: {user: [task...]}}``."""
    at, lists = task_lists(ctx, None if user is None else [user])
    return {"now": iso(at), "users": {u: [t.to_dict() for t in ts] for u, ts in lists.items()}}


@dataclass(frozen=True)
class PeopleNow:
    """What a committed change means for the people of one project, read at once."""

    signers: dict[str, dict[str, list[str]]]
    """gate -> missing role -> who could still sign it now (in person or as a delegate)."""
    affected: list[str]
    """whose task list the change may have altered: the team and their delegates."""


def people_now(ctx: Context, code: str, project: Project | None = None) -> PeopleNow:
    """The gate runs' "who can sign" and the people whose task lists to republish, in one
    read-only unit of work (``project``: the aggregate a command just saved, so it is not
    loaded again)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        return _people_now(ctx, uow, code, project, uow.now())


def people_and_board(
    ctx: Context, code: str, project: Project | None = None, extra: Iterable[str] = ()
) -> tuple[PeopleNow, Board]:
    """:func:`people_now` and the task board of everyone it affects (plus ``extra``), in one
    read-only unit of work: what the people hook republishes after a command."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        now = uow.now()
        people = _people_now(ctx, uow, code, project, now)
        wanted = sorted(set(people.affected) | set(extra))
        return people, _board(ctx, uow, wanted, now, True)


def _people_now(
    ctx: Context, uow: UnitOfWork, code: str, project: Project | None, now: datetime
) -> PeopleNow:
    from cdmo_workflow.service.runner import load

    if project is None:
        project, _ = load(ctx, uow, code)
    members = {u for users in project.team.values() for u in users}
    delegations = uow.delegations.of(members)
    given = [d for d in delegations if d.delegator in members]
    return PeopleNow(
        signers={r.gate: who_can_sign(project, r.gate, given, now) for r in project.open_reviews()},
        affected=sorted(members | {d.delegate for d in delegations if d.covers(code)}),
    )


def signers_now(ctx: Context, code: str) -> dict[str, dict[str, list[str]]]:
    """gate -> missing role -> who could still sign it now (in person or as a delegate), for
    every open review of ``code``: what the gate runs' tags show."""
    return people_now(ctx, code).signers


def projects_of(ctx: Context, users: Iterable[str]) -> list[str]:
    """Codes of the active or held projects whose team names one of ``users``."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        return uow.people.project_codes(set(users))


def people_affected(ctx: Context, code: str | None, extra: Iterable[str] = ()) -> list[str]:
    """Whose task list a committed change may have altered: the project's team and their
    delegates (``code``), plus ``extra`` (the parties of a delegation)."""
    people = set(extra)
    if code is not None:
        with contextlib.suppress(NotFound):
            people |= set(people_now(ctx, code).affected)
    return sorted(people)
