"""Bad input at the `cdmo` command: a clear error or a safe rendering, never a traceback.

Issue 13: Rich markup and terminal escapes in user text, identifier rules, field limits,
impossible teams, unusable apprise URLs, read-only commands creating folders, negative counts
and ages, and database errors that printed their statement parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.cli.common import database_error_line, errors
from tests.accounts import PASSWORD, cli_add_user

DEFS = Path(__file__).parent / "defs"
ESC = "\x1b"


class Cli:
    def __init__(self, db_url: str) -> None:
        self.runner = CliRunner()
        self.env = {
            "CDMO_DATABASE_URL": db_url,
            "CDMO_DEFINITIONS": str(DEFS),
            "CDMO_PASSWORD": PASSWORD,
            "COLUMNS": "250",
        }

    def run(self, args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        result = self.runner.invoke(app, args, env={**self.env, **(env or {})})
        out = result.output
        assert "Traceback" not in out, out
        assert result.exception is None or isinstance(result.exception, SystemExit), out
        return result.exit_code, out

    def __call__(self, *args: str, code: int = 0) -> str:
        got, out = self.run(list(args))
        assert got == code, f"cdmo {' '.join(args)} -> {got}\n{out}"
        return out


@pytest.fixture
def cli(db_url: str) -> Cli:
    c = Cli(db_url)
    for uid, name, roles in [
        ("pm1", "Bob [/bold] closing", ["pm"]),
        ("qa1", f"Eve {ESC}[31mred{ESC}[2J\u202egnp.exe", ["qa"]),
        ("qa2", "Q [/]", ["qa"]),
    ]:
        code, out = cli_add_user(c.run, uid, name, roles, db_url=c.env["CDMO_DATABASE_URL"])
        assert code == 0, out
    return c


TEAM = ["--team", "pm=pm1", "--team", "qa=qa1", "--team", "qa=qa2"]


def test_markup_and_escapes_in_names_and_customers_print_safely(cli: Cli) -> None:
    out = cli("users", "list")
    assert "Bob [/bold] closing" in out and "Q [/]" in out
    assert ESC not in out and "\u202e" not in out
    assert "Eve [31mred[2Jgnp.exe" in out  # the escape character is gone, the text stays

    cli("project", "start", "P-1", "--process", "fuzz", "--customer", f"[/]{ESC}[2J", "--by",
        "pm1", *TEAM)  # fmt: skip
    listed = cli("project", "list")
    assert "[/][2J" in listed and ESC not in listed
    status = cli("project", "status", "P-1")
    assert "[/][2J" in status and ESC not in status
    # Exports keep the original value.
    assert json.loads(cli("project", "status", "P-1", "--json"))["customer"] == f"[/]{ESC}[2J"
    cli("deliverable", "submit", "P-1", "work", "d1", "--by", "pm1", "--evidence",
        f"DMS [bold]{ESC}]0;title{ESC}\\")  # fmt: skip
    out = cli("gate", "sign", "P-1", "work-go", "--by", "qa2", "--role", "qa", "--decision",
              "conditional-go", "--meaning", "approval", "--comment", "[/]",
              "--condition", f"fix [/] {ESC}[31m it")  # fmt: skip
    assert ESC not in out
    status = cli("project", "status", "P-1")
    assert "fix [/] [31m it" in status and ESC not in status
    assert "signed by Q [/] (qa2, qa)" in status
    cli("audit", "verify")


def test_project_codes_follow_the_rule(cli: Cli) -> None:
    for bad in ("p-lower", f"P{ESC}[31m", "=HYPERLINK(1)", "X" * 33):
        out = cli("project", "start", bad, "--process", "fuzz", "--customer", "Acme", "--by",
                  "pm1", *TEAM, code=1)  # fmt: skip
        assert "project code" in out and ESC not in out
        assert "invalid-identifier" in out or "field-too-long" in out
    assert "^[A-Z0-9][A-Z0-9._-]{0,31}$" in out or "limit is 32" in out
    assert json.loads(cli("project", "list", "--json")) == []


def test_over_long_text_is_refused_naming_the_field_and_limit(cli: Cli) -> None:
    out = cli("project", "start", "P-2", "--process", "fuzz", "--customer", "C" * 201,
              "--by", "pm1", *TEAM, code=1)  # fmt: skip
    assert "customer is 201 characters long; the limit is 200" in out
    assert "[rule: field-too-long]" in out
    cli("project", "start", "P-2", "--process", "fuzz", "--customer", "C" * 200, "--by", "pm1",
        *TEAM)  # fmt: skip
    for option, value, field, limit in [
        ("--evidence", "E" * 501, "evidence", 500),
    ]:
        out = cli("deliverable", "submit", "P-2", "work", "d1", "--by", "pm1", option, value,
                  code=1)  # fmt: skip
        assert f"{field} is {len(value)} characters long; the limit is {limit}" in out
    out = cli("project", "hold", "P-2", "--by", "pm1", "--reason", "R" * 2001, code=1)
    assert "reason is 2001 characters long; the limit is 2000" in out
    out = cli("condition", "close", "P-2", "C1'--", "--by", "pm1", "--evidence", "x", code=1)
    assert "invalid condition id" in out and "^C[0-9]{1,6}$" in out
    assert json.loads(cli("project", "status", "P-2", "--json"))["state"] == "active"


def test_over_long_printed_name_is_refused(cli: Cli) -> None:
    code, out = cli_add_user(cli.run, "qa3", "N" * 201, ["qa"])
    assert code == 1 and "printed name is 201 characters long; the limit is 200" in out


def test_a_team_that_can_never_pass_a_gate_is_refused(cli: Cli) -> None:
    out = cli("project", "start", "P-3", "--process", "fuzz", "--customer", "Acme", "--by",
              "pm1", "--team", "pm=pm1", "--team", "qa=qa1", code=1)  # fmt: skip
    assert "team-cannot-meet-quota" in out
    assert "'next-go'" in out and "'qa'" in out and "needs 2" in out and "assigns 1" in out


def test_unusable_apprise_url_is_refused(cli: Cli) -> None:
    code, out = cli_add_user(cli.run, "qa9", "Nine", ["qa"], ["notaurl://x"])
    assert code == 1 and "invalid-notify-url" in out
    assert "qa9" not in cli("users", "list")
    code, out = cli_add_user(cli.run, "qa8", "Eight", ["qa"], ["json://localhost:9/hook"])
    assert code == 0, out


def test_read_only_commands_create_no_file_or_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    url = f"sqlite:///{missing / 'x.db'}"
    c = Cli(url)
    for args in (
        ["project", "list"],
        ["project", "status", "P-1"],
        ["users", "list"],
        ["audit", "verify"],
        ["audit", "export", "P-1"],
        ["notify", "list"],
        ["project", "forecast", "P-1"],
    ):
        out = c(*args, "--db", url, code=1)
        assert "no database at" in out
    assert not missing.exists() and not missing.parent.exists()


def test_negative_and_zero_counts_and_ages_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    c = Cli(url)
    for batch in ("-1", "0"):
        out = c("notify", "relay", "--once", "--batch", batch, "--db", url, code=2)
        assert "--batch" in out
    c("notify", "list", "--limit", "-5", "--db", url, code=2)
    c("gates", "watch", "--once", "--interval", "-1", "--db", url, code=2)
    for name, value in [
        ("CDMO_PASSWORD_MAX_AGE_DAYS", "-1"),
        ("CDMO_LOCK_AFTER", "0"),
        ("CDMO_RELAY_BATCH", "-3"),
        ("CDMO_RELAY_MAX_ATTEMPTS", "9" * 5000),
    ]:
        code, out = c.run(["project", "list"], {name: value})
        assert code == 1 and name in out, out


def test_database_errors_print_one_line_without_parameters(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value too long for its column, written around the limits straight to the store."""
    from cdmo_workflow.store import make_engine, migrate
    from cdmo_workflow.store.tables import users

    engine = make_engine(pg_url)
    migrate(engine)
    secret_hash = "scrypt$16384$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA=="
    row = {
        "user_id": "u1",
        "name": "N" * 300,  # the column holds 256
        "roles": ["qa"],
        "password_hash": secret_hash,
        "password_changed_at": sa.func.now(),
        "created_at": sa.func.now(),
    }
    with pytest.raises(typer.Exit) as exited, errors(), engine.begin() as conn:
        conn.execute(users.insert().values(**row))
    assert exited.value.exit_code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: database error: value too long for type character varying(256)")
    assert "(StringDataRightTruncation)" in err
    for leak in ("scrypt", "password_hash", "aGFzaG", "[SQL", "parameters", "Traceback", "NNNN"):
        assert leak not in err


