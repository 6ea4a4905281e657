"""Who hears of what: domain events -> roles -> people -> outbox rows. Pure: no I/O, no clock.

Role resolution for a notify key ``k`` (``opened``, ``decided``, ...), first match wins:

1. the event's gate ``notify[k]``;
2. the process ``notify[k]``;
3. the gate ``notify["default"]``, then the process ``notify["default"]``;
4. the built-in default (:data:`BUILTIN_DEFAULTS`).

People are the team members holding those roles on the project, each once. A row is written
per (event, recipient); it carries the user id, never an apprise URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cdmo_workflow.domain.events import NOTIFY_EVENT_OF, DomainEvent
from cdmo_workflow.spec.models import GateDef, ProcessSnapshot

SLA_REMINDER_EVENT = "gate.reminder"
SLA_ESCALATION_EVENT = "gate.escalation"
SECURITY_EVENT = "security.alert"

EVERY_TEAM_ROLE = "*team*"
GATE_SIGNERS = "*signers*"
PHASE_OWNER = "*phase-owner*"
MANAGER = "*manager*"
ADMIN = "*admin*"
CHANGE_APPROVERS = "*change-approvers*"
"""The roles a change request needs approval from (its ``approver_roles``)."""
FINANCE = "*finance*"

BUILTIN_DEFAULTS: dict[str, tuple[str, ...]] = {
    "started": (EVERY_TEAM_ROLE,),
    "phase-activated": (PHASE_OWNER, MANAGER),
    "opened": (GATE_SIGNERS, MANAGER),
    "signed": (MANAGER,),
    "refused": (MANAGER,),
    "decided": (EVERY_TEAM_ROLE,),
    "condition-opened": (PHASE_OWNER, MANAGER),
    "condition-closed": (PHASE_OWNER, MANAGER),
    "on-hold": (EVERY_TEAM_ROLE,),
    "resumed": (EVERY_TEAM_ROLE,),
    "completed": (EVERY_TEAM_ROLE,),
    "killed": (EVERY_TEAM_ROLE,),
    "reminder": (GATE_SIGNERS,),
    "escalation": (MANAGER,),
    "security": (ADMIN, MANAGER),
    "change-proposed": (MANAGER,),
    "change-submitted": (CHANGE_APPROVERS, MANAGER),
    "change-signed": (MANAGER,),
    "change-approved": (CHANGE_APPROVERS, MANAGER),
    "change-rejected": (CHANGE_APPROVERS, MANAGER),
    "change-applied": (EVERY_TEAM_ROLE,),
    "change-withdrawn": (CHANGE_APPROVERS, MANAGER),
    "team-changed": (MANAGER,),
    "condition-accepted": (PHASE_OWNER, MANAGER),
    "condition-rejected": (PHASE_OWNER, MANAGER),
    "condition-reminder": (),
    "condition-escalation": (MANAGER,),
    "budget-overrun": (MANAGER, FINANCE),
}
"""Placeholders used when no ``notify:`` block names an event; expanded by :func:`roles_for`."""


def _gate_of(event: DomainEvent, snapshot: ProcessSnapshot) -> GateDef | None:
    if event.gate and event.gate in snapshot.gates:
        return snapshot.gates[event.gate]
    if event.phase and event.name.startswith("gate."):
        try:
            return snapshot.gate_of(event.phase)
        except KeyError:
            return None
    return None


def _expand(
    placeholders: Iterable[str],
    snapshot: ProcessSnapshot,
    team: Mapping[str, Sequence[str]],
    gate: GateDef | None,
    phase_id: str | None,
    approvers: Sequence[str] = (),
) -> list[str]:
    process = snapshot.process
    roles: list[str] = []
    for item in placeholders:
        if item == EVERY_TEAM_ROLE:
            roles.extend(team)
        elif item == GATE_SIGNERS:
            if gate is not None:
                roles.extend(q.role for q in gate.signoffs)
        elif item == PHASE_OWNER:
            if phase_id:
                with contextlib.suppress(KeyError):
                    roles.append(snapshot.phase(phase_id).owner)
        elif item == MANAGER:
            roles.append(process.manager_role)
        elif item == ADMIN:
            if process.admin_role:
                roles.append(process.admin_role)
        elif item == CHANGE_APPROVERS:
            roles.extend(approvers)
        elif item == FINANCE:
            if process.finance_role:
                roles.append(process.finance_role)
        else:
            roles.append(item)
    return list(dict.fromkeys(roles))


def roles_for(
    notify_event: str,
    snapshot: ProcessSnapshot,
    team: Mapping[str, Sequence[str]],
    *,
    gate: GateDef | None = None,
    phase: str | None = None,
    approvers: Sequence[str] = (),
) -> list[str]:
    """The roles that hear of ``notify_event`` (see the module docstring for the order);
    ``approvers`` are the roles a change request needs (``*change-approvers*``)."""
    process = snapshot.process
    chosen: Sequence[str] | None = None
    if gate is not None and notify_event in gate.notify:
        chosen = gate.notify[notify_event]
    elif notify_event in process.notify:
        chosen = process.notify[notify_event]
    elif gate is not None and "default" in gate.notify:
        chosen = gate.notify["default"]
    elif "default" in process.notify:
        chosen = process.notify["default"]
    if chosen is None:
        chosen = BUILTIN_DEFAULTS.get(notify_event, (MANAGER,))
    return _expand(chosen, snapshot, team, gate, phase, approvers)


def people_of(roles: Iterable[str], team: Mapping[str, Sequence[str]]) -> list[str]:
    """Team members holding any of ``roles``, each once, in role order."""
    people: dict[str, None] = {}
    for role in roles:
        for user in team.get(role, ()):
            people.setdefault(user, None)
    return list(people)


def base_payload(
    *,
    snapshot: ProcessSnapshot,
    project: str,
    notify_event: str,
    phase: str | None,
    gate_id: str | None,
    context: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Facts every template can use: project, customer, process, phase and gate names."""
    ctx = dict(context or {})
    process = snapshot.process
    phase_name = None
    if phase:
        try:
            phase_name = snapshot.phase(phase).name
        except KeyError:
            phase_name = phase
    gate_name = None
    if gate_id:
        gate_def = snapshot.gates.get(gate_id)
        gate_name = gate_def.name if gate_def else gate_id
    payload: dict[str, Any] = {
        "notify_event": notify_event,
        "project": project,
        "project_name": ctx.get("project_name") or ctx.get("name") or project,
        "customer": ctx.get("customer"),
        "process_id": process.id,
        "process_name": process.name,
        "version_hash": snapshot.version_hash,
        "phase": phase,
        "phase_name": phase_name,
        "gate": gate_id,
        "gate_name": gate_name,
        "flow_run_id": ctx.get("flow_run_id"),
        "people": dict(ctx.get("people") or {}),
    }
    override = process.messages.get(notify_event)  # type: ignore[call-overload]
    if override is not None and (override.subject or override.body):
        payload["template"] = {"subject": override.subject, "body": override.body}
    return payload


