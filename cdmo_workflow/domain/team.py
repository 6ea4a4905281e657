"""Team changes on a running project: add, replace or remove a person in a role. Pure.

The manager role (or an administrator) changes the team with a reason; each change is one
audit row and a notification to the people it concerns (the person added, replaced or
removed, and the managers). Signatures already given stay valid: they record the person and
role at the time and are never rewritten. A change is refused when it would leave a gate
still ahead impossible to pass (``team-cannot-meet-quota``, naming the gate: the same check
as ``project start``, counting the signatures an open review already has), a required
deliverable or check of a phase still ahead without anyone to do it
(``team-cannot-deliver``), or the project without a manager (``manager-required``).
Replacing a person hands the open conditions they own to the new person; removing them is
refused while they own one (``owns-open-conditions``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from . import events as ev
from .changes import Change, require_reason
from .errors import RuleViolation
from .limits import check_text
from .records import PhaseState, ProjectState
from .staffing import remaining_shortfalls

if TYPE_CHECKING:
    from .aggregate import Aggregate as Project

TeamChange = Literal["add", "replace", "remove"]


def change_team(
    project: Project,
    kind: TeamChange | str,
    role: str,
    user: str,
    new_user: str | None,
    by: str,
    reason: str,
    now: datetime,
    *,
    by_is_admin: bool = False,
) -> Change:
    """Apply one team change, or refuse it with the rule it breaks."""
    process = project.snapshot.process
    if kind not in ("add", "replace", "remove"):
        raise RuleViolation("invalid-team-change", f"unknown team change {kind[:20]!r}")
    check_text("phase id", role)
    check_text("user id", user)
    if kind == "replace":
        if not new_user:
            raise RuleViolation("new-user-required", "team replace needs the new user id")
        check_text("user id", new_user)
    manager = process.manager_role
    if by not in project.team.get(manager, []) and not by_is_admin:
        raise RuleViolation(
            "not-project-manager",
            f"user {by!r} is not assigned to the manager role {manager!r} of project "
            f"{project.code} and cannot change its team",
            user=by,
            role=manager,
            project=project.code,
        )
    require_reason(reason)
    if project.state in (ProjectState.KILLED, ProjectState.COMPLETED):
        raise RuleViolation(
            "project-not-active",
            f"project {project.code} is {project.state.value}: its team no longer changes",
            project=project.code,
            state=project.state.value,
        )
    if role not in process.roles:
        raise RuleViolation(
            "unknown-role",
            f"role {role!r} is not declared by process {process.id} "
            f"(it declares: {', '.join(sorted(process.roles))})",
            role=role,
            process=process.id,
        )
    members = list(project.team.get(role, []))
    if kind == "add":
        if user in members:
            raise RuleViolation(
                "already-assigned",
                f"user {user!r} is already assigned to role {role!r} on {project.code}",
                user=user,
                role=role,
            )
        after = [*members, user]
    else:
        if user not in members:
            raise RuleViolation(
                "not-assigned-to-role",
                f"user {user!r} is not assigned to role {role!r} on {project.code} "
                f"(assigned: {', '.join(members) or 'nobody'})",
                user=user,
                role=role,
            )
        if kind == "replace":
            assert new_user is not None
            if new_user in members:
                raise RuleViolation(
                    "already-assigned",
                    f"user {new_user!r} is already assigned to role {role!r} on {project.code}",
                    user=new_user,
                    role=role,
                )
            after = [new_user if u == user else u for u in members]
        else:
            after = [u for u in members if u != user]
    team = {r: list(u) for r, u in project.team.items()}
    team[role] = after
    if not team[role]:
        del team[role]
    _check_feasible(project, team)
    still_member = any(user in people for people in team.values())
    owned = [
        c for c in project.conditions if c.owner_user == user and not c.done and not still_member
    ]
    if owned and kind == "remove":
        raise RuleViolation(
            "owns-open-conditions",
            f"user {user!r} owns open condition(s) {', '.join(c.id for c in owned)}; replace "
            "them (`cdmo team replace`) so the conditions pass to their successor",
            user=user,
            conditions=[c.id for c in owned],
        )
    for c in owned:
        c.owner_user = new_user
    old_team = {role: members}
    project.team = team
    managers = list(team.get(manager, []))
    concerned = [u for u in (user, new_user) if u] + managers
    project._emit(
        ev.TEAM_CHANGED,
        data={
            "kind": kind,
            "role": role,
            "user": user,
            "new_user": new_user,
            "by": by,
            "reason": reason,
            "members": after,
            "conditions_handed_over": [c.id for c in owned],
            "notify_users": list(dict.fromkeys(concerned)),
        },
    )
    return Change(
        f"team.{kind}",
        f"{role}/{user}",
        old_team,
        {
            "role": role,
            "user": user,
            "new_user": new_user,
            "members": after,
            "reason": reason,
            "conditions_handed_over": [c.id for c in owned],
        },
    )


def _check_feasible(project: Project, team: dict[str, list[str]]) -> None:
    process = project.snapshot.process
    if not team.get(process.manager_role):
        raise RuleViolation(
            "manager-required",
            f"project {project.code} needs someone in the manager role {process.manager_role!r}",
            role=process.manager_role,
        )
    for pdef in process.phases:
        run = project.phases[pdef.id]
        if run.state == PhaseState.COMPLETED:
            continue
        gdef = project.snapshot.gates[pdef.gate]
        wanted = [
            ("deliverable", d.id, d.owner)
            for d in pdef.deliverables
            if d.required and d.id not in run.deliverables
        ]
        wanted += [("check", c.id, c.confirmed_by) for c in gdef.checks if c.id not in run.checks]
        for what, item, role in wanted:
            if not team.get(role):
                raise RuleViolation(
                    "team-cannot-deliver",
                    f"after this change no one holds role {role!r}, which {what} {item!r} of "
                    f"phase {pdef.id!r} (gate {pdef.gate!r}) needs",
                    gate=pdef.gate,
                    role=role,
                    phase=pdef.id,
                )
    done = {pid for pid, run in project.phases.items() if run.state == PhaseState.COMPLETED}
    signed = {r.gate: [(s.role, s.people) for s in r.signatures] for r in project.open_reviews()}
    shortfalls = remaining_shortfalls(
        process, project.snapshot.gates, team, done=done, signed=signed
    )
    if shortfalls:
        first = shortfalls[0]
        more = f" (and {len(shortfalls) - 1} more)" if len(shortfalls) > 1 else ""
        raise RuleViolation(
            "team-cannot-meet-quota",
            f"after this change the team could not pass gate {first.gate!r}: {first.message}{more}",
            gate=first.gate,
            role=first.role,
            needed=first.needed,
            assigned=first.assigned,
            shortfalls=[f.to_dict() for f in shortfalls],
        )
