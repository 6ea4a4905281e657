"""A real Prefect server and a real runner for the orchestration tests (no mocks).

One session: ``prefect server start`` on a free port with a temporary PREFECT_HOME, and
``cdmo serve`` (the runner serving every deployment) as a subprocess, both on one SQLite
project database. Each test uses fresh project codes. The test process talks to the server
through ``temporary_settings`` and plays both the UI (``resume_flow_run`` with the form's
input) and the CLI (service calls with the post-commit hook installed).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.prefect_support import drain_prefect_queues, wait_for

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
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
    "qa3": ("Dr. Quasi Third", ["qa"]),
    "ra1": ("Rae Regulatory", ["ra"]),
    "admin1": ("Ada Admin", ["admin"]),
}
MINI_TEAM = {"pm": ["pm1"], "qa": ["qa1", "qa2", "qa3"], "customer": ["cust1"]}
API_TEAM = {
    "pm": ["pm1"],
    "customer": ["cust1"],
    "site-head": ["site1"],
    "pd": ["pd1"],
    "qc": ["qc1"],
    "mfg": ["mfg1"],
    "qa": ["qa1", "qa2"],
    "ra": ["ra1"],
}


def _combined_definitions(dest: Path) -> Path:
    for kind in ("definitions", "gates"):
        (dest / kind).mkdir(parents=True)
        for src in (ROOT / kind, HERE / "definitions" / kind):
            for f in src.glob("*.yaml"):
                shutil.copy(f, dest / kind / f.name)
    return dest


def children_of(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return [int(x) for x in out.split()]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Runner:
    """``cdmo serve`` in a subprocess (the runner serving all deployments)."""

    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, api_url: str, *extra: str) -> None:
        cdmo = Path(sys.executable).with_name("cdmo")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(cdmo), "serve", "--poll", "1", *extra],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cdmo serve exited: {self.log.read_text()[-3000:]}")
            if b"Serving" in self.log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError("cdmo serve did not start")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL the runner and its children: nothing may rely on a live process."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill()
        self.proc = None


@dataclass
class Orchestra:
    api_url: str
    db_url: str
    definitions: Path
    runner: Runner
    _ctx: Any = None
    _plain: Any = None
    codes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ service side

    def ctx(self) -> Any:
        """A service context with the post-commit hook, as the CLI gets it."""
        if self._ctx is None:
            from cdmo_workflow import service
            from cdmo_workflow.orchestration.hooks import PrefectHook

            ctx = service.open_context(db_url=self.db_url, definitions=self.definitions)
            ctx.after_commit.append(PrefectHook(ctx, api_url=self.api_url))
            self._ctx = ctx
        return self._ctx

    def plain(self) -> Any:
        """A service context without hooks (commands made while Prefect is not told)."""
        if self._plain is None:
            from cdmo_workflow import service

            self._plain = service.open_context(db_url=self.db_url, definitions=self.definitions)
        return self._plain

    def new_code(self, prefix: str = "T") -> str:
        code = f"{prefix}-{secrets.token_hex(3).upper()}"
        self.codes.append(code)
        return code

    def status(self, code: str) -> dict[str, Any]:
        from cdmo_workflow import service

        return service.project_status(self.plain(), code)

    def gate(self, code: str, gate: str) -> dict[str, Any]:
        return next(g for g in self.status(code)["gates"] if g["id"] == gate)

    def last_seq(self, code: str) -> int:
        from cdmo_workflow.orchestration.reads import last_seq

        return last_seq(self.plain(), code)

    # ------------------------------------------------------------------ Prefect side

    def client(self) -> Any:
        from prefect import get_client

        return get_client(sync_client=True)

    def gate_runs(self, code: str, gate: str | None = None, waiting_only: bool = False) -> list:
        from cdmo_workflow.orchestration.runs import gate_runs

        with self.client() as c:
            return gate_runs(c, code, gate, waiting_only=waiting_only)

    def wait_waiting(self, code: str, gate: str, timeout: float = 60) -> Any:
        """The gate's run once it waits for the *current* database state, with its form
        stored (Prefect takes the form's schema and description only after the run has
        entered Paused, so a run can be seen waiting a moment before its form is there)."""
        review = self.gate(code, gate)["review"]

        def form_stored(run: Any) -> bool:
            prefix = f"suspended-{run.state.state_details.pause_key}-"
            with self.client() as c:
                items = c.filter_flow_run_input(
                    flow_run_id=run.id, key_prefix=prefix, limit=10, exclude_keys=set()
                )
            return {prefix + "schema", prefix + "description"} <= {i.key for i in items}

        def ready() -> Any:
            base = f"{gate}-{review}-{self.last_seq(code)}"
            for run in self.gate_runs(code, gate, waiting_only=True):
                key = str(run.state.state_details.pause_key or "")
                if (key == base or key.startswith(base + "-")) and form_stored(run):
                    return run
            return None

        return wait_for(ready, timeout, f"{code}/{gate} review {review} waiting")

    def description(self, run: Any) -> str:
        import json

        key = f"suspended-{run.state.state_details.pause_key}-description"
        with self.client() as c:
            return str(json.loads(c.read_flow_run_input(run.id, key)))

    def schema(self, run: Any) -> dict[str, Any]:
        import json

        key = f"suspended-{run.state.state_details.pause_key}-schema"
        with self.client() as c:
            return dict(json.loads(c.read_flow_run_input(run.id, key)))

    def sign_ui(
        self,
        code: str,
        gate: str,
        user: str,
        role: str,
        decision: str = "go",
        *,
        password: str = PASSWORD,
        meaning: str = "approval",
        conditions: list[str] | None = None,
        comment: str = "",
        expect_change: bool = True,
    ) -> Any:
        """What the UI does: wait for the run, then resume it with the form's values."""
        from prefect.flow_runs import resume_flow_run

        run = self.wait_waiting(code, gate)
        before = self.last_seq(code)
        resume_flow_run(
            run.id,
            run_input={
                "user": user,
                "role": role,
                "decision": decision,
                "meaning": meaning,
                "comment": comment,
                "conditions": conditions or [],
                "password": password,
            },
        )
        if expect_change:
            wait_for(lambda: self.last_seq(code) > before, 60, f"{user} signing {gate}")
        return run


