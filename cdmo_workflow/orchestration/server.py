"""An embedded Prefect server: ``prefect server start`` as a subprocess, SQLite in PREFECT_HOME."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except Exception:
        return False


def server_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)  # the server must not talk to another server
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.setdefault("PREFECT_UI_ENABLED", "true")
    env.update(extra or {})
    return env


def stop_group(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop a child started with ``start_new_session=True`` and everything in its group:
    SIGTERM to the group, then SIGKILL to the group after ``grace`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        proc.poll()
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group's other members, too
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


class PrefectServer:
    """``with PrefectServer(home, port) as srv: srv.api_url`` — stops the server on exit."""

    def __init__(
        self,
        home: Path,
        port: int,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = Path(home)
        self.port = port
        self.host = host
        self.log_file = log_file or self.home / "server.log"
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def pid_file(self) -> Path:
        """``<home>/server.pid`` while the server runs: the leader of its process group."""
        return self.home / "server.pid"

    def _env(self) -> dict[str, str]:
        env = server_env(self.home, self.extra_env)
        # The UI calls the API at PREFECT_UI_API_URL, which Prefect otherwise derives from
        # PREFECT_SERVER_API_PORT (4200), not from `--port`: with another port the UI failed.
        if not (env.get("PREFECT_UI_API_URL") or env.get("PREFECT_SERVER_UI_API_URL")):
            env["PREFECT_UI_API_URL"] = self.api_url
        return env

    def start(self, wait: float = 90.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if port_in_use(self.port, self.host):
            raise RuntimeError(f"port {self.port} is already in use (choose another with --port)")
        prefect = Path(sys.executable).with_name("prefect")
        cmd = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
        cmd += ["server", "start", "--host", self.host, "--port", str(self.port)]
        log = open(self.log_file, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            cmd,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it ourselves
        )
        log.close()
        self.pid_file.write_text(str(self.proc.pid))  # tests stop a server its parent left
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the Prefect server exited with {self.proc.returncode}; see {self.log_file}"
                )
            if healthy(self.api_url, timeout=1.0):
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the Prefect server did not answer within {wait:.0f}s")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the server's process group, then SIGKILL after ``grace`` seconds."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                stop_group(proc, grace)
        finally:
            with contextlib.suppress(OSError):
                self.pid_file.unlink()

    def __enter__(self) -> PrefectServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
