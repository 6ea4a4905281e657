"""Frozen pydantic models of the YAML definition files (schema ``cdmo-workflow/v1``).

These models are the contract for process owners: the JSON Schemas in ``schemas/`` are
generated from them, and the pure core reads them. They import nothing but pydantic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from .currencies import CURRENCY_PATTERN, check_currency
from .durations import DURATION_PATTERN, parse_duration
from .zones import check_time_zone

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


CurrencyCode = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": CURRENCY_PATTERN},
        description="ISO 4217 code of the project's currency, e.g. CHF, EUR, USD.",
        examples=["CHF", "EUR", "USD"],
    ),
    AfterValidator(check_currency),
]

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _check_date(text: str) -> str:
    import re
    from datetime import date

    shown = text if len(text) <= 24 else text[:24] + "..."
    if not re.fullmatch(DATE_PATTERN, text):
        raise ValueError(f"invalid date {shown!r}: use YYYY-MM-DD, e.g. 2026-12-25")
    try:
        date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"invalid date {shown!r}: {exc}") from None
    return text


DateText = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": DATE_PATTERN},
        description="A calendar day, YYYY-MM-DD.",
        examples=["2026-12-25"],
    ),
    AfterValidator(_check_date),
]

PERCENT_PATTERN = r"^[0-9]{1,4}(\.[0-9]{1,2})?\s*%$"


def _check_percent(text: str) -> str:
    import re

    if not re.fullmatch(PERCENT_PATTERN, text.strip()):
        raise ValueError(f"invalid percentage {text[:24]!r}: write it like '110%'")
    value = float(text.strip().rstrip("%"))
    if not 1 <= value <= 1000:
        raise ValueError(f"percentage {text!r} is out of range: 1% to 1000%")
    return text


PercentText = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": PERCENT_PATTERN},
        description="A percentage, e.g. '110%'.",
        examples=["100%", "110%"],
    ),
    AfterValidator(_check_percent),
]

TimeZoneName = Annotated[
    str,
    Field(
        max_length=64,
        description="IANA time zone, e.g. Europe/Zurich.",
        examples=["Europe/Zurich", "UTC"],
    ),
    AfterValidator(check_time_zone),
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
    gmp: StrictBool = Field(
        default=False,
        description=(
            "A GMP phase: a change request that touches it needs the approvers whose "
            "change_control quota says `when: [gmp]` (usually QA)."
        ),
    )
    kind: Id | None = Field(
        default=None,
        description=(
            "What sort of work the phase is (e.g. `gmp-manufacturing`): the forecast learns its "
            "spread from completed phases of the same kind across processes (default: the "
            "same phase id)."
        ),
    )


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
    "team-changed",
    "condition-accepted",
    "condition-rejected",
    "condition-reminder",
    "condition-escalation",
    "budget-overrun",
    "default",
]
"""Events a ``notify:`` block can route; ``default`` covers every event it does not name."""

ChangeNotifyEvent = Literal[
    "change-proposed",
    "change-submitted",
    "change-signed",
    "change-approved",
    "change-rejected",
    "change-applied",
    "change-withdrawn",
]
"""Change-request events: only a process's ``notify:`` and ``messages:`` route them."""

ProcessNotifyEvent = Literal[NotifyEvent, ChangeNotifyEvent]
"""What a process's ``notify:`` and ``messages:`` blocks may name."""


ChangeTrigger = Literal["gmp", "signoffs", "schedule", "cost", "version"]
"""What a change request touches, for an approver quota's ``when``: a GMP phase, a gate's
sign-offs, the schedule, the cost, the definition version."""


class ApproverQuota(_Frozen):
    """How many distinct people of one role must approve a change request, and when."""

    role: Id
    min: StrictInt = Field(default=1, ge=1, le=MAX_QUOTA)
    when: list[ChangeTrigger] = Field(
        default_factory=list,
        description=(
            "Only when the change touches one of these (any): gmp (a phase marked gmp: true), "
            "signoffs (a gate's sign-off quotas), schedule, cost, version. Empty: always."
        ),
    )


class ChangeControl(_Frozen):
    """Who approves a change request of a project on this process (role quotas)."""

    approvers: list[ApproverQuota] = Field(
        min_length=1,
        description="Role quotas; at least one applies always (no `when`).",
    )


