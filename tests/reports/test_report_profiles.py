"""`cdmo report CODE --for customer|internal`, the forecast's confidence bands and the budget in
the reports and the portfolio, on the demo portfolio (SQLite and PostgreSQL).

The customer profile must not show user ids, record hashes or git data, and must show the
milestones, the evidence references, the open actions with their owners, the hold history
and the decisions with printed names.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.reports import examples

ROOT = Path(__file__).resolve().parents[2]
TODAY = "2026-11-25T09:00:00Z"
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.fixture
def demo_db(db_url: str) -> Iterator[str]:
    from cdmo_workflow.service import open_context
    from cdmo_workflow.store import Database

    Database(db_url).migrate()
    examples.build(open_context(db_url, ROOT))
    yield db_url


def cdmo(db_url: str, *args: str, code: int = 0) -> str:
    env = {"CDMO_DATABASE_URL": db_url, "CDMO_DEFINITIONS": str(ROOT)}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, f"cdmo {' '.join(args)} -> {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output
    return result.output


def test_the_customer_profile_leaves_out_ids_hashes_and_git(demo_db: str, tmp_path: Path) -> None:
    from cdmo_workflow.service import load_project, open_context

    ctx = open_context(demo_db, ROOT)
    out = cdmo(demo_db, "report", "HX-042", "--for", "customer", "--out", str(tmp_path),
               "--today", TODAY, "--tz", "Europe/Zurich")  # fmt: skip
    page_path = tmp_path / "HX-042-customer.html"
    assert f"wrote {page_path}" in out
    page = page_path.read_text()
    text = html.unescape(page)
    project = load_project(ctx, "HX-042")

    # Nothing internal: no user id, no record hash, no version hash, no git data.
    for user in examples.USERS:
        assert not re.search(rf"\b{re.escape(user)}\b", text), user
    hashes = {s.record_hash for r in project.reviews for s in r.signatures}
    hashes.add(project.snapshot.version_hash)
    assert hashes and not any(h in page for h in hashes)
    assert not HEX64.search(page)
    assert not re.search(r"\bgit\b", text, re.I) and "sha256" not in text.lower()
    if project.snapshot.git is not None:
        assert project.snapshot.git.commit not in page
        assert project.snapshot.git.commit[:12] not in page

    # What the customer needs: milestones against plan with the bands, evidence, owners...
    milestones = text.split('id="milestones"')[1].split("</table>")[0]
    for phase in project.snapshot.process.phases:
        assert phase.name in milestones
    assert "2027-10-11" in milestones and "2027-12-07" in milestones  # planned, forecast end
    assert re.search(r"P80 20\d\d-\d\d-\d\d", text)
    evidence = text.split('id="evidence"')[1].split("</table>")[0]
    assert "DMS-HX-042-rfp-assessment" in evidence
    assert "DMS-HX-042-transfer-package-rev2" in evidence
    assert "Pedro Developer" in evidence
    actions = text.split('id="actions"')[1].split("</table>")[0]
    assert "Master batch record drafted" in actions and "Mia Production" in actions
    assert "Residual solvent GC method validated before GMP readiness" in text
    # Decisions with printed names; the signers' meaning; local times with the zone.
    assert "Dr. Quinn Adler" in text and "Carl Sponsor" in text and "recycle" in text
    assert "CET (Europe/Zurich)" in text or "CEST (Europe/Zurich)" in text
    assert "The project has never been on hold." in text
    # api-clinical-program does not share its budget with the customer.
    assert 'id="budget"' not in page and "CHF" not in text

    internal = cdmo(demo_db, "report", "HX-042", "--out", str(tmp_path), "--today", TODAY)
    assert f"wrote {tmp_path / 'HX-042.html'}" in internal
    full = html.unescape((tmp_path / "HX-042.html").read_text())
    assert all(h in full for h in hashes if h != project.snapshot.version_hash)
    assert 'id="budget"' in full and "CHF 380,000.00" in full and "overrun" in full
    assert 'id="confidence"' in full and 'id="bands"' in full


def test_the_hold_history_in_the_customer_report(demo_db: str, tmp_path: Path) -> None:
    cdmo(demo_db, "report", "KE-118", "--for", "customer", "--out", str(tmp_path),
         "--today", TODAY)  # fmt: skip
    text = html.unescape((tmp_path / "KE-118-customer.html").read_text())
    holds = text.split('id="holds"')[1].split("</table>")[0]
    assert "Sponsor funding round delayed" in holds and "Alice Martin" in holds
    assert "2026-08-10" in holds and "still on hold" in holds
    assert "alice" not in text
    cdmo(demo_db, "report", "KE-118", "--for", "sponsor", "--out", str(tmp_path), code=2)
    out = cdmo(demo_db, "report", "KE-118", "--tz", "Mars/Olympus", "--out", str(tmp_path),
               code=1)  # fmt: skip
    assert "unknown time zone 'Mars/Olympus'" in out


def test_bands_in_the_forecast_and_the_portfolio(demo_db: str, tmp_path: Path) -> None:
    doc = json.loads(cdmo(demo_db, "project", "forecast", "HX-042", "--json", "--today", TODAY,
                          "--seed", "11", "--iterations", "500"))  # fmt: skip
    bands = doc["confidence"]
    assert bands["seed"] == 11 and bands["iterations"] == 500
    c = bands["completion"]
    assert doc["completion"][:10] <= c["p95"][:10] and c["p50"] <= c["p80"] <= c["p95"]
    assert set(bands["phases"]) == {
        "tech-transfer", "clinical-supply", "process-validation", "commercial-readiness",
    }  # fmt: skip
    # The site's history: scoping passed in four demo projects (fewer than five: default).
    assert bands["spreads"]["scoping"] == {
        "key": "phase:scoping", "source": "default", "observations": 4,
        "median_ratio": bands["spreads"]["scoping"]["median_ratio"],
    }  # fmt: skip
    again = json.loads(cdmo(demo_db, "project", "forecast", "HX-042", "--json", "--today", TODAY,
                            "--seed", "11", "--iterations", "500"))  # fmt: skip
    assert again["confidence"] == bands
    text = cdmo(demo_db, "project", "forecast", "HX-042", "--today", TODAY)
    assert re.search(r"confidence \(2000 runs, seed \d+\): completion P50 \d{4}-\d\d-\d\d", text)

    cdmo(demo_db, "report", "--portfolio", "--out", str(tmp_path), "--today", TODAY)
    page = (tmp_path / "portfolio.html").read_text()
    rows = dict(re.findall(r"<tr>\s*<td>([A-Z]{2}-\d{3})</td>(.*?)</tr>", page, re.S))
    assert "CHF 3,120,000.00" in rows["HX-042"]  # the quotes' total
    assert len(re.findall(r'class="date">\d{4}-\d\d-\d\d', rows["HX-042"])) >= 6
