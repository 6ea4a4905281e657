"""The budget in the core (domain/budget.py, money.py, cost_import.py): quotes, costs,
overruns once per crossing, amounts as Decimal, and the CSV import's row:column findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdmo_workflow.domain import budget as b
from cdmo_workflow.domain.cost_import import plan_import, read_csv, refusal
from cdmo_workflow.domain.errors import NotFound, RuleViolation
from cdmo_workflow.domain.money import parse_amount
from cdmo_workflow.domain.project import Project
from cdmo_workflow.spec.models import BudgetPolicy, ProcessSnapshot

from .builders import T0, at, diamond, start


def budget_snapshot(threshold: str | None = "110%", currency: str = "CHF") -> ProcessSnapshot:
    snap = diamond()
    process = snap.process.model_copy(
        update={
            "currency": currency,
            "budget": BudgetPolicy(overrun_threshold=threshold) if threshold else None,
            "finance_role": "qc",
        }
    )
    return ProcessSnapshot(process=process, gates=snap.gates, version_hash="test-budget")


@pytest.fixture
def project() -> Project:
    p = start(budget_snapshot())
    assert b.open_budget(p, None) == "CHF"  # the process's currency
    p.drain_events()
    return p


@dataclass(frozen=True)
class Known:
    phase: str
    amount: Decimal
    recorded_at: datetime = T0


# ---------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("text", "currency", "rule"),
    [
        ("-5", "CHF", "negative-amount"),
        ("abc", "CHF", "invalid-amount"),
        ("1,000.00", "CHF", "invalid-amount"),
        ("1e6", "CHF", "invalid-amount"),
        ("12.345", "CHF", "invalid-amount"),
        ("12.5", "JPY", "invalid-amount"),
        ("1234567890123456", "CHF", "invalid-amount"),
        ("0", "CHF", "zero-amount"),
        ("", "CHF", "invalid-amount"),
        ("NaN", "CHF", "invalid-amount"),
    ],
)
def test_bad_amounts_are_refused_naming_the_field(text: str, currency: str, rule: str) -> None:
    with pytest.raises(RuleViolation) as info:
        parse_amount(text, currency, field="amount")
    assert info.value.rule == rule and info.value.facts["field"] == "amount"
    assert info.value.message.startswith("amount")


def test_amounts_are_exact_decimals_in_the_minor_unit() -> None:
    assert parse_amount("12500", "CHF") == Decimal("12500.00")
    assert str(parse_amount("12500", "CHF")) == "12500.00"
    assert str(parse_amount("0.10", "BHD")) == "0.100"
    assert str(parse_amount("7", "JPY")) == "7"
    assert str(parse_amount("12.5", "EUR")) == "12.50"
    assert parse_amount("0", "CHF", allow_zero=True) == Decimal("0.00")


@given(st.lists(st.decimals(min_value=0, max_value=10**9, places=2), min_size=1, max_size=40))
def test_totals_are_exact_whatever_the_amounts(amounts: list[Decimal]) -> None:
    p = start(budget_snapshot(threshold=None))
    b.open_budget(p, "CHF")
    lines = [b.CostLine("a", "actual", a, f"R{i}") for i, a in enumerate(amounts) if a > 0]
    b.record(p, lines, "pat", T0, action="cost.import", subject="x")
    assert p.budget is not None
    assert p.budget.phases.get("a", b.PhaseBudget()).actual == sum(
        (line.amount for line in lines), Decimal(0)
    )
    again = Project.from_dict(p.to_dict(), p.snapshot)  # the document keeps the digits
    assert again.budget is not None and again.budget.to_dict() == p.budget.to_dict()


# ---------------------------------------------------------------------- quotes


def test_the_first_quote_is_free_then_locked(project: Project) -> None:
    change = b.set_quote(project, "a", "100000", "pat", at(1))
    assert change.action == "budget.set-quote" and change.old is None
    assert change.new == {
        "quoted": "100000.00",
        "currency": "CHF",
        "by": "pat",
        "at": "2025-03-03T09:01:00Z",
        "change_request": None,
    }
    with pytest.raises(RuleViolation) as info:
        b.set_quote(project, "a", "120000", "pat", at(2))
    assert info.value.rule == "quote-locked"
    assert "needs an approved change request" in info.value.message
    assert "CHF 100000.00" in info.value.message
    assert project.budget is not None and project.budget.phases["a"].quoted == Decimal("100000")


def test_a_change_request_changes_a_quote_and_keeps_the_old_one(project: Project) -> None:
    b.set_quote(project, "a", "100000", "pat", at(1))
    change = b.set_quote(project, "a", "130000.50", "anyone", at(2), change_request="CR-7")
    assert change.old is not None and change.old["quoted"] == "100000.00"
    assert change.new is not None and change.new["change_request"] == "CR-7"
    pb = project.budget.phases["a"] if project.budget else None
    assert pb is not None and pb.quoted == Decimal("130000.50")
    assert pb.revisions == [
        {"amount": "100000.00", "by": "pat", "at": "2025-03-03T09:01:00Z", "change_request": None}
    ]
    with pytest.raises(RuleViolation) as info:
        b.set_quote(project, "a", "130000.5", "pat", at(3), change_request="CR-8")
    assert info.value.rule == "quote-unchanged"


def test_who_may_quote_and_where(project: Project) -> None:
    with pytest.raises(RuleViolation) as info:
        b.set_quote(project, "a", "1", "qc1", at(1))  # finance records costs, never quotes
    assert info.value.rule == "not-assigned-to-role" and "qc1" in info.value.message
    with pytest.raises(NotFound) as missing:
        b.set_quote(project, "zz", "1", "pat", at(1))
    assert "unknown phase 'zz'" in str(missing.value) and "a, b, c, d" in str(missing.value)
    bare = start(diamond())
    with pytest.raises(RuleViolation) as no_currency:
        b.set_quote(bare, "a", "1", "pat", at(1))
    assert no_currency.value.rule == "no-currency"


def test_an_unknown_currency_is_refused() -> None:
    p = start(diamond())
    with pytest.raises(RuleViolation) as info:
        b.open_budget(p, "EURO")
    assert info.value.rule == "unknown-currency" and "ISO 4217" in info.value.message
    assert b.open_budget(p, None) is None and p.budget is None  # no currency anywhere


# ---------------------------------------------------------------------- costs and overruns


def _cost(p: Project, phase: str, amount: str, ref: str, kind: str = "actual") -> list[str]:
    line = b.cost_line(p, phase, kind, amount, ref)
    b.add_cost(p, line, "qc1", at(5), {})
    return [e.name for e in p.drain_events()]


def test_an_overrun_is_announced_once_per_crossing(project: Project) -> None:
    b.set_quote(project, "a", "1000", "pat", at(1))
    b.set_quote(project, "b", "1000", "pat", at(1))
    project.drain_events()
    assert _cost(project, "a", "600", "PO-1", "committed") == ["costs.recorded"]
    assert _cost(project, "a", "500", "INV-1") == ["costs.recorded"]  # 1100: at 110 %, not past
    assert _cost(project, "a", "0.01", "INV-2") == ["costs.recorded", "budget.overrun"]
    line = b.cost_line(project, "a", "actual", "10", "INV-3")
    b.add_cost(project, line, "pat", at(6), {})
    assert [e.name for e in project.drain_events()] == ["costs.recorded"]  # still over: quiet
    line = b.cost_line(project, "b", "actual", "1200", "INV-4")
    b.add_cost(project, line, "pat", at(7), {})
    events = project.drain_events()
    overrun = [e for e in events if e.name == "budget.overrun"]
    assert [(e.phase, e.data["scope"]) for e in overrun] == [("b", "phase"), (None, "project")]
    total = overrun[1].data
    assert (total["quoted"], total["spent"], total["threshold"]) == ("2000.00", "2310.01", "110%")
    # A higher quote (an approved change) brings a back under; the next crossing is new.
    b.set_quote(project, "a", "5000", "pat", at(8), change_request="CR-1")
    assert project.budget is not None and not project.budget.phases["a"].over
    project.drain_events()
    assert "budget.overrun" in _cost(project, "a", "4400", "INV-5")


def test_the_default_threshold_is_the_quote() -> None:
    p = start(budget_snapshot(threshold=None))
    b.open_budget(p, "EUR")
    b.set_quote(p, "a", "100", "pat", at(1))
    p.drain_events()
    assert _cost(p, "a", "100", "X1") == ["costs.recorded"]
    assert "budget.overrun" in _cost(p, "a", "0.01", "X2")


def test_a_ref_is_recorded_once(project: Project) -> None:
    line = b.cost_line(project, "a", "committed", "10", "PO-9")
    with pytest.raises(RuleViolation) as info:
        b.add_cost(project, line, "pat", at(1), {("committed", "PO-9"): Known("b", Decimal(3))})
    assert info.value.rule == "cost-ref-exists" and "PO-9" in info.value.message
    b.add_cost(project, b.cost_line(project, "a", "actual", "10", "PO-9"), "pat", at(1), {})


def test_who_may_record_costs(project: Project) -> None:
    line = b.cost_line(project, "a", "actual", "10", "R1")
    with pytest.raises(RuleViolation) as info:
        b.add_cost(project, line, "dev1", at(1), {})
    assert info.value.rule == "not-assigned-to-role"
    assert "'pm' or 'qc'" in info.value.message
    b.add_cost(project, line, "qc1", at(1), {})  # the finance role
    assert b.may_record_costs(project, "pat")


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (("a", "planned", "1", "R"), "invalid-cost-kind"),
        (("a", "actual", "-1", "R"), "negative-amount"),
        (("a", "actual", "1", ""), "ref-required"),
        (("a", "actual", "1", "=cmd|' /C calc'!A0"), "invalid-identifier"),
        (("a", "actual", "1", "R" * 65), "field-too-long"),
    ],
)
def test_cost_fields_are_checked(project: Project, args: tuple[str, ...], rule: str) -> None:
    with pytest.raises(RuleViolation) as info:
        b.cost_line(project, *args)
    assert info.value.rule == rule


def test_budget_view(project: Project) -> None:
    b.set_quote(project, "a", "1000", "pat", at(1))
    _cost(project, "a", "250.50", "PO-1", "committed")
    _cost(project, "a", "100", "INV-1")
    _cost(project, "c", "40", "INV-2")
    view = b.budget_view(project)
    assert view is not None
    rows = {r["phase"]: r for r in view["phases"]}
    assert rows["a"]["quoted"] == "1000.00" and rows["a"]["remaining"] == "649.50"
    assert rows["a"]["burn_percent"] == "35.1" and not rows["a"]["over"]
    assert rows["c"]["quoted"] is None and rows["c"]["remaining"] is None
    assert view["total"]["spent"] == "390.50" and view["total"]["quoted"] == "1000.00"
    assert view["total"]["remaining"] == "609.50" and view["threshold"] == "110%"
    assert b.budget_view(start(diamond())) is None


# ---------------------------------------------------------------------- the CSV import


def test_every_bad_row_is_named_by_row_and_column(project: Project) -> None:
    text = (
        "Phase;Kind;Amount;Ref;Note;Cost centre\n"
        "a;committed;1200.00;PO-1;ok;4711\n"
        "a;actual;-5;INV-1;;4711\n"
        "zz;actual;5;INV-2;;4711\n"
        "a;planned;5;INV-3;;4711\n"
        "a;actual;1,5;INV-4;;4711\n"
        "a;actual;5;;;4711\n"
        "\n"
        "a;committed;1;PO-1;dup;4711\n"
    )
    table = read_csv(text, "costs.csv")
    assert table.ignored == ["Cost centre"]
    plan = plan_import(project, table, {})
    assert [p.split(": ", 2)[:2] for p in plan.problems] == [
        ["costs.csv:3:3", "amount"],
        ["costs.csv:4:1", "phase"],
        ["costs.csv:5:2", "kind"],
        ["costs.csv:6:3", "amount"],
        ["costs.csv:7:4", "ref"],
        ["costs.csv:9:4", "ref"],
    ]
    assert "must not be negative" in plan.problems[0]
    assert "unknown phase 'zz'" in plan.problems[1]
    assert "first at row 2" in plan.problems[5]
    violation = refusal(table, plan)
    assert violation.rule == "cost-import-invalid"
    assert violation.message.splitlines()[-1] == ("costs.csv: 6 problem(s); nothing was imported")


def test_reimporting_is_safe_and_a_conflict_is_refused(project: Project) -> None:
    text = "phase,kind,amount,ref,currency,date\na,committed,100,PO-1,CHF,2026-01-31\n"
    table = read_csv(text, "erp.csv")
    plan = plan_import(project, table, {})
    assert not plan.problems and [line.booked_on for line in plan.lines] == ["2026-01-31"]
    same = plan_import(project, table, {("committed", "PO-1"): Known("a", Decimal("100.00"))})
    assert (same.lines, same.skipped, same.problems) == ([], 1, [])
    other = plan_import(project, table, {("committed", "PO-1"): Known("a", Decimal("90.00"))})
    assert len(other.problems) == 1 and "cost-ref-conflict" in other.problems[0]
    assert other.problems[0].startswith("erp.csv:2:4: ref:")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "x.csv:1:1: header: the file is empty"),
        ("phase,kind,amount\n", "x.csv:1:1: header: missing column 'ref'"),
        ("phase,kind,amount,ref\n", "x.csv:2:1: file: no cost rows"),
        ("phase,kind,amount,ref,ref\na,actual,1,R,R\n", "x.csv:1:5: header: column 'ref' appears"),
        ('phase,kind,amount,ref\na,actual,"1\n', "x.csv:2:1: file: not valid CSV"),
        ("phase,kind,amount,ref\na,actual,1,R,extra\n", "x.csv:2:5: row: more cells"),
        ("phase,kind,amount,ref,currency\na,actual,1,R,EUR\n", "x.csv:2:5: currency: 'EUR'"),
        ("phase,kind,amount,ref,booked_on\na,actual,1,R,2026-02-30\n", "x.csv:2:5: booked_on"),
        ("phase,kind,amount,ref\na,actual,1,R\x00\n", "x.csv:1:1: file: the file holds NUL"),
    ],
)
def test_malformed_files(project: Project, text: str, where: str) -> None:
    plan = plan_import(project, read_csv(text, "x.csv"), {})
    assert plan.problems and plan.problems[0].startswith(where), plan.problems


def test_a_recorded_entry_survives_the_document(project: Project) -> None:
    b.set_quote(project, "a", "10", "pat", at(1))
    _cost(project, "a", "11.01", "X")
    doc = project.to_dict()
    assert doc["budget"]["phases"]["a"]["actual"] == "11.01"
    again = Project.from_dict(doc, project.snapshot)
    assert again.budget is not None and again.budget.phases["a"].over
    older = dict(doc)
    older.pop("budget")  # a document stored before budgets existed
    assert Project.from_dict(older, project.snapshot).budget is None
