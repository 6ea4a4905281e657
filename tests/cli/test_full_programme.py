"""A whole API programme driven through the `cdmo` command, on SQLite and PostgreSQL.

Covers the issue's definition of done: conditional go, recycle, hold and resume, kill, a
lockout with an audited unlock, and a tamper that `cdmo audit verify` detects.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from tests.accounts import enrol_cli

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
WRONG_PASSWORD = "Tr0ub4dor&3-not-it"

USERS = {
    "pm1": ("Paula Manager", ["pm"]),
    "cust1": ("Carl Sponsor", ["customer"]),
    "site1": ("Sita Head", ["site-head"]),
    "pd1": ("Pedro Developer", ["pd"]),
    "qc1": ("Quinn Lab", ["qc"]),
    "mfg1": ("Mia Production", ["mfg"]),
    "qa1": ("Dr. Quentin Assurance", ["qa"]),
    "qa2": ("Dr. Qiana Auditor", ["qa"]),
    "ra1": ("Rae Regulatory", ["ra"]),
    "admin1": ("Ada Admin", ["admin"]),
}
TEAM = [
    "pm=pm1",
    "customer=cust1",
    "site-head=site1",
    "pd=pd1",
    "qc=qc1",
    "mfg=mfg1",
    "qa=qa1",
    "qa=qa2",
    "ra=ra1",
]


class Cli:
    """Runs `cdmo` in-process against one database, like a user at a terminal would."""

    def __init__(self, db_url: str) -> None:
        self.runner = CliRunner()
        self.env = {
            "CDMO_DATABASE_URL": db_url,
            "CDMO_DEFINITIONS": str(ROOT),
            "CDMO_PASSWORD": PASSWORD,
        }

    def __call__(
        self,
        *args: str,
        code: int = 0,
        password: str | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        env = {**self.env, **(env or {})}
        if password is not None:
            env["CDMO_PASSWORD"] = password
        result = self.runner.invoke(app, list(args), env=env, catch_exceptions=False)
        output = result.output  # click mixes stderr into output
        assert result.exit_code == code, f"cdmo {' '.join(args)} -> {result.exit_code}\n{output}"
        assert "Traceback" not in output
        return output

    def status(self, code: str) -> dict[str, Any]:
        return json.loads(self("project", "status", code, "--json"))

    def submit(self, code: str, phase: str, items: dict[str, str]) -> None:
        for deliverable, user in items.items():
            self(
                "deliverable", "submit", code, phase, deliverable,
                "--by", user, "--evidence", f"DMS-{phase}-{deliverable}",
            )  # fmt: skip

    def confirm(self, code: str, gate: str, items: dict[str, str]) -> None:
        for check, user in items.items():
            self(
                "check", "confirm", code, gate, check,
                "--by", user, "--evidence", f"DMS-{gate}-{check}",
            )  # fmt: skip

    def sign(
        self, project: str, gate: str, user: str, role: str, decision: str = "go", **kw: Any
    ) -> str:
        args = [
            "gate", "sign", project, gate, "--by", user, "--role", role,
            "--decision", decision, "--meaning", kw.pop("meaning", "approval"),
        ]  # fmt: skip
        for text in kw.pop("conditions", []):
            args += ["--condition", text]
        if "comment" in kw:
            args += ["--comment", kw.pop("comment")]
        return self(*args, **kw)


def phase_states(status: dict[str, Any]) -> dict[str, str]:
    return {p["id"]: p["state"] for p in status["phases"]}


def gate(status: dict[str, Any], gate_id: str) -> dict[str, Any]:
    return next(g for g in status["gates"] if g["id"] == gate_id)


TT_DELIVERABLES = {
    "transfer-package": "pd1",
    "gap-analysis": "pd1",
    "transfer-fmea": "pd1",
    "transfer-protocol": "pd1",
    "equipment-fit": "mfg1",
    "mbr-draft": "mfg1",
}
TT_CHECKS = {
    "fmea-actions-closed": "pd1",
    "equipment-qualified": "mfg1",
    "operators-trained": "mfg1",
}


def test_full_programme(db_url: str) -> None:
    cdmo = Cli(db_url)
    receiver = enrol_cli(cdmo, USERS, PASSWORD)
    out = cdmo(
        "users", "add", "pm1", "--name", "Again", "--role", "pm", "--by", "admin1",
        "--notify", receiver.url("/again"), code=1,
    )  # fmt: skip
    assert "never reused" in out
    receiver.stop()

    team = [x for t in TEAM for x in ("--team", t)]
    out = cdmo(
        "project", "start", "P-001", "--process", "api-clinical-program",
        "--customer", "Helix Bio", *team, "--by", "pm1",
    )  # fmt: skip
    assert "P-001" in out
    s = cdmo.status("P-001")
    assert s["state"] == "active"
    assert s["process"]["id"] == "api-clinical-program"
    assert len(s["process"]["version_hash"]) == 64
    assert phase_states(s)["scoping"] == "active"
    assert phase_states(s)["process-development"] == "pending"
    assert gate(s, "scoping-go")["state"] == "waiting"

    # Sequence: nothing can be signed before the gate opens; nothing submitted to a pending phase.
    out = cdmo.sign("P-001", "scoping-go", "pm1", "pm", code=1)
    assert "gate-not-open" in out
    out = cdmo(
        "deliverable", "submit", "P-001", "process-development", "route-definition",
        "--by", "pd1", "--evidence", "X", code=1,
    )  # fmt: skip
    assert "phase-not-active" in out

    # Scoping -> go
    cdmo.submit(
        "P-001",
        "scoping",
        {
            "rfp-assessment": "pm1",
            "feasibility": "pm1",
            "work-order": "cust1",
            "quality-agreement": "cust1",
        },
    )
    cdmo.confirm("P-001", "scoping-go", {"capacity-confirmed": "pm1"})
    s = cdmo.status("P-001")
    assert phase_states(s)["scoping"] == "gate-review"
    g = gate(s, "scoping-go")
    assert g["state"] == "open"
    assert {m["role"] for m in g["missing"]} == {"pm", "customer", "site-head"}
    out = cdmo.sign("P-001", "scoping-go", "cust1", "pm", code=1)
    assert "not-assigned-to-role" in out
    cdmo.sign("P-001", "scoping-go", "pm1", "pm")
    out = cdmo.sign("P-001", "scoping-go", "pm1", "pm", code=1)
    assert "already-signed" in out
    cdmo.sign("P-001", "scoping-go", "cust1", "customer")
    out = cdmo.sign("P-001", "scoping-go", "site1", "site-head", "conditional-go", code=1)
    assert "decision-not-allowed" in out
    cdmo.sign("P-001", "scoping-go", "site1", "site-head")
    s = cdmo.status("P-001")
    assert gate(s, "scoping-go")["state"] == "decided"
    assert gate(s, "scoping-go")["outcome"] == "go"
    sigs = gate(s, "scoping-go")["signatures"]
    assert {(x["user"], x["name"], x["role"], x["meaning"]) for x in sigs} == {
        ("pm1", "Paula Manager", "pm", "approval"),
        ("cust1", "Carl Sponsor", "customer", "approval"),
        ("site1", "Sita Head", "site-head", "approval"),
    }
    assert all(x["signed_at"].endswith("Z") for x in sigs)
    assert phase_states(s)["process-development"] == "active"

    # Process development -> conditional go
    cdmo.submit(
        "P-001",
        "process-development",
        {
            "route-definition": "pd1",
            "cpp-cqa": "pd1",
            "development-batches": "pd1",
            "analytical-methods": "qc1",
        },
    )
    cdmo.confirm(
        "P-001",
        "development-complete",
        {"cqa-specifications-agreed": "cust1", "methods-fit-for-purpose": "qc1"},
    )
    cdmo.sign("P-001", "development-complete", "pd1", "pd")
    cdmo.sign(
        "P-001",
        "development-complete",
        "qc1",
        "qc",
        "conditional-go",
        conditions=["Validate the impurity method before GMP use"],
    )
    cdmo.sign("P-001", "development-complete", "cust1", "customer")
    s = cdmo.status("P-001")
    assert gate(s, "development-complete")["outcome"] == "conditional-go"
    assert phase_states(s)["tech-transfer"] == "active"
    assert phase_states(s)["analytical-transfer"] == "active"
    # one condition, shared by both successors; their owners differ (pd, qc): the PM owns it
    (cond,) = s["conditions"]
    assert cond["phases"] == ["tech-transfer", "analytical-transfer"]
    assert cond["state"] == "open" and cond["owner"] == "role:pm"
    assert cond["raised_by"] == "qc1" and cond["raised_role"] == "qc"

    # Tech transfer: all items done but the open condition keeps the gate shut.
    cdmo.submit("P-001", "tech-transfer", TT_DELIVERABLES)
    cdmo.confirm("P-001", "gmp-readiness", TT_CHECKS)
    s = cdmo.status("P-001")
    assert phase_states(s)["tech-transfer"] == "active"
    cid = cond["id"]
    out = cdmo("condition", "close", "P-001", cid, "--by", "pd1", "--evidence", "X", code=1)
    assert "not-condition-owner" in out
    cdmo("condition", "close", "P-001", cid, "--by", "pm1", "--evidence", "VAL-RPT-7")
    s = cdmo.status("P-001")
    assert phase_states(s)["tech-transfer"] == "active"  # closed, not yet accepted
    out = cdmo("condition", "accept", "P-001", cid, "--by", "pm1", code=1)
    assert "own-closure" in out
    cdmo("condition", "accept", "P-001", cid, "--by", "qa2", "--comment", "report checked")
    s = cdmo.status("P-001")
    assert phase_states(s)["tech-transfer"] == "gate-review"
    assert s["conditions"][0]["state"] == "accepted" and s["conditions"][0]["accepted_by"] == "qa2"

    # Segregation of duties: pd1 contributed to the phase; qa is independent anyway.
    out = cdmo.sign("P-001", "gmp-readiness", "pd1", "qa", code=1)
    assert "not-assigned-to-role" in out
    # QA vetoes with a recycle: tech-transfer starts again, analytical transfer keeps its state.
    cdmo.sign("P-001", "gmp-readiness", "mfg1", "mfg")
    cdmo.sign("P-001", "gmp-readiness", "qa1", "qa", "recycle", meaning="review")
    s = cdmo.status("P-001")
    assert gate(s, "gmp-readiness")["state"] == "waiting"
    assert phase_states(s)["tech-transfer"] == "active"
    assert phase_states(s)["analytical-transfer"] == "active"
    tt = next(p for p in s["phases"] if p["id"] == "tech-transfer")
    assert all(d["submitted"] is None for d in tt["deliverables"])
    assert tt["cycle"] == 2

    cdmo.submit("P-001", "tech-transfer", TT_DELIVERABLES)
    cdmo.confirm("P-001", "gmp-readiness", TT_CHECKS)
    s = cdmo.status("P-001")
    assert gate(s, "gmp-readiness")["state"] == "open"
    assert gate(s, "gmp-readiness")["review"] == 2
    for user, role in [("qa1", "qa"), ("mfg1", "mfg"), ("pd1", "pd"), ("cust1", "customer")]:
        cdmo.sign("P-001", "gmp-readiness", user, role)
    s = cdmo.status("P-001")
    assert phase_states(s)["tech-transfer"] == "completed"
    assert phase_states(s)["clinical-supply"] == "pending"  # waits for analytical transfer

    # Analytical method transfer (in parallel) -> go; its condition was the same one
    cdmo.submit(
        "P-001",
        "analytical-transfer",
        {
            "method-transfer-protocol": "qc1",
            "comparative-testing": "qc1",
            "method-transfer-report": "qc1",
        },
    )
    cdmo.confirm("P-001", "method-transfer", {"acceptance-criteria-met": "qc1"})
    out = cdmo.sign("P-001", "method-transfer", "qc1", "qa", code=1)
    assert "not-assigned-to-role" in out
    cdmo.sign("P-001", "method-transfer", "qc1", "qc")
    cdmo.sign("P-001", "method-transfer", "qa2", "qa")
    s = cdmo.status("P-001")
    assert phase_states(s)["clinical-supply"] == "active"

    # Clinical supply: QA holds (veto decides at once), the PM resumes with a fresh review.
    cdmo.submit(
        "P-001",
        "clinical-supply",
        {
            "raw-materials-released": "qc1",
            "executed-batch-records": "mfg1",
            "deviation-investigations": "mfg1",
            "certificate-of-analysis": "qc1",
            "stability-start": "qc1",
        },
    )
    cdmo.confirm(
        "P-001",
        "clinical-release",
        {"deviations-closed": "mfg1", "coa-within-specification": "qc1"},
    )
    cdmo.sign("P-001", "clinical-release", "mfg1", "mfg")
    cdmo.sign("P-001", "clinical-release", "qa1", "qa", "hold", meaning="review")
    s = cdmo.status("P-001")
    assert s["state"] == "on-hold"
    out = cdmo.sign("P-001", "clinical-release", "qc1", "qc", code=1)
    assert "project-not-active" in out
    out = cdmo("project", "resume", "P-001", "--by", "qa1", "--reason", "x", code=1)
    assert "not-assigned-to-role" in out
    # QA's veto is a quality hold: the PM cannot lift it, QA releases it with a signature
    hold = s["holds"][-1]
    assert hold["quality"] and hold["gate"] == "clinical-release"
    out = cdmo("project", "resume", "P-001", "--by", "pm1", "--reason", "x", code=1)
    assert "quality-hold" in out
    release = ["project", "release", "P-001", hold["id"], "--by"]
    out = cdmo(*release, "pm1", "--meaning", "approval", "--reason", "x", code=1)
    assert "not-quality-role" in out
    cdmo(*release, "qa2", "--meaning", "approval", "--reason", "OOS investigation closed")
    s = cdmo.status("P-001")
    assert s["holds"][-1]["release_signature"]["user"] == "qa2"
    g = gate(s, "clinical-release")
    assert s["state"] == "active"
    assert g["state"] == "open"
    assert g["review"] == 2
    assert g["signatures"] == []  # earlier signatures no longer count
    for user, role in [("qa1", "qa"), ("mfg1", "mfg"), ("qc1", "qc"), ("cust1", "customer")]:
        cdmo.sign("P-001", "clinical-release", user, role)
    s = cdmo.status("P-001")
    assert phase_states(s)["process-validation"] == "active"

    # Manual hold and resume by the PM.
    cdmo("project", "hold", "P-001", "--by", "pm1", "--reason", "Sponsor funding review")
    assert cdmo.status("P-001")["state"] == "on-hold"
    cdmo("project", "resume", "P-001", "--by", "pm1", "--reason", "Funding confirmed")

    # Process validation (PPQ), with a lockout on the way.
    cdmo.submit(
        "P-001",
        "process-validation",
        {
            "ppq-protocol": "pd1",
            "ppq-batches": "mfg1",
            "ppq-report": "pd1",
            "validation-master-plan": "pd1",
        },
    )
    cdmo.confirm(
        "P-001",
        "ppq-complete",
        {"statistical-criteria-met": "pd1", "ppq-deviations-closed": "mfg1"},
    )
    for attempt in range(1, 6):
        out = cdmo.sign("P-001", "ppq-complete", "ra1", "ra", password=WRONG_PASSWORD, code=1)
        assert "authentication-failed" in out
        assert f"failed attempt {attempt} of 5" in out
    assert "now locked" in out
    out = cdmo.sign("P-001", "ppq-complete", "ra1", "ra", code=1)  # right password, locked
    assert "account-locked" in out
    out = cdmo("users", "unlock", "ra1", "--by", "pm1", code=1)
    assert "not-admin" in out
    cdmo("users", "unlock", "ra1", "--by", "admin1")
    for user, role in [
        ("qa1", "qa"),
        ("mfg1", "mfg"),
        ("pd1", "pd"),
        ("ra1", "ra"),
        ("cust1", "customer"),
    ]:
        cdmo.sign("P-001", "ppq-complete", user, role)

    # Commercial readiness -> go: the project is completed.
    cdmo.submit(
        "P-001",
        "commercial-readiness",
        {"cmc-sections": "ra1", "supply-agreement": "cust1", "launch-plan": "pm1"},
    )
    cdmo.confirm("P-001", "commercial-go", {"cmc-sections-accepted": "ra1"})
    for user, role in [("ra1", "ra"), ("pm1", "pm"), ("cust1", "customer"), ("site1", "site-head")]:
        cdmo.sign("P-001", "commercial-go", user, role)
    s = cdmo.status("P-001")
    assert s["state"] == "completed"
    assert set(phase_states(s).values()) == {"completed"}

    # A second project is killed at its first gate (most conservative decision wins).
    cdmo(
        "project", "start", "P-002", "--process", "api-clinical-program",
        "--customer", "Orion Pharma", *team, "--by", "pm1",
    )  # fmt: skip
    cdmo.submit(
        "P-002",
        "scoping",
        {
            "rfp-assessment": "pm1",
            "feasibility": "pm1",
            "work-order": "cust1",
            "quality-agreement": "cust1",
        },
    )
    cdmo.confirm("P-002", "scoping-go", {"capacity-confirmed": "pm1"})
    out = cdmo.sign("P-002", "scoping-go", "pm1", "pm", "kill", meaning="responsibility", code=1)
    assert "kill-needs-reason" in out
    cdmo.sign(
        "P-002", "scoping-go", "pm1", "pm", "kill", meaning="responsibility",
        comment="the sponsor stops the programme",
    )  # fmt: skip
    cdmo.sign("P-002", "scoping-go", "cust1", "customer")
    cdmo.sign("P-002", "scoping-go", "site1", "site-head")
    s = cdmo.status("P-002")
    assert s["state"] == "killed"
    assert gate(s, "scoping-go")["outcome"] == "kill"
    out = cdmo("project", "resume", "P-002", "--by", "pm1", "--reason", "x", code=1)
    assert "project-not-on-hold" in out

    listing = json.loads(cdmo("project", "list", "--json"))
    assert {(p["code"], p["state"]) for p in listing} == {
        ("P-001", "completed"),
        ("P-002", "killed"),
    }

    # Exports carry the signature manifestations; refusals are in the trail.
    rows = list(csv.DictReader(io.StringIO(cdmo("audit", "export", "P-001", "--format", "csv"))))
    signed = [r for r in rows if r["action"] == "gate.sign" and r["outcome"] == "accepted"]
    assert len(signed) == 3 + 3 + 2 + 4 + 2 + 2 + 4 + 5 + 4
    assert any("Dr. Quentin Assurance" in r["signature"] for r in signed)
    refused = [r for r in rows if r["outcome"] == "refused"]
    assert {r["rule"] for r in refused} >= {
        "gate-not-open",
        "phase-not-active",
        "not-assigned-to-role",
        "already-signed",
        "decision-not-allowed",
        "project-not-active",
        "authentication-failed",
        "account-locked",
    }
    events = json.loads(cdmo("audit", "export", "P-001", "--format", "json"))
    dump = json.dumps(events)
    assert PASSWORD not in dump
    assert WRONG_PASSWORD not in dump

    # The chains verify; a row edited behind the engine's back is detected.
    assert "intact" in cdmo("audit", "verify", "P-001")
    cdmo("audit", "verify")
    _tamper(db_url, "P-001", seq=5)
    out = cdmo("audit", "verify", "P-001", code=1)
    assert "5" in out
    out = cdmo("audit", "verify", code=1)
    assert "P-001" in out


def _tamper(db_url: str, chain: str, seq: int) -> None:
    """Edit one audit row as a database superuser would: drop the triggers, edit, restore."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            triggers = conn.execute(
                sa.text(
                    "SELECT name, sql FROM sqlite_master WHERE type='trigger' "
                    "AND tbl_name='audit_events'"
                )
            ).all()
            for name, _ in triggers:
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
            conn.execute(
                sa.text("UPDATE audit_events SET actor='mallory' WHERE chain=:c AND seq=:s"),
                {"c": chain, "s": seq},
            )
            for _, sql in triggers:
                conn.execute(sa.text(sql))
        else:
            conn.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            conn.execute(
                sa.text("UPDATE audit_events SET actor='mallory' WHERE chain=:c AND seq=:s"),
                {"c": chain, "s": seq},
            )
            conn.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    engine.dispose()
