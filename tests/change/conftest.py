"""A real git repository of definitions with a base and three changes, a site that runs the
real `cdmo` command (typer's runner, in-process) on SQLite and PostgreSQL, and a real HTTP
receiver for the notifications.

Commits (``repo.commits``):

* ``c1`` the base: design → build (GMP) → release; build-go needs qa × 1 and mfg × 1;
* ``c2`` a quota raised: build-go needs qa × 2;
* ``c3`` a phase added after the current one: stability after build, release after it;
* ``c4`` a phase removed before it: design is gone (build starts with the project).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from tests.notify.receivers import JsonReceiver

PASSWORD = "correct horse battery"
WRONG = "Tr0ub4dor&3-not-it"
USERS = {
    "admin1": ("Ada Admin", ["admin"]),
    "pm1": ("Paula Manager", ["pm"]),
    "cust1": ("Carl Sponsor", ["customer"]),
    "qa1": ("Dr. Quentin Assurance", ["qa"]),
    "qa2": ("Dr. Qiana Auditor", ["qa"]),
    "mfg1": ("Mia Production", ["mfg"]),
    "mfg2": ("Max Outsider", ["mfg"]),
}
TEAM = ["--team", "pm=pm1", "--team", "customer=cust1", "--team", "qa=qa1,qa2",
        "--team", "mfg=mfg1"]  # fmt: skip

PROCESS = """\
schema: cdmo-workflow/v1
kind: process
id: cr-demo
name: Change-control demo
roles:
  pm: Project manager
  customer: Sponsor
  qa: Quality assurance
  mfg: Manufacturing
change_control:
  approvers:
    - role: customer
    - role: pm
    - role: qa
      when: [gmp, signoffs]
phases:
{phases}
"""

DESIGN = """\
  - id: design
    name: Design
    owner: pm
    duration: 10d
    deliverables:
      - {id: spec, name: Specification, owner: pm}
      - {id: risk, name: Risk assessment, owner: pm}
    gate: design-go
"""
BUILD = """\
  - id: build
    name: Build (GMP)
    owner: mfg
    gmp: true
{after}    duration: 20d
    deliverables:
      - {{id: batch, name: Batch record, owner: mfg}}
      - {{id: coa, name: Certificate of analysis, owner: mfg}}
    gate: build-go
"""
STABILITY = """\
  - id: stability
    name: Stability study
    owner: qa
    after: [build]
    duration: 15d
    deliverables:
      - {id: protocol, name: Stability protocol, owner: qa}
    gate: stability-go
"""
RELEASE = """\
  - id: release
    name: Release
    owner: pm
    after: [{after}]
    duration: 5d
    deliverables:
      - {{id: release-record, name: Release record, owner: mfg}}
    gate: release-go
