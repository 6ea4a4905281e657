"""What waits for a person: the task list of ``cdmo tasks`` and the ``tasks-<user>`` artifact.

Pure: projects, delegations and ``now`` in, tasks out. For one user, across projects:

* ``sign``: an open gate review the user could sign now, for each role they can fill, in
  person or on behalf of a delegator (the signing rules about the signer decide:
  ``signing_rules.refusal_for_signer``); due by the gate's SLA;
* ``deliverable`` / ``check``: a required deliverable not submitted, or a check not
  confirmed, in an active phase not on hold, for the owner / ``confirmed_by`` role; due at
  the phase's planned end (start + ``duration``);
* ``condition-close``: a condition not yet closed that the user owns (or whose owner role
  they hold); ``condition-accept``: a closed condition they may accept; due at its due date;
* ``hold-release``: a quality hold the user may release (quality role);
* ``delegation-ending``: a delegation in force, given or received, that ends within
  :data:`~.delegation.ENDING_SOON`.

Each task has ``due_at`` and ``late_days`` (days past due, by the one rule of
``domain/sla.py``: late strictly after the due instant; 0 when on time, None without due).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .conditions import acceptors_of, owners_of
from .delegation import ENDING_SOON, Delegation, in_force_for
from .holds import phase_hold, quality_people
from .plan import planned_end
from .project import Project
from .records import PhaseState, ProjectState, iso
from .signing_rules import refusal_for_signer
from .sla import gate_due_at, is_overdue

KINDS = (
    "sign",
    "deliverable",
    "check",
    "condition-close",
    "condition-accept",
    "hold-release",
    "delegation-ending",
)


@dataclass(frozen=True)
class Task:
    """One thing that waits for ``user``."""

    user: str
    kind: str
    project: str | None
    subject: str
    title: str
    due_at: datetime | None
    now: datetime
    roles: tuple[str, ...] = ()
    """How the user can do it: ``qa``, or ``qa on behalf of quinn`` (sign tasks)."""
    detail: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def late_days(self) -> float | None:
        """Days past due (0.0 when on time), None without a due date."""
        if self.due_at is None:
            return None
        if not is_overdue(self.due_at, self.now):
            return 0.0
        return round((self.now - self.due_at).total_seconds() / 86400, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "kind": self.kind,
            "project": self.project,
            "subject": self.subject,
            "title": self.title,
            "roles": list(self.roles),
            "due_at": iso(self.due_at),
            "late_days": self.late_days,
            "overdue": bool(self.late_days),
            **({"detail": self.detail} if self.detail else {}),
        }


def _sort_key(t: Task) -> tuple[Any, ...]:
    late = t.late_days or 0.0
    due = t.due_at.timestamp() if t.due_at else float("inf")
    return (-late, due, t.project or "", KINDS.index(t.kind), t.subject)


def signing_options(
    project: Project, gate_id: str, user: str, delegations: Sequence[Delegation], now: datetime
) -> list[str]:
    """The ways ``user`` can sign ``gate_id`` now: ``role`` or ``role on behalf of X``."""
    gdef, _ = project.gate_def(gate_id)
    out: list[str] = []
    for quota in gdef.signoffs:
        if refusal_for_signer(project, gate_id, user, quota.role, now) is None:
            out.append(quota.role)
    for d in in_force_for(delegations, delegate=user, project=project.code, now=now):
        if any(q.role == d.role for q in gdef.signoffs):
            refused = refusal_for_signer(
                project, gate_id, user, d.role, now, on_behalf_of=d.delegator, delegation=d
            )
            if refused is None:
                out.append(f"{d.role} on behalf of {d.delegator}")
    return out


def who_can_sign(
    project: Project, gate_id: str, delegations: Sequence[Delegation], now: datetime
) -> dict[str, list[str]]:
    """Missing role -> the people who could still sign it now (in person or as a delegate):
    what the gate run's tags show. Empty when the gate is not open."""
    review = project.open_review(gate_id)
    if review is None:
        return {}
    out: dict[str, list[str]] = {}
    candidates = {u for users in project.team.values() for u in users}
    candidates |= {d.delegate for d in delegations if d.covers(project.code)}
    for miss in project.missing(review):
        role = miss["role"]
        people = [
            u
            for u in sorted(candidates)
            if any(
                opt == role or opt.startswith(f"{role} on behalf of ")
                for opt in signing_options(project, gate_id, u, delegations, now)
            )
        ]
        out[role] = people
    return out


