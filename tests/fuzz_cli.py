"""Drive `cdmo` with hostile text (shared by tests/cli/test_fuzz_cli.py and bench/fuzz_cli.py).

One subprocess per scenario runs many `cdmo` commands in a row (``python -m tests.fuzz_cli``
reads them as JSON on stdin and runs each through the typer app, with the real stdout and
stderr pipes), so an example costs one interpreter start rather than one per command. After
each command it prints a marker line with the exit code on both streams.

What must hold for every command: no traceback, exit code 0, 1 or 2, no escape character or
bidirectional override on the terminal. After a scenario: ``audit verify`` is intact and a
refused ``project start`` or ``users add`` left nothing behind (no partial writes).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.accounts import user_add_args

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "tests" / "cli" / "defs"
PASSWORD = "fuzz-password-1"  # every fuzzed account's, and the site administrator's
MARK = "@@cdmo-fuzz"
FORBIDDEN_ON_TERMINAL = ("\x1b", "\x9b", "\u202e", "\u202d", "\u2066", "\u2067", "\u2068")

# Values a careless or hostile user types; hypothesis mixes them with random unicode.
NASTY = [
    "Bob [/bold] closing",
    "[/]",
    "[bold red]x[/bold red]",
    "[link=javascript:alert(1)]x[/link]",
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[H",
    "\x1b]0;title\x07",
    "\x9b31m",
    "abc\u202egnp.exe",
    "\u2066isolate\u2069",
    "'; DROP TABLE users; --",
    '" OR 1=1 --',
    "%s %(x)s {0} {x}",
    "\\",
    "back\\",
    '=HYPERLINK("http://x")',
    "<script>alert(1)</script>",
    "\r\n\t\x0b\x0c",
    "x" * 3000,
    "é" * 300,
    "😀" * 150,
    "",
    " ",
]

PROBES = [["project", "list", "--json"], ["users", "list", "--json"]]
"""Run after each scenario, in the same subprocess: what was written."""

DEFAULT_USERS = [
    ("pm1", "Pat Manager", "pm"),
    ("qa1", "Quinn One", "qa"),
    ("qa2", "Quinn Two", "qa"),
]


@dataclass
class Result:
    args: list[str]
    code: int
    out: str
    err: str


@dataclass
class Scenario:
    """Text for every free-text option of one run through the commands."""

    n: int
    name: str
    customer: str
    evidence: str
    reason: str
    comment: str
    condition: str
    code: str = ""
    user_id: str = ""
    url: str = "json://localhost:9/hook"
    results: list[Result] = field(default_factory=list)

    def commands(self) -> list[list[str]]:
        good = f"FZ-{self.n}"
        uid = f"u{self.n}"
        code = self.code or good
        team = ["--team", "pm=pm1", "--team", "qa=qa1", "--team", "qa=qa2"]
        return [
            [*user_add_args(uid, self.name, ["qa"])],
            [*user_add_args(self.user_id or f"v{self.n}", "V", ["qa"])],
            [*user_add_args(f"w{self.n}", "W", ["qa"], [self.url])],
            ["project", "start", code, "--process", "fuzz", "--customer", self.customer,
             "--by", "pm1", *team],
            ["project", "start", good, "--process", "fuzz", "--customer", self.customer,
             "--by", "pm1", *team],
            ["project", "start", f"{good}-B", "--process", "fuzz", "--customer", "Acme",
             "--by", "pm1", *team],
            ["deliverable", "submit", good, "work", "d1", "--by", "pm1", "--evidence",
             self.evidence],
            ["deliverable", "submit", f"{good}-B", "work", "d1", "--by", "pm1", "--evidence",
             "DMS-1"],
            ["gate", "sign", good, "work-go", "--by", "qa1", "--role", "qa", "--decision", "go",
             "--meaning", "approval", "--comment", self.comment],
            ["gate", "sign", f"{good}-B", "work-go", "--by", "qa2", "--role", "qa",
             "--decision", "conditional-go", "--meaning", "approval", "--comment", self.comment,
             "--condition", self.condition],
            ["project", "hold", good, "--by", "pm1", "--reason", self.reason],
            ["project", "resume", good, "--by", "pm1", "--reason", self.reason],
            ["condition", "close", f"{good}-B", "C1", "--by", "pm1", "--evidence", self.evidence],
            ["project", "status", good],
            ["project", "status", f"{good}-B"],
            ["project", "status", code],
            ["project", "list"],
            ["users", "list"],
            ["project", "forecast", good],
            ["audit", "verify"],
            *PROBES,
        ]  # fmt: skip


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CDMO_"))}
    # The audit state stays where the test's fixture put it (its tmp_path), never in ./.cdmo:
    # a second run would otherwise read the first run's checkpoints as a rewritten chain.
    for kept in ("CDMO_CHECKPOINT_DIR", "CDMO_AUDIT_KEY_FILE"):
        if kept in os.environ:
            env[kept] = os.environ[kept]
    env.update(
        CDMO_DATABASE_URL=db_url,
        CDMO_DEFINITIONS=str(DEFS),
        CDMO_PASSWORD=PASSWORD,
        COLUMNS="200",
        PYTHONIOENCODING="utf-8",
    )
    return env


def run_batch(db_url: str, commands: list[list[str]], timeout: float = 300) -> list[Result]:
    """Run ``commands`` in one `python -m tests.fuzz_cli` subprocess; one Result each."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_cli"],
        input=json.dumps(commands),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=_env(db_url),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    outs = _split(proc.stdout)
    errs = _split(proc.stderr)
    if proc.returncode != 0 or len(outs) != len(commands):
        raise AssertionError(
            f"driver failed ({proc.returncode}): {proc.stderr[-3000:]}\n{proc.stdout[-2000:]}"
        )
    return [
        Result(args, code, out, errs[i][1] if i < len(errs) else "")
        for i, (args, (code, out)) in enumerate(zip(commands, outs, strict=True))
    ]


