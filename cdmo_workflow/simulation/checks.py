"""What the engine knows about a scenario before it runs: its vocabulary and its limits.

``spec/scenario_checks.py`` checks a scenario's names against the definitions (what ``cdmo
validate`` reports too). Here come the rules only the engine holds: user ids, printed names,
the project code and customer (``domain/limits.py``), the states an expectation may name
(``PhaseState``, ``ProjectState``, the gate readings of ``expectations.py``), where an
``expect: refused`` may stand (after a command of the step table), the watcher's interval
and the range of the simulated clock. Each problem is a finding at ``file:line:column``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cdmo_workflow.domain.errors import RuleViolation
from cdmo_workflow.domain.limits import check_text
from cdmo_workflow.spec.durations import parse_duration
from cdmo_workflow.spec.errors import Finding
from cdmo_workflow.spec.scenario import Expectation, ScenarioDef
from cdmo_workflow.spec.scenario_files import ScenarioFile

from .expectations import GATE_STATES, PHASE_STATES, PROJECT_STATES
from .state import utc
from .steps import STEPS

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)
MAX_SIMULATED_DAYS = 36_525
"""A scenario may move its clock by at most a hundred years in all."""


def engine_findings(file: ScenarioFile, scenario: ScenarioDef) -> list[Finding]:
    """Every problem of ``scenario`` that the engine's own tables reveal."""
    out: list[Finding] = []

    def refuse(at: tuple[str | int, ...], field: str, value: str, *, key: bool = False) -> None:
        try:
            check_text(field, value)
        except RuleViolation as exc:
            out.append(file.finding(at, exc.message, exc.rule, key=key))

    for role, users in scenario.team.items():
        for j, user in enumerate(users):
            refuse(("team", role, j), "user id", user)
    for user, name in scenario.names.items():
        refuse(("names", user), "printed name", name)
    refuse(("project", "code"), "project code", scenario.project.code)
    refuse(("project", "customer"), "customer", scenario.project.customer)

    if parse_duration(scenario.watch_every).business_days is not None:
        out.append(
            file.finding(
                ("watch_every",),
                "the watcher runs on calendar time: use hours, days or weeks, not business days",
                "watch-every",
            )
        )
    start = utc(scenario.start)
    if not EARLIEST <= start <= LATEST:
        out.append(
            file.finding(
                ("start",),
                f"start must lie between {EARLIEST.date()} and {LATEST.date()}",
                "start-range",
            )
        )
    moved = timedelta(0)
    previous: str | None = None
    for i, step in enumerate(scenario.steps):
        at = ("steps", i, step.kind)
        if step.kind == "advance":
            moved += timedelta(days=parse_duration(step.args).days)
            if moved > timedelta(days=MAX_SIMULATED_DAYS):
                out.append(
                    file.finding(
                        at,
                        f"the scenario moves its clock by more than {MAX_SIMULATED_DAYS} days "
                        "(a hundred years) in all",
                        "clock-range",
                    )
                )
                break
        if isinstance(step.args, Expectation):
            out.extend(_expectation(file, at, step.args, previous))
        previous = step.kind
    return out


def _expectation(
    file: ScenarioFile, at: tuple[str | int, ...], exp: Expectation, previous: str | None
) -> list[Finding]:
    out: list[Finding] = []

    def vocabulary(
        where: tuple[str | int, ...], value: str, what: str, allowed: tuple[str, ...]
    ) -> None:
        if value not in allowed:
            out.append(
                file.finding(
                    (*at, *where),
                    f"unknown {what} {value!r} (one of: {', '.join(allowed)})",
                    "expect-value",
                )
            )

    if exp.refused is not None:
        if previous is None:
            out.append(
                file.finding(
                    (*at, "refused"),
                    "there is no step before this expectation that could be refused",
                    "refused-position",
                )
            )
        elif not STEPS[previous].command:
            out.append(
                file.finding(
                    (*at, "refused"),
                    f"the step before is {previous!r}, which the engine never refuses; put "
                    "the expectation right after the command it is about",
                    "refused-position",
                )
            )
    if exp.project is not None:
        vocabulary(("project",), exp.project, "project state", PROJECT_STATES)
    for phase, state in (exp.phases or {}).items():
        vocabulary(("phases", phase), state, "phase state", PHASE_STATES)
    for gate, state in (exp.gates or {}).items():
        vocabulary(("gates", gate), state, "gate reading", GATE_STATES)
    return out