"""
GATE = """\
schema: cdmo-workflow/v1
kind: gate
id: {id}
name: {name}
signoffs:
{quotas}
decisions: [{decisions}]
"""


def _gate(gid: str, name: str, quotas: dict[str, int], decisions: str) -> str:
    lines = "\n".join(f"  - {{role: {r}, min: {n}}}" for r, n in quotas.items())
    return GATE.format(id=gid, name=name, quotas=lines, decisions=decisions)


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Definitions Author",
        "GIT_AUTHOR_EMAIL": "author@example.org",
        "GIT_COMMITTER_NAME": "Definitions Author",
        "GIT_COMMITTER_EMAIL": "author@example.org",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                         env=env, check=True)  # fmt: skip
    return out.stdout.strip()


def write_version(root: Path, *, qa_at_build: int, stability: bool, design: bool) -> None:
    """Write one version of the tree (every file, so each commit is a whole version)."""
    (root / "definitions").mkdir(parents=True, exist_ok=True)
    (root / "gates").mkdir(parents=True, exist_ok=True)
    for old in (root / "gates").glob("*.yaml"):
        old.unlink()
    phases = (DESIGN if design else "") + BUILD.format(
        after="    after: [design]\n" if design else ""
    )
    phases += STABILITY if stability else ""
    phases += RELEASE.format(after="stability" if stability else "build")
    (root / "definitions" / "cr-demo.yaml").write_text(PROCESS.format(phases=phases.rstrip()))
    gates = {
        "build-go": _gate("build-go", "Build complete", {"qa": qa_at_build, "mfg": 1},
                          "go, hold, recycle, kill"),
        "release-go": _gate("release-go", "Release", {"qa": 1, "customer": 1}, "go, kill"),
    }  # fmt: skip
    if design:
        gates["design-go"] = _gate(
            "design-go", "Design approved", {"qa": 1, "customer": 1}, "go, hold, recycle, kill"
        )
    if stability:
        gates["stability-go"] = _gate(
            "stability-go", "Stability accepted", {"qa": 1}, "go, hold, recycle, kill"
        )
    for gid, text in gates.items():
        (root / "gates" / f"{gid}.yaml").write_text(text)


@dataclass
class Repo:
    path: Path
    """The folder holding definitions/ and gates/ (a sub-folder of the repository)."""
    commits: dict[str, str]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    top = tmp_path / "defs-repo"
    top.mkdir()
    _git(top, "init", "-q", "-b", "main")
    root = top / "cdmo"  # definitions below the top: git archive must keep the prefix
    commits: dict[str, str] = {}
    steps = [
        ("c1", dict(qa_at_build=1, stability=False, design=True), "base"),
        ("c2", dict(qa_at_build=2, stability=False, design=True), "build-go: qa quota raised"),
        ("c3", dict(qa_at_build=2, stability=True, design=True), "stability phase added"),
        ("c4", dict(qa_at_build=2, stability=True, design=False), "design phase removed"),
    ]
    for name, spec, message in steps:
        write_version(root, **spec)  # type: ignore[arg-type]
        _git(top, "add", "-A")
        _git(top, "commit", "-q", "-m", message)
        _git(top, "tag", name)
        commits[name] = _git(top, "rev-parse", "HEAD")
    _git(top, "checkout", "-q", "c1")  # projects start on the first commit
    return Repo(root, commits)


class Site:
    """`cdmo` against one database and the repository's definitions folder."""

    def __init__(self, db_url: str, tmp: Path, definitions: Path) -> None:
        self.db_url = db_url
        self.runner = CliRunner()
        self.definitions = definitions
        self.env = {
            "CDMO_DATABASE_URL": db_url,
            "CDMO_DEFINITIONS": str(definitions),
            "CDMO_SESSION_FILE": str(tmp / "session"),
            "CDMO_PASSWORD": "",
            "CDMO_PREFECT_HOOKS": "0",
        }
        self.receiver: JsonReceiver | None = None

    def __call__(
        self, *args: str, code: int = 0, password: str | None = PASSWORD, env: Any = None
    ) -> str:
        run_env = {**self.env, **(env or {})}
        if password is not None:
            run_env["CDMO_PASSWORD"] = password
        result = self.runner.invoke(app, list(args), env=run_env, catch_exceptions=False)
        out = result.output
        assert result.exit_code == code, f"cdmo {' '.join(args)} -> {result.exit_code}\n{out}"
        assert "Traceback" not in out
        return out

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code, password=None))

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(query), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            engine.dispose()

    def audit(self, chain: str) -> list[tuple[Any, ...]]:
        return [
            tuple(r)
            for r in self.sql(
                "SELECT actor, action, outcome, rule FROM audit_events WHERE chain = :c "
                "ORDER BY seq",
                c=chain,
            )
        ]

    def start(self, code: str) -> None:
        self("project", "start", code, "--process", "cr-demo", "--customer", "Helix Bio", *TEAM,
             "--by", "pm1")  # fmt: skip

    def finish_design(self, code: str) -> None:
        for d in ("spec", "risk"):
            self("deliverable", "submit", code, "design", d, "--by", "pm1", "--evidence",
                 f"DMS-{d}")  # fmt: skip
        for user, role in (("qa1", "qa"), ("cust1", "customer")):
            self("gate", "sign", code, "design-go", "--by", user, "--role", role, "--decision",
                 "go", "--meaning", "approval")  # fmt: skip

    def open_build(self, code: str) -> None:
        for d in ("batch", "coa"):
            self("deliverable", "submit", code, "build", d, "--by", "mfg1", "--evidence",
                 f"DMS-{d}")  # fmt: skip

    def status(self, code: str) -> dict[str, Any]:
        return dict(self.json("project", "status", code))


@pytest.fixture
def site(db_url: str, tmp_path: Path, repo: Repo) -> Iterator[Site]:
    from cdmo_workflow import service
    from tests.accounts import seed

    s = Site(db_url, tmp_path, repo.path)
    s.receiver = JsonReceiver().start()
    ctx = service.open_context(db_url=db_url, definitions=repo.path)
    ctx.db.migrate()
    targets = {uid: [s.receiver.url(f"/{uid}")] for uid in USERS}
    seed(ctx, USERS, PASSWORD, **targets)
    try:
        yield s
    finally:
        s.receiver.stop()
        from cdmo_workflow.store import dispose_engines

        dispose_engines(db_url)
