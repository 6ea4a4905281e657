"""Change requests: scope, schedule, cost and definition changes the customer signs. Pure.

A change request ``CR-<n>`` (numbered per project) goes ``draft`` → ``submitted`` →
``approved`` or ``rejected``; a draft or submitted request can be ``withdrawn``. Who must
approve comes from the process's ``change_control:`` block (role quotas, some only ``when``
the change touches a GMP phase, a gate's sign-offs, the schedule, the cost or the version;
without the block: the ``customer`` role when declared, and the manager role).

Approving is an electronic signature like a gate sign-off (the same :class:`Signature`
record and manifestation): printed name, server UTC time, meaning and the SHA-256 of the
change-request record (title, reason, impacts, target version, base version, approvers), so
any edit of them breaks the link. A person signs a request once; a signer must hold an
approver role. **A reject by any required approver rejects the request at once**; it is
approved when every quota is met. An approved request is applied in the same command: the
schedule impact re-baselines the plan (domain/baselines.py), the target version migrates
the project (domain/migration.py), the cost impact is recorded. If the migration is refused,
the approving signature is refused with it and nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..spec.approvers import default_approver_roles
from ..spec.diff import diff_snapshots, touched
from ..spec.models import ProcessDef, ProcessSnapshot
from . import events as ev
from .baselines import CHANGE, Baseline, ScheduleImpact, parse_schedule_impact, rebaseline
from .calendar import calendar_of
from .change_records import (
    OPEN_STATES,
    ChangeRequest,
    ChangeState,
    TargetVersion,
)
from .errors import NotFound, RuleViolation
from .limits import check_optional, check_text
from .migration import analyse, migrate
from .money import currency_code
from .plan import baseline_of
from .project import Change, Project, Signer
from .records import (
    ChangeDecision,
    Meaning,
    ProjectState,
    Signature,
    iso,
    sha256_of,
)
from .signing_rules import parse_meaning
from .sla import missing_in

AMOUNT_PATTERN = re.compile(r"^[+-]?[0-9]{1,15}(\.[0-9]{1,4})?$")
"""A cost impact: at most 15 digits before the point and 4 after (money is Decimal)."""


# --------------------------------------------------------------------------- lookups


def find(project: Project, cr: str) -> ChangeRequest:
    """The request ``CR-<n>`` of the project, or :class:`NotFound` naming the known ones."""
    check_text("change request id", cr)
    for c in project.change_requests:
        if c.id == cr:
            return c
    known = ", ".join(c.id for c in project.change_requests) or "none"
    raise NotFound("change request", cr, f"project {project.code} has: {known}")


def record(project: Project, cr: ChangeRequest) -> dict[str, Any]:
    """The canonical change-request record a signature is linked to (21 CFR 11.70)."""
    return {
        "project": project.code,
        "customer": project.customer,
        "process": project.process_id,
        "change": cr.id,
        "title": cr.title,
        "reason": cr.reason,
        "schedule_impact": cr.schedule_impact,
        "cost_impact": cr.cost_impact,
        "currency": cr.currency,
        "target": cr.target.to_dict() if cr.target else None,
        "base_version": cr.base_version,
        "approvers": [dict(a) for a in cr.approvers],
        "proposed_by": cr.proposed_by,
        "proposed_at": iso(cr.proposed_at),
        "submitted_by": cr.submitted_by,
        "submitted_at": iso(cr.submitted_at),
    }


def record_hash(project: Project, cr: ChangeRequest) -> str:
    return sha256_of(record(project, cr))


def view(project: Project, cr: ChangeRequest) -> dict[str, Any]:
    """``cdmo change show --json``: the request, who is still missing, each signature's
    manifestation and whether it is still linked to the record as it is now."""
    current = record_hash(project, cr)
    sigs = []
    for s in cr.signatures:
        sigs.append(
            {**s.to_dict(), "manifestation": s.manifestation(), "linked": s.record_hash == current}
        )
    out = cr.to_dict()
    out.update(
        {
            "signatures": sigs,
            "missing": cr.missing() if cr.state == ChangeState.SUBMITTED else [],
            "record_hash": current,
        }
    )
    return out


def required_approvers(process: ProcessDef, touches: Iterable[str]) -> list[dict[str, Any]]:
    """The approver quotas that apply to a change touching ``touches``:
    ``[{role, min, because}]`` (``because`` lists the triggers that made a ``when`` apply)."""
    hit = set(touches)
    out: list[dict[str, Any]] = []
    if process.change_control is None:
        return [{"role": r, "min": 1, "because": []} for r in default_approver_roles(process)]
    for q in process.change_control.approvers:
        because = [w for w in q.when if w in hit]
        if not q.when or because:
            out.append({"role": q.role, "min": q.min, "because": because})
    return out


# --------------------------------------------------------------------------- guards


def _require_open_project(project: Project, action: str) -> None:
    if project.state in (ProjectState.COMPLETED, ProjectState.KILLED):
        raise RuleViolation(
            "project-closed",
            f"project {project.code} is {project.state.value}: cannot {action}",
            project=project.code,
            state=project.state.value,
        )


def _require_team_member(project: Project, by: str, action: str) -> None:
    if not project.roles_of(by):
        raise RuleViolation(
            "not-on-team",
            f"user {by!r} holds no role on project {project.code} and cannot {action}",
            user=by,
            project=project.code,
        )


def _require_proposer_or_manager(project: Project, cr: ChangeRequest, by: str, action: str) -> None:
    manager = project.snapshot.process.manager_role
    if by != cr.proposed_by and by not in project.team.get(manager, []):
        raise RuleViolation(
            "not-proposer",
            f"user {by!r} may not {action} {cr.id}: only its proposer {cr.proposed_by!r} or the "
            f"manager role {manager!r} may",
            user=by,
            change=cr.id,
        )


def _require_state(cr: ChangeRequest, wanted: Iterable[ChangeState], action: str) -> None:
    wanted = tuple(wanted)
    if cr.state in wanted:
        return
    if cr.state == ChangeState.WITHDRAWN:
        rule = "change-withdrawn"
        text = f"{cr.id} was withdrawn by {cr.withdrawn_by} at {iso(cr.withdrawn_at)}"
    elif cr.state in (ChangeState.APPROVED, ChangeState.REJECTED):
        rule = "change-decided"
        text = f"{cr.id} was already {cr.state.value} at {iso(cr.decided_at)}"
    elif cr.state == ChangeState.DRAFT:
        rule = "change-not-submitted"
        text = f"{cr.id} is a draft; submit it first (`cdmo change submit`)"
    else:
        rule = "change-submitted"
        text = f"{cr.id} is already submitted"
    raise RuleViolation(rule, f"{text}: cannot {action}", change=cr.id, state=cr.state.value)


def _require_base(project: Project, cr: ChangeRequest, action: str) -> None:
    if cr.base_version != project.snapshot.version_hash:
        raise RuleViolation(
            "change-outdated",
            f"{cr.id} was proposed on version {cr.base_version[:12]}, but project "
            f"{project.code} is now on {project.snapshot.version_hash[:12]}: cannot {action}; "
            "withdraw it and propose it again",
            change=cr.id,
        )


def _require_reason(reason: str, what: str = "reason") -> None:
    if not reason or not reason.strip():
        raise RuleViolation("reason-required", f"a {what} is required")
    check_text("reason", reason)


def parse_cost(amount: str | None, currency: str | None) -> tuple[str | None, str | None]:
    """A cost impact as exact decimal text and its currency, or the refusal."""
    if amount is None or not str(amount).strip():
        if currency:
            raise RuleViolation(
                "currency-without-cost", "--currency is given without --cost-impact"
            )
        return None, None
    text = str(amount).strip()
    check_text("amount", text)
    if not AMOUNT_PATTERN.fullmatch(text):
        raise RuleViolation(
            "invalid-amount",
            f"cost impact {text!r} is not an amount: digits with an optional sign and at most "
            "4 decimals, e.g. 12500.00 or -800",
            value=text,
        )
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise RuleViolation("invalid-amount", f"cost impact {text!r} is not an amount") from None
    if not currency:
        raise RuleViolation(
            "currency-required", "a cost impact needs its currency (--currency EUR)"
        )
    check_text("currency", currency)
    return str(value), currency_code(currency)


# --------------------------------------------------------------------------- commands


def propose(
    project: Project,
    by: str,
    title: str,
    reason: str,
    now: datetime,
    *,
    schedule_impact: str | None = None,
    cost_impact: str | None = None,
    currency: str | None = None,
    target: ProcessSnapshot | None = None,
    target_ref: str | None = None,
) -> Change:
    """Create ``CR-<n>`` as a draft (any member of the project team)."""
    _require_open_project(project, "propose a change")
    _require_team_member(project, by, "propose a change")
    if not title or not title.strip():
        raise RuleViolation("title-required", "a change request needs a title")
    check_text("change title", title)
    _require_reason(reason)
    impact: ScheduleImpact | None = None
    if schedule_impact is not None and str(schedule_impact).strip():
        impact = parse_schedule_impact(schedule_impact)
    cost, cur = parse_cost(cost_impact, currency)
    touches: dict[str, list[str]] = {}
    target_version: TargetVersion | None = None
    if target is not None:
        ref = target_ref or target.version_hash
        check_text("version reference", ref)
        found = analyse(project, target)
        if not found.ok:
            raise found.violation()
        diff = diff_snapshots(project.snapshot, target)
        touches["version"] = [f"moves to version {target.version_hash[:12]} ({ref})"]
        touches.update(touched(diff, project.snapshot, target))
        target_version = TargetVersion(
            ref, target.version_hash, target.process.id, target.git.commit if target.git else None
        )
    if impact is not None:
        touches["schedule"] = [f"moves the remaining plan by {impact.text}"]
    if cost is not None:
        touches["cost"] = [f"costs {cost} {cur}"]
    cr = ChangeRequest(
        number=len(project.change_requests) + 1,
        title=title,
        reason=reason,
        proposed_by=by,
        proposed_at=now,
        base_version=project.snapshot.version_hash,
        schedule_impact=impact.text if impact is not None else None,
        cost_impact=cost,
        currency=cur,
        target=target_version,
        touches=touches,
        approvers=required_approvers(project.snapshot.process, touches),
    )
    project.change_requests.append(cr)
    project._emit(
        ev.CHANGE_PROPOSED,
        data={
            "change": cr.id,
            "title": title,
            "by": by,
            "schedule_impact": cr.schedule_impact,
            "cost_impact": cost,
            "currency": cur,
            "target_version": target_version.to_dict() if target_version else None,
            "touches": sorted(touches),
            "approver_roles": cr.approver_roles,
        },
    )
    return Change("change.propose", cr.id, None, cr.to_dict())


def submit(project: Project, cr_id: str, by: str, now: datetime) -> Change:
    """Send a draft for approval (its proposer or the project manager); approvers are told."""
    cr = find(project, cr_id)
    _require_open_project(project, f"submit {cr.id}")
    _require_proposer_or_manager(project, cr, by, "submit")
    _require_state(cr, (ChangeState.DRAFT,), "submit it")
    _require_base(project, cr, "submit it")
    for quota in cr.approvers:
        people = project.team.get(quota["role"], [])
        if len(people) < int(quota["min"]):
            raise RuleViolation(
                "team-cannot-approve",
                f"{cr.id} needs {quota['min']} distinct {quota['role']!r} approver(s), but the "
                f"team of project {project.code} assigns {len(people)}",
                change=cr.id,
                role=quota["role"],
            )
    cr.state = ChangeState.SUBMITTED
    cr.submitted_by = by
    cr.submitted_at = now
    project._emit(
        ev.CHANGE_SUBMITTED,
        data={
            "change": cr.id,
            "title": cr.title,
            "by": by,
            "approvers": [dict(a) for a in cr.approvers],
            "approver_roles": cr.approver_roles,
            "record_hash": record_hash(project, cr),
        },
    )
    return Change(
        "change.submit",
        cr.id,
        {"state": ChangeState.DRAFT.value},
        {"state": cr.state.value, "submitted_at": iso(now), "approvers": cr.approvers},
    )


def withdraw(project: Project, cr_id: str, by: str, reason: str, now: datetime) -> Change:
    """Withdraw a draft or submitted request (its proposer or the project manager)."""
    cr = find(project, cr_id)
    _require_proposer_or_manager(project, cr, by, "withdraw")
    _require_state(cr, OPEN_STATES, "withdraw it")
    _require_reason(reason)
    old = cr.state.value
    cr.state = ChangeState.WITHDRAWN
    cr.withdrawn_by = by
    cr.withdrawn_at = now
    cr.withdraw_reason = reason
    project._emit(
        ev.CHANGE_WITHDRAWN,
        data={
            "change": cr.id,
            "title": cr.title,
            "by": by,
            "reason": reason,
            "approver_roles": cr.approver_roles if old == ChangeState.SUBMITTED.value else [],
        },
    )
    return Change(
        "change.withdraw",
        cr.id,
        {"state": old},
        {"state": cr.state.value, "by": by, "reason": reason, "at": iso(now)},
    )


# --------------------------------------------------------------------------- signing


@dataclass
class ChangeAttempt:
    """One approval signature being checked; rules fill in what they establish."""

    project: Project
    cr: ChangeRequest
    signer: Signer
    role: str
    decision: str
    meaning: str
    comment: str = ""
    quota: dict[str, Any] | None = None
    parsed_decision: ChangeDecision | None = None
    parsed_meaning: Meaning | None = None


def _open(a: ChangeAttempt) -> None:
    _require_open_project(a.project, f"sign {a.cr.id}")


def _submitted(a: ChangeAttempt) -> None:
    _require_state(a.cr, (ChangeState.SUBMITTED,), "sign it")


def _base(a: ChangeAttempt) -> None:
    _require_base(a.project, a.cr, "sign it")


def _approver_role(a: ChangeAttempt) -> None:
    a.quota = next((q for q in a.cr.approvers if q["role"] == a.role), None)
    if a.quota is None:
        roles = ", ".join(a.cr.approver_roles)
        raise RuleViolation(
            "role-not-approver",
            f"role {a.role!r} does not approve {a.cr.id} (its approvers: {roles})",
            change=a.cr.id,
            role=a.role,
        )


def _assigned(a: ChangeAttempt) -> None:
    a.project.require_role(a.signer.user, a.role, f"sign {a.cr.id} as {a.role!r}")


def _once(a: ChangeAttempt) -> None:
    prior = next((s for s in a.cr.signatures if s.user == a.signer.user), None)
    if prior is not None:
        raise RuleViolation(
            "already-signed",
            f"user {a.signer.user!r} already signed {a.cr.id} as {prior.role!r} at "
            f"{iso(prior.signed_at)}; a person signs a change request once",
            user=a.signer.user,
            change=a.cr.id,
        )


def _quota_open(a: ChangeAttempt) -> None:
    assert a.quota is not None
    if not any(m["role"] == a.role for m in a.cr.missing()):
        raise RuleViolation(
            "quota-met",
            f"the {a.role!r} approval of {a.cr.id} is already given",
            change=a.cr.id,
            role=a.role,
        )


def _decision(a: ChangeAttempt) -> None:
    try:
        a.parsed_decision = ChangeDecision(a.decision)
    except ValueError:
        raise RuleViolation(
            "decision-not-allowed",
            f"decision {a.decision!r} is not allowed on a change request (allowed: approve, "
            "reject)",
            change=a.cr.id,
            decision=a.decision,
        ) from None


def _meaning(a: ChangeAttempt) -> None:
    a.parsed_meaning = parse_meaning(a.meaning)


def _text(a: ChangeAttempt) -> None:
    check_optional("comment", a.comment or None)


def _reject_reason(a: ChangeAttempt) -> None:
    if a.parsed_decision == ChangeDecision.REJECT and not a.comment.strip():
        raise RuleViolation(
            "reject-needs-reason",
            f"a reject of {a.cr.id} needs a reason in the comment (--comment TEXT)",
            change=a.cr.id,
            user=a.signer.user,
        )


@dataclass(frozen=True)
class ChangeRule:
    id: str
    checks: str
    check: Callable[[ChangeAttempt], None]


CHANGE_SIGNING_RULES: tuple[ChangeRule, ...] = (
    ChangeRule("project-closed", "the project is not completed or killed", _open),
    ChangeRule("change-not-submitted", "the request is submitted (not a draft, withdrawn or "
               "decided)", _submitted),
    ChangeRule("change-outdated", "the project is still on the version it was proposed on",
               _base),
    ChangeRule("role-not-approver", "the role is one of the request's approver quotas",
               _approver_role),
    ChangeRule("not-assigned-to-role", "the signer holds that role on the project", _assigned),
    ChangeRule("already-signed", "a person signs a request once, in one role", _once),
    ChangeRule("quota-met", "the role's quota still needs an approval", _quota_open),
    ChangeRule("decision-not-allowed", "the decision is approve or reject", _decision),
    ChangeRule("invalid-meaning", "the meaning is approval, review, responsibility or "
               "authorship", _meaning),
    ChangeRule("field-too-long", "the comment fits the limits table", _text),
    ChangeRule("reject-needs-reason", "a reject says why (the comment)", _reject_reason),
)  # fmt: skip
"""Checked in this order; the first failing rule names the refusal (``change-not-submitted``
also stands for ``change-withdrawn`` and ``change-decided``)."""


def sign(
    project: Project,
    cr_id: str,
    signer: Signer,
    role: str,
    decision: ChangeDecision | str,
    meaning: Meaning | str,
    now: datetime,
    *,
    comment: str | None = None,
    target: ProcessSnapshot | None = None,
) -> Change:
    """Record an approver's e-signature; reject at once, or approve and apply when every
    quota is met. ``target`` is the snapshot of the request's target version (the service
    loads it; needed only when the signature approves a request that names one)."""
    cr = find(project, cr_id)
    attempt = ChangeAttempt(project, cr, signer, role, str(decision), str(meaning), comment or "")
    for rule in CHANGE_SIGNING_RULES:
        rule.check(attempt)
    dec, mean = attempt.parsed_decision, attempt.parsed_meaning
    assert dec is not None and mean is not None
    signature = Signature(
        user=signer.user,
        name=signer.name,
        role=role,
        decision=dec,
        meaning=mean,
        signed_at=now,
        record_hash=record_hash(project, cr),
        comment=comment or None,
    )
    quotas = [(a["role"], int(a["min"])) for a in cr.approvers]
    given = [x.role for x in cr.signatures if x.decision == ChangeDecision.APPROVE]
    approving = dec == ChangeDecision.APPROVE and not missing_in(quotas, [*given, role])
    if approving and cr.target is not None:
        if target is None or target.version_hash != cr.target.version_hash:
            raise RuleViolation(
                "unknown-version",
                f"the snapshot of version {cr.target.version_hash[:12]} that {cr.id} moves to "
                "is not stored",
                change=cr.id,
            )
        found = analyse(project, target)
        if not found.ok:  # refused before anything changes: the signature is refused with it
            raise found.violation()
    cr.signatures.append(signature)
    project._emit(
        ev.CHANGE_SIGNED,
        data={
            "change": cr.id,
            "title": cr.title,
            **signature.to_dict(),
            "missing": cr.missing(),
        },
    )
    old = {"state": cr.state.value}
    applied: dict[str, Any] | None = None
    if dec == ChangeDecision.REJECT:
        cr.state = ChangeState.REJECTED
        cr.decided_at = now
        project._emit(
            ev.CHANGE_REJECTED,
            data={
                "change": cr.id,
                "title": cr.title,
                "by": signer.user,
                "role": role,
                "comment": comment,
                "approver_roles": cr.approver_roles,
            },
        )
    elif not cr.missing():
        cr.state = ChangeState.APPROVED
        cr.decided_at = now
        project._emit(
            ev.CHANGE_APPROVED,
            data={
                "change": cr.id,
                "title": cr.title,
                "signers": [
                    {"user": s.user, "name": s.name, "role": s.role} for s in cr.signatures
                ],
                "approver_roles": cr.approver_roles,
            },
        )
        applied = _apply(project, cr, now, target)
    new = {
        **signature.to_dict(),
        "change": cr.id,
        "state": cr.state.value,
    }
    if applied is not None:
        new["applied"] = applied
        if applied.get("migrated"):
            old["version_hash"] = applied["migrated"]["from_version"]
            new["version_hash"] = applied["migrated"]["to_version"]
    return Change("change.sign", cr.id, old, new)


def _apply(
    project: Project, cr: ChangeRequest, now: datetime, target: ProcessSnapshot | None
) -> dict[str, Any]:
    """Apply an approved request: migrate, re-baseline, record the cost; emit ``applied``."""
    old_process = project.snapshot.process
    approvers = [s.user for s in cr.signatures]
    migrated: dict[str, Any] | None = None
    if cr.target is not None:
        assert target is not None
        migrated = migrate(project, target, now, by=approvers[-1], change=cr.id)
    impact = parse_schedule_impact(cr.schedule_impact) if cr.schedule_impact else None
    baseline_no: int | None = None
    previous = project.baselines[-1] if project.baselines else None
    cal = calendar_of(project.snapshot)
    prev_phases = (
        previous.phases
        if previous is not None
        else baseline_of(old_process, project.created_at, cal)
    )
    phases, milestones = rebaseline(
        prev_phases,
        old_process,
        project.snapshot.process,
        {pid: run.state for pid, run in project.phases.items()},
        now,
        impact,
        previous.milestones if previous is not None else None,
        cal,
    )
    if impact is not None or phases != prev_phases:
        baseline_no = len(project.baselines)
        project.baselines.append(
            Baseline(
                number=baseline_no,
                phases=phases,
                at=now,
                source=CHANGE,
                version_hash=project.snapshot.version_hash,
                change=cr.id,
                approved_by=approvers,
                reason=cr.title,
                milestones=milestones,
                schedule_impact=cr.schedule_impact,
            )
        )
    cr.applied = {
        "at": iso(now),
        "baseline": baseline_no,
        "migrated": migrated,
        "schedule_impact": cr.schedule_impact,
        "cost_impact": cr.cost_impact,
        "currency": cr.currency,
    }
    project._emit(
        ev.CHANGE_APPLIED,
        data={
            "change": cr.id,
            "title": cr.title,
            "baseline": baseline_no,
            "baseline_end": iso(project.baselines[-1].end) if project.baselines else None,
            "migrated": (
                {"from_version": migrated["from_version"], "to_version": migrated["to_version"]}
                if migrated
                else None
            ),
            "schedule_impact": cr.schedule_impact,
            "cost_impact": cr.cost_impact,
            "currency": cr.currency,
        },
    )
    return dict(cr.applied)


def migrate_approved(project: Project, target: ProcessSnapshot, by: str, now: datetime) -> Change:
    """``cdmo project migrate`` without ``--dry-run``: only under an approved request that
    names ``target`` and has not been applied yet (approving one applies it at once, so this
    finds one only when the approval's migration was left to it). Refused otherwise."""
    project.require_role(by, project.snapshot.process.manager_role, "migrate the project")
    naming = [
        c
        for c in project.change_requests
        if c.target and c.target.version_hash == target.version_hash
    ]
    approved = [c for c in naming if c.state == ChangeState.APPROVED]
    pending = [c for c in approved if not (c.applied and c.applied.get("migrated"))]
    if not pending:
        if approved:
            raise RuleViolation(
                "change-already-applied",
                f"{approved[-1].id} moved project {project.code} to version "
                f"{target.version_hash[:12]} when it was approved; there is nothing to migrate",
                change=approved[-1].id,
            )
        states = ", ".join(f"{c.id} {c.state.value}" for c in naming) or "no request names it"
        raise RuleViolation(
            "no-approved-change",
            f"project {project.code} may move to version {target.version_hash[:12]} only "
            f"under an approved change request naming it ({states}); propose one with "
            "`cdmo change propose --to-version`",
            version=target.version_hash,
        )
    cr = pending[0]
    old = project.snapshot.version_hash
    migrated = migrate(project, target, now, by=by, change=cr.id)
    cr.applied = {**(cr.applied or {}), "migrated": migrated}
    return Change(
        "project.migrate",
        project.code,
        {"version_hash": old},
        {"version_hash": target.version_hash, "change": cr.id, **migrated},
    )
