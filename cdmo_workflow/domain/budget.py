"""A project's budget: the quote of each phase, commitments and actual costs, overruns.

Pure: the standard library, the definition models and the project aggregate's plain data. The
service hands in the cost entries already recorded (the ``cost_entries`` table is the store's);
nothing here reads a clock.

**Data.** ``Project.budget`` is a :class:`Budget` kept in the project document: the currency
and, per phase, the quote (with its earlier values), the running totals of committed and
actual cost, the number of entries and whether the phase is past its overrun threshold. The
entries themselves live in their own insert-only table (one row each), so loading a project
and recording a cost cost the same after 10 or 50,000 entries.

**Rules.**

* Amounts are ``Decimal`` in the project's currency (``domain/money.py``).
* A quote is set by the project manager; the first quote of a phase is free, any later
  change is refused with rule ``quote-locked`` unless it is made under an approved change
  request with a cost impact (:func:`requote`, ``cdmo budget set --change CR-n``): the
  request's currency is the budget's, and the quote changes made under it add up to at most
  its cost impact, in its direction (``cost-impact-exceeded``).
* A cost is a commitment (``committed``: an open purchase order) or an actual cost
  (``actual``: booked in the ERP), recorded by the project manager or the process's
  ``finance_role``. A (kind, ref) pair is recorded once per project: ``cost add`` refuses a
  second one (``cost-ref-exists``); an import skips a row identical to the recorded one (same
  phase and amount), so re-importing an export is safe, and refuses a row that contradicts it
  (``cost-ref-conflict``).
* **Overrun**: committed + actual of a phase above its quote times the process's
  ``budget.overrun_threshold`` (default 100 %), and the same for the project's totals. A
  ``budget.overrun`` event is emitted when a phase (or the total) crosses the threshold
  upwards, once per crossing: it must fall back under (a higher quote) to be announced again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, Protocol

from ..spec.models import ProcessSnapshot
from .budget_records import ZERO, Budget, PhaseBudget
from .change_control import find
from .change_records import ChangeState
from .errors import RuleViolation
from .events import BUDGET_OVERRUN, BUDGET_QUOTED, COSTS_RECORDED
from .limits import check_text
from .money import currency_code, parse_amount, parse_percent, quantum, text
from .project import Change, Project
from .records import ProjectState, iso

CostKind = Literal["committed", "actual"]
KINDS: tuple[str, ...] = ("committed", "actual")
DEFAULT_THRESHOLD = "100%"


class _Snapshotted(Protocol):
    snapshot: ProcessSnapshot


def threshold_of(snapshot: ProcessSnapshot) -> tuple[Decimal, str]:
    """The overrun threshold of a process: (factor, text), e.g. ``(Decimal("1.1"), "110%")``."""
    policy = snapshot.process.budget
    written = policy.overrun_threshold if policy is not None else DEFAULT_THRESHOLD
    return parse_percent(written), written.strip()


def default_currency(snapshot: ProcessSnapshot) -> str | None:
    """The process's ``currency``, the default of ``project start --currency``."""
    return snapshot.process.currency


def open_budget(project: Project, currency: str | None) -> str | None:
    """Give a starting project its currency (``project start --currency`` or the process's);
    returns it, or None when neither names one (the project then has no budget)."""
    chosen = currency or default_currency(project.snapshot)
    if chosen is None:
        return None
    project.budget = Budget(currency=currency_code(chosen))
    return chosen


# ---------------------------------------------------------------------- guards


def budget_of(project: Project) -> Budget:
    if project.budget is None:
        raise RuleViolation(
            "no-currency",
            f"project {project.code} has no currency, so it has no budget: start projects with "
            "`--currency CODE` or give the process a `currency:`",
            project=project.code,
        )
    return project.budget


def _phase(project: Project, phase_id: str) -> str:
    project.phase_def(phase_id)  # NotFound naming the known phases
    return phase_id


def may_record_costs(project: Project, user: str) -> bool:
    """The project manager, or someone holding the process's ``finance_role``."""
    process = project.snapshot.process
    roles = [process.manager_role] + ([process.finance_role] if process.finance_role else [])
    return any(user in project.team.get(r, []) for r in roles)


def require_cost_recorder(project: Project, by: str, action: str) -> None:
    if may_record_costs(project, by):
        return
    process = project.snapshot.process
    roles = [process.manager_role] + ([process.finance_role] if process.finance_role else [])
    held = project.roles_of(by)
    raise RuleViolation(
        "not-assigned-to-role",
        f"user {by!r} may not {action} on project {project.code}: only the "
        f"{' or '.join(repr(r) for r in roles)} role may "
        f"({'holds: ' + ', '.join(held) if held else 'holds no role on this project'})",
        user=by,
        role=roles[0],
        project=project.code,
    )


