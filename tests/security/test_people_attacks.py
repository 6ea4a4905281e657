"""The people commands tried as an attacker would (issue #16), on SQLite and PostgreSQL:
someone else's --by, a missing or wrong credential, a session where a signature is due, a
replayed idempotency key with other arguments, over-long and markup-laden text, and a
delegation used after its end or after its revocation. Every refusal is one audit row."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import people_scenario as sc
from tests.accounts import set_password

OTHER = "qa2-own-password-9"
"""qa2's own password: qa2 is the insider who tries to act as someone else."""


@pytest.fixture
def bench(db_url: str, tmp_path: Path) -> sc.Cli:
    """TR-1 after its first gate: conditions C1 (closed, awaiting acceptance) and C2 (open)
    block the engineering run and the method transfer; mfg1 submitted the batch record."""
    sc.seed(db_url)
    set_password(db_url, "qa2", OTHER)
    cli = sc.Cli(db_url, tmp_path)
    cli("project", "start", sc.CODE, "--process", "transfer", "--customer", "Helix Bio",
        *[a for t in sc.TEAM for a in ("--team", t)], "--by", "pm1")  # fmt: skip
    sc.submit(cli, "fit", "fit-report", "mfg1", "FIT-7")
    sc.sign(cli, "fit-go", "pm1", "pm")
    sc.sign(cli, "fit-go", "qa1", "qa", "conditional-go",
            "--condition", "Close CAPA-17", "--condition-owner", "user:qc1",
            "--condition", "Update the FMEA", "--condition-owner", "role:mfg")  # fmt: skip
    cli("condition", "close", sc.CODE, "C1", "--by", "qc1", "--evidence", "CAPA-17-CLOSURE")
    sc.submit(cli, "engineering", "batch-record", "mfg1", "EBR-1")
    return cli


def _commands(today: str, end: str) -> list[tuple[str, str, list[str], str]]:
    """(action, actor, args, chain) of every people command, valid but for the credential."""
    code = sc.CODE
    return [
        ("team.add", "pm1", ["team", "add", code, "qa", "qa3", "--by", "pm1",
                             "--reason", "r"], code),
        ("team.replace", "pm1", ["team", "replace", code, "mfg", "mfg1", "mfg2", "--by", "pm1",
                                 "--reason", "r"], code),
        ("team.remove", "pm1", ["team", "remove", code, "qa", "qa2", "--by", "pm1",
                                "--reason", "r"], code),
        ("delegation.grant", "qa1", ["delegate", "--from", "qa1", "--to", "qa9", "--role", "qa",
                                     "--start", today, "--end", end, "--reason", "leave"],
         "_system"),
        ("delegation.revoke", "qa1", ["delegate", "revoke", "D1", "--by", "qa1",
                                      "--reason", "r"], "_system"),
        ("condition.accept", "qa1", ["condition", "accept", code, "C1", "--by", "qa1"], code),
        ("condition.reject", "qa1", ["condition", "reject", code, "C1", "--by", "qa1",
                                     "--reason", "r"], code),
        ("project.hold", "qa1", ["project", "hold", code, "--phase", "engineering",
                                 "--by", "qa1", "--reason", "r"], code),
        ("project.release", "qa1", ["project", "release", code, "H1", "--by", "qa1",
                                    "--meaning", "approval", "--reason", "r"], code),
        ("deliverable.carry", "mfg1", ["deliverable", "carry", code, "engineering",
                                       "batch-record", "--by", "mfg1", "--reason", "r"], code),
    ]  # fmt: skip


def _window() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return today.isoformat(), (today + timedelta(days=5)).isoformat()


def _count(cli: sc.Cli) -> int:
    return int(cli.sql("SELECT count(*) FROM audit_events")[0][0])


def test_no_credential_a_wrong_one_or_someone_elses_id_is_refused_once_each(
    bench: sc.Cli,
) -> None:
    cli = bench
    for action, actor, args, chain in _commands(*_window()):
        before = _count(cli)
        out = cli(*args, code=1, password="")
        assert "credential-required" in out or "password-required" in out, action
        out = cli(*args, code=1, password=sc.WRONG)
        assert "[rule: authentication-failed]" in out, action
        # qa2, an insider, names someone else with their own password
        out = cli(*args, code=1, password=OTHER)
        assert "[rule: authentication-failed]" in out and actor in out, action
        assert _count(cli) == before + 3, action  # exactly one audit row per refusal
        rows = cli.audit_rows(chain)[-3:]
        assert [r[1:3] for r in rows] == [(action, "refused")] * 3, (action, rows)
        failed = cli.sql("SELECT failed_attempts FROM users WHERE user_id = :u", u=actor)[0][0]
        assert failed >= 2, action  # both wrong passwords count towards the actor's lockout
        cli.sql("UPDATE users SET failed_attempts = 0")


