"""What the steps and the expectations may use of a run (the driver implements it): the
simulated clock, the project, the printed names, what was announced since the last look.

Kept apart from the driver so the step table and the checks never import it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from cdmo_workflow.domain.project import Project
from cdmo_workflow.notify.sla_notices import ESCALATION, REMINDER
from cdmo_workflow.spec.durations import Duration
from cdmo_workflow.spec.scenario import Expectation

from .records import Notified, StepRecord


def utc(t: datetime) -> datetime:
    """A scenario time in UTC (a time without an offset is UTC)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def stamp(t: datetime) -> str:
    """``2026-01-05 09:00 Mon`` (UTC): how the log shows the simulated clock."""
    return t.strftime("%Y-%m-%d %H:%M %a")


@dataclass
class Window:
    """What was announced since the previous ``expect`` (or the start)."""

    notified: dict[str, set[str]] = field(default_factory=dict)
    reminded: dict[str, set[str]] = field(default_factory=dict)
    escalated: dict[str, set[str]] = field(default_factory=dict)

    def add(self, heard: Notified) -> None:
        self.notified.setdefault(heard.event, set()).update(heard.users)
        if heard.gate is not None and heard.event == REMINDER:
            self.reminded.setdefault(heard.gate, set()).update(heard.users)
        if heard.gate is not None and heard.event == ESCALATION:
            self.escalated.setdefault(heard.gate, set()).update(heard.users)


class Run(Protocol):
    """One dry run, as a step or an expectation sees it."""

    clock: datetime
    window: Window

    @property
    def project(self) -> Project: ...

    def name(self, user: str) -> str: ...

    def evidence(self, given: str | None) -> str: ...

    def advance(self, by: Duration, record: StepRecord) -> None: ...

    def expect(self, exp: Expectation, record: StepRecord) -> None: ...
