"""Owned conditions of a Conditional Go: raised once per text, closed by their owner with
evidence, accepted by the raiser's role or the quality role. Pure.

* **Raising.** When a gate decides Conditional Go, each distinct condition text of its
  signatures becomes one :class:`~.records.Condition` (two signers writing the same text
  raise it once). It blocks the gates of the phases the signer named (``--condition-blocks``,
  any phase after the gated one), by default every direct successor, sharing the one
  condition.
* **Owner.** ``--condition-owner`` names a role (``role:qa`` or a declared role id) or a
  person on the team (``user:quinn`` or a team member's id). The default is the owner role of
  the blocked phases when they share one, else the process's manager role: a condition that
  spans phases owned by different roles is the project manager's to coordinate.
* **Due.** ``--condition-due`` is a duration counted from the decision (``10bd``) or a date
  (``YYYY-MM-DD``, the whole day included); the default is the gate's ``condition_due``;
  without either the condition has no due date. Overdue is the one rule of ``domain/sla.py``.
* **Closing and acceptance.** The owner closes it with evidence; then someone holding the
  raiser's role or the process's quality role accepts the closure, or rejects it (back to
  open, with the reason). Whoever closed it, and a person owner, may not accept it (no one
  verifies their own work). The gates it blocks open only once it is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..spec.durations import DURATION_PATTERN
from ..spec.models import GateDef
from . import events as ev
from .calendar import WorkCalendar, calendar_of
from .changes import Change, require_evidence, require_reason
from .delegation import parse_moment
from .errors import NotFound, RuleViolation
from .limits import check_optional, check_text
from .records import (
    CONDITION_ACCEPTED,
    CONDITION_CLOSED,
    CONDITION_OPEN,
    Condition,
    GateReview,
    PhaseState,
    iso,
)
from .sla import due_at

if TYPE_CHECKING:
    from .aggregate import Aggregate as Project

_DURATION = re.compile(DURATION_PATTERN)


# ---------------------------------------------------------------------- terms at signing


def pair_terms(
    conditions: Sequence[str],
    owners: Sequence[str],
    dues: Sequence[str],
    blocks: Sequence[str],
) -> list[tuple[str, dict[str, Any]]]:
    """(text, {owner, due, blocks}) per non-empty condition text.

    Each of ``owners``, ``dues`` and ``blocks`` is empty, given once (for every condition)
    or once per condition, in the order of ``conditions``; ``blocks`` items are
    comma-separated phase ids.
    """
    n = len(conditions)
    for name, values in (("--condition-owner", owners), ("--condition-due", dues)):
        if len(values) not in (0, 1, n):
            raise RuleViolation(
                "condition-options-mismatch",
                f"{name} is given {len(values)} times for {n} conditions: give it once (for "
                "every condition) or once per --condition, in the same order",
                option=name,
            )
    if len(blocks) not in (0, 1, n):
        raise RuleViolation(
            "condition-options-mismatch",
            f"--condition-blocks is given {len(blocks)} times for {n} conditions: give it "
            "once (for every condition) or once per --condition, in the same order",
            option="--condition-blocks",
        )
    if n == 0 and (owners or dues or blocks):
        raise RuleViolation(
            "condition-options-mismatch",
            "--condition-owner, --condition-due and --condition-blocks go with --condition",
            option="--condition-owner",
        )

    def pick(values: Sequence[str], i: int) -> str | None:
        if not values:
            return None
        value = values[0] if len(values) == 1 else values[i]
        return value.strip() or None

    out: list[tuple[str, dict[str, Any]]] = []
    for i, text in enumerate(conditions):
        if not text.strip():
            continue
        block_text = pick(blocks, i)
        term = {
            "owner": pick(owners, i),
            "due": pick(dues, i),
            "blocks": [b.strip() for b in block_text.split(",") if b.strip()]
            if block_text
            else None,
        }
        out.append((text.strip(), term))
    return out


def resolve_owner(project: Project, spec: str | None, blocked: Sequence[str]) -> dict[str, Any]:
    """``{"owner_role": ..., "owner_user": ...}`` for an ``--condition-owner`` value."""
    roles = project.snapshot.process.roles
    members = {u for users in project.team.values() for u in users}
    if spec is None:
        owners = {project.phase_def(p).owner for p in blocked}
        role = owners.pop() if len(owners) == 1 else project.snapshot.process.manager_role
        return {"owner_role": role, "owner_user": None}
    kind, sep, name = spec.partition(":")
    if not sep:
        kind, name = ("role" if spec in roles else "user"), spec
    check_text("user id" if kind == "user" else "condition", name)
    if kind == "role" and name in roles:
        if not project.team.get(name):
            raise RuleViolation(
                "condition-owner-unstaffed",
                f"no one holds role {name!r} on project {project.code}, so no one could close "
                "the condition; name a staffed role or a person",
                role=name,
            )
        return {"owner_role": name, "owner_user": None}
    if kind == "user" and name in members:
        return {"owner_role": None, "owner_user": name}
    raise RuleViolation(
        "unknown-condition-owner",
        f"condition owner {spec[:80]!r} is neither a role of process {project.process_id} "
        f"({', '.join(sorted(roles))}) nor a member of the team of {project.code}; write "
        "role:ROLE or user:USER_ID",
        owner=spec[:80],
    )


def resolve_due(
    spec: str | None, gate: GateDef, now: datetime, calendar: WorkCalendar | None = None
) -> datetime | None:
    """When a condition raised ``now`` is due (None: no due date); business days skip the
    site calendar's closed days."""
    if spec is None:
        return due_at(now, gate.condition_due, calendar)
    check_text("condition", spec)
    if _DURATION.fullmatch(spec):
        try:
            return due_at(now, spec, calendar)
        except ValueError as exc:
            raise RuleViolation(
                "invalid-condition-due", f"--condition-due {spec!r}: {exc}", due=spec
            ) from None
    try:
        return parse_moment(spec, "--condition-due", end=True)
    except RuleViolation:
        raise RuleViolation(
            "invalid-condition-due",
            f"--condition-due {spec[:40]!r} is neither a duration (10bd, 2w) nor a date "
            "(YYYY-MM-DD)",
            due=spec[:40],
        ) from None


