"""The project artifact in the Prefect UI shows the budget (no Prefect server needed)."""

from __future__ import annotations

import pytest

from cdmo_workflow import service
from cdmo_workflow.orchestration.publish import project_markdown
from cdmo_workflow.service import budget
from tests.programme import PASSWORD, ROLES, ROOT, add_team, user_of


def test_the_artifact_shows_quoted_committed_actual_and_remaining(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDMO_REPORTS_URL", raising=False)
    monkeypatch.delenv("CDMO_REPORTS_DIR", raising=False)
    ctx = service.open_context(db_url=sqlite_url, definitions=ROOT)
    add_team(ctx)
    team = {role: [user_of(role)] for role in ROLES}
    service.start_project(ctx, "ART-2", "api-clinical-program", "Helix Bio", team, "pm-user",
                          password=PASSWORD, currency="EUR")  # fmt: skip
    budget.set_quote(ctx, "ART-2", "scoping", "40000", "pm-user", password=PASSWORD)
    budget.add_cost(ctx, "ART-2", "scoping", "12500.5", "committed", "PO-1", "pm-user",
                    password=PASSWORD)  # fmt: skip
    text = project_markdown(ctx, service.load_project(ctx, "ART-2"))
    assert "### Budget (EUR)" in text
    assert "| Scoping and proposal | 40,000.00 | 12,500.50 | 0.00 | 27,499.50 | 31.3 % |" in text
    assert "| **Total** | 40,000.00 | 12,500.50 | 0.00 | 27,499.50 | 31.3 % |" in text
    service.start_project(ctx, "ART-3", "api-clinical-program", "Helix Bio", team, "pm-user",
                          password=PASSWORD)  # fmt: skip
    assert "### Budget" not in project_markdown(ctx, service.load_project(ctx, "ART-3"))
