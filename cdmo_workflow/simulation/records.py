"""What a dry run records: one entry per step, the notifications it caused, the failures.

Plain data with ``to_dict`` (the ``--json`` output); ``render.py`` turns it into the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cdmo_workflow.domain.records import iso

NOTIFIED_MARK = "> "
"""Marks the lines of ``StepRecord.happened`` that say who was notified (the log shows them
under their event; ``--json`` has them in ``notified``)."""


@dataclass(frozen=True)
class Failure:
    """An expectation that did not hold, or a refusal nobody expected.

    ``str()`` is ``file:line:column: step N (kind): field: message``: the step and the place
    in the scenario, in the form editors and CI logs turn into links.
    """

    path: str
    line: int
    column: int
    step: int
    kind: str
    field: str
    message: str
    rule: str = "expectation"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        field_text = f"{self.field}: " if self.field else ""
        return f"{where}: step {self.step} ({self.kind}): {field_text}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "step": self.step,
            "kind": self.kind,
            "field": self.field,
            "message": self.message,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Notified:
    """One announced event and who heard of it (the real routing of the definition)."""

    event: str
    """The notify key (``opened``, ``decided``, ``reminder``, ...)."""
    gate: str | None
    phase: str | None
    users: tuple[str, ...]
    at: datetime
    period: int | None = None
    """For SLA reminders: the reminder period (1 = the first ``remind_every``)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event": self.event,
            "gate": self.gate,
            "phase": self.phase,
            "users": list(self.users),
            "at": iso(self.at),
        }
        if self.period is not None:
            out["period"] = self.period
        return out


@dataclass
class StepRecord:
    """What one step did. ``number`` 0 is the project's start."""

    number: int
    kind: str
    line: int
    column: int
    at: datetime
    text: str
    outcome: str = "accepted"
    """``started``, ``accepted``, ``refused``, ``advanced`` or ``checked``."""
    rule: str | None = None
    message: str | None = None
    happened: list[str] = field(default_factory=list)
    notified: list[Notified] = field(default_factory=list)
    checks: int = 0
    failures: list[Failure] = field(default_factory=list)
    until: datetime | None = None
    """For ``advance``: the clock after the step."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.number,
            "kind": self.kind,
            "line": self.line,
            "column": self.column,
            "at": iso(self.at),
            "until": iso(self.until),
            "text": self.text,
            "outcome": self.outcome,
            "rule": self.rule,
            "message": self.message,
            "happened": [h for h in self.happened if not h.startswith(NOTIFIED_MARK)],
            "notified": [n.to_dict() for n in self.notified],
            "checks": self.checks,
            "failures": [f.to_dict() for f in self.failures],
        }


@dataclass
class Outcome:
    """A whole dry run: the path taken, step by step, and whether every expectation held."""

    path: str
    process: str
    version_hash: str
    name: str | None
    start: datetime
    end: datetime
    steps: list[StepRecord]
    final: dict[str, Any]
    """The state reached: project state, phase states, gate states, forecast end."""
    seconds: float = 0.0

    @property
    def failures(self) -> list[Failure]:
        return [f for s in self.steps for f in s.failures]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def expectations(self) -> int:
        return sum(1 for s in self.steps if s.kind == "expect")

    @property
    def checks(self) -> int:
        return sum(s.checks for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.path,
            "process": self.process,
            "version_hash": self.version_hash,
            "name": self.name,
            "passed": self.passed,
            "start": iso(self.start),
            "end": iso(self.end),
            "expectations": self.expectations,
            "checks": self.checks,
            "failures": [f.to_dict() for f in self.failures],
            "final": self.final,
            "steps": [s.to_dict() for s in self.steps],
            "seconds": round(self.seconds, 4),
        }