def test_a_quality_release_is_a_signature_a_session_is_not_enough(bench: sc.Cli) -> None:
    cli = bench
    cli("project", "hold", sc.CODE, "--by", "qa1", "--reason", "audit finding AF-2")
    cli("login", "qa1")
    out = cli.refused("password-required", "project", "release", sc.CODE, "H1", "--by", "qa1",
                      "--meaning", "approval", "--reason", "answered", password="")  # fmt: skip
    assert "session is not enough" in out
    cli("project", "release", sc.CODE, "H1", "--by", "qa1", "--meaning", "approval",
        "--reason", "answered")  # fmt: skip


def test_a_replayed_idempotency_key_with_other_arguments_is_refused(bench: sc.Cli) -> None:
    cli = bench
    today, end = _window()
    pairs = [
        (["team", "add", sc.CODE, "qa", "qa3", "--by", "pm1", "--reason", "r"],
         ["team", "add", sc.CODE, "mfg", "mfg2", "--by", "pm1", "--reason", "r"], sc.CODE),
        (["delegate", "--from", "qa1", "--to", "qa9", "--role", "qa", "--start", today,
          "--end", end, "--reason", "leave"],
         ["delegate", "--from", "qa1", "--to", "qa3", "--role", "qa", "--start", today,
          "--end", end, "--reason", "leave"], "_system"),
        (["condition", "accept", sc.CODE, "C1", "--by", "qa1"],
         ["condition", "accept", sc.CODE, "C1", "--by", "qa1", "--comment", "other"], sc.CODE),
        (["deliverable", "submit", sc.CODE, "engineering", "run-report", "--by", "mfg1",
          "--evidence", "ERR-1"],
         ["deliverable", "submit", sc.CODE, "engineering", "run-report", "--by", "mfg1",
          "--evidence", "ERR-2"], sc.CODE),
    ]  # fmt: skip
    for i, (first, other, chain) in enumerate(pairs):
        key = ["--idempotency-key", f"key-{i}"]
        cli(*first, *key)
        again = cli(*first, *key)
        assert "already applied" in again or '"replayed": true' in again
        cli.refused("idempotency-key-reused", *other, *key, chain=chain)
    cli("project", "hold", sc.CODE, "--by", "qa1", "--reason", "AF-2")
    release = ["project", "release", sc.CODE, "H1", "--by", "qa1", "--meaning", "approval"]
    cli(*release, "--reason", "answered", "--idempotency-key", "rel")
    cli.refused("idempotency-key-reused", *release[:-1], "review", "--reason", "answered",
                "--idempotency-key", "rel")  # fmt: skip


def test_over_long_and_markup_laden_text(bench: sc.Cli) -> None:
    cli = bench
    today, end = _window()
    long = "x" * 2001
    cli.refused("field-too-long", "team", "add", sc.CODE, "qa", "qa3", "--by", "pm1",
                "--reason", long)  # fmt: skip
    cli.refused("field-too-long", "delegate", "--from", "qa1", "--to", "qa9", "--role", "qa",
                "--start", today, "--end", end, "--reason", long, chain="_system")  # fmt: skip
    cli.refused("field-too-long", "condition", "reject", sc.CODE, "C1", "--by", "qa1",
                "--reason", long)  # fmt: skip
    cli.refused("field-too-long", "condition", "accept", sc.CODE, "C1", "--by", "qa1",
                "--comment", long)  # fmt: skip
    cli.refused("invalid-identifier", "team", "add", sc.CODE, "qa", "qa3[bold]", "--by", "pm1",
                "--reason", "r")  # fmt: skip
    cli.refused("invalid-identifier", "project", "hold", sc.CODE, "--phase", "../x", "--by",
                "qa1", "--reason", "r")  # fmt: skip
    cli.refused("invalid-identifier", "delegate", "revoke", "D1;DROP", "--by", "qa1",
                "--reason", "r", chain="_system")  # fmt: skip
    markup = "[bold red]blocked[/] <script>alert(1)</script> \x1b[2J"
    cli("condition", "reject", sc.CODE, "C1", "--by", "qa1", "--reason", markup)
    cli("project", "hold", sc.CODE, "--phase", "methods", "--by", "qa1", "--reason", markup)
    text = " ".join(cli("project", "status", sc.CODE).split())  # unwrapped
    assert "[bold red]blocked[/]" in text and "<script>" in text  # shown as written
    assert "\x1b" not in text
    status = cli.status()
    assert status["conditions"][0]["rejections"][0]["reason"] == markup  # stored as given
    cli("delegate", "--from", "qa1", "--to", "qa9", "--role", "qa", "--start", today,
        "--end", end, "--reason", markup)  # fmt: skip
    listing = cli("delegate", "list")
    assert "\x1b" not in listing


