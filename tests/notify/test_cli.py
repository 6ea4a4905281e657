"""``cdmo notify list|retry|relay`` and ``cdmo gates watch`` on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from tests.notify.conftest import add_rows, add_user, outbox_state
from tests.notify.receivers import JsonReceiver
from tests.notify.test_relay import row

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from cdmo_workflow.store import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(make_engine(url))
    return url


def test_list_relay_retry(sqlite_url: str, json_receiver: JsonReceiver) -> None:
    from cdmo_workflow.store import make_engine

    engine = make_engine(sqlite_url)
    secret = "tok3n-very-secret"
    add_user(engine, "bob", [json_receiver.url(f"/hook/{secret}")])
    add_user(engine, "alice", [f"mailto://bot:{secret}@example.com?to=alice@example.com"])
    add_rows(engine, [row("k-bob", "bob"), row("k-nobody", "nobody")])
    runner = CliRunner()

    out = runner.invoke(app, ["notify", "list", "--db", sqlite_url, "--json"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert [r["state"] for r in listed] == ["pending", "pending"]
    assert listed[1]["targets"] == ["json://127.0.0.1"]
    assert secret not in out.output

    out = runner.invoke(app, ["notify", "relay", "--once", "--db", sqlite_url])
    assert out.exit_code == 0, out.output
    assert "sent 1, failed 0, dead 1" in out.output
    assert json_receiver.wait_for(1)[0].body["dedup_key"] == "k-bob"

    out = runner.invoke(app, ["notify", "list", "--db", sqlite_url, "--state", "dead"])
    assert out.exit_code == 0, out.output
    assert "nobody" in out.output and "no notification target for user nobody" in out.output

    out = runner.invoke(app, ["notify", "retry", "--dead", "--db", sqlite_url])
    assert out.exit_code == 0 and "1 notification(s) queued again" in out.output
    assert {r["dedup_key"]: r["state"] for r in outbox_state(engine)}["k-nobody"] == "pending"

    out = runner.invoke(app, ["notify", "retry", "--db", sqlite_url])
    assert out.exit_code == 2
    out = runner.invoke(app, ["notify", "list", "--db", sqlite_url, "--state", "bogus"])
    assert out.exit_code == 2


def test_gates_watch_once(sqlite_url: str) -> None:
    from datetime import timedelta

    from cdmo_workflow.store import make_engine
    from tests.notify.test_watcher import QUINN_SIGNED, document, sla_snapshot, store_project

    engine = make_engine(sqlite_url)
    from datetime import UTC, datetime

    opened = datetime.now(UTC) - timedelta(hours=50)
    store_project(
        engine, sla_snapshot(remind_every="48h"), document("P-9", opened, signatures=QUINN_SIGNED)
    )
    runner = CliRunner()
    out = runner.invoke(app, ["gates", "watch", "--once", "--db", sqlite_url])
    assert out.exit_code == 0, out.output
    assert "1 open gate review(s) in 1 project(s): 1 reminder(s), 0 escalation(s)" in out.output
    out = runner.invoke(app, ["gates", "watch", "--once", "--db", sqlite_url, "--json"])
    assert json.loads(out.output)["reminders"] == 0
