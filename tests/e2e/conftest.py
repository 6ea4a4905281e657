"""End-to-end: `cdmo up` as the README starts it, driven from headless Chromium (Playwright).

One session: ``cdmo up --port <free> --home <tmp> --db sqlite:///<tmp>/cdmo.db --poll 1`` as a
subprocess (the Prefect server and UI, the served deployments, the demo project DEMO-001),
a local HTTP receiver that the demo signers' ``json://`` notification targets point to, and
Debian's Chromium (``/usr/bin/chromium``, or ``CDMO_E2E_CHROMIUM``) under Playwright. Nothing
is mocked; the test process reads the project database and the Prefect API to check what the
browser did. Chromium or playwright missing is a failure, never a skip: run
``bash .ci/install-browser.sh``.

Screenshots go to the test's tmp dir, or to ``CDMO_E2E_SCREENSHOTS`` when set (``docs/images``
refreshes the pictures in the documentation).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.notify.receivers import JsonReceiver
from tests.prefect_support import drain_prefect_queues, kill_server_left, stop_group, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CDMO_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
DEMO = "DEMO-001"
DEMO_PASSWORD = "demo-password-123"
UI_TIMEOUT_MS = 45_000  # every Playwright wait (selectors, navigation)
FLOW_TIMEOUT = 90.0  # seconds for a run to react to an input (runner poll is 1 s)


@dataclass
class CdmoUp:
    """The running main job and what the tests read back from it."""

    url: str
    api_url: str
    db_url: str
    home: Path
    log: Path
    proc: subprocess.Popen[bytes]
    receiver: JsonReceiver
    shots: Path
    _ctx: Any = None
    _hooked: Any = None
    codes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ project database

    def ctx(self) -> Any:
        """A plain service context on the project database (reads, no Prefect hook)."""
        if self._ctx is None:
            from cdmo_workflow import service

            self._ctx = service.open_context(db_url=self.db_url, definitions=ROOT)
        return self._ctx

    def hooked(self) -> Any:
        """A context whose commits update Prefect, as `cdmo` commands from the CLI do."""
        if self._hooked is None:
            from cdmo_workflow import service
            from cdmo_workflow.orchestration.hooks import PrefectHook

            ctx = service.open_context(db_url=self.db_url, definitions=ROOT)
            ctx.after_commit.append(PrefectHook(ctx, api_url=self.api_url))
            self._hooked = ctx
        return self._hooked

    def status(self, code: str = DEMO) -> dict[str, Any]:
        from cdmo_workflow import service

        return service.project_status(self.ctx(), code)

    def gate(self, gate: str, code: str = DEMO) -> dict[str, Any]:
        return next(g for g in self.status(code)["gates"] if g["id"] == gate)

    def phase(self, phase: str, code: str = DEMO) -> dict[str, Any]:
        return next(p for p in self.status(code)["phases"] if p["id"] == phase)

    def audit(self, code: str = DEMO) -> list[dict[str, Any]]:
        from cdmo_workflow import service

        return list(json.loads(service.export_audit(self.ctx(), code, "json")))

    def last_seq(self, code: str = DEMO) -> int:
        from cdmo_workflow.orchestration.reads import last_seq

        return last_seq(self.ctx(), code)

    # ------------------------------------------------------------------ Prefect API

    def client(self) -> Any:
        from prefect import get_client

        return get_client(sync_client=True)

    def gate_runs(self, gate: str, code: str = DEMO, waiting_only: bool = False) -> list[Any]:
        from cdmo_workflow.orchestration.runs import gate_runs

        with self.client() as c:
            return list(gate_runs(c, code, gate, waiting_only=waiting_only))

    def waiting_run(self, gate: str, code: str = DEMO, timeout: float = FLOW_TIMEOUT) -> Any:
        """The gate's run once it waits for the *current* database state."""

        def ready() -> Any:
            review = self.gate(gate, code)["review"]
            base = f"{gate}-{review}-{self.last_seq(code)}"
            for run in self.gate_runs(gate, code, waiting_only=True):
                key = str(run.state.state_details.pause_key or "")
                if key == base or key.startswith(base + "-"):
                    return run
            return None

        return wait_for(ready, timeout, f"{code}/{gate} waiting for the current state")

    def run_input(self, run: Any, suffix: str) -> Any:
        key = f"suspended-{run.state.state_details.pause_key}-{suffix}"
        with self.client() as c:
            return json.loads(c.read_flow_run_input(run.id, key))

    def description(self, run: Any) -> str:
        return str(self.run_input(run, "description"))

    def schema(self, run: Any) -> dict[str, Any]:
        return dict(self.run_input(run, "schema"))

    def flow_run(self, run_id: Any) -> Any:
        with self.client() as c:
            return c.read_flow_run(run_id)


