"""What one command costs the database: units of work and SQL statements, with budgets.

The budget holds on both backends, and it does not grow with the project's audit history.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from cdmo_workflow import service
from tests.counting import CountingDatabase

DEFS = Path(__file__).parent / "defs"
PW = "budget-password-1"
SIGN_OFF_UNITS = 2  # authenticate (read-only) + the command
SIGN_OFF_STATEMENTS = 15
FORM_STATEMENTS = 5  # the project (and its snapshot), the chain head, its last rows, users


def _ctx(db_url: str) -> tuple[service.Context, CountingDatabase]:
    db = CountingDatabase(db_url)
    db.migrate()
    ctx = service.open_context(db_url=db_url, definitions=DEFS)
    ctx.database = db
    service.provision_user(ctx, "pm", "Pat Manager", ["pm"], PW)
    service.provision_user(ctx, "qa1", "QA One", ["qa"], PW)
    service.provision_user(ctx, "mfg", "Max Production", ["mfg"], PW)
    return ctx, db


def _project(ctx: service.Context, code: str) -> None:
    team = {"pm": ["pm"], "qa": ["qa1"], "mfg": ["mfg"]}
    service.start_project(ctx, code, "mini", "Acme", team, "pm", password=PW)
    for d in ("d1", "d2", "d3", "d4"):
        service.submit_deliverable(ctx, code, "build", d, "mfg", "DMS", password=PW)


def _sign(ctx: service.Context, code: str) -> None:
    service.sign_gate(ctx, code, "build-go", "qa1", PW, "qa", "go", "approval")


def test_a_sign_off_stays_within_its_budget_whatever_the_history(db_url: str) -> None:
    ctx, db = _ctx(db_url)
    _project(ctx, "FRESH")
    with db.measure() as fresh:
        _sign(ctx, "FRESH")
    assert fresh["units"] == SIGN_OFF_UNITS
    assert fresh["statements"] <= SIGN_OFF_STATEMENTS, fresh

    _project(ctx, "LONG")
    for n in range(50):  # 100 more audit rows in the project's chain
        service.hold_project(ctx, "LONG", "pm", f"pause {n}", password=PW)
        service.resume_project(ctx, "LONG", "pm", f"go on {n}", password=PW)
    with db.measure() as long:
        _sign(ctx, "LONG")
    assert long == fresh  # the same statements, history or not


def test_a_refusal_costs_one_more_unit_and_writes_one_row(db_url: str) -> None:
    ctx, db = _ctx(db_url)
    _project(ctx, "REF")
    with db.measure() as cost:
        try:
            service.sign_gate(ctx, "REF", "build-go", "qa1", "wrong-pw-1", "qa", "go", "approval")
        except service.Refused as refused:
            assert refused.rule == "authentication-failed"
    assert cost["units"] == 2  # authenticate + the audited refusal


def test_a_gate_form_reads_its_facts_in_one_unit(db_url: str) -> None:
    from cdmo_workflow.orchestration.reads import form_facts

    ctx, db = _ctx(db_url)
    _project(ctx, "FORM")
    with suppress(service.Refused):
        service.sign_gate(ctx, "FORM", "build-go", "qa1", "wrong-pw-1", "qa", "go", "approval")
    with db.measure() as cost:
        facts = form_facts(ctx, "FORM", "build-go")
    assert cost["units"] == 1  # was four: the project, the chain head, the attempt, the names
    assert cost["statements"] <= FORM_STATEMENTS, cost
    assert facts.project.code == "FORM" and facts.names["qa1"] == "QA One"
    assert facts.attempt is not None and facts.attempt.outcome == "refused"
    assert facts.attempt.rule == "authentication-failed" and facts.seq == facts.attempt.seq


def test_the_project_artifact_reads_its_facts_in_one_unit(db_url: str) -> None:
    """A post-commit publication renders the aggregate the command saved: one read for the
    printed names and the audit summary, however long the history."""
    from cdmo_workflow.orchestration.publish import project_markdown

    ctx, db = _ctx(db_url)
    _project(ctx, "ART")
    result = service.sign_gate(ctx, "ART", "build-go", "qa1", PW, "qa", "go", "approval")
    assert result.aggregate is not None
    with db.measure() as cost:
        text = project_markdown(ctx, result.aggregate)
    assert cost["units"] == 1, cost
    assert "## Audit trail" in text and "| qa1 | gate.sign | build-go" in text
