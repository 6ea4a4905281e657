"""`cdmo project forecast`, `cdmo report` and `cdmo audit export --format html` on a demo
portfolio driven through the service (simulated clock), on SQLite and PostgreSQL.

HX-042 (see cdmo_workflow/reports/examples.py) started Monday 1 June 2026 09:00 UTC; its
technology transfer was recycled on 10 November, so as of 25 November 2026:

* baseline: scoping 15bd → 22 Jun, development 12w → 14 Sep, tech transfer 8w → 9 Nov,
  clinical supply 16w → 1 Mar 2027, PPQ 20w → 19 Jul, commercial readiness 12w → 11 Oct 2027;
* forecast: tech transfer restarted 10 Nov → 5 Jan 2027 (8w), then 16w + 20w + 12w →
  7 Dec 2027: 57 days of slip, all of it on the critical path through tech transfer.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.reports import examples

ROOT = Path(__file__).resolve().parents[2]
TODAY = "2026-11-25T09:00:00Z"


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


def test_forecast_command(demo_db: str) -> None:
    doc = json.loads(cdmo(demo_db, "project", "forecast", "HX-042", "--json", "--today", TODAY))
    assert doc["today"] == "2026-11-25T09:00:00Z"
    assert doc["baseline_source"] == "stored"
    assert doc["completion"][:10] == "2027-12-07"
    assert doc["baseline_completion"][:10] == "2027-10-11"
    assert doc["slip_days"] == 57.0
    assert doc["critical_path"] == [
        "scoping", "process-development", "tech-transfer", "clinical-supply",
        "process-validation", "commercial-readiness",
    ]  # fmt: skip
    phases = {p["id"]: p for p in doc["phases"]}
    expect = {  # id: (baseline end, actual start, actual end, forecast end)
        "scoping": ("2026-06-22", "2026-06-01", "2026-06-24", "2026-06-24"),
        "process-development": ("2026-09-14", "2026-06-24", "2026-09-22", "2026-09-22"),
        "tech-transfer": ("2026-11-09", "2026-11-10", None, "2027-01-05"),
        "analytical-transfer": ("2026-10-26", "2026-09-22", "2026-10-30", "2026-10-30"),
        "clinical-supply": ("2027-03-01", None, None, "2027-04-27"),
        "process-validation": ("2027-07-19", None, None, "2027-09-14"),
        "commercial-readiness": ("2027-10-11", None, None, "2027-12-07"),
    }
    for pid, (b_end, a_start, a_end, f_end) in expect.items():
        p = phases[pid]

        def d(v: str | None) -> str | None:
            return v[:10] if v else None

        got = (d(p["baseline"]["end"]), d(p["actual"]["start"]), d(p["actual"]["end"]))
        assert (*got, d(p["forecast"]["end"])) == (b_end, a_start, a_end, f_end), pid
    tt = phases["tech-transfer"]
    assert tt["cycle"] == 2 and tt["slip_days"] == 57.0
    assert [r["outcome"] for r in tt["runs"]] == ["recycled", None]
    assert phases["analytical-transfer"]["critical"] is False

    text = cdmo(demo_db, "project", "forecast", "HX-042", "--today", TODAY)
    assert "forecast completion: 2027-12-07  baseline: 2027-10-11  slip: +57 d" in text
    assert re.search(r"\*tech-transfer\s+active\s+8w\s+2026-11-09\s+2026-11-10\s+-\s+", text)
    assert "critical path (*): scoping → process-development → tech-transfer" in text
    # On hold: the forecast says so.
    text = cdmo(demo_db, "project", "forecast", "KE-118", "--today", TODAY)
    assert "(on hold since 2026-08-10)" in text
    cdmo(demo_db, "project", "forecast", "NOPE-1", code=1)
    cdmo(demo_db, "project", "forecast", "HX-042", "--today", "25/11/2026", code=2)


def test_project_report(demo_db: str, tmp_path: Path) -> None:
    from cdmo_workflow.service import load_project, open_context

    out = cdmo(demo_db, "report", "HX-042", "--out", str(tmp_path), "--today", TODAY)
    page_path = tmp_path / "HX-042.html"
    assert f"wrote {page_path}" in out
    assert (tmp_path / "HX-042-timeline.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "HX-042-timeline.svg").read_text()
    page = page_path.read_text()
    text = html.unescape(page)
    assert "<svg" in page and "<script" not in page and "<link" not in page
    assert "chain intact" in text and "48 events verified" in text
    assert "Forecast completion" in text and "2027-12-07" in text and "+57" in text
    # Every signature: its manifestation and the record hash it signs.
    project = load_project(open_context(demo_db, ROOT), "HX-042")
    sigs = [s for r in project.reviews for s in r.signatures]
    assert len(sigs) == 11
    for s in sigs:
        assert (
            f"Signed by {s.name} ({s.user}, role {s.role}) at "
            f"{s.signed_at:%Y-%m-%dT%H:%M:%S}Z — meaning: {s.meaning.value} — "
            f"decision: {s.decision.value} — record sha256:{s.record_hash}"
        ) in text
        assert f'<td class="hash">{s.record_hash}</td>' in page
    # Open items of the re-run tech transfer: missing deliverables and checks, named.
    assert "Deliverable missing" in text and "Master batch record drafted" in text
    assert "Check not confirmed" in text and "Operators trained on the process" in text
    assert "FMEA action 7 (solvent recovery) not closed" in text  # QA's recycle comment
    assert "Residual solvent GC method validated before GMP readiness" in text
    cdmo(demo_db, "report", "--out", str(tmp_path), code=2)  # neither CODE nor --portfolio


def test_portfolio_report(demo_db: str, tmp_path: Path) -> None:
    cdmo(demo_db, "report", "--portfolio", "--out", str(tmp_path), "--today", TODAY)
    page = (tmp_path / "portfolio.html").read_text()
    assert (tmp_path / "portfolio.png").exists() and (tmp_path / "portfolio.svg").exists()
    rows = dict(re.findall(r"<tr>\s*<td>([A-Z]{2}-\d{3})</td>(.*?)</tr>", page, re.S))
    assert sorted(rows) == ["AU-203", "BL-311", "HX-042", "KE-118", "NV-017", "OR-009"]
    # NV-017's clinical release opened 12 Nov (5 business days → 19 Nov) and QA has not signed.
    assert "clinical-release #1 (due 2026-11-19" in rows["NV-017"]
    assert "scoping-go #1 (due" in rows["BL-311"]
    assert "on-hold" in rows["KE-118"]
    assert "+57" in rows["HX-042"]
    assert "Technology transfer to the GMP plant" in rows["HX-042"]
    svg = (tmp_path / "portfolio.svg").read_text()
    assert "Overdue gate (SLA deadline)" in svg and "HX-042 · Helix Bio" in svg


def _tamper(db_url: str, chain: str, seq: int) -> None:
    """Edit one audit row as a database superuser would: drop the triggers, edit, restore."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        update = sa.text("UPDATE audit_events SET actor='mallory' WHERE chain=:c AND seq=:s")
        if engine.dialect.name == "sqlite":
            triggers = conn.execute(
                sa.text(
                    "SELECT name, sql FROM sqlite_master WHERE type='trigger' "
                    "AND tbl_name='audit_events'"
                )
            ).all()
            for name, _ in triggers:
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
            conn.execute(update, {"c": chain, "s": seq})
            for _, sql in triggers:
                conn.execute(sa.text(sql))
        else:
            conn.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            conn.execute(update, {"c": chain, "s": seq})
            conn.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    engine.dispose()


