"""An attacker's bench: a site with an administrator, a small team and a project at a gate.

Everything is real: the `cdmo` command (typer's runner, in-process), the database (SQLite and
PostgreSQL), the relay and an HTTP receiver that gets the one-time codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from tests.accounts import enrol_cli
from tests.notify.receivers import JsonReceiver

DEFS = Path(__file__).resolve().parents[1] / "service" / "defs"
PASSWORD = "correct horse battery"
WRONG = "Tr0ub4dor&3-not-it"
USERS = {
    "admin1": ("Ada Admin", ["admin"]),
    "admin2": ("Bea Backup", ["admin"]),
    "pm1": ("Paula Manager", ["pm"]),
    "qa1": ("Dr. Quentin Assurance", ["qa"]),
    "mfg1": ("Mia Production", ["mfg"]),
}
TEAM = ["--team", "pm=pm1", "--team", "qa=qa1", "--team", "mfg=mfg1"]


class Site:
    """`cdmo` against one database; no credential in the environment unless a call gives one."""

    def __init__(self, db_url: str, tmp: Path) -> None:
        self.db_url = db_url
        self.runner = CliRunner()
        self.env = {
            "CDMO_DATABASE_URL": db_url,
            "CDMO_DEFINITIONS": str(DEFS),
            "CDMO_SESSION_FILE": str(tmp / "session"),
            "CDMO_PASSWORD": "",
            "CDMO_PREFECT_HOOKS": "0",
        }
        self.receiver: JsonReceiver | None = None

    def __call__(
        self, *args: str, code: int = 0, password: str | None = None, env: Any = None
    ) -> str:
        run_env = {**self.env, **(env or {})}
        if password is not None:
            run_env["CDMO_PASSWORD"] = password
        result = self.runner.invoke(app, list(args), env=run_env, catch_exceptions=False)
        out = result.output
        assert result.exit_code == code, f"cdmo {' '.join(args)} -> {result.exit_code}\n{out}"
        assert "Traceback" not in out
        return out

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(query), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            engine.dispose()

    def audit(self, chain: str = "_system") -> list[tuple[Any, ...]]:
        return [
            tuple(r)
            for r in self.sql(
                "SELECT actor, action, outcome, rule FROM audit_events WHERE chain = :c "
                "ORDER BY seq",
                c=chain,
            )
        ]

    def status(self, code: str) -> dict[str, Any]:
        return json.loads(self("project", "status", code, "--json"))


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    s = Site(db_url, tmp_path)
    s.receiver = enrol_cli(s, USERS, PASSWORD)
    s("admin", "init", "x", "--name", "X", code=1, env={"CDMO_PASSWORD": PASSWORD})
    try:
        yield s
    finally:
        s.receiver.stop()


@pytest.fixture
def project(site: Site) -> Site:
    """SEC-1 started by pm1, its first phase done: gate build-go is open for qa."""
    site("project", "start", "SEC-1", "--process", "mini", "--customer", "Acme", *TEAM,
         "--by", "pm1", password=PASSWORD)  # fmt: skip
    for d in ("d1", "d2", "d3", "d4"):
        site("deliverable", "submit", "SEC-1", "build", d, "--by", "mfg1",
             "--evidence", f"DMS-{d}", password=PASSWORD)  # fmt: skip
    return site