def test_database_error_line_keeps_only_the_first_line() -> None:
    err = sa.exc.IntegrityError(
        "INSERT INTO users VALUES (?)", ("scrypt$secret",), Exception("UNIQUE failed\nDETAIL x")
    )
    line = database_error_line(err)
    assert line == "database error: UNIQUE failed (Exception)"


def test_text_that_is_not_utf8_is_refused_in_one_line(cli: Cli) -> None:
    """Bytes a terminal passes that are not UTF-8 reach argv as lone surrogates."""
    code, out = cli_add_user(cli.run, "qa7", "Bad \udcff byte", ["qa"])
    assert code == 1 and "not valid UTF-8" in out
    out = cli("project", "start", "P-7", "--process", "fuzz", "--customer", "Acme \udcfe",
              "--by", "pm1", *TEAM, code=1)  # fmt: skip
    assert "not valid UTF-8" in out
    assert json.loads(cli("project", "list", "--json")) == []


def test_export_to_a_missing_folder_is_one_line(cli: Cli, tmp_path: Path) -> None:
    cli("project", "start", "P-8", "--process", "fuzz", "--customer", "Acme", "--by", "pm1",
        *TEAM)  # fmt: skip
    target = tmp_path / "missing" / "x.csv"
    out = cli("audit", "export", "P-8", "--out", str(target), code=1)
    assert "cannot write" in out and "No such file or directory" in out
    assert not target.parent.exists()