def _require_browser() -> None:
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is required for the end-to-end tests and is missing at {CHROMIUM}: "
            "run `bash .ci/install-browser.sh` (Debian's chromium package; never "
            "`playwright install`), or point CDMO_E2E_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(
            "the Python package playwright is required for the end-to-end tests: "
            "`pip install -e '.[dev]'` or `bash .ci/install-browser.sh`",
            pytrace=False,
        )


def _start_up(tmp: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    env = dict(os.environ)
    for k in ("PREFECT_API_URL", "CDMO_DATABASE_URL", "PREFECT_HOME", "PREFECT_UI_API_URL"):
        env.pop(k, None)
    env["CDMO_DEFINITIONS"] = str(ROOT)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    home = tmp / "home"
    db_url = f"sqlite:///{home / 'cdmo.db'}"
    log = tmp / "cdmo-up.log"
    cdmo = str(Path(sys.executable).with_name("cdmo"))
    cmd = [cdmo, "up", "--port", str(port), "--home", str(home), "--db", db_url, "--poll", "1"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    wait_for(lambda: proc.poll() is not None or b"Press Ctrl-C" in log.read_bytes(), 180, "cdmo up")
    if proc.poll() is not None:
        pytest.fail(f"cdmo up exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
    return proc, log


def _stop_up(proc: subprocess.Popen[bytes], home: Path | None = None) -> None:
    """SIGTERM to `cdmo up`'s process group, SIGKILL after 15 s; then its Prefect server's
    own group (started in a session of its own) if `cdmo up` could not stop it."""
    stop_group(proc, 15.0)
    if home is not None:
        kill_server_left(home / "prefect")


def _notify_demo_signers(db_url: str, url: str, users: list[str]) -> None:
    """Give the demo users (created by `cdmo up`) a json:// target, through the store API."""
    from cdmo_workflow import service

    ctx = service.open_context(db_url=db_url, definitions=ROOT)
    with ctx.db.unit_of_work() as uow:
        for user in users:
            uow.users.add_target(user, url)
        uow.commit()


@pytest.fixture(scope="package")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CdmoUp]:
    _require_browser()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from cdmo_workflow.orchestration.server import free_port, port_in_use

    tmp = tmp_path_factory.mktemp("e2e")
    port = free_port()
    receiver = JsonReceiver().start()
    proc, log = _start_up(tmp, port)
    shots = Path(os.environ.get("CDMO_E2E_SCREENSHOTS") or tmp / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    home = tmp / "home"
    state = CdmoUp(
        url, f"{url}/api", f"sqlite:///{home / 'cdmo.db'}", home, log, proc, receiver, shots
    )
    try:
        _notify_demo_signers(
            state.db_url, receiver.url(), ["demo-pm", "demo-customer", "demo-site-head"]
        )
        with temporary_settings(updates={PREFECT_API_URL: state.api_url}):
            yield state
    finally:
        drain_prefect_queues()
        _stop_up(proc, home)
        receiver.stop()
        from cdmo_workflow.store import dispose_engines

        dispose_engines(state.db_url)
        wait_for(lambda: not port_in_use(port), 30, "the UI port released")


# Package scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and Prefect's sync-compatible calls in later test packages would
# then return coroutines instead of running.
@pytest.fixture(scope="package")
def browser(up: CdmoUp) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, up: CdmoUp, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context per test (no saved UI preference: the default UI)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.set_default_navigation_timeout(UI_TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            with contextlib.suppress(Exception):
                pg.screenshot(path=str(up.shots / f"failure-{request.node.name}.png"))
                print(f"failure screenshot: {up.shots / f'failure-{request.node.name}.png'}")
                print(f"cdmo up log (tail):\n{up.log.read_text()[-3000:]}")
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep
