"""Frozen pydantic models of the YAML definition files (schema ``cdmo-workflow/v1``).

These models are the contract for process owners: the JSON Schemas in ``schemas/`` are
generated from them, and the pure core reads them. They import nothing but pydantic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from .durations import DURATION_PATTERN, parse_duration

SCHEMA_V1 = "cdmo-workflow/v1"

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"

MAX_QUOTA = 100
"""The most signers one quota may ask for (``min``: 1 to 100)."""

Id = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        max_length=64,
        description="Lowercase letters, digits and single dashes, e.g. `tech-transfer`.",
    ),
]


def _check_duration(text: str) -> str:
    parse_duration(text)  # raises DurationError (a ValueError) with a readable message
    return text


DurationText = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        description="Nh, Nd, Nw, Nbd (business days, weekends skipped) or ISO 8601 such as P10D.",
        examples=["10d", "2w", "36h", "10bd", "P10D"],
    ),
    AfterValidator(_check_duration),
]


class Decision(StrEnum):
    """Gate decisions, from least to most conservative."""

    GO = "go"
    CONDITIONAL_GO = "conditional-go"
    HOLD = "hold"
    RECYCLE = "recycle"
    KILL = "kill"


ALL_DECISIONS: tuple[Decision, ...] = tuple(Decision)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class DeliverableDef(_Frozen):
    """Something a phase produces; required ones must be submitted before the gate opens."""

    id: Id
    name: str = Field(min_length=1)
    owner: Id = Field(description="Role that may submit it.")
    required: StrictBool = Field(
        default=True, description="Optional deliverables never block a gate."
    )
    description: str | None = None


class PhaseDef(_Frozen):
    """A stage of the process; it ends at its exit gate."""

    id: Id
    name: str = Field(min_length=1)
    owner: Id = Field(description="Role accountable for the phase.")
    duration: DurationText | None = Field(default=None, description="Planned duration.")
    after: list[Id] = Field(
        default_factory=list,
        description="Phases whose gates must pass before this one starts (a DAG).",
    )
    deliverables: list[DeliverableDef] = Field(default_factory=list)
    gate: Id = Field(description="Exit gate, defined in gates/<id>.yaml.")
    description: str | None = None


class MessageTemplate(_Frozen):
    """A per-process override of a notification message (jinja2 templates)."""

    subject: str | None = None
    body: str | None = None


NotifyEvent = Literal[
    "started",
    "phase-activated",
    "opened",
    "signed",
    "refused",
    "decided",
    "condition-opened",
    "condition-closed",
    "on-hold",
    "resumed",
    "completed",
    "killed",
    "reminder",
    "escalation",
    "security",
    "default",
]
"""Events a ``notify:`` block can route; ``default`` covers every event it does not name."""


class ProcessDef(_Frozen):
    """A process template: roles, phases (a DAG) and the gate each phase ends at."""

    schema_: Literal["cdmo-workflow/v1"] = Field(alias="schema")
    kind: Literal["process"]
    id: Id
    name: str = Field(min_length=1)
    description: str | None = None
    roles: dict[Id, str] = Field(
        min_length=1, description="Every role this process and its gates use, with a description."
    )
    manager_role: Id = Field(
        default="pm",
        description="Role that holds and resumes the project (the project manager).",
    )
    admin_role: Id | None = Field(
        default=None,
        description="Role allowed to unlock accounts for this process's users (optional).",
    )
    phases: list[PhaseDef] = Field(min_length=1)
    notify: dict[NotifyEvent, list[Id]] = Field(
        default_factory=dict,
        description="Which roles hear of project-level events (started, on-hold, ...).",
    )
    messages: dict[NotifyEvent, MessageTemplate] = Field(
        default_factory=dict, description="Per-process overrides of notification templates."
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class CheckDef(_Frozen):
    """A must-meet item at a gate beyond the phase's deliverables."""

    id: Id
    name: str = Field(min_length=1)
    confirmed_by: Id = Field(description="Role that may confirm it.")
    description: str | None = None


class SignoffQuota(_Frozen):
    """How many distinct people of one role must sign a gate."""

    role: Id
    min: StrictInt = Field(default=1, ge=1, le=MAX_QUOTA)
    independent: StrictBool = Field(
        default=False,
        description="The signer may not have submitted a deliverable or check of this phase.",
    )
    veto: StrictBool = Field(
        default=False, description="A hold, recycle or kill from this role decides at once."
    )
    delegable: StrictBool = Field(
        default=True,
        description=(
            "Whether a signer of this role may delegate the signature while away; false for "
            "QA batch release, which cannot be delegated."
        ),
    )


class Sla(_Frozen):
    """Service level of a gate, counted from the moment it opens."""

    decide_within: DurationText | None = None
    remind_every: DurationText | None = None
    escalate_to: list[Id] = Field(default_factory=list)


class GateDef(_Frozen):
    """A gate: must-meet checks, sign-off quotas, allowed decisions, SLA and notifications."""

    schema_: Literal["cdmo-workflow/v1"] = Field(alias="schema")
    kind: Literal["gate"]
    id: Id
    name: str = Field(min_length=1)
    description: str | None = None
    checks: list[CheckDef] = Field(default_factory=list)
    signoffs: list[SignoffQuota] = Field(min_length=1)
    decisions: list[Decision] = Field(default_factory=lambda: list(ALL_DECISIONS), min_length=1)
    recycle_to: Id | None = Field(
        default=None, description="Phase a recycle reopens (default: the gated phase)."
    )
    sla: Sla | None = None
    notify: dict[NotifyEvent, list[Id]] = Field(default_factory=dict)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class GitPin(_Frozen):
    """Where the definitions came from in git, when they sat in a work tree."""

    commit: str
    dirty: bool


class ProcessSnapshot(_Frozen):
    """A process with the gates it uses, hashed: what a project pins when it starts."""

    process: ProcessDef
    gates: dict[str, GateDef]
    version_hash: str
    git: GitPin | None = None

    def phase(self, phase_id: str) -> PhaseDef:
        for p in self.process.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)

    def gate_of(self, phase_id: str) -> GateDef:
        return self.gates[self.phase(phase_id).gate]
