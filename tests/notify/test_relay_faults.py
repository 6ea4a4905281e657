"""Crashes and concurrency with real processes: SIGKILL between send and commit; two relays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from cdmo_workflow.notify.relay import DEFAULT_LEASE_S, db_now, relay_once
from tests.notify.conftest import add_rows, add_user, outbox_state
from tests.notify.receivers import JsonReceiver
from tests.notify.test_relay import row

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def worker(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notify.relay_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_between_send_and_commit_gives_at_most_one_duplicate(
    db_url: str, engine: Engine, json_receiver: JsonReceiver, tmp_path: Path
) -> None:
    add_user(engine, "bob", [json_receiver.url()])
    keys = [f"P-1:1:{i}:bob" for i in range(4)]
    add_rows(engine, [row(k, "bob") for k in keys])

    marker = tmp_path / "sent.json"
    proc = worker(db_url, "--pause-after-send", str(marker))
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        assert marker.exists(), "the relay never sent"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    crashed = json.loads(marker.read_text())
    assert len(json_receiver.wait_for(1)) == 1  # the message went out ...
    states = {r["dedup_key"]: r for r in outbox_state(engine)}
    assert states[crashed["key"]]["state"] == "pending"  # ... but was never marked

    # Until the lease ends, no relay touches the claimed rows.
    assert relay_once(engine).claimed == 0
    with engine.connect() as conn:
        after_lease = db_now(conn) + timedelta(seconds=DEFAULT_LEASE_S + 1)
    assert relay_once(engine, now=after_lease).sent == 4

    got = json_receiver.wait_for(5)
    counts = Counter(m.body["dedup_key"] for m in got)
    assert set(counts) == set(keys)
    assert counts[crashed["key"]] == 2  # one duplicate, same dedup key ...
    assert sum(counts.values()) == 5  # ... and only that one
    assert {r["state"] for r in outbox_state(engine)} == {"sent"}


@pytest.mark.postgres
def test_two_relay_processes_on_postgres_send_no_duplicates(
    pg_url: str, json_receiver: JsonReceiver, tmp_path: Path
) -> None:
    from cdmo_workflow.store import make_engine, migrate
    from tests.notify.conftest import _clean

    engine = make_engine(pg_url)
    migrate(engine)
    _clean(engine)
    n = 300
    add_user(engine, "bob", [json_receiver.url()])
    add_rows(engine, [row(f"P-2:{i}:0:bob", "bob") for i in range(n)])

    json_receiver.delay = 0.002  # so that the two relays overlap
    go = tmp_path / "go"
    procs = [
        worker(pg_url, "--drain", "--worker", f"w{i}", "--batch", "7", "--start-when", str(go))
        for i in range(2)
    ]
    time.sleep(3)  # both processes import and wait
    go.write_text("go")
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    got = json_receiver.wait_for(n)
    counts = Counter(m.body["dedup_key"] for m in got)
    assert len(got) == n and len(counts) == n  # every message once
    assert sum(o["sent"] for o in outputs) == n
    assert all(o["sent"] > 0 for o in outputs), outputs  # both relays did work
    assert {r["state"] for r in outbox_state(engine)} == {"sent"}
