"""Scenario files checked against the definitions they run: shape and references.

``cdmo validate`` and ``cdmo simulate`` both call :func:`check_scenario`: every role, user,
phase, gate, deliverable, check and event a scenario names must exist, each finding at the
``file:line:column`` of the value. What only the engine knows (states, meanings, rule ids,
identifier limits) is checked by the simulator (``simulation/checks.py``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .findings import _describe, _Report, _Source
from .models import GateDef, NotifyEvent, ProcessDef
from .reader import Path as DocPath
from .scenario import (
    SCENARIO_FOLDER,
    STEP_KINDS,
    AcceptArgs,
    CloseArgs,
    ConfirmArgs,
    Expectation,
    HoldArgs,
    ProjectArgs,
    RejectArgs,
    ReleaseArgs,
    ScenarioDef,
    SignArgs,
    SubmitArgs,
)
from .translate import _translate_errors

SCENARIO_CONTAINERS: dict[str, type[BaseModel]] = {
    "project": ProjectArgs,
    "submit": SubmitArgs,
    "confirm": ConfirmArgs,
    "sign": SignArgs,
    "close": CloseArgs,
    "accept": AcceptArgs,
    "reject": RejectArgs,
    "hold": HoldArgs,
    "resume": HoldArgs,
    "release": ReleaseArgs,
    "expect": Expectation,
}
"""Field name -> the model it holds (for the allowed names of an unknown field)."""


def in_scenarios_folder(path: PurePath) -> bool:
    """Whether ``path`` lies below a ``definitions/scenarios/`` folder."""
    parts = PurePath(os.path.abspath(path)).parts
    return any(
        parts[i] == "definitions" and parts[i + 1] == SCENARIO_FOLDER for i in range(len(parts) - 2)
    )


def _hint(value: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(value, list(known), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def translate_scenario(src: _Source, exc: ValidationError, report: _Report) -> None:
    """Pydantic errors of a scenario in words: unknown steps and events, dates, numbers."""
    rest: list[ErrorDetails] = []
    for err in exc.errors(include_url=False):
        loc: DocPath = tuple(err["loc"])
        kind = err["type"]
        value = err.get("input")
        if (
            kind == "extra_forbidden"
            and len(loc) == 3
            and loc[0] == "steps"
            and isinstance(loc[1], int)
        ):
            step = str(loc[2])
            hint = difflib.get_close_matches(step, STEP_KINDS, n=1)
            text = f"unknown step {step!r}" + (
                f" (did you mean {hint[0]!r}?)" if hint else f" (steps: {', '.join(STEP_KINDS)})"
            )
            report.add(src, loc, text, "unknown-step", key=True)
        elif kind == "literal_error" and loc[-1:] == ("[key]",) and "notified" in loc:
            events = ", ".join(e for e in _events())
            text = f"unknown event {loc[-2]!r} (events: {events})"
            report.add(src, loc[:-1], text, "event", key=True)
        elif kind.startswith(("date_", "datetime_")):
            what = "a time such as 2026-01-05T09:00:00Z" if loc == ("start",) else "a date"
            fmt = "" if loc == ("start",) else " (YYYY-MM-DD)"
            report.add(src, loc, f"expected {what}{fmt}, got {_describe(value)}", "type")
        elif kind in ("float_type", "float_parsing", "finite_number"):
            report.add(src, loc, f"expected a number, got {_describe(value)}", "type")
        else:
            rest.append(err)
    _translate_errors(src, ScenarioDef, rest, report, SCENARIO_CONTAINERS)


def _events() -> list[str]:
    return [e for e in get_args(NotifyEvent) if e != "default"]


class _Refs:
    """What a scenario may name: the process's roles, phases, gates and the team's users."""

    def __init__(
        self,
        src: _Source,
        report: _Report,
        scenario: ScenarioDef,
        process: ProcessDef,
        gates: Mapping[str, GateDef],
    ) -> None:
        self.src, self.report, self.scenario = src, report, scenario
        self.process, self.gates = process, gates
        self.phases = {p.id: p for p in process.phases}
        self.gate_phase = {p.gate: p for p in process.phases}
        self.users: list[str] = list(
            dict.fromkeys(u for users in scenario.team.values() for u in users)
        )

    def add(self, path: DocPath, message: str, rule: str, *, key: bool = False) -> None:
        self.report.add(self.src, path, message, rule, key=key)

    def role(self, path: DocPath, role: str, *, key: bool = False) -> None:
        if role not in self.process.roles:
            declared = sorted(self.process.roles)
            self.add(
                path,
                f"unknown role {role!r} (process {self.process.id} declares: "
                f"{', '.join(declared)}{_hint(role, declared)})",
                "unknown-role",
                key=key,
            )

    def user(self, path: DocPath, user: str, *, key: bool = False) -> None:
        if user not in self.users:
            self.add(
                path,
                f"unknown user {user!r} (the scenario's team: "
                f"{', '.join(self.users)}{_hint(user, self.users)})",
                "unknown-user",
                key=key,
            )

    def phase(self, path: DocPath, phase: str, *, key: bool = False) -> bool:
        if phase in self.phases:
            return True
        known = list(self.phases)
        self.add(
            path,
            f"unknown phase {phase!r} (process {self.process.id} has: "
            f"{', '.join(known)}{_hint(phase, known)})",
            "unknown-phase",
            key=key,
        )
        return False

    def gate(self, path: DocPath, gate: str, *, key: bool = False) -> bool:
        if gate in self.gate_phase and gate in self.gates:
            return True
        known = list(self.gate_phase)
        self.add(
            path,
            f"unknown gate {gate!r} (process {self.process.id} has: "
            f"{', '.join(known)}{_hint(gate, known)})",
            "unknown-gate",
            key=key,
        )
        return False


def check_scenario(
    src: _Source,
    scenario: ScenarioDef,
    process: ProcessDef | None,
    gates: Mapping[str, GateDef],
    report: _Report,
    *,
    known_processes: Sequence[str] = (),
) -> None:
    """Findings for every name in ``scenario`` that ``process`` (and its gates) lacks.

    ``process`` is None when the tree has no valid process of that id; ``known_processes``
    then names the ones it has.
    """
    if process is None:
        known = sorted(known_processes)
        report.add(
            src,
            ("process",),
            f"unknown process {scenario.process!r} (known processes: "
            f"{', '.join(known) or 'none'}{_hint(scenario.process, known)})",
            "unknown-process",
        )
        return
    refs = _Refs(src, report, scenario, process, gates)
    for role in scenario.team:
        refs.role(("team", role), role, key=True)
    if process.manager_role not in scenario.team:
        refs.add(
            ("team",),
            f"no one is assigned to the manager role {process.manager_role!r}",
            "team-no-manager",
        )
    for user in scenario.names:
        refs.user(("names", user), user, key=True)
    if scenario.project.by is not None:
        refs.user(("project", "by"), scenario.project.by)
    for i, step in enumerate(scenario.steps):
        _check_step(refs, ("steps", i, step.kind), step.args)


def _check_step(refs: _Refs, at: DocPath, args: Any) -> None:
    by = getattr(args, "by", None)
    if isinstance(by, str):
        refs.user((*at, "by"), by)
    if isinstance(args, SubmitArgs):
        if refs.phase((*at, "phase"), args.phase):
            pdef = refs.phases[args.phase]
            known = [d.id for d in pdef.deliverables]
            if args.deliverable not in known:
                refs.add(
                    (*at, "deliverable"),
                    f"unknown deliverable {args.deliverable!r} (phase {pdef.id} has: "
                    f"{', '.join(known) or 'none'}{_hint(args.deliverable, known)})",
                    "unknown-deliverable",
                )
    elif isinstance(args, ConfirmArgs):
        if refs.gate((*at, "gate"), args.gate):
            checks = [c.id for c in refs.gates[args.gate].checks]
            if args.check not in checks:
                refs.add(
                    (*at, "check"),
                    f"unknown check {args.check!r} (gate {args.gate} has: "
                    f"{', '.join(checks) or 'none'}{_hint(args.check, checks)})",
                    "unknown-check",
                )
    elif isinstance(args, SignArgs):
        refs.gate((*at, "gate"), args.gate)
        refs.role((*at, "role"), args.role)
    elif isinstance(args, Expectation):
        _check_expectation(refs, at, args)


def _check_expectation(refs: _Refs, at: DocPath, exp: Expectation) -> None:
    for phase in exp.phases or {}:
        refs.phase((*at, "phases", phase), phase, key=True)
    for gate in exp.gates or {}:
        refs.gate((*at, "gates", gate), gate, key=True)
    for event, users in (exp.notified or {}).items():
        if event == "default":
            refs.add(
                (*at, "notified", event),
                f"'default' is a routing key, not an event (events: {', '.join(_events())})",
                "event",
                key=True,
            )
        for j, user in enumerate(users):
            refs.user((*at, "notified", event, j), user)
    for field in ("reminded", "escalated"):
        table: dict[str, list[str]] = getattr(exp, field) or {}
        for gate, users in table.items():
            refs.gate((*at, field, gate), gate, key=True)
            for j, user in enumerate(users):
                refs.user((*at, field, gate, j), user)