def test_audit_printout(demo_db: str, tmp_path: Path) -> None:
    target = tmp_path / "audit.html"
    cdmo(demo_db, "audit", "export", "HX-042", "--format", "html", "--out", str(target))
    page = target.read_text()
    text = html.unescape(page)
    # The running header names the project and the export time, and repeats on every page.
    header = re.search(r"<thead><tr><td>(.*?)</td></tr></thead>", page, re.S)
    assert header is not None
    head = html.unescape(header.group(1))
    assert "Audit trail — HX-042 · Helix Bio" in head
    assert re.search(r"Exported \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", head)
    assert "thead { display: table-header-group; }" in page and "@page" in page
    assert "Intact." in text and "All 48 events were recomputed" in text
    # Every event, with its hash; every signature manifestation of the CSV export.
    rows = list(csv.DictReader(io.StringIO(cdmo(demo_db, "audit", "export", "HX-042"))))
    assert len(rows) == 48
    for row in rows:
        assert f'id="seq-{row["seq"]}"' in page
        assert row["hash"] in page
        for manifestation in filter(None, row["signature"].split("; ")):
            assert manifestation in text
    assert sum(1 for r in rows if r["signature"]) == 11
    # Old and new values of a change: closing condition C1.
    c1 = re.search(r'id="seq-(\d+)".*?condition\.close</strong><br>C1(.*?)</tr>', page, re.S)
    assert c1 is not None
    cell = html.unescape(c1.group(2))
    assert "state:</span> open" in cell and "state:</span> closed" in cell
    assert "closed_by:</span> alice" in cell
    # A tampered row: the printout says the chain is broken, and where.
    _tamper(demo_db, "HX-042", 5)
    cdmo(demo_db, "audit", "export", "HX-042", "--format", "html", "--out", str(target))
    text = html.unescape(target.read_text())
    assert "BROKEN." in text and "row seq 5 (id " in text and "does not match its hash" in text
    cdmo(demo_db, "audit", "export", "HX-042", "--format", "pdf", code=2)


def test_demo_projects_render_in_markdown(demo_db: str) -> None:
    from datetime import datetime

    from cdmo_workflow.reports import forecast_markdown
    from cdmo_workflow.service import load_project, open_context

    ctx = open_context(demo_db, ROOT)
    today = datetime.fromisoformat(TODAY.replace("Z", "+00:00"))
    md = forecast_markdown(load_project(ctx, "NV-017"), today, "http://r/NV-017.html")
    assert "Gates past their SLA:" in md
    assert "Clinical release" in md or "clinical" in md.lower()
    assert "waiting for 1 × qa" in md
    assert md.rstrip().endswith("(http://r/NV-017.html)")
