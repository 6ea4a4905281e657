"""The budget commands and `users tz`, tried as an attacker would (SQLite and PostgreSQL):
missing and wrong credentials, someone else's --by, a role the actor lacks, a replayed
idempotency key, over-long and markup-laden text, a formula in a CSV note, and tampering with
the cost table behind the engine. Every refusal leaves exactly one audit row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.accounts import enrol_cli

from .conftest import PASSWORD, WRONG, Site

DEFS = Path(__file__).resolve().parents[1] / "fixtures" / "budget"
USERS = {
    "admin1": ("Ada Admin", ["admin"]),
    "pm1": ("Paula Manager", ["pm"]),
    "fin1": ("Fiona Controller", ["fin"]),
    "qa1": ("Dr. Quentin Assurance", ["qa"]),
    "mfg1": ("Mia Production", ["mfg"]),
    "cust1": ("Carl Sponsor", ["customer"]),
    "mallory": ("Mallory Intruder", ["pm"]),
}
TEAM = [
    "--team", "pm=pm1", "--team", "fin=fin1", "--team", "qa=qa1", "--team", "mfg=mfg1",
    "--team", "customer=cust1",
]  # fmt: skip


@pytest.fixture
def money(db_url: str, tmp_path: Path) -> Iterator[Site]:
    site = Site(db_url, tmp_path)
    site.env["CDMO_DEFINITIONS"] = str(DEFS)
    site.receiver = enrol_cli(site, USERS, PASSWORD)
    site("project", "start", "MON-1", "--process", "costed", "--customer", "Acme", *TEAM,
         "--by", "pm1", password=PASSWORD)  # fmt: skip
    site("budget", "set", "MON-1", "build", "--quoted", "1000", "--by", "pm1", password=PASSWORD)
    (tmp_path / "costs.csv").write_text("phase,kind,amount,ref\nbuild,actual,5,INV-7\n")
    try:
        yield site
    finally:
        site.receiver.stop()


def commands(tmp: Path) -> list[tuple[str, str, list[str]]]:
    """(action, chain, argv) of every new command, valid apart from the credential."""
    return [
        ("budget.set-quote", "MON-1",
         ["budget", "set", "MON-1", "release", "--quoted", "10", "--by", "pm1"]),
        ("cost.add", "MON-1",
         ["cost", "add", "MON-1", "build", "--amount", "1", "--kind", "actual", "--ref", "R-1",
          "--by", "fin1"]),
        ("cost.import", "MON-1",
         ["cost", "import", "MON-1", str(tmp / "costs.csv"), "--by", "pm1"]),
        ("user.set-timezone", "_system", ["users", "tz", "qa1", "Europe/Zurich"]),
    ]  # fmt: skip


def _actor(args: list[str]) -> str:
    return args[args.index("--by") + 1] if "--by" in args else args[2]


def test_every_new_command_refuses_a_missing_or_wrong_credential(
    money: Site, tmp_path: Path
) -> None:
    site = money
    for action, chain, args in commands(tmp_path):
        actor = _actor(args)
        before = site.sql("SELECT count(*) FROM audit_events")[0][0]
        out = site(*args, code=1)
        assert "credential-required" in out and actor in out, action
        out = site(*args, password=WRONG, code=1)
        assert "authentication-failed" in out, action
        assert site.sql("SELECT count(*) FROM audit_events")[0][0] == before + 2, action
        assert [r[1:3] for r in site.audit(chain)[-2:]] == [(action, "refused")] * 2, action
        site.sql("UPDATE users SET failed_attempts = 0")
    assert site.sql("SELECT count(*) FROM cost_entries")[0][0] == 0
    status = site.status("MON-1")["budget"]
    assert status["total"]["spent"] == "0.00" and status["phases"][1]["quoted"] is None


def test_someone_elses_by_and_a_role_the_actor_lacks(money: Site, tmp_path: Path) -> None:
    site = money
    # Mallory names the project manager and types her own password: not pm1's credential.
    out = site("budget", "set", "MON-1", "release", "--quoted", "1", "--by", "pm1",
               password="mallory-guess-1", code=1)  # fmt: skip
    assert "authentication-failed" in out and "pm1" in out
    # Signed in as herself, she holds pm globally but no role on MON-1.
    out = site("budget", "set", "MON-1", "release", "--quoted", "1", "--by", "mallory",
               password=PASSWORD, code=1)  # fmt: skip
    assert "not-assigned-to-role" in out and "mallory" in out
    # The finance controller records costs but never quotes; QA does neither.
    out = site("budget", "set", "MON-1", "release", "--quoted", "1", "--by", "fin1",
               password=PASSWORD, code=1)  # fmt: skip
    assert "not-assigned-to-role" in out and "fin1" in out
    out = site("cost", "add", "MON-1", "build", "--amount", "1", "--kind", "actual",
               "--ref", "R-9", "--by", "qa1", password=PASSWORD, code=1)  # fmt: skip
    assert "may not record a cost on project MON-1" in out and "'pm' or 'fin'" in out
    out = site("cost", "import", "MON-1", str(tmp_path / "costs.csv"), "--by", "mfg1",
               password=PASSWORD, code=1)  # fmt: skip
    assert "not-assigned-to-role" in out
    # The first quote cannot be changed by anyone without a change request.
    out = site("budget", "set", "MON-1", "build", "--quoted", "2000", "--by", "pm1",
               password=PASSWORD, code=1)  # fmt: skip
    assert "quote-locked" in out
    # Only the user sets their own time zone.
    out = site("users", "tz", "qa1", "Pacific/Kiritimati", "--by", "mallory",
               password=PASSWORD, code=1)  # fmt: skip
    assert "not-own-account" in out
    assert site.audit()[-1] == ("mallory", "user.set-timezone", "refused", "not-own-account")
    out = site("users", "tz", "qa1", "Mars/Olympus", password=PASSWORD, code=1)
    assert "unknown-time-zone" in out and "Mars/Olympus" in out
    rows = [r[1:] for r in site.audit("MON-1")[-6:]]
    assert rows == [
        ("budget.set-quote", "refused", "authentication-failed"),
        ("budget.set-quote", "refused", "not-assigned-to-role"),
        ("budget.set-quote", "refused", "not-assigned-to-role"),
        ("cost.add", "refused", "not-assigned-to-role"),
        ("cost.import", "refused", "not-assigned-to-role"),
        ("budget.set-quote", "refused", "quote-locked"),
    ]
    assert site.sql("SELECT count(*) FROM cost_entries")[0][0] == 0
    zone = site.sql("SELECT time_zone FROM users WHERE user_id = 'qa1'")[0][0]
    assert zone is None
    site("users", "tz", "qa1", "Europe/Zurich", password=PASSWORD)
    assert site.sql("SELECT time_zone FROM users WHERE user_id = 'qa1'")[0][0] == "Europe/Zurich"


def test_a_replayed_idempotency_key(money: Site) -> None:
    site = money
    args = ["cost", "add", "MON-1", "build", "--amount", "10", "--kind", "committed",
            "--ref", "PO-1", "--by", "pm1", "--idempotency-key", "k-1"]  # fmt: skip
    site(*args, password=PASSWORD)
    out = site(*args, password=PASSWORD)
    assert "already applied" in out
    assert site.sql("SELECT count(*) FROM cost_entries")[0][0] == 1
    other = [a if a != "10" else "99999" for a in args]
    out = site(*other, password=PASSWORD, code=1)
    assert "idempotency-key-reused" in out
    assert site.status("MON-1")["budget"]["total"]["committed"] == "10.00"


def test_long_markup_and_formula_text(money: Site, tmp_path: Path) -> None:
    site = money
    for flag, value, rule in [
        ("--note", "n" * 501, "field-too-long"),
        ("--ref", "r" * 65, "field-too-long"),
        ("--ref", "\x1b[2J;x", "invalid-identifier"),
        ("--ref", "=cmd|' /C calc'!A0", "invalid-identifier"),
    ]:
        base = {"--ref": "R-1", "--note": "ok"}
        base[flag] = value
        out = site("cost", "add", "MON-1", "build", "--amount", "1", "--kind", "actual",
                   "--ref", base["--ref"], "--note", base["--note"], "--by", "pm1",
                   password=PASSWORD, code=1)  # fmt: skip
        assert rule in out and "\x1b" not in out
        if rule == "field-too-long":
            assert value not in out  # a too-long value is never echoed
    # Markup and escapes in a note are stored as given and printed harmlessly.
    note = "[bold red]URGENT[/] \x1b[31mpay now\u202e"
    site("cost", "add", "MON-1", "build", "--amount", "1", "--kind", "actual",
         "--ref", "R-2", "--note", note, "--by", "pm1", password=PASSWORD)  # fmt: skip
    table = site("cost", "list", "MON-1", env={"COLUMNS": "250"})
    assert "[bold red]URGENT[/]" in table and "\x1b" not in table and "\u202e" not in table
    # A formula in an imported note never reaches a spreadsheet as a formula.
    bad = tmp_path / "formula.csv"
    bad.write_text('phase,kind,amount,ref,note\nbuild,actual,2,R-3,"=HYPERLINK(""http://x"")"\n'
                   "build,actual,3,R-4," + "x" * 501 + "\n")  # fmt: skip
    out = site("cost", "import", "MON-1", str(bad), "--by", "pm1", password=PASSWORD, code=1)
    assert "formula.csv:3:5: note: cost note is 501 characters long" in out
    bad.write_text('phase,kind,amount,ref,note\nbuild,actual,2,R-3,"=HYPERLINK(""http://x"")"\n')
    site("cost", "import", "MON-1", str(bad), "--by", "pm1", password=PASSWORD)
    listing = site("cost", "list", "MON-1", "--format", "csv")
    assert "'=HYPERLINK" in listing and "\n=HYPERLINK" not in listing and ",=HYP" not in listing
    audit = site("audit", "export", "MON-1", "--format", "csv")
    assert ",=" not in audit and ',"=' not in audit


def test_the_cost_table_refuses_tampering(money: Site) -> None:
    site = money
    site("cost", "add", "MON-1", "build", "--amount", "100", "--kind", "actual",
         "--ref", "INV-1", "--by", "pm1", password=PASSWORD)  # fmt: skip
    for statement in (
        "UPDATE cost_entries SET amount = '1.00'",
        "DELETE FROM cost_entries",
    ):
        with pytest.raises(sa.exc.DBAPIError) as info:
            site.sql(statement)
        assert "append-only" in str(info.value)
    assert site.sql("SELECT amount FROM cost_entries")[0][0] == "100.00"