class BudgetPolicy(_Frozen):
    """How a project's budget is watched."""

    overrun_threshold: PercentText = Field(
        default="100%",
        description=(
            "Committed plus actual cost of a phase (or of the project) above this share of "
            "its quote is an overrun, notified once per crossing (`budget-overrun`)."
        ),
    )


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
    quality_role: Id = Field(
        default="qa",
        description=(
            "The quality unit's role: it may hold the project or a phase at any time, only it "
            "releases a quality hold (with a signature), and it accepts closed conditions."
        ),
    )
    phases: list[PhaseDef] = Field(min_length=1)
    notify: dict[ProcessNotifyEvent, list[Id]] = Field(
        default_factory=dict,
        description="Which roles hear of project-level events (started, on-hold, ...).",
    )
    messages: dict[ProcessNotifyEvent, MessageTemplate] = Field(
        default_factory=dict, description="Per-process overrides of notification templates."
    )
    change_control: ChangeControl | None = Field(
        default=None,
        description=(
            "Who approves change requests. Default: the customer role (when declared) and "
            "the manager role."
        ),
    )
    calendar: Id | None = Field(
        default=None,
        description=(
            "Site calendar (calendars/<id>.yaml) whose holidays and shutdowns business-day "
            "durations and SLAs skip; default: weekends only."
        ),
    )
    currency: CurrencyCode | None = Field(
        default=None,
        description="Default currency of a project's budget (`project start --currency`).",
    )
    budget: BudgetPolicy | None = Field(
        default=None, description="Budget policy (overrun threshold)."
    )
    share_budget: StrictBool = Field(
        default=False,
        description="Show the budget in the customer report (`cdmo report --for customer`).",
    )
    finance_role: Id | None = Field(
        default=None,
        description="Role that may record costs besides the project manager (optional).",
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


RecycleResets = Literal["path", "downstream"]
"""What a recycle resets: the phases on the paths from ``recycle_to`` to the gated phase
(``path``, the default), or every started phase downstream of ``recycle_to``."""


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
    recycle_resets: RecycleResets = Field(
        default="path",
        description=(
            "What a recycle resets: `path` (default) the phases on the paths from recycle_to "
            "to this gate's phase, so completed parallel branches keep their state; "
            "`downstream` every started phase after recycle_to (the earlier behaviour)."
        ),
    )
    condition_due: DurationText | None = Field(
        default=None,
        description=(
            "Default due date of the conditions a Conditional Go raises here, counted from the "
            "decision (e.g. 10bd); a signer may set another with --condition-due."
        ),
    )
    sla: Sla | None = None
    notify: dict[NotifyEvent, list[Id]] = Field(default_factory=dict)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class Holiday(_Frozen):
    """A day the site does not work."""

    date: DateText
    name: str | None = None


class Shutdown(_Frozen):
    """A closed period, both days included (e.g. the winter shutdown)."""

    from_: DateText = Field(alias="from", description="First closed day.")
    to: DateText = Field(description="Last closed day (included).")
    name: str | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class CalendarDef(_Frozen):
    """A site calendar: which days are working days for business-day durations and SLAs."""

    schema_: Literal["cdmo-workflow/v1"] = Field(alias="schema")
    kind: Literal["calendar"]
    id: Id
    name: str = Field(min_length=1)
    description: str | None = None
    time_zone: TimeZoneName = Field(
        default="UTC", description="The site's zone: days begin and end at its midnight."
    )
    weekend: tuple[Weekday, ...] = Field(
        default=("saturday", "sunday"), description="Days of the week that are never worked."
    )
    holidays: tuple[Holiday, ...] = Field(default=())
    shutdowns: tuple[Shutdown, ...] = Field(default=())

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


HASH_NEUTRAL_DEFAULTS: dict[type[BaseModel], dict[str, object]] = {
    PhaseDef: {"gmp": False, "kind": None},
    ProcessDef: {
        "change_control": None,
        "quality_role": "qa",
        "calendar": None,
        "currency": None,
        "budget": None,
        "share_budget": False,
        "finance_role": None,
    },
    GateDef: {"recycle_resets": "path", "condition_due": None},
}
"""Fields added after version hashes were first stored, with the default they are left out
of the hash at (``catalog.snapshot_hash``): an unchanged YAML file keeps its version hash.
Add a field here when you add one with a default to a model that is hashed."""


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
    calendar: CalendarDef | None = None
    """The site calendar pinned with the process (None: weekends only)."""

    def phase(self, phase_id: str) -> PhaseDef:
        for p in self.process.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)

    def gate_of(self, phase_id: str) -> GateDef:
        return self.gates[self.phase(phase_id).gate]