def outbox_rows(
    events: Sequence[DomainEvent],
    snapshot: ProcessSnapshot,
    team: Mapping[str, Sequence[str]],
    audit_seq: int,
    *,
    context: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One outbox row per (announced event, recipient) of one command.

    ``team`` maps role -> user ids on the project; ``audit_seq`` is the sequence number of the
    command's audit row (it makes the dedup key unique and stable). ``context`` adds
    project-level facts the events do not carry: ``customer``, ``project_name``,
    ``flow_run_id`` and ``people`` (user id -> printed name).

    Each row has ``dedup_key``, ``event``, ``notify_event``, ``project``, ``gate``,
    ``recipient`` and ``payload`` (the event's ``to_dict()`` under ``event`` plus the names
    templates need).
    """
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        notify_event = NOTIFY_EVENT_OF.get(event.name)
        if notify_event is None:
            continue
        gate = _gate_of(event, snapshot)
        gate_id = event.gate or (gate.id if gate else None)
        approvers = [str(r) for r in event.data.get("approver_roles") or ()]
        roles = roles_for(
            notify_event, snapshot, team, gate=gate, phase=event.phase, approvers=approvers
        )
        people = people_of(roles, team)
        # people an event names besides its roles: a condition's owner, whom a team change
        # concerns (also someone just removed from the team)
        for user in event.data.get("notify_users") or ():
            if isinstance(user, str) and user not in people:
                people.append(user)
        if not people:
            continue
        payload = base_payload(
            snapshot=snapshot,
            project=event.project,
            notify_event=notify_event,
            phase=event.phase,
            gate_id=gate_id,
            context=context,
        )
        data = dict(event.data)
        payload.update(
            {
                "event": event.to_dict(),
                "data": data,
                # gate.signed carries the signer's "decision", gate.decided the "outcome"
                "decision": data.get("decision") or data.get("outcome"),
                "actor": data.get("actor") or data.get("user") or data.get("by"),
                "roles": roles,
            }
        )
        for user in people:
            rows.append(
                {
                    "dedup_key": f"{event.project}:{audit_seq}:{index}:{user}",
                    "event": event.name,
                    "notify_event": notify_event,
                    "project": event.project,
                    "gate": gate_id,
                    "recipient": user,
                    "payload": payload,
                }
            )
    return rows


def _sla_rows(
    kind: str,
    *,
    snapshot: ProcessSnapshot,
    project: str,
    phase: str | None,
    gate_id: str,
    review: int,
    period: int,
    recipients: Sequence[str],
    extra: Mapping[str, Any],
    context: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    payload = base_payload(
        snapshot=snapshot,
        project=project,
        notify_event=kind,
        phase=phase,
        gate_id=gate_id,
        context=context,
    )
    payload.update({"review": review, "period": period, **extra})
    event = SLA_REMINDER_EVENT if kind == "reminder" else SLA_ESCALATION_EVENT
    payload["event"] = {
        "name": event,
        "project": project,
        "phase": phase,
        "gate": gate_id,
        "data": {"review": review, "period": period},
    }
    return [
        {
            "dedup_key": f"{project}:sla:{gate_id}:{review}:{kind}:{period}:{user}",
            "event": event,
            "notify_event": kind,
            "project": project,
            "gate": gate_id,
            "recipient": user,
            "payload": payload,
        }
        for user in dict.fromkeys(recipients)
    ]


def _iso(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    return moment.isoformat()


def reminder_rows(
    *,
    snapshot: ProcessSnapshot,
    project: str,
    phase: str | None,
    gate_id: str,
    review: int,
    period: int,
    recipients: Sequence[str],
    missing_roles: Sequence[str],
    opened_at: datetime | str,
    due_at: datetime | str | None,
    context: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Reminder rows for the signers still missing at an open gate review (one per user)."""
    return _sla_rows(
        "reminder",
        snapshot=snapshot,
        project=project,
        phase=phase,
        gate_id=gate_id,
        review=review,
        period=period,
        recipients=recipients,
        extra={
            "missing_roles": list(missing_roles),
            "opened_at": _iso(opened_at),
            "due_at": _iso(due_at),
        },
        context=context,
    )


def escalation_roles(snapshot: ProcessSnapshot, gate: GateDef) -> list[str]:
    """Who hears of an overdue gate: gate ``notify.escalation``, the SLA's ``escalate_to``,
    process ``notify.escalation``, else the manager role."""
    if "escalation" in gate.notify:
        return list(gate.notify["escalation"])
    if gate.sla is not None and gate.sla.escalate_to:
        return list(gate.sla.escalate_to)
    if "escalation" in snapshot.process.notify:
        return list(snapshot.process.notify["escalation"])
    return [snapshot.process.manager_role]


def escalation_rows(
    *,
    snapshot: ProcessSnapshot,
    project: str,
    phase: str | None,
    gate_id: str,
    review: int,
    recipients: Sequence[str],
    missing_roles: Sequence[str],
    opened_at: datetime | str,
    due_at: datetime | str | None,
    context: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Escalation rows (period 1) for an open gate review past ``decide_within``."""
    return _sla_rows(
        "escalation",
        snapshot=snapshot,
        project=project,
        phase=phase,
        gate_id=gate_id,
        review=review,
        period=1,
        recipients=recipients,
        extra={
            "missing_roles": list(missing_roles),
            "opened_at": _iso(opened_at),
            "due_at": _iso(due_at),
        },
        context=context,
    )


CONDITION_REMINDER_EVENT = "condition.reminder"
CONDITION_ESCALATION_EVENT = "condition.escalation"


def condition_rows(
    kind: str,
    *,
    snapshot: ProcessSnapshot,
    project: str,
    condition: Mapping[str, Any],
    period: int,
    recipients: Sequence[str],
    context: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Reminder (``condition-reminder``) or escalation (``condition-escalation``) rows for a
    condition that is not done: to its owners (or acceptors) every ``remind_every`` of its
    gate's SLA, and to the escalation roles once it is overdue."""
    cid = str(condition["id"])
    payload = base_payload(
        snapshot=snapshot,
        project=project,
        notify_event=kind,
        phase=condition.get("phase"),
        gate_id=condition.get("gate"),
        context=context,
    )
    payload.update(
        {
            "condition": cid,
            "text": condition.get("text"),
            "state": condition.get("state"),
            "owner": condition.get("owner"),
            "due_at": _iso(condition.get("due_at")),
            "period": period,
        }
    )
    name = CONDITION_REMINDER_EVENT if kind == "condition-reminder" else CONDITION_ESCALATION_EVENT
    payload["event"] = {
        "name": name,
        "project": project,
        "phase": condition.get("phase"),
        "gate": condition.get("gate"),
        "data": {"condition": cid, "period": period},
    }
    return [
        {
            "dedup_key": f"{project}:sla:condition:{cid}:{kind}:{period}:{user}",
            "event": name,
            "notify_event": kind,
            "project": project,
            "gate": condition.get("gate"),
            "recipient": user,
            "payload": payload,
        }
        for user in dict.fromkeys(recipients)
    ]