# ---------------------------------------------------------------------- quotes


def set_quote(
    project: Project,
    phase_id: str,
    amount: str | Decimal,
    by: str,
    now: datetime,
    *,
    change_request: str | None = None,
) -> Change:
    """Record the quoted amount of a phase.

    Without ``change_request``: the project manager sets the **first** quote of a phase; a
    phase already quoted is refused with rule ``quote-locked``. With ``change_request`` (the id
    of an approved change request, checked by the change-control path that calls this): the
    quote changes, the earlier value is kept in ``revisions``, and the role check is the
    change path's (it decides who may implement an approved request).
    """
    budget = budget_of(project)
    _phase(project, phase_id)
    if project.state in (ProjectState.KILLED, ProjectState.COMPLETED):
        raise RuleViolation(
            "project-closed",
            f"project {project.code} is {project.state.value}: its quotes are final",
            project=project.code,
            state=project.state.value,
        )
    if change_request is None:
        project.require_role(by, project.snapshot.process.manager_role, "set a quote")
    elif not change_request.strip() or len(change_request) > 128:
        raise RuleViolation(
            "invalid-change-request",
            "the change request id must be 1 to 128 characters",
            field="change request",
        )
    value = parse_amount(amount, budget.currency, field="quoted", allow_zero=True)
    pb = budget.phase(phase_id)
    old = _quote_dict(pb, budget.currency) if pb.quoted is not None else None
    if pb.quoted is not None and change_request is None:
        raise RuleViolation(
            "quote-locked",
            f"phase {phase_id!r} of project {project.code} is quoted at {budget.currency} "
            f"{text(pb.quoted)} (by {pb.quoted_by}, {iso(pb.quoted_at)}): changing a quote "
            "needs an approved change request",
            project=project.code,
            phase=phase_id,
            quoted=text(pb.quoted),
        )
    if pb.quoted is not None and pb.quoted == value:
        raise RuleViolation(
            "quote-unchanged",
            f"phase {phase_id!r} is already quoted at {budget.currency} {text(value)}",
            phase=phase_id,
        )
    if pb.quoted is not None:
        pb.revisions.append(
            {
                "amount": text(pb.quoted),
                "by": pb.quoted_by,
                "at": iso(pb.quoted_at),
                "change_request": pb.change_request,
            }
        )
    pb.quoted, pb.quoted_by, pb.quoted_at, pb.change_request = value, by, now, change_request
    project._emit(
        BUDGET_QUOTED,
        phase=phase_id,
        data={
            "by": by,
            "quoted": text(value),
            "previous": old["quoted"] if old else None,
            "currency": budget.currency,
            "change_request": change_request,
        },
    )
    _watch(project, [phase_id])
    return Change("budget.set-quote", phase_id, old, _quote_dict(pb, budget.currency))


def requote(
    project: Project, phase_id: str, amount: str | Decimal, by: str, now: datetime, cr_id: str
) -> Change:
    """Change a phase's quote under an approved change request with a cost impact.

    The project manager implements what the customer signed: the request must be approved
    (``change-not-approved``), carry a cost impact in the budget's currency
    (``change-without-cost``, ``currency-mismatch``), and the quote changes made under it,
    this one included, must stay within the impact (``cost-impact-exceeded``).
    """
    project.require_role(by, project.snapshot.process.manager_role, "change a quote")
    budget = budget_of(project)
    cr = find(project, cr_id)
    if cr.state != ChangeState.APPROVED:
        raise RuleViolation(
            "change-not-approved",
            f"{cr.id} is {cr.state.value}: a quote changes only under an approved change request",
            change=cr.id,
            state=cr.state.value,
        )
    impact = cr.cost
    if impact is None:
        raise RuleViolation(
            "change-without-cost",
            f"{cr.id} has no cost impact: it cannot change a quote",
            change=cr.id,
        )
    if cr.currency != budget.currency:
        raise RuleViolation(
            "currency-mismatch",
            f"{cr.id} is in {cr.currency}, the budget of {project.code} in {budget.currency}",
            change=cr.id,
            currency=cr.currency,
        )
    value = parse_amount(amount, budget.currency, field="quoted", allow_zero=True)
    current = budget.phase(phase_id).quoted if phase_id in budget.phases else None
    used = quoted_under(budget, cr.id)
    total = used + value - (current or ZERO)
    if abs(total) > abs(impact) or (total and (total > 0) != (impact > 0)):
        raise RuleViolation(
            "cost-impact-exceeded",
            f"{cr.id} changes the budget by {budget.currency} {text(impact)}; quotes changed "
            f"under it would add up to {text(total)} (already {text(used)})",
            change=cr.id,
            impact=text(impact),
            total=text(total),
        )
    return set_quote(project, phase_id, value, by, now, change_request=cr.id)