def _split(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith(MARK):
            out.append((int(line.split()[-1]), "".join(buf)))
            buf = []
        else:
            buf.append(line)
    return out


def setup(db_url: str) -> None:
    """The users every scenario needs (ids and names without surprises)."""
    from cdmo_workflow import service
    from tests.accounts import ADMIN

    ctx = service.open_context(db_url=db_url)
    service.provision_user(ctx, ADMIN, "Site Admin", ["admin"], PASSWORD)
    for uid, name, role in DEFAULT_USERS:
        service.provision_user(ctx, uid, name, [role], PASSWORD)


def check(scenario: Scenario, results: list[Result]) -> list[str]:
    """Every broken expectation, as text (empty when the scenario behaved)."""
    problems: list[str] = []
    for r in results:
        shown = " ".join(a[:40] for a in r.args[:4])
        both = r.out + r.err
        if "Traceback" in both:
            problems.append(f"traceback in `cdmo {shown}`: {both[-1500:]}")
        if r.code not in (0, 1, 2):
            problems.append(f"exit {r.code} from `cdmo {shown}`: {both[-500:]}")
        for ch in FORBIDDEN_ON_TERMINAL:
            if ch in both:
                problems.append(f"{ch!r} reached the terminal in `cdmo {shown}`")
        if "[SQL" in both or "[parameters" in both or "scrypt" in both:
            problems.append(f"statement or parameters printed by `cdmo {shown}`: {both[-500:]}")
    *results, listed, listed_users = results
    verify = results[-1]
    if verify.code != 0 or "audit trail intact" not in verify.out:
        problems.append(f"audit verify: {verify.code} {verify.out} {verify.err}")
    # No partial writes: refused creations left nothing behind.
    projects = {p["code"] for p in json.loads(listed.out or "[]")}
    users = {u["user"] for u in json.loads(listed_users.out or "[]")}
    ours = {f"FZ-{scenario.n}", f"FZ-{scenario.n}-B"}
    for r in results:
        if r.code == 0:
            continue
        if r.args[:2] == ["project", "start"] and r.args[2] in projects - ours:
            problems.append(f"refused start left project {r.args[2]!r} behind")
        if r.args[:2] == ["users", "add"] and r.args[2] in users:
            problems.append(f"refused users add left user {r.args[2]!r} behind")
    good = f"FZ-{scenario.n}"
    start = next(r for r in results if r.args[:3] == ["project", "start", good])
    if (start.code == 0) != (good in projects):
        problems.append(f"project {good}: start exit {start.code} but listed={good in projects}")
    return problems


def new_database(backend: str, tmp: Path) -> tuple[str, Any]:
    """A fresh database URL and a function that drops it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'fuzz-{secrets.token_hex(4)}.db'}", lambda: None
    from tests.conftest import create_pg_database, drop_pg_database

    url = create_pg_database()
    return url, lambda: drop_pg_database(url)


def _driver() -> int:
    """``python -m tests.fuzz_cli``: run the JSON list of argv lists on stdin."""
    import traceback

    from cdmo_workflow.cli import app

    commands = json.loads(sys.stdin.read())
    for args in commands:
        code = 0
        try:
            app(args=args, prog_name="cdmo")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # the finding the fuzz test looks for
            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"\n{MARK} {code}", flush=True)
        print(f"\n{MARK} {code}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_driver())