def run_action_form(
    deployment: str,
    parameters: dict[str, Any],
    choose: dict[str, str],
    fields: dict[str, Any],
    timeout: float = 90,
) -> Any:
    """Start an action deployment, wait for its form, fill it as the UI does, return the end.

    ``choose`` maps a select to a substring of the option to pick (e.g. ``"[spec,"``); the
    other ``fields`` are sent as typed. Returns the finished flow run.
    """
    import json

    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    fr = run_deployment(deployment, parameters=parameters, timeout=0)

    def waiting() -> Any:
        with get_client(sync_client=True) as c:
            run = c.read_flow_run(fr.id)
            if run.state is not None and run.state.is_final():
                return run
            if run.state is None or not run.state.is_paused():
                return None
            keyset = run.state.state_details.run_input_keyset or {}
            try:
                return run, json.loads(c.read_flow_run_input(run.id, keyset["schema"]))
            except Exception:
                return None

    got = wait_for(waiting, timeout, f"{deployment} waiting for its form")
    if not isinstance(got, tuple):
        return got  # ended before asking (refused at once)
    run, schema = got
    values = dict(fields)
    for name, part in choose.items():
        options = schema["properties"][name]["enum"]
        values[name] = next(o for o in options if part in o)
    resume_flow_run(run.id, run_input=values)

    def finished() -> Any:
        with get_client(sync_client=True) as c:
            r = c.read_flow_run(fr.id)
            return r if r.state is not None and r.state.is_final() else None

    return wait_for(finished, timeout, f"{deployment} finished")


@pytest.fixture(scope="session")
def orchestra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestra]:
    from cdmo_workflow.orchestration.server import PrefectServer, free_port

    base = tmp_path_factory.mktemp("orchestra")
    defs = _combined_definitions(base / "defs")
    db_url = f"sqlite:///{base / 'cdmo.db'}"
    server = PrefectServer(base / "prefect", free_port())
    server.start()
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_API_URL": server.api_url,
            "PREFECT_HOME": str(base / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "CDMO_DATABASE_URL": db_url,
            "CDMO_DEFINITIONS": str(defs),
            "CDMO_PREFECT_HOOKS": "1",
        }
    )
    runner = Runner(env=env, log=base / "runner.log")
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            from cdmo_workflow import service

            plain = service.open_context(db_url=db_url, definitions=defs)
            plain.db.migrate()
            for uid, (name, roles) in USERS.items():
                service.provision_user(plain, uid, name, roles, PASSWORD)
            runner.start(server.api_url)
            orch = Orchestra(server.api_url, db_url, defs, runner)
            yield orch
    finally:
        drain_prefect_queues()
        runner.stop()
        server.stop()
        from cdmo_workflow.store import dispose_engines

        dispose_engines(db_url)


def submit_all(orch: Orchestra, code: str, phase: str, ctx: Any | None = None) -> None:
    """Submit every required deliverable of ``phase`` and confirm its gate's checks."""
    from cdmo_workflow import service

    ctx = ctx or orch.ctx()
    project = service.load_project(ctx, code)
    pdef = project.phase_def(phase)
    gdef = project.snapshot.gates[pdef.gate]
    for d in pdef.deliverables:
        if d.required:
            by = project.team[d.owner][0]
            service.submit_deliverable(
                ctx, code, phase, d.id, by, f"DMS-{phase}-{d.id}", password=PASSWORD
            )
    for c in gdef.checks:
        by = project.team[c.confirmed_by][0]
        service.confirm_check(
            ctx, code, gdef.id, c.id, by, f"DMS-{gdef.id}-{c.id}", password=PASSWORD
        )


def open_mini(orch: Orchestra, prefix: str, ctx: Any | None = None) -> str:
    """A new mini-programme project whose design phase is done: its first gate is open."""
    from cdmo_workflow import service

    ctx = ctx or orch.ctx()
    code = orch.new_code(prefix)
    service.start_project(
        ctx, code, "mini-programme", "Helix Bio", MINI_TEAM, by="pm1", password=PASSWORD
    )
    submit_all(orch, code, "design", ctx)
    return code
