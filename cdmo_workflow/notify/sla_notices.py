"""Which SLA reminders and escalations are due at an instant: the watcher's rule, pure.

For each open gate review of an active project whose gate has an ``sla``:

* every ``remind_every`` after the review opened (period ``n = floor(elapsed / remind_every)``,
  n >= 1), each team member of a role whose quota is not met, and who has not signed this
  review, gets one reminder for period ``n`` (a watcher that missed periods sends only the
  current one);
* once the review is overdue (strictly after ``opened_at + decide_within``: the one rule of
  :mod:`cdmo_workflow.domain.sla`), the escalation roles get one escalation (period 1).

Conditions of a Conditional Go with a due date are watched the same way: every
``remind_every`` of their gate's SLA after they were raised, the people who must act (the
owner while open, the acceptors once closed) get a reminder (``condition-reminder``); once the
condition is overdue (``is_overdue(due_at, now)``), its owners and the gate's escalation roles
get one escalation (``condition-escalation``). Their notices use ``condition:<id>`` as the
gate and review 0.

No I/O and no clock: the caller passes ``now`` and keeps the ledger of notices already sent.
The SLA watcher (``notify/watcher.py``, a database ledger) and the dry-run simulator
(``simulation/``, an in-memory ledger) both call :func:`due_notices`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cdmo_workflow.domain.calendar import WEEKENDS_ONLY, WorkCalendar, calendar_of
from cdmo_workflow.domain.conditions import acceptors_of, owners_of
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import iso
from cdmo_workflow.domain.sla import gate_due_at, is_overdue, missing_quotas
from cdmo_workflow.notify.routing import (
    condition_rows,
    escalation_roles,
    escalation_rows,
    people_of,
    reminder_rows,
)
from cdmo_workflow.spec.durations import Duration, add_business_days, parse_duration
from cdmo_workflow.spec.models import ProcessSnapshot

REMINDER = "reminder"
ESCALATION = "escalation"
CONDITION_REMINDER = "c-reminder"
CONDITION_ESCALATION = "c-escalation"


@dataclass(frozen=True)
class Notice:
    """One reminder or escalation due now, with its outbox row."""

    project: str
    gate: str
    review: int
    kind: str
    period: int
    recipient: str
    row: dict[str, Any] = field(hash=False, compare=False)

    @property
    def key(self) -> tuple[str, str, int, str, int, str]:
        """What makes a notice unique (the watcher's ledger is unique on it)."""
        return (self.project, self.gate, self.review, self.kind, self.period, self.recipient)


def _parse_time(text: str | datetime) -> datetime:
    if isinstance(text, datetime):
        return text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def periods_elapsed(
    every: Duration, start: datetime, now: datetime, calendar: WorkCalendar | None = None
) -> int:
    """How many whole ``every`` periods lie between ``start`` and ``now`` (0 before the first);
    business-day periods count the calendar's working days (weekends only without one)."""
    if now <= start:
        return 0
    if every.business_days is None:
        return int((now - start) / every.delta)
    n = every.business_days
    cal = None if calendar is None or calendar is WEEKENDS_ONLY else calendar
    # business days elapsed, counted like add_business_days (weekend start -> next Monday)
    weeks, _ = divmod((now - start).days, 7)
    # A safe lower bound, then step forward: at most five working days a week without a
    # site calendar; a calendar's holidays and shutdowns can make it fewer, so count from 0.
    k = max((weeks * 5) // n - 1, 0) if cal is None else 0
    while add_business_days(start, n * (k + 1), cal) <= now:
        k += 1
    return k


def _missing_roles(review: Mapping[str, Any], snapshot: ProcessSnapshot) -> list[str]:
    """The roles still short of their quota, by the domain's one rule (on the raw document)."""
    gate = snapshot.gates[review["gate"]]
    signatures = review.get("signatures") or []
    return [m["role"] for m in missing_quotas(gate, (s.get("role") for s in signatures))]


def due_notices(
    document: Mapping[str, Any],
    snapshot: ProcessSnapshot,
    now: datetime,
    *,
    context: Mapping[str, Any] | None = None,
) -> list[Notice]:
    """Every reminder and escalation due at ``now`` for one project document. Pure."""
    if document.get("state", "active") != "active":
        return []
    code = str(document["code"])
    team: Mapping[str, Sequence[str]] = document.get("team") or {}
    ctx = {"customer": document.get("customer"), **(context or {})}
    notices: list[Notice] = []
    for review in document.get("reviews") or []:
        if review.get("state") != "open":
            continue
        gate = snapshot.gates.get(review["gate"])
        if gate is None or gate.sla is None:
            continue
        opened = _parse_time(review["opened_at"])
        number = int(review.get("number", 1))
        missing = _missing_roles(review, snapshot)
        if not missing:
            continue
        cal = calendar_of(snapshot)
        due_at = gate_due_at(gate, opened, cal)
        common = {
            "snapshot": snapshot,
            "project": code,
            "phase": review.get("phase"),
            "gate_id": gate.id,
            "review": number,
            "missing_roles": missing,
            "opened_at": opened,
            "due_at": due_at,
            "context": ctx,
        }
        if gate.sla.remind_every:
            period = periods_elapsed(parse_duration(gate.sla.remind_every), opened, now, cal)
            if period >= 1:
                signed: set[Any] = set()
                for sig in review.get("signatures") or []:  # the delegator of a delegate too
                    signed |= {sig.get("user"), sig.get("on_behalf_of")}
                people = [u for u in people_of(missing, team) if u not in signed]
                for row in reminder_rows(period=period, recipients=people, **common):
                    notices.append(
                        Notice(code, gate.id, number, REMINDER, period, row["recipient"], row)
                    )
        if is_overdue(due_at, now):
            people = people_of(escalation_roles(snapshot, gate), team)
            for row in escalation_rows(recipients=people, **common):
                notices.append(Notice(code, gate.id, number, ESCALATION, 1, row["recipient"], row))
    notices.extend(condition_notices(document, snapshot, now, ctx))
    return notices


def condition_notices(
    document: Mapping[str, Any], snapshot: ProcessSnapshot, now: datetime, ctx: Mapping[str, Any]
) -> list[Notice]:
    """Reminders and escalations of the conditions with a due date that are not done."""
    pending = [
        c
        for c in document.get("conditions") or []
        if c.get("due_at") and c.get("state") != "accepted" and c.get("needs_acceptance")
    ]
    if not pending:
        return []
    project = Project.from_dict(dict(document), snapshot)
    code = project.code
    out: list[Notice] = []
    for cond in project.conditions:
        if cond.done or cond.due_at is None:
            continue
        gate = snapshot.gates.get(cond.gate)
        if gate is None:
            continue
        people = owners_of(project, cond) if cond.state == "open" else acceptors_of(project, cond)
        fields = {**cond.to_dict(), "owner": cond.owner, "due_at": iso(cond.due_at)}
        key = f"condition:{cond.id}"
        if gate.sla is not None and gate.sla.remind_every:
            every = parse_duration(gate.sla.remind_every)
            period = periods_elapsed(every, cond.raised_at, now, calendar_of(snapshot))
            if period >= 1:
                for row in condition_rows(
                    "condition-reminder",
                    snapshot=snapshot,
                    project=code,
                    condition=fields,
                    period=period,
                    recipients=people,
                    context=ctx,
                ):
                    out.append(
                        Notice(code, key, 0, CONDITION_REMINDER, period, row["recipient"], row)
                    )
        if is_overdue(cond.due_at, now):
            escalate = [*people, *people_of(escalation_roles(snapshot, gate), project.team)]
            for row in condition_rows(
                "condition-escalation",
                snapshot=snapshot,
                project=code,
                condition=fields,
                period=1,
                recipients=escalate,
                context=ctx,
            ):
                out.append(Notice(code, key, 0, CONDITION_ESCALATION, 1, row["recipient"], row))
    return out
