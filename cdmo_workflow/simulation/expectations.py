"""The checks behind ``expect:``: one function per key, each comparing what the engine did.

Each check returns ``(path, message)`` pairs for what did not hold (``path`` below the
``expect`` key, for the ``file:line:column``) and how many comparisons it made. ``refused``
is the driver's (it looks at the step before). States are the engine's own values
(``PhaseState``, ``ProjectState``); gates read as ``open``, ``waiting`` or the outcome of
their latest decided review.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from cdmo_workflow.domain.forecast import forecast
from cdmo_workflow.domain.project import Project
from cdmo_workflow.domain.records import PhaseState, ProjectState, ReviewState
from cdmo_workflow.spec.models import Decision

from .state import Run

Problem = tuple[tuple[str | int, ...], str]
Check = Callable[[Run, Any], tuple[list[Problem], int]]

GATE_OPEN = "open"
GATE_WAITING = "waiting"
GATE_STATES: tuple[str, ...] = (GATE_WAITING, GATE_OPEN, *(d.value for d in Decision))
"""What ``expect: gates:`` compares with: a review is open, none is open and none was ever
decided, or else the outcome of the latest decided review."""

PHASE_STATES: tuple[str, ...] = tuple(s.value for s in PhaseState)
PROJECT_STATES: tuple[str, ...] = tuple(s.value for s in ProjectState)


def gate_state(project: Project, gate_id: str) -> str:
    """``open``, ``waiting`` or the outcome of the gate's latest decided review."""
    if project.open_review(gate_id) is not None:
        return GATE_OPEN
    for review in reversed(project.reviews):
        if review.gate == gate_id and review.state == ReviewState.DECIDED and review.outcome:
            return review.outcome.value
    return GATE_WAITING


def _names(users: Any) -> str:
    return ", ".join(sorted(users)) or "nobody"


def _people(what: str, got: set[str], want: list[str]) -> str | None:
    wanted = set(want)
    if got == wanted:
        return None
    parts = []
    if wanted - got:
        parts.append(f"missing: {_names(wanted - got)}")
    if got - wanted:
        parts.append(f"also: {_names(got - wanted)}")
    return f"{what} {_names(got)}; expected {_names(wanted)} ({'; '.join(parts)})"


def _project(sim: Run, want: str) -> tuple[list[Problem], int]:
    got = sim.project.state.value
    problems: list[Problem] = [] if got == want else [((), f"project is {got}, expected {want}")]
    return problems, 1


def _phases(sim: Run, want: Mapping[str, str]) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    for phase, state in want.items():
        got = sim.project.phases[phase].state.value
        if got != state:
            problems.append(((phase,), f"phase {phase!r} is {got}, expected {state}"))
    return problems, len(want)


def _gates(sim: Run, want: Mapping[str, str]) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    for gate, state in want.items():
        got = gate_state(sim.project, gate)
        if got != state:
            problems.append(((gate,), f"gate {gate!r} is {got}, expected {state}"))
    return problems, len(want)


def _conditions(sim: Run, want: Mapping[str, str]) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    have = {c.id: c for c in sim.project.conditions}
    for cid, state in want.items():
        cond = have.get(cid)
        if cond is None:
            known = ", ".join(have) or "none"
            problems.append(((cid,), f"no condition {cid} (the project has: {known})"))
        elif cond.state != state:
            problems.append(((cid,), f"condition {cid} is {cond.state}, expected {state}"))
    return problems, len(want)


def _heard(
    got: Mapping[str, set[str]], want: Mapping[str, list[str]], what: str
) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    if not want:  # ``{}``: nothing at all
        heard = {k: v for k, v in got.items() if v}
        if heard:
            listed = "; ".join(f"{k}: {_names(v)}" for k, v in sorted(heard.items()))
            problems.append(((), f"expected none, but {what} {listed}"))
        return problems, 1
    for key, users in want.items():
        text = _people(f"{what} {key!r}:", got.get(key, set()), users)
        if text is not None:
            problems.append(((key,), text))
    return problems, len(want)


def _notified(sim: Run, want: Mapping[str, list[str]]) -> tuple[list[Problem], int]:
    return _heard(sim.window.notified, want, "notified of")


def _reminded(sim: Run, want: Mapping[str, list[str]]) -> tuple[list[Problem], int]:
    return _heard(sim.window.reminded, want, "reminded at gate")


def _escalated(sim: Run, want: Mapping[str, list[str]]) -> tuple[list[Problem], int]:
    return _heard(sim.window.escalated, want, "escalation of gate")


def _forecast_end(sim: Run, want: date) -> tuple[list[Problem], int]:
    end = forecast(sim.project, sim.clock).completion
    if end is None:
        return [((), f"there is no forecast end (the project is {sim.project.state.value})")], 1
    got = end.date()
    if got != want:
        return [((), f"the forecast ends on {got.isoformat()}, expected {want.isoformat()}")], 1
    return [], 1


def _slip_days(sim: Run, want: float) -> tuple[list[Problem], int]:
    slip = forecast(sim.project, sim.clock).slip_days
    if slip is None:
        return [((), f"there is no slip (the project is {sim.project.state.value})")], 1
    if abs(slip - want) >= 0.05:
        return [((), f"the slip is {slip:g} days, expected {want:g}")], 1
    return [], 1


EXPECTATIONS: dict[str, Check] = {
    "project": _project,
    "phases": _phases,
    "gates": _gates,
    "conditions": _conditions,
    "notified": _notified,
    "reminded": _reminded,
    "escalated": _escalated,
    "forecast_end": _forecast_end,
    "slip_days": _slip_days,
}
"""Every key of ``expect:`` but ``refused`` (the driver's), in the reference's order."""