def tasks_for(
    user: str,
    projects: Iterable[Project],
    delegations: Sequence[Delegation],
    now: datetime,
) -> list[Task]:
    """Everything that waits for ``user`` at ``now``, most late first, then by due date."""
    tasks: list[Task] = []
    for project in projects:
        tasks.extend(_project_tasks(user, project, delegations, now))
    for d in delegations:
        if user not in (d.delegator, d.delegate) or not d.in_force(now):
            continue
        if d.effective_end - now <= ENDING_SOON:
            other = d.delegate if user == d.delegator else d.delegator
            way = "to" if user == d.delegator else "from"
            tasks.append(
                Task(
                    user,
                    "delegation-ending",
                    d.project,
                    d.id,
                    f"delegation {d.id} of role {d.role} {way} {other} ends "
                    f"{iso(d.effective_end)} ({d.scope()})",
                    d.effective_end,
                    now,
                    (d.role,),
                )
            )
    return sorted(tasks, key=_sort_key)


def _project_tasks(
    user: str, project: Project, delegations: Sequence[Delegation], now: datetime
) -> list[Task]:
    out: list[Task] = []
    code = project.code
    snap = project.snapshot

    def add(kind: str, subject: str, title: str, due: datetime | None, *roles: str) -> None:
        out.append(Task(user, kind, code, subject, title, due, now, tuple(roles)))

    if project.state in (ProjectState.KILLED, ProjectState.COMPLETED):
        return out
    if user in quality_people(project):
        for h in project.holds:
            if h.active and h.quality:
                add("hold-release", h.id or "", f"release quality hold {h.id} on {h.scope}", None)
    if project.state != ProjectState.ACTIVE:
        return out
    for review in project.open_reviews():
        options = signing_options(project, review.gate, user, delegations, now)
        if options:
            gdef = snap.gates[review.gate]
            add(
                "sign",
                review.gate,
                f"sign gate {gdef.name} (review {review.number})",
                gate_due_at(gdef, review.opened_at),
                *options,
            )
    for pdef in snap.process.phases:
        run = project.phases[pdef.id]
        if run.state != PhaseState.ACTIVE or phase_hold(project, pdef.id) is not None:
            continue
        due = planned_end(pdef, run.started_at) if run.started_at else None
        for d in pdef.deliverables:
            if (
                d.required
                and d.id not in run.deliverables
                and user in project.team.get(d.owner, [])
            ):
                add("deliverable", f"{pdef.id}/{d.id}", f"submit {d.name}", due, d.owner)
        for c in snap.gates[pdef.gate].checks:
            if c.id not in run.checks and user in project.team.get(c.confirmed_by, []):
                add("check", f"{pdef.gate}/{c.id}", f"confirm {c.name}", due, c.confirmed_by)
    for cond in project.conditions:
        if cond.done:
            continue
        if cond.state == "open" and user in owners_of(project, cond):
            add("condition-close", cond.id, f"close condition {cond.id}: {cond.text}", cond.due_at)
        elif cond.state == "closed" and user in acceptors_of(project, cond):
            add(
                "condition-accept",
                cond.id,
                f"accept (or reject) the closure of {cond.id}: {cond.text}",
                cond.due_at,
            )
    return out


def people_concerned(project: Project, delegations: Sequence[Delegation]) -> set[str]:
    """Everyone whose task list a change to ``project`` can alter: the team and the delegates
    of its members (the post-commit hook refreshes their ``tasks-<user>`` artifacts)."""
    people = {u for users in project.team.values() for u in users}
    people |= {d.delegate for d in delegations if d.delegator in people and d.covers(project.code)}
    return people
