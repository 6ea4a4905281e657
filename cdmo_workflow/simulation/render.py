"""The dry run as a log a person reads like a test report: one line per step, what it caused
underneath, failures with their ``file:line:column``, and a last line that says PASS or FAIL.

Text that came from the scenario (names, reasons, conditions) reaches the terminal through
``display.one_line`` (control characters and terminal escapes removed).
"""

from __future__ import annotations

from cdmo_workflow.display import one_line
from cdmo_workflow.domain import events as ev
from cdmo_workflow.domain.events import DomainEvent

from .records import NOTIFIED_MARK, Outcome, StepRecord
from .state import stamp

TEXT_IN_LOG = 120
"""Longest piece of user text (a condition, a reason) quoted in a log line."""


def _short(value: object) -> str:
    text = one_line(value)
    return text if len(text) <= TEXT_IN_LOG else text[: TEXT_IN_LOG - 3] + "..."


def _roles(missing: object) -> str:
    if not isinstance(missing, list):
        return ""
    return ", ".join(
        f"{m.get('role')}" + (f" x{m.get('needed')}" if m.get("needed", 1) != 1 else "")
        for m in missing
        if isinstance(m, dict)
    )


def describe_event(event: DomainEvent) -> str | None:
    """One line for a domain event (None for the ones the step's own line already says)."""
    d, name = event.data, event.name
    if name in (ev.DELIVERABLE_SUBMITTED, ev.CHECK_CONFIRMED):
        return None
    if name == ev.PROJECT_STARTED:
        return f"project {event.project} started on version {str(d.get('version_hash'))[:12]}"
    if name == ev.PHASE_ACTIVATED:
        cycle = d.get("cycle")
        return f"phase {event.phase} active" + (f" (cycle {cycle})" if cycle != 1 else "")
    if name == ev.PHASE_COMPLETED:
        return f"phase {event.phase} completed ({d.get('outcome')})"
    if name == ev.PHASE_RESET:
        return f"phase {event.phase} reset (recycled to {d.get('recycled_to')})"
    if name == ev.GATE_OPENED:
        verb = "reopened" if d.get("reopened") else "opened"
        missing = _roles(d.get("missing"))
        return f"gate {event.gate} {verb} (review {d.get('review')})" + (
            f"; needs {missing}" if missing else ""
        )
    if name == ev.GATE_SIGNED:
        missing = _roles(d.get("missing"))
        who = str(d.get("user"))
        if d.get("name") and d.get("name") != who:
            who = f"{_short(d.get('name'))} ({who})"
        return f"{who} signed gate {event.gate} as {d.get('role')}: {d.get('decision')}" + (
            f"; still needs {missing}" if missing else "; every quota met"
        )
    if name == ev.GATE_DECIDED:
        veto = d.get("veto_by")
        return f"gate {event.gate} decided {d.get('outcome')}" + (
            f" (veto by {veto})" if veto else ""
        )
    if name == ev.CONDITION_OPENED:
        return (
            f"condition {d.get('condition')} opened on phase {event.phase}: {_short(d.get('text'))}"
        )
    if name == ev.CONDITION_CLOSED:
        return f"condition {d.get('condition')} closed by {d.get('by')}"
    if name == ev.PROJECT_ON_HOLD:
        gate = d.get("gate") or event.gate
        return "project on hold" + (
            f" (gate {gate} decided hold)" if gate else f": {_short(d.get('reason'))}"
        )
    if name == ev.PROJECT_RESUMED:
        gate = d.get("gate")
        return "project resumed" + (f"; gate {gate} reopens" if gate else "")
    if name == ev.PROJECT_COMPLETED:
        return "project completed"
    if name == ev.PROJECT_KILLED:
        return "project killed"
    where = " ".join(x for x in (event.phase, event.gate) if x)
    return f"{name}" + (f" ({where})" if where else "")


def _status(rec: StepRecord) -> str:
    if rec.outcome == "refused":
        return f"  -> REFUSED [rule: {rec.rule}]: {_short(rec.message)}"
    if rec.kind == "expect":
        if rec.failures:
            return f"  -> FAILED ({len(rec.failures)} of {rec.checks} check(s))"
        return f"  -> ok ({rec.checks} check(s))"
    if rec.kind == "advance" and rec.until is not None:
        return f" -> {stamp(rec.until)}"
    return ""


def step_lines(rec: StepRecord) -> list[str]:
    """The step's own line, then what it caused, then its failures."""
    head = f"{rec.number:>3}  line {rec.line:<4} {stamp(rec.at)}  {_short(rec.text)}"
    lines = [head + _status(rec)]
    for text in rec.happened:
        if text.startswith(NOTIFIED_MARK):
            lines.append(f"           > notified {text[len(NOTIFIED_MARK) :]}")
        else:
            lines.append(f"       - {text}")
    for failure in rec.failures:
        lines.append(f"       x {one_line(str(failure))}")
    return lines


def outcome_lines(outcome: Outcome) -> list[str]:
    """The whole log, ending with the PASS or FAIL line."""
    lines = [
        f"scenario {outcome.path}: process {outcome.process} (version {outcome.version_hash[:12]})"
    ]
    if outcome.name:
        lines.append(f"  {_short(outcome.name)}")
    for rec in outcome.steps:
        lines.extend(step_lines(rec))
    lines.append(summary(outcome))
    return lines


def summary(outcome: Outcome) -> str:
    """``PASS path: N steps, M expectations (K checks), ...`` or ``FAIL ...``."""
    final = outcome.final
    end = final.get("forecast_end") or "none"
    head = "PASS" if outcome.passed else "FAIL"
    failed = f", {len(outcome.failures)} failure(s)" if outcome.failures else ""
    return (
        f"{head} {outcome.path}: {len(outcome.steps) - 1} steps, {outcome.expectations} "
        f"expectation(s) ({outcome.checks} checks){failed}; simulated {stamp(outcome.start)} "
        f"to {stamp(outcome.end)}; project {final.get('project')}, forecast end {end}"
    )
