"""What one command costs the database: units of work and SQL statements, with budgets.

The budget holds on both backends, and it does not grow with the project's audit history.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cdmo_workflow import service
from cdmo_workflow.store import Database

DEFS = Path(__file__).parent / "defs"
PW = "budget-password-1"
SIGN_OFF_UNITS = 2  # authenticate (read-only) + the command
SIGN_OFF_STATEMENTS = 15


class CountingDatabase(Database):
    """A real store.Database that counts the units of work it opens and the SQL it runs."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.units = 0
        self.statements = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.statements += 1

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        self.units += 1
        return super().unit_of_work(read_only=read_only)

    @contextmanager
    def measure(self) -> Iterator[dict[str, int]]:
        self.units = self.statements = 0
        out: dict[str, int] = {}
        yield out
        out.update(units=self.units, statements=self.statements)


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
