"""The one dispatch table of scenario steps: kind -> what it says and what it does.

A step kind is an entry of :data:`STEPS`. An engine command (``command=True``) calls one
method of ``domain.Project`` with the simulated clock; the driver routes the domain events
it emits through the definition's ``notify:`` blocks, and records a refusal (a
``RuleViolation`` or ``NotFound``) with its rule, for an ``expect: {refused: RULE}`` that
follows. A new engine command becomes one new step: its argument model in
``spec/scenario.py`` (a field of ``Step``) and one entry here (see CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cdmo_workflow.domain.project import Change, Project, Signer
from cdmo_workflow.spec.durations import parse_duration
from cdmo_workflow.spec.scenario import (
    AcceptArgs,
    CloseArgs,
    ConfirmArgs,
    Expectation,
    HoldArgs,
    RejectArgs,
    ReleaseArgs,
    SignArgs,
    SubmitArgs,
)

from .records import StepRecord
from .state import Run

Apply = Callable[[Run, Project, Any], Change]
"""An engine command: the project, the step's arguments -> the accepted change."""


@dataclass(frozen=True)
class StepKind:
    """One kind of step: how the log names it, and what it does."""

    describe: Callable[[Any], str]
    apply: Apply | None = None
    """The engine command (None for the clock and the checks)."""
    run: Callable[[Run, Any, StepRecord], None] | None = None
    """What a step that is not a command does."""

    @property
    def command(self) -> bool:
        """Whether the engine may refuse it (an ``expect: refused`` may follow)."""
        return self.apply is not None


def _submit(sim: Run, project: Project, a: SubmitArgs) -> Change:
    return project.submit_deliverable(
        a.phase, a.deliverable, a.by, sim.evidence(a.evidence), sim.clock
    )


def _confirm(sim: Run, project: Project, a: ConfirmArgs) -> Change:
    return project.confirm_check(a.gate, a.check, a.by, sim.evidence(a.evidence), sim.clock)


def _sign(sim: Run, project: Project, a: SignArgs) -> Change:
    return project.sign(
        a.gate,
        Signer(a.by, sim.name(a.by)),
        a.role,
        a.decision,
        a.meaning,
        sim.clock,
        comment=a.comment,
        conditions=a.conditions,
    )


def _close(sim: Run, project: Project, a: CloseArgs) -> Change:
    return project.close_condition(a.condition, a.by, sim.evidence(a.evidence), sim.clock)


def _accept(sim: Run, project: Project, a: AcceptArgs) -> Change:
    return project.accept_condition(a.condition, a.by, sim.clock, a.comment)


def _reject(sim: Run, project: Project, a: RejectArgs) -> Change:
    return project.reject_condition(a.condition, a.by, a.reason, sim.clock)


def _hold(sim: Run, project: Project, a: HoldArgs) -> Change:
    return project.put_on_hold(a.by, a.reason, sim.clock)


def _resume(sim: Run, project: Project, a: HoldArgs) -> Change:
    return project.resume(a.by, a.reason, sim.clock)


def _release(sim: Run, project: Project, a: ReleaseArgs) -> Change:
    return project.release_hold(
        a.hold, Signer(a.by, sim.name(a.by)), a.meaning, a.reason, sim.clock
    )


def _advance(sim: Run, text: str, record: StepRecord) -> None:
    sim.advance(parse_duration(text), record)


def _expect(sim: Run, exp: Expectation, record: StepRecord) -> None:
    sim.expect(exp, record)


def _sign_text(a: SignArgs) -> str:
    text = f"sign {a.gate} by {a.by} as {a.role}: {a.decision.value} ({a.meaning})"
    if a.conditions:
        text += f" with {len(a.conditions)} condition(s)"
    return text


STEPS: dict[str, StepKind] = {
    "submit": StepKind(lambda a: f"submit {a.phase}/{a.deliverable} by {a.by}", apply=_submit),
    "confirm": StepKind(lambda a: f"confirm {a.gate}/{a.check} by {a.by}", apply=_confirm),
    "sign": StepKind(_sign_text, apply=_sign),
    "close": StepKind(lambda a: f"close condition {a.condition} by {a.by}", apply=_close),
    "accept": StepKind(lambda a: f"accept condition {a.condition} by {a.by}", apply=_accept),
    "reject": StepKind(lambda a: f"reject condition {a.condition} by {a.by}", apply=_reject),
    "hold": StepKind(lambda a: f"hold by {a.by}: {a.reason}", apply=_hold),
    "resume": StepKind(lambda a: f"resume by {a.by}: {a.reason}", apply=_resume),
    "release": StepKind(lambda a: f"release hold {a.hold} by {a.by}: {a.reason}", apply=_release),
    "advance": StepKind(lambda text: f"advance {text}", run=_advance),
    "expect": StepKind(lambda exp: "expect", run=_expect),
}
"""Every step kind, in the order of ``spec.scenario.STEP_KINDS`` (a test keeps them equal)."""