def resolve_blocks(project: Project, gated_phase: str, spec: Sequence[str] | None) -> list[str]:
    """The phases a condition blocks: the named ones (each after the gated phase), else
    every direct successor."""
    if not spec:
        return project.successors(gated_phase)
    later = set(project.downstream(gated_phase))
    out: list[str] = []
    for pid in spec:
        if pid not in later:
            allowed = ", ".join(p for p in project.downstream(gated_phase)) or "none"
            raise RuleViolation(
                "condition-blocks-unknown-phase",
                f"a condition raised at the gate of {gated_phase!r} can only block a later "
                f"phase ({allowed}), not {pid[:64]!r}",
                phase=pid[:64],
            )
        if pid not in out:
            out.append(pid)
    return out


def check_terms(
    project: Project, gate: GateDef, gated_phase: str, terms: Sequence[dict[str, Any]], now: Any
) -> list[dict[str, Any]]:
    """Check each term at signing time; returns them with the owner written ``role:``/``user:``."""
    out: list[dict[str, Any]] = []
    for term in terms:
        blocked = resolve_blocks(project, gated_phase, term.get("blocks"))
        owner = resolve_owner(project, term.get("owner"), blocked)
        due = resolve_due(term.get("due"), gate, now, calendar_of(project.snapshot))
        if due is not None and term.get("due") is not None and due <= now:
            raise RuleViolation(
                "condition-due-past",
                f"--condition-due {term['due']!r} is already past ({iso(due)})",
                due=term["due"],
            )
        written = None
        if term.get("owner") is not None:
            written = (
                f"user:{owner['owner_user']}"
                if owner["owner_user"]
                else f"role:{owner['owner_role']}"
            )
        out.append({"owner": written, "due": term.get("due"), "blocks": term.get("blocks")})
    return out


