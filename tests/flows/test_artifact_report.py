"""The project artifact carries the forecast, and the published report with its timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdmo_workflow import service
from cdmo_workflow.orchestration.publish import project_markdown
from tests.programme import PASSWORD, ROLES, ROOT, add_team, user_of


@pytest.fixture
def project_ctx(sqlite_url: str) -> service.Context:
    ctx = service.open_context(db_url=sqlite_url, definitions=ROOT)
    add_team(ctx)
    team = {role: [user_of(role)] for role in ROLES}
    service.start_project(
        ctx, "ART-1", "api-clinical-program", "Helix Bio", team, "pm-user", password=PASSWORD
    )
    return ctx


def test_artifact_shows_forecast_without_publishing(
    project_ctx: service.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDMO_REPORTS_URL", raising=False)
    monkeypatch.delenv("CDMO_REPORTS_DIR", raising=False)
    text = project_markdown(project_ctx, service.load_project(project_ctx, "ART-1"))
    assert "### Forecast — ART-1 · Helix Bio" in text
    assert "Critical path: Scoping and proposal → Process development" in text
    assert "![" not in text


def test_artifact_links_the_published_report_and_timeline(
    project_ctx: service.Context, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CDMO_REPORTS_DIR", str(tmp_path))
    monkeypatch.setenv("CDMO_REPORTS_URL", "https://reports.cdmo.example/projects/")
    text = project_markdown(project_ctx, service.load_project(project_ctx, "ART-1"))
    base = "https://reports.cdmo.example/projects"
    assert f"![Timeline of ART-1]({base}/ART-1-timeline.png)" in text
    assert f"{base}/ART-1.html" in text
    assert (tmp_path / "ART-1-timeline.png").read_bytes().startswith(b"\x89PNG")
    html = (tmp_path / "ART-1.html").read_text(encoding="utf-8")
    assert "ART-1" in html and "Helix Bio" in html
