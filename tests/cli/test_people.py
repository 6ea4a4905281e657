"""People and quality control through `cdmo`, on SQLite and PostgreSQL (issue #16): team
changes, delegation, owned conditions, quality holds, a recycle that resets only its path,
carried deliverables and task lists (the scenario is ``tests/people_scenario.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests import people_scenario as sc


def test_people_scenario(db_url: str, tmp_path: Path) -> None:
    sc.seed(db_url)
    cli = sc.Cli(db_url, tmp_path)
    seen: dict[str, Any] = {}

    def checkpoint(name: str) -> None:
        if name == "conditions-open":
            tasks = cli.json("tasks", "--user", "qc1")["users"]["qc1"]
            close = [t for t in tasks if t["kind"] == "condition-close"]
            assert [t["subject"] for t in close] == ["C1"] and close[0]["due_at"]
            assert close[0]["late_days"] == 0.0
            text = " ".join(cli("project", "status", sc.CODE).split())
            assert "owner user:qc1" in text and "blocks engineering, methods" in text
        if name == "methods-open":
            tasks = cli.json("tasks", "--user", "qa9")["users"]["qa9"]
            sign = [t for t in tasks if t["kind"] == "sign"]
            assert sign and sign[0]["subject"] == "methods-go"
            assert sign[0]["roles"] == ["qa on behalf of qa1"]
            everyone = cli.json("tasks")["users"]
            assert "qa9" in everyone and "qc1" in everyone
            seen["tasks_text"] = " ".join(cli("tasks", "--user", "qa9").split())
        if name == "ppq-open":
            tasks = cli.json("tasks", "--user", "qa9")["users"]["qa9"]
            assert not [t for t in tasks if t["kind"] == "sign"]  # delegable: false
            assert cli.json("tasks", "--user", "qa1")["users"]["qa1"][0]["roles"] == ["qa"]

    status = sc.run(cli, checkpoint)
    assert "behalf" in seen["tasks_text"] and "Methods" in seen["tasks_text"]

    # status: both names of a delegated signature, conditions with owner, due and evidence,
    # the hold history with the releases' signatures, every review of every gate
    text = " ".join(cli("project", "status", sc.CODE).split())  # as printed, unwrapped
    assert "signed by Dr. Noor Stand-in (qa9, qa) on behalf of Dr. Quinn Adler (qa1)" in text
    assert "evidence CAPA-17-CLOSURE by qc1" in text and "accepted by qa2" in text
    assert "quality hold H1 on engineering by qa2" in text
    assert "released by qa2" in text and "meaning approval" in text
    (h1, h2) = status["holds"]
    assert h1["held_phase"] == "engineering" and h2["held_phase"] is None
    assert h2["release_signature"]["meaning"] == "responsibility"
    assert [c["state"] for c in status["conditions"]] == ["accepted", "accepted"]
    assert status["conditions"][1]["rejections"][0]["reason"] == "RPN table missing"
    eng = sc.gate(status, "engineering-go")
    assert [r["outcome"] for r in eng["reviews"]] == ["recycle", "go"]
    fit = next(p for p in status["phases"] if p["id"] == "fit")
    assert fit["cycle"] == 2
    assert status["team"]["customer"] == ["cust2"] and "qa3" in status["team"]["qa"]

    # delegations: listed with their status; the revoked one stays on record
    listing = cli.json("delegate", "list")["delegations"]
    assert [d["status"] for d in listing] == ["revoked", "in force"]
    assert listing[0]["revoke_reason"] == "back from leave"
    table = cli("delegate", "list")
    assert "revoked" in table and "in force" in table

    # the inspector's printout and the report show both names
    out = tmp_path / "audit.html"
    cli("audit", "export", sc.CODE, "--format", "html", "--out", str(out))
    html = out.read_text()
    assert "Dr. Quinn Adler (qa1)" in html and "on behalf of" in html
    assert "release" in html  # the release signatures are in the signatures table
    report_dir = tmp_path / "report"
    cli("report", sc.CODE, "--out", str(report_dir))
    page = next(report_dir.glob("*.html")).read_text()
    assert "on behalf of Dr. Quinn Adler (qa1" in page
    assert "CAPA-17-CLOSURE" in page and "user:qc1" in page and "Holds" in page

    # the whole trail replays through the core, delegated signatures checked against the
    # _system chain's delegation rows
    assert "every project document matches its trail" in cli("audit", "verify", sc.CODE, "--deep")

    # every refusal of the scenario is exactly one audit row, naming its rule
    refusals = {r[3] for r in cli.audit_rows() if r[2] == "refused"}
    assert {
        "not-project-manager",
        "role-not-held",
        "team-cannot-meet-quota",
        "not-condition-owner",
        "own-closure",
        "phase-on-hold",
        "phase-hold-needs-quality-role",
        "not-quality-role",
        "not-assigned-to-role",
        "quality-hold",
        "delegation-not-in-force",
        "not-delegable",
    } <= refusals
    system = {r[3] for r in cli.audit_rows("_system") if r[2] == "refused"}
    assert {"delegate-lacks-role", "delegation-backdated", "not-delegator"} <= system
    assert "delegation-overlap" in system
