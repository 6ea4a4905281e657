"""A mAb drug-substance transfer driven through `cdmo`, using every people command (#16).

Facility fit → (engineering run ∥ analytical method transfer) → PPQ, on
``tests/cli/people_defs``. A PM staffs and restaffs the team, QA raises owned conditions,
an approver on leave is covered by a time-boxed delegation, QA holds a phase and the whole
project and releases both with a signature, the engineering run is recycled without undoing
the signed method transfer, and deliverables are carried forward. Each refusal the issue
lists is tried on the way (exit 1, its rule, one audit row). Shared by the CLI test (SQLite
and PostgreSQL) and the ``audit verify --deep`` test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from cdmo_workflow.cli import app

DEFS = Path(__file__).resolve().parent / "cli" / "people_defs"
PASSWORD = "people-password-1"
WRONG = "Tr0ub4dor&3-not-it"
USERS = {
    "admin1": ("Ada Admin", ["admin"]),
    "pm1": ("Paula Manager", ["pm"]),
    "pm2": ("Pia Deputy", ["pm"]),
    "qa1": ("Dr. Quinn Adler", ["qa"]),
    "qa2": ("Dr. Qiana Auditor", ["qa"]),
    "qa3": ("Quentin Third", ["qa"]),
    "qa9": ("Dr. Noor Stand-in", ["qa"]),
    "qc1": ("Quinn Lab", ["qc"]),
    "mfg1": ("Mia Production", ["mfg"]),
    "mfg2": ("Max Production", ["mfg"]),
    "cust1": ("Carl Sponsor", ["customer"]),
    "cust2": ("Cara Sponsor", ["customer"]),
}
TEAM = ["pm=pm1", "qa=qa1", "qa=qa2", "qc=qc1", "mfg=mfg1", "customer=cust1"]
CODE = "TR-1"


class Cli:
    """`cdmo` in-process against one database; the password from the environment."""

    def __init__(self, db_url: str, tmp: Path) -> None:
        self.db_url = db_url
        self.runner = CliRunner()
        self.env = {
            "CDMO_DATABASE_URL": db_url,
            "CDMO_DEFINITIONS": str(DEFS),
            "CDMO_PASSWORD": PASSWORD,
            "CDMO_SESSION_FILE": str(tmp / "session"),
            "CDMO_PREFECT_HOOKS": "0",
            "CDMO_CHECKPOINT_DIR": str(tmp / "checkpoints"),
            "CDMO_AUDIT_KEY_FILE": str(tmp / "audit-key.pem"),
        }

    def __call__(self, *args: str, code: int = 0, password: str | None = None) -> str:
        env = dict(self.env)
        if password is not None:
            env["CDMO_PASSWORD"] = password
        result = self.runner.invoke(app, list(args), env=env, catch_exceptions=False)
        out = result.output
        assert result.exit_code == code, f"cdmo {' '.join(args)} -> {result.exit_code}\n{out}"
        assert "Traceback" not in out
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))

    def status(self) -> dict[str, Any]:
        return dict(self.json("project", "status", CODE))

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(query), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            engine.dispose()

    def audit_rows(self, chain: str = CODE) -> list[tuple[Any, ...]]:
        return [
            tuple(r)
            for r in self.sql(
                "SELECT actor, action, outcome, rule FROM audit_events WHERE chain = :c "
                "ORDER BY seq",
                c=chain,
            )
        ]

    def refused(self, rule: str, *args: str, chain: str = CODE, password: str | None = None) -> str:
        """Run a command that must be refused with ``rule``: exit 1, the rule named, exactly
        one new audit row (a refusal), on ``chain``."""
        before = self.sql("SELECT count(*) FROM audit_events")[0][0]
        out = self(*args, code=1, password=password)
        assert f"[rule: {rule}]" in out, out
        assert self.sql("SELECT count(*) FROM audit_events")[0][0] == before + 1, args
        last = self.audit_rows(chain)[-1]
        assert last[2:] == ("refused", rule), last
        return out


def phase_states(status: dict[str, Any]) -> dict[str, str]:
    return {p["id"]: p["state"] for p in status["phases"]}


def gate(status: dict[str, Any], gate_id: str) -> dict[str, Any]:
    return next(g for g in status["gates"] if g["id"] == gate_id)


def seed(db_url: str) -> None:
    from cdmo_workflow import service
    from tests.accounts import seed as seed_users

    seed_users(service.open_context(db_url), USERS, PASSWORD)


def sign(cli: Cli, gate_id: str, user: str, role: str, decision: str = "go", *more: str) -> str:
    return cli("gate", "sign", CODE, gate_id, "--by", user, "--role", role,
               "--decision", decision, "--meaning", "approval", *more)  # fmt: skip


def submit(cli: Cli, phase: str, deliverable: str, user: str, evidence: str) -> None:
    cli("deliverable", "submit", CODE, phase, deliverable, "--by", user, "--evidence", evidence)


def run(cli: Cli, checkpoint: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole scenario; returns the final status. ``checkpoint(name)`` is called at named
    moments (the CLI test looks at task lists and printouts there)."""
    mark = checkpoint or (lambda name: None)
    today = datetime.now(UTC).date()
    cli("project", "start", CODE, "--process", "transfer", "--customer", "Helix Bio",
        *[a for t in TEAM for a in ("--team", t)], "--by", "pm1")  # fmt: skip

    # ---- team changes: the PM staffs; others may not; impossible teams are refused
    cli.refused("not-project-manager", "team", "add", CODE, "qa", "qa3", "--by", "qa1",
                "--reason", "me too")  # fmt: skip
    cli.refused("role-not-held", "team", "add", CODE, "qa", "mfg2", "--by", "pm1",
                "--reason", "short of QA")  # fmt: skip
    cli("team", "add", CODE, "qa", "qa3", "--by", "pm1", "--reason", "third QA for PPQ")
    cli.refused("team-cannot-meet-quota", "team", "remove", CODE, "customer", "cust1",
                "--by", "pm1", "--reason", "sponsor left")  # fmt: skip
    cli("team", "add", CODE, "mfg", "mfg2", "--by", "pm1", "--reason", "second shift")

    # ---- facility fit: QA raises two owned conditions at a conditional go
    submit(cli, "fit", "fit-report", "mfg1", "FIT-7")
    sign(cli, "fit-go", "pm1", "pm")
    later = (today + timedelta(days=20)).isoformat()
    sign(cli, "fit-go", "qa1", "qa", "conditional-go",
         "--condition", "Close CAPA-17 before release", "--condition-owner", "user:qc1",
         "--condition", "Update the transfer FMEA", "--condition-owner", "role:mfg",
         "--condition-due", "5bd", "--condition-due", later)  # fmt: skip
    s = cli.status()
    assert phase_states(s)["engineering"] == "active" and phase_states(s)["methods"] == "active"
    c1, c2 = s["conditions"]
    assert c1["phases"] == c2["phases"] == ["engineering", "methods"]
    assert (c1["owner"], c2["owner"]) == ("user:qc1", "role:mfg")
    assert c1["due_at"] and c2["due_at"] and c1["state"] == "open"
    mark("conditions-open")

    # ---- delegation: qa1 goes on leave; qa9 covers on this project
    end = (today + timedelta(days=7)).isoformat()
    args = ["--role", "qa", "--project", CODE, "--end", end, "--reason", "annual leave"]
    cli.refused("delegate-lacks-role", "delegate", "--from", "qa1", "--to", "mfg2",
                "--start", today.isoformat(), *args, chain="_system")  # fmt: skip
    cli.refused("delegation-backdated", "delegate", "--from", "qa1", "--to", "qa9",
                "--start", (today - timedelta(days=1)).isoformat(), *args,
                chain="_system")  # fmt: skip
    cli.refused("not-delegator", "delegate", "--from", "qa1", "--to", "qa9", "--by", "qa2",
                "--start", today.isoformat(), *args, chain="_system")  # fmt: skip
    out = cli("delegate", "--from", "qa1", "--to", "qa9", "--start", today.isoformat(), *args)
    assert "qa9 may sign as qa on behalf of qa1" in out
    (d1,) = cli.json("delegate", "list", "--user", "qa9")["delegations"]
    assert d1["status"] == "in force"
    cli.refused("delegation-overlap", "delegate", "--from", "qa1", "--to", "qa3",
                "--start", today.isoformat(), *args, chain="_system")  # fmt: skip

    # ---- conditions: owners close, someone else verifies
    cli.refused("not-condition-owner", "condition", "close", CODE, "C1", "--by", "mfg1",
                "--evidence", "X")  # fmt: skip
    cli("condition", "close", CODE, "C1", "--by", "qc1", "--evidence", "CAPA-17-CLOSURE")
    cli.refused("own-closure", "condition", "accept", CODE, "C1", "--by", "qc1")
    cli("condition", "accept", CODE, "C1", "--by", "qa2", "--comment", "effectiveness checked")
    cli("condition", "close", CODE, "C2", "--by", "mfg2", "--evidence", "FMEA-v3")
    cli("condition", "reject", CODE, "C2", "--by", "qa1", "--reason", "RPN table missing")
    cli("condition", "close", CODE, "C2", "--by", "mfg2", "--evidence", "FMEA-v4")
    cli("condition", "accept", CODE, "C2", "--by", "qa1")

    # ---- analytical method transfer, signed by the delegate on qa1's behalf
    submit(cli, "methods", "transfer-report", "qc1", "AMT-3")
    mark("methods-open")
    sign(cli, "methods-go", "qc1", "qc")
    sign(cli, "methods-go", "qa9", "qa", "go", "--on-behalf-of", "qa1")
    s = cli.status()
    assert phase_states(s)["methods"] == "completed"
    sig = gate(s, "methods-go")["signatures"][1]
    assert (sig["user"], sig["on_behalf_of"], sig["on_behalf_of_name"]) == (
        "qa9",
        "qa1",
        "Dr. Quinn Adler",
    )

    # ---- engineering run: a quality hold on the phase, released by QA's signature
    submit(cli, "engineering", "batch-record", "mfg1", "EBR-1")
    cli("project", "hold", CODE, "--phase", "engineering", "--by", "qa2", "--reason",
        "deviation DEV-9 under investigation")  # fmt: skip
    cli.refused("phase-on-hold", "deliverable", "submit", CODE, "engineering", "run-report",
                "--by", "mfg1", "--evidence", "ERR-1")  # fmt: skip
    cli.refused("phase-hold-needs-quality-role", "project", "hold", CODE, "--phase", "methods",
                "--by", "pm1", "--reason", "x")  # fmt: skip
    cli.refused("not-quality-role", "project", "release", CODE, "H1", "--by", "pm1",
                "--meaning", "approval", "--reason", "x")  # fmt: skip
    cli("project", "release", CODE, "H1", "--by", "qa2", "--meaning", "approval",
        "--reason", "DEV-9 closed: no impact")  # fmt: skip
    submit(cli, "engineering", "run-report", "mfg1", "ERR-1")
    sign(cli, "engineering-go", "mfg2", "mfg")
    # the engineering run failed: QA recycles to facility fit (a veto)
    sign(cli, "engineering-go", "qa2", "qa", "recycle")
    s = cli.status()
    assert phase_states(s) == {
        "fit": "active",
        "engineering": "pending",
        "methods": "completed",  # the signed method transfer keeps its state
        "ppq": "pending",
    }
    assert gate(s, "methods-go")["outcome"] == "go"
    assert gate(s, "engineering-go")["reviews"][0]["outcome"] == "recycle"

    # ---- the reset phases: carry what is still valid forward
    cli.refused("not-assigned-to-role", "deliverable", "carry", CODE, "fit", "fit-report",
                "--by", "mfg1", "--reason", "unchanged")  # fmt: skip
    cli("deliverable", "carry", CODE, "fit", "fit-report", "--by", "pm1", "--reason",
        "the facility did not change")  # fmt: skip
    sign(cli, "fit-go", "pm1", "pm")
    sign(cli, "fit-go", "qa2", "qa")
    cli("deliverable", "carry", CODE, "engineering", "batch-record", "--by", "mfg2",
        "--reason", "master batch record unchanged")  # fmt: skip
    submit(cli, "engineering", "run-report", "mfg1", "ERR-2")
    sign(cli, "engineering-go", "mfg2", "mfg")
    sign(cli, "engineering-go", "qa3", "qa")
    s = cli.status()
    assert phase_states(s)["ppq"] == "active" and phase_states(s)["methods"] == "completed"

    # ---- a quality hold on the whole project: the PM cannot lift it
    cli("project", "hold", CODE, "--by", "qa1", "--reason", "audit finding AF-2")
    cli.refused("quality-hold", "project", "resume", CODE, "--by", "pm1", "--reason", "go on")
    cli("project", "release", CODE, "H2", "--by", "qa2", "--meaning", "responsibility",
        "--reason", "AF-2 answered")  # fmt: skip

    # ---- the sponsor changes its representative; the PM restaffs
    cli("team", "replace", CODE, "customer", "cust1", "cust2", "--by", "pm1", "--reason",
        "new sponsor contact")  # fmt: skip

    # ---- PPQ: QA release of batches cannot be delegated; a revoked delegation is dead
    submit(cli, "ppq", "ppq-report", "mfg1", "PPQ-R1")
    cli("delegate", "revoke", d1["id"], "--by", "qa1", "--reason", "back from leave")
    cli.refused("delegation-not-in-force", "gate", "sign", CODE, "ppq-go", "--by", "qa9",
                "--role", "qa", "--decision", "go", "--meaning", "approval",
                "--on-behalf-of", "qa1")  # fmt: skip
    cli("delegate", "--from", "qa1", "--to", "qa9", "--start", today.isoformat(), *args)
    cli.refused("not-delegable", "gate", "sign", CODE, "ppq-go", "--by", "qa9", "--role", "qa",
                "--decision", "go", "--meaning", "approval", "--on-behalf-of", "qa1")  # fmt: skip
    mark("ppq-open")
    sign(cli, "ppq-go", "qa1", "qa")
    sign(cli, "ppq-go", "qa3", "qa")
    sign(cli, "ppq-go", "cust2", "customer")
    s = cli.status()
    assert s["state"] == "completed"
    return s
