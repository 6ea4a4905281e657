"""The model of a scenario file: a scripted dry run of one process (``kind: scenario``).

A scenario names a process, a start time, a team (role -> user ids, printed names
optional) and a list of steps. Each step is a mapping with exactly one key, the step's kind
(:data:`STEP_KINDS`): a command of the engine (``submit``, ``confirm``, ``sign``, ``close``,
``hold``, ``resume``), ``advance`` (move the simulated clock) or ``expect`` (check the state
reached so far). ``cdmo simulate`` runs it on the pure core; ``cdmo validate`` checks its
shape and its references to the definitions (``spec/scenario_checks.py``).

Values that belong to the engine's vocabulary (phase and project states, signature
meanings, rule ids) are plain text here and are checked by the simulator against the engine
itself, so they are never written down twice.

Scenario files sit in ``definitions/scenarios/`` beside the processes they exercise.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from .models import Decision, DurationText, Id, NotifyEvent, _Frozen

SCENARIO_KIND = "scenario"
SCENARIO_FOLDER = "scenarios"
"""Scenario files live in ``definitions/scenarios/`` (any ``.yaml``/``.yml`` below it)."""

UserRef = Annotated[
    str,
    Field(min_length=1, description="A user id of the scenario's team."),
]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Members = Annotated[
    list[UserRef],
    BeforeValidator(_one_or_many, json_schema_input_type=list[UserRef] | UserRef),
    Field(min_length=1, description="User ids holding the role (a list, or one id)."),
]


class ProjectArgs(_Frozen):
    """The simulated project: its code, customer and who starts it."""

    code: str = Field(default="SIM-1", description="Project code (e.g. `SIM-1`).")
    customer: str = Field(default="Simulated customer", description="The sponsor's name.")
    by: UserRef | None = Field(
        default=None,
        description="Who starts the project (default: the first user of the manager role).",
    )


class SubmitArgs(_Frozen):
    """Submit a deliverable of an active phase (``cdmo deliverable submit``)."""

    phase: Id
    deliverable: Id
    by: UserRef
    evidence: str | None = Field(
        default=None, description="A document reference (default: the scenario's file:line)."
    )


class ConfirmArgs(_Frozen):
    """Confirm a must-meet check of a gate (``cdmo check confirm``)."""

    gate: Id
    check: Id
    by: UserRef
    evidence: str | None = None


class SignArgs(_Frozen):
    """An electronic signature (``cdmo gate sign``); no password in a dry run."""

    gate: Id
    by: UserRef
    role: Id = Field(description="The role the signer signs in.")
    decision: Decision
    meaning: str = Field(
        description="approval, review, responsibility or authorship (checked by the engine).",
        examples=["approval", "review", "responsibility", "authorship"],
    )
    comment: str | None = None
    conditions: list[str] = Field(
        default_factory=list, description="Conditions of a conditional-go."
    )


class CloseArgs(_Frozen):
    """Close a condition of a Conditional Go (``cdmo condition close``)."""

    condition: str = Field(description="The condition id, e.g. `C1` (numbered as raised).")
    by: UserRef
    evidence: str | None = None


class AcceptArgs(_Frozen):
    """Accept a closed condition (``cdmo condition accept``): the raiser's role or the quality
    role, never whoever closed it."""

    condition: str = Field(description="The condition id, e.g. `C1`.")
    by: UserRef
    comment: str | None = None


class RejectArgs(_Frozen):
    """Send a closed condition back to open (``cdmo condition reject``), with the reason."""

    condition: str = Field(description="The condition id, e.g. `C1`.")
    by: UserRef
    reason: str = Field(min_length=1)


class HoldArgs(_Frozen):
    """Put the project on hold, or resume it (``cdmo project hold|resume``)."""

    by: UserRef
    reason: str = Field(min_length=1)


class ReleaseArgs(_Frozen):
    """Release a quality hold with a signature (``cdmo project release``): the quality role."""

    hold: str = Field(description="The hold id, e.g. `H1` (numbered as placed).")
    by: UserRef
    meaning: str = Field(
        description="The signature's meaning: approval, review or responsibility.",
        examples=["approval", "review", "responsibility"],
    )
    reason: str = Field(min_length=1)


Number = Annotated[float, Field(strict=True)]


class Expectation(_Frozen):
    """What must hold after the step before it. Only the fields given are checked.

    ``notified``, ``reminded`` and ``escalated`` look at what happened since the previous
    ``expect`` (or the start): for each event (gate) listed, exactly the users listed.
    """

    refused: str | None = Field(
        default=None,
        description="The step before was refused with this rule id (e.g. `not-assigned-to-role`).",
    )
    project: str | None = Field(
        default=None,
        description="Project state: active, on-hold, completed or killed.",
        examples=["active", "on-hold", "completed", "killed"],
    )
    phases: dict[Id, str] | None = Field(
        default=None,
        description="Phase -> state: pending, active, gate-review or completed.",
    )
    gates: dict[Id, str] | None = Field(
        default=None,
        description=(
            "Gate -> `open` (a review is open), `waiting` (none open, none ever decided) or "
            "the outcome of its latest decided review (go, conditional-go, hold, recycle, kill)."
        ),
    )
    conditions: dict[str, str] | None = Field(
        default=None, description="Condition id -> `open`, `closed` or `accepted`."
    )
    notified: dict[NotifyEvent, list[UserRef]] | None = Field(
        default=None,
        description="Notify event -> exactly the users who heard of it since the last expect.",
    )
    reminded: dict[Id, list[UserRef]] | None = Field(
        default=None,
        description="Gate -> exactly the users the SLA watcher reminded since the last expect.",
    )
    escalated: dict[Id, list[UserRef]] | None = Field(
        default=None,
        description="Gate -> exactly the users an SLA escalation reached since the last expect.",
    )
    forecast_end: date | None = Field(
        default=None, description="The forecast completion date (UTC), YYYY-MM-DD."
    )
    slip_days: Number | None = Field(
        default=None, description="Forecast end minus baseline end, in days (one decimal)."
    )

    @model_validator(mode="after")
    def _something(self) -> Expectation:
        if not self.model_fields_set:
            raise ValueError(
                "an expectation needs at least one of: " + ", ".join(Expectation.model_fields)
            )
        return self


def _one_key(schema: dict[str, Any]) -> None:
    """JSON Schema of a step: exactly one key, and no key may be null (editors complete it)."""
    schema["minProperties"] = schema["maxProperties"] = 1
    for prop in schema.get("properties", {}).values():
        options = prop.pop("anyOf", None)
        if options is not None:
            own = dict(prop)  # the field's own description and title win
            prop.update(next(o for o in options if o.get("type") != "null"))
            prop.update(own)
        prop.pop("default", None)


class Step(_Frozen):
    """One step: exactly one of the keys below."""

    submit: SubmitArgs | None = None
    confirm: ConfirmArgs | None = None
    sign: SignArgs | None = None
    close: CloseArgs | None = None
    accept: AcceptArgs | None = None
    reject: RejectArgs | None = None
    hold: HoldArgs | None = None
    resume: HoldArgs | None = None
    release: ReleaseArgs | None = None
    advance: DurationText | None = Field(
        default=None,
        description="Move the simulated clock: 3bd (business days), 2d, 36h, 1w, P2D.",
    )
    expect: Expectation | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_one_key)

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        given = [k for k in type(self).model_fields if k in self.model_fields_set]
        if not given:
            raise ValueError(f"a step needs one of: {', '.join(STEP_KINDS)}")
        if len(given) > 1:
            raise ValueError(
                f"a step does one thing, this one has {', '.join(given)}: "
                "write them as separate steps"
            )
        if getattr(self, given[0]) is None:
            raise ValueError(f"step '{given[0]}' needs a value")
        return self

    @property
    def kind(self) -> str:
        """The step's key (``submit``, ``advance``, ...): the one field the file gives."""
        return next(iter(self.model_fields_set))

    @property
    def args(self) -> Any:
        """The step's value: its arguments model, a duration text, or an expectation."""
        return getattr(self, self.kind)


STEP_KINDS: tuple[str, ...] = tuple(Step.model_fields)
"""Every step kind, in the order the reference documents them."""


class ScenarioDef(_Frozen):
    """A dry run of one process: a team, a start time and scripted steps with expectations."""

    schema_: Literal["cdmo-workflow/v1"] = Field(alias="schema")
    kind: Literal["scenario"]
    process: Id = Field(description="The process this scenario runs.")
    name: str | None = Field(default=None, description="A title for the log.")
    description: str | None = None
    start: datetime = Field(
        description="When the project starts (UTC unless an offset is given), "
        "e.g. 2026-01-05T09:00:00Z."
    )
    project: ProjectArgs = Field(default_factory=ProjectArgs)
    team: dict[Id, Members] = Field(
        min_length=1, description="Role -> user ids (a list, or one id)."
    )
    names: dict[UserRef, str] = Field(
        default_factory=dict, description="User id -> printed name (default: the user id)."
    )
    watch_every: DurationText = Field(
        default="PT15M",
        description="How often the simulated SLA watcher runs (calendar time; default 15 "
        "minutes, like the housekeeping run of `cdmo up`).",
    )
    steps: list[Step] = Field(min_length=1)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