def quoted_under(budget: Budget, cr_id: str) -> Decimal:
    """How much the quote changes made under one change request add up to."""
    total = ZERO
    for pb in budget.phases.values():
        chain = [*pb.revisions, {"amount": pb.quoted, "change_request": pb.change_request}]
        before: Decimal = ZERO
        for entry in chain:
            amount = Decimal(str(entry["amount"])) if entry["amount"] is not None else ZERO
            if entry.get("change_request") == cr_id:
                total += amount - before
            before = amount
    return total


def _quote_dict(pb: PhaseBudget, currency: str) -> dict[str, Any]:
    return {
        "quoted": text(pb.quoted) if pb.quoted is not None else None,
        "currency": currency,
        "by": pb.quoted_by,
        "at": iso(pb.quoted_at),
        "change_request": pb.change_request,
    }


# ---------------------------------------------------------------------- costs


@dataclass(frozen=True)
class CostLine:
    """One commitment or actual cost, checked: what ``cost_entries`` stores."""

    phase: str
    kind: str
    amount: Decimal
    ref: str
    note: str | None = None
    booked_on: str | None = None
    row: int | None = None
    """The spreadsheet row it came from (imports)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "kind": self.kind,
            "amount": text(self.amount),
            "ref": self.ref,
            "note": self.note,
            "booked_on": self.booked_on,
        }


class Recorded(Protocol):
    """What the service knows of an entry already in the table (``StoredCost``)."""

    @property
    def phase(self) -> str: ...

    @property
    def amount(self) -> Decimal: ...

    @property
    def recorded_at(self) -> datetime: ...


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise RuleViolation(
            "invalid-cost-kind",
            f"kind {kind[:24]!r} is not a cost kind: use committed (an open purchase order) or "
            "actual (booked cost)",
            field="kind",
        )
    return kind


def check_booked_on(value: str | None) -> str | None:
    """An optional booking day, ``YYYY-MM-DD``."""
    if value is None or not value.strip():
        return None
    day = value.strip()
    problem = None
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day):
        problem = "use YYYY-MM-DD"
    else:
        try:
            date.fromisoformat(day)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        raise RuleViolation(
            "invalid-date",
            f"booked_on {day[:24]!r} is not a date: {problem}",
            field="booked_on",
        )
    return day


def cost_line(
    project: Project,
    phase_id: str,
    kind: str,
    amount: str | Decimal,
    ref: str,
    note: str | None = None,
    booked_on: str | None = None,
    row: int | None = None,
) -> CostLine:
    """A checked cost line, or the refusal of its first bad field."""
    budget = budget_of(project)
    _phase(project, phase_id)
    check_kind(kind)
    value = parse_amount(amount, budget.currency, field="amount")
    if not ref or not ref.strip():
        raise RuleViolation("ref-required", "ref is required (an ERP document number)", field="ref")
    check_text("cost ref", ref)
    if note is not None and note.strip():
        check_text("cost note", note)
    else:
        note = None
    return CostLine(phase_id, kind, value, ref, note, check_booked_on(booked_on), row)


def add_cost(
    project: Project,
    line: CostLine,
    by: str,
    now: datetime,
    known: Mapping[tuple[str, str], Recorded],
) -> Change:
    """Record one entry (``cdmo cost add``); ``known`` holds any entry with its (kind, ref)."""
    require_cost_recorder(project, by, "record a cost")
    prior = known.get((line.kind, line.ref))
    if prior is not None:
        raise RuleViolation(
            "cost-ref-exists",
            f"{line.kind} cost {line.ref!r} is already recorded on project {project.code} "
            f"(phase {prior.phase}, {budget_of(project).currency} {text(prior.amount)}, "
            f"{iso(prior.recorded_at)}): a ref is recorded once; book a correction under a "
            "new ref",
            ref=line.ref,
            kind=line.kind,
        )
    return record(project, [line], by, now, action="cost.add", subject=line.ref)


@dataclass
class ImportPlan:
    """What an import would do: the new lines, the rows already recorded, the problems."""

    lines: list[CostLine] = field(default_factory=list)
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def record(
    project: Project,
    lines: Sequence[CostLine],
    by: str,
    now: datetime,
    *,
    action: str,
    subject: str,
    summary: Mapping[str, Any] | None = None,
) -> Change:
    """Add the lines to the running totals, emit ``costs.recorded`` and any overrun."""
    budget = budget_of(project)
    added: dict[str, dict[str, Decimal]] = {}
    for line in lines:
        pb = budget.phase(line.phase)
        if line.kind == "committed":
            pb.committed += line.amount
        else:
            pb.actual += line.amount
        pb.entries += 1
        sums = added.setdefault(line.phase, {k: ZERO for k in KINDS})
        sums[line.kind] += line.amount
    totals = {
        phase: {k: text(v) for k, v in sums.items() if v} for phase, sums in sorted(added.items())
    }
    if lines:
        project._emit(
            COSTS_RECORDED,
            data={
                "by": by,
                "entries": len(lines),
                "currency": budget.currency,
                "added": totals,
            },
        )
    _watch(project, list(added))
    new: dict[str, Any] = {"currency": budget.currency, "entries": len(lines), "added": totals}
    if len(lines) == 1 and summary is None:
        new.update(lines[0].to_dict())
    if summary:
        new.update(summary)
    return Change(action, subject, None, new)


# ---------------------------------------------------------------------- overruns


def _watch(project: Project, phases: Iterable[str]) -> None:
    """Emit ``budget.overrun`` for each phase (and the total) that crossed the threshold."""
    budget = budget_of(project)
    factor, written = threshold_of(project.snapshot)
    for pid in phases:
        pb = budget.phases.get(pid)
        if pb is None:
            continue
        over = pb.quoted is not None and pb.spent > pb.quoted * factor
        if over and not pb.over:
            assert pb.quoted is not None
            _overrun(project, pid, pb.quoted, pb.committed, pb.actual, written)
        pb.over = over
    quoted = [pb.quoted for pb in budget.phases.values() if pb.quoted is not None]
    if not quoted:
        budget.over = False
        return
    total_quoted = sum(quoted, ZERO)
    committed = sum((pb.committed for pb in budget.phases.values()), ZERO)
    actual = sum((pb.actual for pb in budget.phases.values()), ZERO)
    over = committed + actual > total_quoted * factor
    if over and not budget.over:
        _overrun(project, None, total_quoted, committed, actual, written)
    budget.over = over


def _overrun(
    project: Project,
    phase: str | None,
    quoted: Decimal,
    committed: Decimal,
    actual: Decimal,
    threshold: str,
) -> None:
    budget = budget_of(project)
    spent = committed + actual
    ratio = (spent / quoted * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP) if quoted else None
    project._emit(
        BUDGET_OVERRUN,
        phase=phase,
        data={
            "scope": "phase" if phase else "project",
            "currency": budget.currency,
            "quoted": text(quoted),
            "committed": text(committed),
            "actual": text(actual),
            "spent": text(spent),
            "over_by": text(spent - quoted),
            "threshold": threshold,
            "percent": text(ratio) if ratio is not None else None,
        },
    )


# ---------------------------------------------------------------------- views


def budget_view(project: _Snapshotted | Project) -> dict[str, Any] | None:
    """Quoted, committed, actual, spent and remaining per phase and in total (amounts as
    exact text), or None for a project without a currency."""
    budget: Budget | None = getattr(project, "budget", None)
    if budget is None:
        return None
    factor, written = threshold_of(project.snapshot)
    unit = quantum(budget.currency)
    rows = []
    for pdef in project.snapshot.process.phases:
        pb = budget.phases.get(pdef.id) or PhaseBudget()
        rows.append({"phase": pdef.id, "name": pdef.name, **_figures(pb.quoted, pb, factor, unit)})
    quoted = [pb.quoted for pb in budget.phases.values() if pb.quoted is not None]
    total = PhaseBudget(
        committed=sum((pb.committed for pb in budget.phases.values()), ZERO),
        actual=sum((pb.actual for pb in budget.phases.values()), ZERO),
        entries=sum(pb.entries for pb in budget.phases.values()),
    )
    total_quoted = sum(quoted, ZERO) if quoted else None
    return {
        "currency": budget.currency,
        "threshold": written,
        "phases": rows,
        "total": _figures(total_quoted, total, factor, unit),
    }


def _figures(
    quoted: Decimal | None, pb: PhaseBudget, factor: Decimal, unit: Decimal
) -> dict[str, Any]:
    spent = pb.spent

    def q(value: Decimal) -> str:
        return text(value.quantize(unit))

    burn = None
    if quoted:
        burn = text((spent / quoted * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return {
        "quoted": q(quoted) if quoted is not None else None,
        "committed": q(pb.committed),
        "actual": q(pb.actual),
        "spent": q(spent),
        "remaining": q(quoted - spent) if quoted is not None else None,
        "burn_percent": burn,
        "entries": pb.entries,
        "over": bool(quoted is not None and spent > quoted * factor),
        "quote_changes": len(pb.revisions),
    }
