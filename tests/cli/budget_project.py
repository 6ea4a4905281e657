"""The budget fixture project of the CLI tests: the `costed` process (tests/fixtures/budget),
its people, and `cdmo` run in-process against SQLite or PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.service import open_context
from tests.accounts import seed

DEFS = Path(__file__).resolve().parents[1] / "fixtures" / "budget"
PASSWORD = "budget-password-1"
USERS = {
    "u-pm-41": ("Paula Manager", ["pm"]),
    "u-fin-17": ("Fiona Controller", ["fin"]),
    "u-qa-23": ("Dr. Quentin Assurance", ["qa"]),
    "u-mfg-05": ("Mia Production", ["mfg"]),
    "u-cust-88": ("Carl Sponsor", ["customer"]),
}
TEAM = [
    "--team", "pm=u-pm-41", "--team", "fin=u-fin-17", "--team", "qa=u-qa-23",
    "--team", "mfg=u-mfg-05", "--team", "customer=u-cust-88",
]  # fmt: skip


class Cdmo:
    def __init__(self, db_url: str, tmp: Path) -> None:
        self.db_url = db_url
        self.tmp = tmp
        self.runner = CliRunner()
        self.env = {
            "CDMO_DATABASE_URL": db_url,
            "CDMO_DEFINITIONS": str(DEFS),
            "CDMO_PASSWORD": PASSWORD,
            "CDMO_SESSION_FILE": str(tmp / "session"),
            "CDMO_PREFECT_HOOKS": "0",
            "COLUMNS": "200",
        }

    def __call__(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = self.runner.invoke(app, list(args), env={**self.env, **(env or {})})
        out = result.output
        assert "Traceback" not in out, out
        assert result.exit_code == code, f"cdmo {' '.join(args)} -> {result.exit_code}\n{out}"
        return out

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                return list(conn.execute(sa.text(query), params).all())
        finally:
            engine.dispose()

    def refusals(self) -> int:
        """Refused commands in the audit trail (each refusal leaves exactly one row)."""
        return int(self.sql("SELECT count(*) FROM audit_events WHERE outcome = 'refused'")[0][0])

    def csv(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def budget(self, code: str = "BX-1") -> dict[str, Any]:
        status = json.loads(self("project", "status", code, "--json"))
        budget: dict[str, Any] = status["budget"]
        return budget


@pytest.fixture
def cdmo(db_url: str, tmp_path: Path) -> Cdmo:
    c = Cdmo(db_url, tmp_path)
    seed(open_context(db_url, DEFS), USERS, PASSWORD)
    c("project", "start", "BX-1", "--process", "costed", "--customer", "Helix Bio", *TEAM,
      "--by", "u-pm-41")  # fmt: skip
    return c