def test_a_delegation_is_dead_after_its_end_and_after_its_revocation(bench: sc.Cli) -> None:
    cli = bench
    cli("condition", "accept", sc.CODE, "C1", "--by", "qa2", password=OTHER)
    cli("condition", "close", sc.CODE, "C2", "--by", "mfg1", "--evidence", "FMEA-4")
    cli("condition", "accept", sc.CODE, "C2", "--by", "qa1")
    sc.submit(cli, "methods", "transfer-report", "qc1", "AMT-3")
    # a delegation that ends a few seconds from now (server time)
    now = cli.sql("SELECT CURRENT_TIMESTAMP")[0][0]
    now = now if isinstance(now, datetime) else datetime.fromisoformat(str(now))
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    soon = (now + timedelta(seconds=3)).isoformat()
    cli("delegate", "--from", "qa1", "--to", "qa9", "--role", "qa", "--project", sc.CODE,
        "--start", now.isoformat(), "--end", soon, "--reason", "half a day")  # fmt: skip
    deadline = time.monotonic() + 30
    while cli.json("delegate", "list")["delegations"][-1]["status"] != "ended":
        assert time.monotonic() < deadline, "the delegation never ended"
        time.sleep(0.5)
    sign = ["gate", "sign", sc.CODE, "methods-go", "--by", "qa9", "--role", "qa",
            "--decision", "go", "--meaning", "approval", "--on-behalf-of", "qa1"]  # fmt: skip
    out = cli.refused("delegation-not-in-force", *sign)
    assert "ended at" in out
    # a new one, revoked by the delegate themselves: dead at once
    today, end = _window()
    cli("delegate", "--from", "qa1", "--to", "qa9", "--role", "qa", "--start", today,
        "--end", end, "--reason", "leave")  # fmt: skip
    cli("delegate", "revoke", "D2", "--by", "qa9", "--reason", "I am on leave myself")
    out = cli.refused("delegation-not-in-force", *sign)
    assert "revoked" in out
    # nobody else revokes someone's delegation; and an ended one is not revoked again
    cli("delegate", "--from", "qa1", "--to", "qa9", "--role", "qa", "--start", today,
        "--end", end, "--reason", "leave again")  # fmt: skip
    cli.refused("not-delegation-party", "delegate", "revoke", "D3", "--by", "qa2",
                "--reason", "mine now", password=OTHER, chain="_system")  # fmt: skip
    cli.refused("delegation-not-active", "delegate", "revoke", "D2", "--by", "qa1",
                "--reason", "again", chain="_system")  # fmt: skip
    # an administrator may revoke it (someone left), and cannot delegate to themselves
    cli("delegate", "revoke", "D3", "--by", "admin1", "--reason", "qa9 left the company")
    cli("users", "grant", "admin1", "qa", "--by", "admin1", code=1)  # never for themselves
    cli.refused("delegation-to-self", "delegate", "--from", "qa1", "--to", "qa1", "--role",
                "qa", "--start", today, "--end", end, "--reason", "x",
                chain="_system")  # fmt: skip


def test_the_issues_bad_input_each_refused_naming_the_rule(bench: sc.Cli) -> None:
    """A delegation to someone without the role, overlapping or backdated delegations, a team
    change by a non-manager, acceptance of a condition by its own owner, releasing a quality
    hold without the quality role: exit 1, the rule, one audit row (``Cli.refused``)."""
    cli = bench
    today, end = _window()
    args = ["--role", "qa", "--end", end, "--reason", "leave"]
    cli.refused("delegate-lacks-role", "delegate", "--from", "qa1", "--to", "mfg1",
                "--start", today, *args, chain="_system")  # fmt: skip
    cli("delegate", "--from", "qa1", "--to", "qa9", "--start", today, *args)
    cli.refused("delegation-overlap", "delegate", "--from", "qa1", "--to", "qa3",
                "--start", today, *args, chain="_system")  # fmt: skip
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    cli.refused("delegation-backdated", "delegate", "--from", "qa2", "--to", "qa3",
                "--start", yesterday, *args, password=OTHER, chain="_system")  # fmt: skip
    cli.refused("not-project-manager", "team", "add", sc.CODE, "qa", "qa3", "--by", "mfg1",
                "--reason", "me")  # fmt: skip
    cli.refused("own-closure", "condition", "accept", sc.CODE, "C1", "--by", "qc1")
    cli("project", "hold", sc.CODE, "--by", "qa1", "--reason", "AF-2")
    cli.refused("not-quality-role", "project", "release", sc.CODE, "H1", "--by", "pm1",
                "--meaning", "approval", "--reason", "r")  # fmt: skip
    cli.refused("quality-hold", "project", "resume", sc.CODE, "--by", "pm1", "--reason", "r")
