"""The plan agreed with the customer becomes baseline 0. Pure.

A project starts with baseline 0 computed from the template's durations. Before the first
gate decision, the project manager may replace it with the dates agreed with the customer
(``cdmo plan set``, ``cdmo project start --plan``): each phase's first and last day and
named milestones. After a decision, or once a change request has re-baselined the project,
the plan only moves through an approved change request (rule ``plan-after-decision``), and
every baseline is kept.

A phase's agreed start is its first day at 00:00 UTC and its end the last day at 23:59:59
UTC, so a phase finished on its last day is on time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time

from .baselines import Baseline
from .errors import RuleViolation
from .limits import check_text
from .plan import _iso
from .project import Change, Project

PLAN = "plan"
"""Source of a baseline 0 entered from the agreed plan."""

END_OF_DAY = time(23, 59, 59)


def day_start(d: date) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=UTC)


def day_end(d: date) -> datetime:
    return datetime.combine(d, END_OF_DAY, tzinfo=UTC)


def set_plan(
    project: Project,
    phases: Mapping[str, tuple[date, date]],
    milestones: Mapping[str, date],
    by: str,
    now: datetime,
) -> Change:
    """Make the agreed dates baseline 0 (the file was checked against the process already)."""
    project.require_active("set the agreed plan")
    project.require_role(by, project.snapshot.process.manager_role, "set the agreed plan")
    decided = [r for r in project.reviews if r.outcome is not None]
    if decided or len(project.baselines) > 1:
        what = (
            f"gate {decided[0].gate!r} was decided"
            if decided
            else "a change request re-baselined it"
        )
        raise RuleViolation(
            "plan-after-decision",
            f"project {project.code} can no longer take a new plan: {what}; move the dates "
            "with an approved change request (`cdmo change propose --schedule-impact`)",
            project=project.code,
        )
    for name in milestones:
        check_text("milestone", name)
    unknown = sorted(set(phases) - {p.id for p in project.snapshot.process.phases})
    if unknown:
        raise RuleViolation("plan-unknown-phase", f"unknown phase {unknown[0]!r}", phase=unknown[0])
    old = project.baselines[0].to_dict() if project.baselines else None
    baseline = Baseline(
        number=0,
        phases={
            pid: {"start": _iso(day_start(start)), "end": _iso(day_end(end))}
            for pid, (start, end) in phases.items()
        },
        at=now,
        source=PLAN,
        version_hash=project.snapshot.version_hash,
        reason="the plan agreed with the customer",
        milestones={name: _iso(day_end(d)) for name, d in milestones.items()},
    )
    if project.baselines:
        project.baselines[0] = baseline
    else:
        project.baselines.append(baseline)
    return Change("plan.set", project.code, old, baseline.to_dict())