# ---------------------------------------------------------------------- raising


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def raise_conditions(project: Project, review: GateReview, now: datetime) -> list[Condition]:
    """The conditions a Conditional Go at ``review`` raises: one per distinct text."""
    gate = project.snapshot.gates[review.gate]
    seen: set[str] = set()
    made: list[Condition] = []
    for sig in review.signatures:
        for i, text in enumerate(sig.conditions):
            if _key(text) in seen:
                continue
            seen.add(_key(text))
            term: Mapping[str, Any] = sig.condition_terms[i] if i < len(sig.condition_terms) else {}
            blocked = resolve_blocks(project, review.phase, term.get("blocks"))
            if not blocked:
                continue
            owner = resolve_owner(project, term.get("owner"), blocked)
            cond = Condition(
                id=f"C{len(project.conditions) + 1}",
                text=text,
                phase=blocked[0],
                phases=blocked,
                gate=review.gate,
                review=review.number,
                raised_by=sig.user,
                raised_role=sig.role,
                raised_on_behalf_of=sig.on_behalf_of,
                raised_at=now,
                due_at=resolve_due(term.get("due"), gate, now, calendar_of(project.snapshot)),
                needs_acceptance=True,
                **owner,
            )
            project.conditions.append(cond)
            made.append(cond)
            project._emit(
                ev.CONDITION_OPENED,
                phase=cond.phase,
                gate=review.gate,
                data={
                    "condition": cond.id,
                    "text": text,
                    "raised_by": sig.user,
                    "phases": list(cond.phases),
                    "owner": cond.owner,
                    "due_at": iso(cond.due_at),
                    "notify_users": owners_of(project, cond),
                },
            )
    return made


# ---------------------------------------------------------------------- people


def owners_of(project: Project, cond: Condition) -> list[str]:
    """Who may close ``cond``: its person owner, the people of its owner role, or (an older
    condition without owner) the phase owner's and the manager's people."""
    if cond.owner_user:
        return [cond.owner_user]
    if cond.owner_role:
        return list(project.team.get(cond.owner_role, []))
    roles = [project.phase_def(cond.phase).owner, project.snapshot.process.manager_role]
    return list(dict.fromkeys(u for r in roles for u in project.team.get(r, [])))


def acceptor_roles(project: Project, cond: Condition) -> list[str]:
    """The roles that may accept a closure: the raiser's role and the quality role."""
    roles = [r for r in (cond.raised_role, project.snapshot.process.quality_role) if r]
    return list(dict.fromkeys(roles))


def acceptors_of(project: Project, cond: Condition) -> list[str]:
    """Who may accept ``cond``'s closure now (not whoever closed it, not a person owner)."""
    people = [u for r in acceptor_roles(project, cond) for u in project.team.get(r, [])]
    barred = {cond.closed_by, cond.owner_user}
    return [u for u in dict.fromkeys(people) if u not in barred]


# ---------------------------------------------------------------------- commands


def find(project: Project, condition_id: str) -> Condition:
    check_text("condition id", condition_id)
    cond = next((c for c in project.conditions if c.id == condition_id), None)
    if cond is None:
        known = ", ".join(c.id for c in project.conditions) or "none"
        raise NotFound("condition", condition_id, f"project {project.code} has: {known}")
    return cond


def _open_gates(project: Project, cond: Condition, now: datetime) -> None:
    for pid in cond.phases:
        if project.phases[pid].state == PhaseState.ACTIVE:
            project._maybe_open_gate(pid, now)


def close(project: Project, condition_id: str, by: str, evidence: str, now: datetime) -> Change:
    """The owner closes an open condition with evidence (it then waits for acceptance)."""
    cond = find(project, condition_id)
    project.require_active("close a condition")
    require_evidence(evidence)
    if cond.state != CONDITION_OPEN:
        raise RuleViolation(
            "condition-closed",
            f"condition {condition_id} was already closed by {cond.closed_by} "
            f"at {iso(cond.closed_at)}" + (" and accepted" if cond.state == "accepted" else ""),
            condition=condition_id,
        )
    if by not in owners_of(project, cond):
        who = (
            f"its owner {cond.owner}"
            if cond.owner
            else f"the phase owner role {project.phase_def(cond.phase).owner!r} or the manager "
            f"role {project.snapshot.process.manager_role!r}"
        )
        raise RuleViolation(
            "not-condition-owner",
            f"user {by!r} may not close condition {condition_id}: only {who} may",
            user=by,
            condition=condition_id,
        )
    old = cond.to_dict()
    cond.state = CONDITION_CLOSED
    cond.closed_by = by
    cond.closed_at = now
    cond.evidence = evidence
    project._emit(
        ev.CONDITION_CLOSED,
        phase=cond.phase,
        gate=cond.gate,
        data={
            "condition": cond.id,
            "text": cond.text,
            "by": by,
            "evidence": evidence,
            "needs_acceptance": cond.needs_acceptance,
            "notify_users": acceptors_of(project, cond) if cond.needs_acceptance else [],
        },
    )
    if cond.done:
        _open_gates(project, cond, now)
    return Change("condition.close", condition_id, old, cond.to_dict())


