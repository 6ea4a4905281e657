"""The dry-run driver: a scenario's steps on ``domain.Project`` with a simulated clock.

No database, no password, no Prefect: the project lives in memory, every command is the
pure core's own method, notifications go through the definition's real routing
(``notify.routing.outbox_rows``), and the SLA watcher's own rule decides reminders and
escalations (``notify.sla_notices.due_notices``) while the clock advances.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdmo_workflow.domain.errors import EngineError, NotFound, RuleViolation
from cdmo_workflow.domain.events import DomainEvent
from cdmo_workflow.domain.forecast import forecast
from cdmo_workflow.domain.project import Project
from cdmo_workflow.notify.routing import outbox_rows
from cdmo_workflow.notify.sla_notices import REMINDER
from cdmo_workflow.spec.durations import Duration, parse_duration
from cdmo_workflow.spec.errors import Finding
from cdmo_workflow.spec.models import ProcessSnapshot
from cdmo_workflow.spec.scenario import Expectation, ScenarioDef
from cdmo_workflow.spec.scenario_files import ScenarioFile

from .expectations import EXPECTATIONS, gate_state
from .records import NOTIFIED_MARK, Failure, Notified, Outcome, StepRecord
from .render import describe_event
from .state import Window, stamp, utc
from .steps import STEPS, Apply
from .watch import SimulatedWatcher, TooManyWakeups

EVIDENCE_LIMIT = 500


class ScenarioRefused(Exception):
    """The scenario cannot run to its end (its project cannot start, the watcher limit)."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        super().__init__("; ".join(str(f) for f in self.findings))


@dataclass
class _Refusal:
    """A refused step waiting for the ``expect: {refused: ...}`` that may follow it."""

    record: StepRecord
    rule: str
    message: str


