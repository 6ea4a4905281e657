"""Gate SLAs, decided once: when a review is due, whether it is overdue, what is still missing.

Pure: the standard library and the definition models. Every reader of an SLA uses these
functions: the SLA watcher (escalations), the forecast and the reports (overdue gates, the
portfolio) and the Prefect project artifact (``on time`` / ``due soon`` / ``overdue``).

**The comparison rule.** A review opened at ``opened_at`` of a gate with
``sla.decide_within: D`` is due at ``due = add_duration(D, opened_at, calendar)`` (business
days skip weekends, and the holidays and shutdowns of the project's site calendar:
:mod:`cdmo_workflow.domain.calendar`). It is **overdue strictly after** ``due``: a decision
taken at the due instant itself is on time ("decide within 5 days" includes the fifth day's
last instant), so ``overdue = now > due``. The watcher escalates exactly when this says overdue.

**Due soon.** A review that is not overdue is due soon when at most a quarter of its SLA
window is left: ``due - now <= 0.25 * (due - opened_at)``.

**Missing roles.** A review lacks every sign-off quota whose role has fewer signatures than
its ``min``: :func:`missing_quotas` is the one rule (``Project.missing`` and the watcher's
raw-document path both call it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from ..spec.models import GateDef
from .calendar import WorkCalendar, add_duration

DUE_SOON_FRACTION = 0.25
"""A review is "due soon" when at most this fraction of its SLA window is left."""

SlaStatus = Literal["on time", "due soon", "overdue", "no SLA"]


def due_at(
    opened_at: datetime, decide_within: str | None, calendar: WorkCalendar | None = None
) -> datetime | None:
    """When a review opened at ``opened_at`` must be decided; None without an SLA."""
    if not decide_within:
        return None
    return add_duration(decide_within, opened_at, calendar)


def gate_due_at(
    gate: GateDef, opened_at: datetime, calendar: WorkCalendar | None = None
) -> datetime | None:
    """:func:`due_at` for a review of ``gate`` (its ``sla.decide_within``, if any)."""
    return due_at(opened_at, gate.sla.decide_within if gate.sla is not None else None, calendar)


def is_overdue(due: datetime | None, now: datetime) -> bool:
    """The one comparison: overdue strictly after the due instant (never without an SLA)."""
    return due is not None and now > due


def sla_status(
    opened_at: datetime,
    decide_within: str | None,
    now: datetime,
    calendar: WorkCalendar | None = None,
) -> tuple[SlaStatus, datetime | None]:
    """(``on time`` | ``due soon`` | ``overdue`` | ``no SLA``, the due instant or None)."""
    due = due_at(opened_at, decide_within, calendar)
    if due is None:
        return "no SLA", None
    if is_overdue(due, now):
        return "overdue", due
    window = (due - opened_at).total_seconds() or 1.0
    left = (due - now).total_seconds()
    return ("due soon" if left <= DUE_SOON_FRACTION * window else "on time"), due


def missing_quotas(gate: GateDef, signer_roles: Iterable[str | None]) -> list[dict[str, Any]]:
    """Sign-off quotas of ``gate`` not met by signatures with ``signer_roles``:
    ``[{role, needed}]`` in the gate's quota order."""
    return missing_in(((q.role, q.min) for q in gate.signoffs), signer_roles)


def missing_in(
    quotas: Iterable[tuple[str, int]], signer_roles: Iterable[str | None]
) -> list[dict[str, Any]]:
    """``(role, min)`` quotas not met by signatures with ``signer_roles``: ``[{role, needed}]``
    in quota order (a gate's sign-offs, a change request's approvers)."""
    have: dict[str | None, int] = {}
    for role in signer_roles:
        have[role] = have.get(role, 0) + 1
    return [
        {"role": role, "needed": minimum - have.get(role, 0)}
        for role, minimum in quotas
        if have.get(role, 0) < minimum
    ]