def _require_acceptor(project: Project, cond: Condition, by: str, action: str) -> None:
    if cond.state == CONDITION_OPEN:
        raise RuleViolation(
            "condition-not-closed",
            f"condition {cond.id} is still open: its owner closes it with evidence first",
            condition=cond.id,
        )
    if cond.state == CONDITION_ACCEPTED:
        raise RuleViolation(
            "condition-accepted",
            f"condition {cond.id} was already accepted by {cond.accepted_by} at "
            f"{iso(cond.accepted_at)}",
            condition=cond.id,
        )
    if not cond.needs_acceptance:
        raise RuleViolation(
            "condition-needs-no-acceptance",
            f"condition {cond.id} was raised before conditions needed acceptance; its closure "
            "is final",
            condition=cond.id,
        )
    if by in (cond.closed_by, cond.owner_user):
        raise RuleViolation(
            "own-closure",
            f"user {by!r} closed (or owns) condition {cond.id} and may not {action} the "
            "closure: another person of the raiser's or the quality role verifies it",
            user=by,
            condition=cond.id,
        )
    roles = acceptor_roles(project, cond)
    if not any(by in project.team.get(r, []) for r in roles):
        raise RuleViolation(
            "not-assigned-to-role",
            f"user {by!r} may not {action} condition {cond.id}: only the raiser's role or the "
            f"quality role ({', '.join(roles)}) may",
            user=by,
            role=roles[0] if roles else None,
            condition=cond.id,
        )


def accept(
    project: Project, condition_id: str, by: str, now: datetime, comment: str | None = None
) -> Change:
    """Accept the closure: the condition no longer blocks its phases' gates."""
    cond = find(project, condition_id)
    project.require_active("accept a condition")
    check_optional("comment", comment)
    _require_acceptor(project, cond, by, "accept")
    old = cond.to_dict()
    cond.state = CONDITION_ACCEPTED
    cond.accepted_by = by
    cond.accepted_at = now
    cond.accept_comment = comment or None
    project._emit(
        ev.CONDITION_ACCEPTED,
        phase=cond.phase,
        gate=cond.gate,
        data={
            "condition": cond.id,
            "text": cond.text,
            "by": by,
            "comment": comment,
            "notify_users": [u for u in [cond.closed_by] if u],
        },
    )
    _open_gates(project, cond, now)
    return Change("condition.accept", condition_id, old, cond.to_dict())


def reject(project: Project, condition_id: str, by: str, reason: str, now: datetime) -> Change:
    """Refuse the closure: the condition is open again (the rejection is kept)."""
    cond = find(project, condition_id)
    project.require_active("reject a condition's closure")
    require_reason(reason)
    _require_acceptor(project, cond, by, "reject")
    old = cond.to_dict()
    cond.rejections.append(
        {
            "by": by,
            "at": iso(now),
            "reason": reason,
            "closed_by": cond.closed_by,
            "evidence": cond.evidence,
        }
    )
    closer = cond.closed_by
    cond.state = CONDITION_OPEN
    cond.closed_by = None
    cond.closed_at = None
    cond.evidence = None
    project._emit(
        ev.CONDITION_REJECTED,
        phase=cond.phase,
        gate=cond.gate,
        data={
            "condition": cond.id,
            "text": cond.text,
            "by": by,
            "reason": reason,
            "notify_users": [u for u in [closer] if u],
        },
    )
    return Change("condition.reject", condition_id, old, cond.to_dict())