class Simulation:
    """One run of one scenario. Build it, then call :meth:`run` once."""

    def __init__(self, file: ScenarioFile, scenario: ScenarioDef, snapshot: ProcessSnapshot):
        self.file = file
        self.scenario = scenario
        self.snapshot = snapshot
        self.clock = utc(scenario.start)
        self.team = {role: list(dict.fromkeys(users)) for role, users in scenario.team.items()}
        users = dict.fromkeys(u for members in self.team.values() for u in members)
        self.names = {u: scenario.names.get(u, u) for u in users}
        self.watcher = SimulatedWatcher(self.clock, parse_duration(scenario.watch_every).delta)
        self.window = Window()
        self._project: Project | None = None
        self._refusal: _Refusal | None = None
        self._seq = 0
        self._step_index = -1

    # ----------------------------------------------------------------- used by the steps

    @property
    def project(self) -> Project:
        assert self._project is not None, "the project starts before the first step"
        return self._project

    def name(self, user: str) -> str:
        """The printed name of ``user`` (the user id when the scenario gives none)."""
        return self.names.get(user, user)

    def evidence(self, given: str | None) -> str:
        """The evidence of a step: as given, else where the step stands in the scenario."""
        if given is not None:
            return given
        line = self.file.doc.mark(("steps", self._step_index))[0]
        return f"{self.file.display}:{line}"[-EVIDENCE_LIMIT:]

    def advance(self, by: Duration, record: StepRecord) -> None:
        """Move the clock; the watcher sends what falls due on the way."""
        until = by.add_to(self.clock)
        context = self._context()
        try:
            batches = self.watcher.advance(self.project, self.clock, until, context)
        except TooManyWakeups as exc:
            at = ("steps", self._step_index, "advance")
            raise ScenarioRefused([self.file.finding(at, str(exc), "watch-limit")]) from None
        for batch in batches:
            groups: dict[tuple[str, str, int, int], list[str]] = {}
            for n in batch.notices:
                groups.setdefault((n.kind, n.gate, n.review, n.period), []).append(n.recipient)
            for (kind, gate, review, period), people in groups.items():
                phase = _phase_of(self, gate)
                heard = Notified(
                    kind,
                    gate,
                    phase,
                    tuple(people),
                    batch.at,
                    period if kind == REMINDER else None,
                )
                record.notified.append(heard)
                self.window.add(heard)
                what = f"reminder (period {period})" if kind == REMINDER else "escalation"
                record.happened.append(
                    f"{stamp(batch.at)}: gate {gate} review {review} is "
                    + ("waiting for signatures" if kind == REMINDER else "overdue")
                )
                record.happened.append(f"{NOTIFIED_MARK}{what}: {', '.join(people)}")
        self.clock = until
        record.until = until
        record.outcome = "advanced"

    def expect(self, exp: Expectation, record: StepRecord) -> None:
        """Compare every key given with the engine's state; failures name their line."""
        record.outcome = "checked"
        at: tuple[str | int, ...] = ("steps", self._step_index, "expect")
        for key in type(exp).model_fields:
            if key == "refused" or key not in exp.model_fields_set:
                continue
            value = getattr(exp, key)
            if value is None:
                continue
            problems, count = EXPECTATIONS[key](self, value)
            record.checks += count
            for where, message in problems:
                self._fail(record, (*at, key, *where), message, key=bool(where))
        self.window = Window()

    # ----------------------------------------------------------------- the run

    def run(self) -> Outcome:
        """Start the project, run every step, and return the path taken."""
        started = time.perf_counter()
        records = [self._start()]
        for i, step in enumerate(self.scenario.steps):
            self._step_index = i
            kind = STEPS[step.kind]
            line, column = self.file.doc.mark(("steps", i))
            record = StepRecord(
                i + 1, step.kind, line, column, self.clock, kind.describe(step.args)
            )
            if isinstance(step.args, Expectation):
                self._check_refusal(step.args, record)
            else:
                self._unexpected_refusal()
            if kind.apply is not None:
                self._command(kind.apply, step.args, record)
            elif kind.run is not None:
                kind.run(self, step.args, record)
            records.append(record)
        self._unexpected_refusal()
        final = self._final()
        return Outcome(
            path=self.file.display,
            process=self.snapshot.process.id,
            version_hash=self.snapshot.version_hash,
            name=self.scenario.name,
            start=utc(self.scenario.start),
            end=self.clock,
            steps=records,
            final=final,
            seconds=time.perf_counter() - started,
        )

    def _start(self) -> StepRecord:
        scenario, process = self.scenario, self.snapshot.process
        by = scenario.project.by or self.team.get(process.manager_role, [""])[0]
        line, column = self.file.doc.mark(("process",))
        record = StepRecord(
            0,
            "start",
            line,
            column,
            self.clock,
            f"start project {scenario.project.code} for {scenario.project.customer} by {by}",
            outcome="started",
        )
        try:
            project, _ = Project.start(
                scenario.project.code,
                scenario.project.customer,
                self.snapshot,
                self.team,
                by,
                self.clock,
            )
        except RuleViolation as exc:
            where = _START_FIELDS.get(exc.rule, ("team",))
            raise ScenarioRefused(
                [self.file.finding(where, f"the project cannot start: {exc.message}", exc.rule)]
            ) from None
        self._project = project
        self._route(project.drain_events(), record)
        return record

    def _command(self, apply: Apply, args: Any, record: StepRecord) -> None:
        try:
            apply(self, self.project, args)
        except (RuleViolation, NotFound) as exc:
            self.project.drain_events()  # a refused command changes nothing
            record.outcome = "refused"
            record.rule = exc.rule if isinstance(exc, RuleViolation) else "not-found"
            record.message = exc.message if isinstance(exc, RuleViolation) else str(exc)
            self._refusal = _Refusal(record, record.rule, record.message)
            return
        self._route(self.project.drain_events(), record)

    def _route(self, events: list[DomainEvent], record: StepRecord) -> None:
        """Each event in the log, and who hears of it by the definition's routing."""
        self._seq += 1
        context = self._context()
        for event in events:
            line = describe_event(event)
            rows = outbox_rows(
                [event], self.snapshot, self.project.team, self._seq, context=context
            )
            if line is not None or rows:
                record.happened.append(line or event.name)
            if not rows:
                continue
            heard = Notified(
                rows[0]["notify_event"],
                rows[0]["gate"],
                event.phase,
                tuple(r["recipient"] for r in rows),
                self.clock,
            )
            record.notified.append(heard)
            record.happened.append(f"{NOTIFIED_MARK}{heard.event}: {', '.join(heard.users)}")
            self.window.add(heard)

    def _context(self) -> dict[str, Any]:
        return {
            "customer": self.scenario.project.customer,
            "project_name": self.scenario.project.code,
            "people": dict(self.names),
        }

    # ----------------------------------------------------------------- refusals

    def _check_refusal(self, exp: Expectation, record: StepRecord) -> None:
        pending, self._refusal = self._refusal, None
        if exp.refused is None:
            if pending is not None:
                self._refused_unexpectedly(pending)
            return
        record.checks += 1
        at = ("steps", self._step_index, "expect", "refused")
        if pending is None:
            before = self.scenario.steps[self._step_index - 1].kind
            self._fail(
                record,
                at,
                f"expected step {self._step_index} ({before}) to be refused with rule "
                f"{exp.refused!r}, but it was accepted",
            )
        elif pending.rule != exp.refused:
            self._fail(
                record,
                at,
                f"step {pending.record.number} ({pending.record.kind}) was refused with rule "
                f"{pending.rule!r}, expected {exp.refused!r}: {pending.message}",
            )

    def _unexpected_refusal(self) -> None:
        pending, self._refusal = self._refusal, None
        if pending is not None:
            self._refused_unexpectedly(pending)

    def _refused_unexpectedly(self, pending: _Refusal) -> None:
        rec = pending.record
        rec.failures.append(
            Failure(
                self.file.display,
                rec.line,
                rec.column,
                rec.number,
                rec.kind,
                "",
                f"refused: {pending.message} [rule: {pending.rule}] (write "
                f"`- expect: {{refused: {pending.rule}}}` after the step if that is intended)",
                pending.rule,
            )
        )

    def _fail(
        self, record: StepRecord, at: tuple[str | int, ...], message: str, *, key: bool = False
    ) -> None:
        line, column = self.file.doc.mark(at, key=key)
        field_path = ".".join(str(p) for p in at[3:])
        record.failures.append(
            Failure(
                self.file.display, line, column, record.number, record.kind, field_path, message
            )
        )

    # ----------------------------------------------------------------- the end

    def _final(self) -> dict[str, Any]:
        project = self.project
        fc = forecast(project, self.clock)
        return {
            "project": project.state.value,
            "phases": {pid: run.state.value for pid, run in project.phases.items()},
            "gates": {p.gate: gate_state(project, p.gate) for p in self.snapshot.process.phases},
            "conditions": {c.id: c.state for c in project.conditions},
            "forecast_end": fc.completion.date().isoformat() if fc.completion else None,
            "slip_days": fc.slip_days,
        }


_START_FIELDS: dict[str, tuple[str, ...]] = {
    "not-project-manager": ("project", "by"),
    "invalid-code": ("project", "code"),
    "invalid-identifier": ("project", "code"),
    "invalid-customer": ("project", "customer"),
    "field-too-long": ("project",),
}


def _phase_of(sim: Simulation, gate: str) -> str | None:
    for p in sim.snapshot.process.phases:
        if p.gate == gate:
            return p.id
    return None


def simulate(file: ScenarioFile, scenario: ScenarioDef, snapshot: ProcessSnapshot) -> Outcome:
    """Run ``scenario`` against ``snapshot``; :class:`ScenarioRefused` when it cannot run."""
    try:
        return Simulation(file, scenario, snapshot).run()
    except EngineError as exc:  # pragma: no cover - every engine refusal is caught per step
        raise ScenarioRefused(
            [file.finding((), f"the engine stopped the scenario: {exc}", "engine")]
        ) from None
