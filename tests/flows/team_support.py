"""Pieces of the team deployment test: network namespaces, a TCP forwarder, workers.

Each worker runs in its own network namespace (``ip netns`` with a veth pair), so it
reaches the Prefect server and PostgreSQL over a real address (``10.201.<n>.1``), not the
loopback. PostgreSQL listens on 127.0.0.1 only here, so a small forwarder in the test
process listens on 0.0.0.0 and relays to it. Without ``ip netns`` (not root), the workers
are two process groups with separate home directories on the loopback.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conftest import PASSWORD, USERS


def add_users(ctx: Any) -> None:
    """Create the test users (the one place to adapt when user creation needs an admin)."""
    from cdmo_workflow import service

    for uid, (name, roles) in USERS.items():
        service.provision_user(ctx, uid, name, roles, PASSWORD)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class NetNs:
    """A network namespace joined to the host by a veth pair: host 10.201.n.1, ns .2."""

    n: int
    name: str = ""
    host_ip: str = ""

    def create(self) -> None:
        tag = secrets.token_hex(2)
        self.name = f"cdmo{tag}{self.n}"
        self.host_ip = f"10.201.{self.n}.1"
        host, peer = f"vc{tag}{self.n}h", f"vc{tag}{self.n}p"
        _ip("netns", "add", self.name)
        _ip("link", "add", host, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/24", "dev", host)
        _ip("link", "set", host, "up")
        _ip("-n", self.name, "addr", "add", f"10.201.{self.n}.2/24", "dev", peer)
        _ip("-n", self.name, "link", "set", peer, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")
        self._host_if = host

    def delete(self) -> None:
        if self.name:
            with contextlib.suppress(Exception):
                _ip("netns", "del", self.name)
            with contextlib.suppress(Exception):
                _ip("link", "del", self._host_if)


def netns_available() -> bool:
    if os.geteuid() != 0:
        return False
    probe = f"cdmoprobe{secrets.token_hex(2)}"
    try:
        _ip("netns", "add", probe)
    except Exception:
        return False
    with contextlib.suppress(Exception):
        _ip("netns", "del", probe)
    return True


class Forwarder:
    """0.0.0.0:<port> → target (PostgreSQL on the loopback), one thread per connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@dataclass
class Worker:
    """``prefect worker start --pool <pool>`` in its own process group (and namespace)."""

    name: str
    env: dict[str, str]
    cwd: Path
    log: Path
    netns: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    rss: list[int] = field(default_factory=list)

    def start(self, pool: str) -> None:
        prefect = str(Path(sys.executable).with_name("prefect"))
        cmd = [prefect, "worker", "start", "--pool", pool, "--name", self.name]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def group(self) -> list[int]:
        """The worker and all its descendants (Prefect starts each flow run in a session of
        its own, so the process group alone would miss them)."""
        if self.proc is None:
            return []
        out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
        children: dict[int, list[int]] = {}
        for line in out.splitlines():
            pid, ppid = (int(x) for x in line.split())
            children.setdefault(ppid, []).append(pid)
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def processes_of(self, flow_run_id: Any) -> set[int]:
        """This worker's processes that execute that flow run (PREFECT__FLOW_RUN_ID)."""
        found = set()
        for pid in self.group():
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode() in environ:
                found.add(pid)
        return found

    def kill(self) -> None:
        """The machine dies: SIGKILL the worker and every process under it at once."""
        if self.proc is None:
            return
        for pid in self.group():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(10)
        self.proc = None

    def stop(self, grace: float = 3.0) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace)
        self.kill()


def wait_until(fn: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = fn()
        except Exception as exc:  # the server restarting
            last_exc, value = exc, None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error {last_exc})")
