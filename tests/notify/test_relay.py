"""The outbox relay against real receivers (SMTP and HTTP), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from cdmo_workflow.notify.relay import DEDUP_HEADER, backoff, relay_once, retry
from tests.notify.conftest import add_rows, add_user, outbox_state
from tests.notify.receivers import JsonReceiver, SmtpReceiver

pytestmark = pytest.mark.slow


def row(key: str, user: str, **payload: Any) -> dict[str, Any]:
    base = {
        "notify_event": "decided",
        "project": "P-1",
        "project_name": "Acme API-7",
        "customer": "Acme Pharma",
        "process_name": "API programme",
        "phase_name": "Scoping",
        "gate": "g-scoping",
        "gate_name": "Scoping gate",
        "decision": "go",
        "data": {"decision": "go"},
    }
    base.update(payload)
    return {
        "dedup_key": key,
        "event": "gate.decided",
        "notify_event": "decided",
        "project": "P-1",
        "gate": "g-scoping",
        "recipient": user,
        "payload": base,
    }


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff(n, 5, 3600).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30, 5, 3600).total_seconds() == 3600
    assert backoff(10_000, 5, 60).total_seconds() == 60


def test_delivers_mail_and_json(
    engine: Engine, smtp_receiver: SmtpReceiver, json_receiver: JsonReceiver
) -> None:
    add_user(engine, "alice", [smtp_receiver.url("alice@example.com")])
    add_user(engine, "bob", [json_receiver.url("/cdmo")])
    add_rows(engine, [row("P-1:5:0:alice", "alice"), row("P-1:5:0:bob", "bob")])

    stats = relay_once(engine, ui_url="http://ui.example:4200")
    assert (stats.sent, stats.failed, stats.dead) == (2, 0, 0)

    [mail] = smtp_receiver.mails
    assert mail.rcpt_tos == ["alice@example.com"]
    assert mail.subject == "[P-1] Gate Scoping gate decided: GO"
    assert "Acme Pharma" in mail.text and "Scoping gate" in mail.text
    assert "X-CDMO-Dedup-Key: P-1:5:0:alice" in mail.text
    assert mail.message[DEDUP_HEADER] == "P-1:5:0:alice"
    assert "http://ui.example:4200/runs?tags=project%3AP-1" in mail.text

    [hook] = json_receiver.wait_for(1)
    assert hook.path == "/cdmo"
    assert hook.body["title"] == "[P-1] Gate Scoping gate decided: GO"
    assert "Acme API-7" in hook.body["message"]
    assert hook.body["dedup_key"] == "P-1:5:0:bob"
    assert hook.body["recipient"] == "bob"
    assert hook.headers[DEDUP_HEADER] == "P-1:5:0:bob"

    states = outbox_state(engine)
    assert [r["state"] for r in states] == ["sent", "sent"]
    assert all(r["sent_at"] is not None and r["attempts"] == 1 for r in states)
    assert relay_once(engine).claimed == 0  # nothing left


def test_batch_limits_each_claim(engine: Engine, json_receiver: JsonReceiver) -> None:
    add_user(engine, "bob", [json_receiver.url()])
    add_rows(engine, [row(f"k{i}", "bob") for i in range(25)])
    assert [relay_once(engine, batch=10).sent for _ in range(4)] == [10, 10, 5, 0]
    assert len(json_receiver.wait_for(25)) == 25


def test_user_without_target_is_dead_with_reason(engine: Engine) -> None:
    add_user(engine, "carol")
    add_rows(engine, [row("k1", "carol"), row("k2", "nobody")])
    stats = relay_once(engine)
    assert stats.dead == 2
    errors = {r["recipient"]: r["last_error"] for r in outbox_state(engine)}
    assert errors == {
        "carol": "no notification target for user carol",
        "nobody": "no notification target for user nobody",
    }


def test_receiver_down_then_back_delivers_each_exactly_once(engine: Engine) -> None:
    receiver = JsonReceiver()  # not started: connection refused
    add_user(engine, "bob", [receiver.url()])
    keys = [f"P-1:9:{i}:bob" for i in range(5)]
    add_rows(engine, [row(k, "bob") for k in keys])

    t = later(1)
    for cycle in range(3):
        stats = relay_once(engine, now=t, backoff_base=5, timeout=5)
        assert stats.failed == 5, cycle
        states = outbox_state(engine)
        assert {r["attempts"] for r in states} == {cycle + 1}
        assert all(r["state"] == "pending" for r in states)
        assert all(r["last_error"] and "apprise" in r["last_error"] for r in states)
        # nothing is due again before the back-off has passed
        assert relay_once(engine, now=t + timedelta(seconds=1)).claimed == 0
        t = t + backoff(cycle + 1, 5) + timedelta(seconds=1)

    receiver.start()
    try:
        stats = relay_once(engine, now=t)
        assert stats.sent == 5
        assert relay_once(engine, now=t + timedelta(hours=2)).claimed == 0
        got = receiver.wait_for(5)
        assert sorted(m.body["dedup_key"] for m in got) == sorted(keys)
    finally:
        receiver.stop()
    assert {r["state"] for r in outbox_state(engine)} == {"sent"}


def test_dead_after_max_attempts_then_retry(engine: Engine) -> None:
    receiver = JsonReceiver()
    add_user(engine, "bob", [receiver.url()])
    add_rows(engine, [row("k-dead", "bob")])
    t = later(1)
    outcomes = []
    for _ in range(3):
        stats = relay_once(engine, now=t, max_attempts=3)
        outcomes.append((stats.failed, stats.dead))
        t += timedelta(hours=2)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    assert outbox_state(engine)[0]["state"] == "dead"
    assert relay_once(engine, now=t).claimed == 0

    assert retry(engine, dead=True) == 1
    [r] = outbox_state(engine)
    assert (r["state"], r["attempts"]) == ("pending", 0)
    receiver.start()
    try:
        assert relay_once(engine, now=t + timedelta(seconds=5)).sent == 1
        assert len(receiver.wait_for(1)) == 1
    finally:
        receiver.stop()


def test_no_apprise_url_in_logs_errors_or_database(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.notify.receivers import free_port

    port = free_port()  # nothing listens here
    secret = "s3cr3t-Pa55"
    add_user(
        engine,
        "alice",
        [
            f"json://hookuser:{secret}@127.0.0.1:{port}/hooks/{secret}?token={secret}",
            f"mailto://bot:{secret}@127.0.0.1:{port}?from=bot@example.com&to=alice@example.com"
            "&mode=insecure",
        ],
    )
    add_rows(engine, [row("k-secret", "alice")])
    caplog.set_level(logging.DEBUG)
    logging.getLogger("apprise").setLevel(logging.DEBUG)
    try:
        stats = relay_once(engine, timeout=5)
    finally:
        logging.getLogger("apprise").setLevel(logging.NOTSET)
    assert stats.failed == 1
    [r] = outbox_state(engine)
    assert r["last_error"]
    assert "A Connection error occurred" in caplog.text  # apprise's records, masked
    for text in (caplog.text, r["last_error"]):
        assert secret not in text
        assert "hookuser" not in text
        assert f":{port}/" not in text
    assert "failed, will retry" in caplog.text


def test_apprise_config_file_targets_by_user_tag(
    engine: Engine,
    json_receiver: JsonReceiver,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "apprise.yml"
    config.write_text(
        "urls:\n"
        f"  - {json_receiver.url('/dave')}:\n"
        "      tag: dave\n"
        f"  - {json_receiver.url('/erin')}:\n"
        "      tag: erin, always\n"
    )
    monkeypatch.setenv("CDMO_APPRISE_CONFIG", str(config))
    add_user(engine, "dave")
    add_rows(engine, [row("k-dave", "dave")])
    assert relay_once(engine).sent == 1
    [got] = json_receiver.wait_for(1)
    assert got.path == "/dave"  # erin's target (even tagged 'always') is not used for dave
    assert got.body["dedup_key"] == "k-dave"
