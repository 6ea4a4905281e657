"""The SLA watcher with an injected clock: reminders per period once, escalation once,
business days, concurrency, and the way into the relay."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from cdmo_workflow.notify.watcher import due_notices, periods_elapsed, watch_once
from cdmo_workflow.spec.durations import add_business_days, parse_duration
from cdmo_workflow.spec.models import ProcessSnapshot
from tests.notify.conftest import add_user, outbox_state
from tests.notify.factories import TEAM, snapshot

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


def sla_snapshot(**sla: Any) -> ProcessSnapshot:
    return snapshot(gate_extra={"sla": sla})


def document(
    code: str,
    opened_at: datetime,
    *,
    signatures: list[dict[str, Any]] | None = None,
    state: str = "active",
    review_state: str = "open",
) -> dict[str, Any]:
    return {
        "code": code,
        "customer": "Acme Pharma",
        "team": TEAM,
        "state": state,
        "reviews": [
            {
                "gate": "g-scoping",
                "phase": "scoping",
                "number": 1,
                "opened_at": opened_at.isoformat().replace("+00:00", "Z"),
                "state": review_state,
                "signatures": signatures or [],
            }
        ],
    }


def store_project(engine: Engine, snap: ProcessSnapshot, doc: dict[str, Any]) -> None:
    from cdmo_workflow.store.tables import process_snapshots, projects

    now = datetime.now(UTC)
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(process_snapshots.c.version_hash).where(
                process_snapshots.c.version_hash == snap.version_hash
            )
        ).first()
        if not exists:
            conn.execute(
                sa.insert(process_snapshots).values(
                    version_hash=snap.version_hash,
                    process_id=snap.process.id,
                    document=snap.model_dump(mode="json", by_alias=True),
                    created_at=now,
                )
            )
        open_gates = [
            {"gate": r["gate"], "review": r["number"], "opened_at": r["opened_at"]}
            for r in doc["reviews"]
            if r["state"] == "open"
        ]
        conn.execute(
            sa.insert(projects).values(
                code=doc["code"],
                process_id=snap.process.id,
                version_hash=snap.version_hash,
                customer=doc["customer"],
                state=doc["state"],
                document=doc,
                summary={"phases": ["scoping"], "open_gates": open_gates},
                version=1,
                created_at=now,
                updated_at=now,
            )
        )


QUINN_SIGNED = [{"user": "quinn", "name": "Quinn", "role": "qa", "decision": "go"}]


def sent(engine: Engine) -> list[tuple[str, str, int]]:
    return [
        (r["notify_event"], r["recipient"], r["payload"]["period"]) for r in outbox_state(engine)
    ]


@given(
    start=st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1)),
    n=st.integers(1, 12),
    hours=st.integers(0, 24 * 90),
)
@settings(max_examples=300, deadline=None)
def test_business_day_periods_match_add_business_days(start: datetime, n: int, hours: int) -> None:
    every = parse_duration(f"{n}bd")
    now = start + timedelta(hours=hours)
    k = periods_elapsed(every, start, now)
    if k:
        assert add_business_days(start, n * k) <= now
    assert add_business_days(start, n * (k + 1)) > now


def test_calendar_periods() -> None:
    every = parse_duration("48h")
    assert periods_elapsed(every, MONDAY, MONDAY + timedelta(hours=47, minutes=59)) == 0
    assert periods_elapsed(every, MONDAY, MONDAY + timedelta(hours=48)) == 1
    assert periods_elapsed(every, MONDAY, MONDAY + timedelta(hours=100)) == 2
    assert periods_elapsed(every, MONDAY, MONDAY - timedelta(hours=1)) == 0


def test_due_notices_is_pure_and_skips_what_is_not_due() -> None:
    snap = sla_snapshot(remind_every="48h", decide_within="5d", escalate_to=["head"])
    at = MONDAY + timedelta(days=6)
    doc = document("P-1", MONDAY, signatures=QUINN_SIGNED)
    kinds = sorted((n.kind, n.recipient, n.period) for n in due_notices(doc, snap, at))
    assert kinds == [("escalation", "hugo", 1), ("reminder", "carla", 3)]
    assert due_notices(document("P-1", MONDAY, state="on-hold"), snap, at) == []
    assert due_notices(document("P-1", MONDAY, review_state="decided"), snap, at) == []
    everyone = [*QUINN_SIGNED, {"user": "carla", "role": "customer"}]
    assert due_notices(document("P-1", MONDAY, signatures=everyone), snap, at) == []
    assert due_notices(document("P-1", MONDAY), snapshot(), at) == []  # no sla


def test_reminders_once_per_period_and_one_escalation(engine: Engine) -> None:
    snap = sla_snapshot(remind_every="48h", decide_within="5d", escalate_to=["head"])
    store_project(engine, snap, document("P-1", MONDAY, signatures=QUINN_SIGNED))
    h = lambda hours: MONDAY + timedelta(hours=hours)  # noqa: E731

    assert watch_once(engine, now=h(47)).reminders == 0
    stats = watch_once(engine, now=h(48))
    assert (stats.reminders, stats.escalations, stats.open_reviews) == (1, 0, 1)
    assert watch_once(engine, now=h(50)).reminders == 0
    assert watch_once(engine, now=h(48)).reminders == 0  # re-running the same instant
    assert watch_once(engine, now=h(96)).reminders == 1
    # Due at 120 h (5d): on time at the due instant itself, overdue strictly after it.
    assert watch_once(engine, now=h(120)).escalations == 0
    stats = watch_once(engine, now=h(121))
    assert (stats.reminders, stats.escalations) == (0, 1)
    assert watch_once(engine, now=h(130)).escalations == 0
    stats = watch_once(engine, now=h(24 * 10))  # missed periods: only the current one
    assert (stats.reminders, stats.escalations) == (1, 0)

    assert sent(engine) == [
        ("reminder", "carla", 1),
        ("reminder", "carla", 2),
        ("escalation", "hugo", 1),
        ("reminder", "carla", 5),
    ]
    first = outbox_state(engine)[0]
    assert first["dedup_key"] == "P-1:sla:g-scoping:1:reminder:1:carla"
    assert first["payload"]["missing_roles"] == ["customer"]
    assert first["payload"]["customer"] == "Acme Pharma"


def test_business_day_reminders_skip_the_weekend(engine: Engine) -> None:
    snap = sla_snapshot(remind_every="2bd", decide_within="3bd")
    store_project(engine, snap, document("P-1", FRIDAY, signatures=QUINN_SIGNED))
    monday_late = FRIDAY + timedelta(days=3, hours=8)
    assert watch_once(engine, now=monday_late).reminders == 0  # only 1 business day
    tuesday = FRIDAY + timedelta(days=4)
    assert watch_once(engine, now=tuesday).reminders == 1
    wednesday = FRIDAY + timedelta(days=5)  # 3bd after Friday 09:00: due, not yet overdue
    assert watch_once(engine, now=wednesday).escalations == 0
    stats = watch_once(engine, now=wednesday + timedelta(minutes=1))
    assert (stats.reminders, stats.escalations) == (0, 1)
    assert [r for _, r, _ in sent(engine)] == ["carla", "paula"]  # escalation: manager role


def test_concurrent_watchers_send_each_notice_once(engine: Engine) -> None:
    snap = sla_snapshot(remind_every="1d", decide_within="2d")
    for i in range(30):
        store_project(engine, snap, document(f"P-{i}", MONDAY))
    at = MONDAY + timedelta(days=3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            watch_once(engine, now=at)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = outbox_state(engine)
    # per project: reminders to quinn, quentin, carla (period 3) + escalation to paula
    assert len(rows) == 30 * 4
    assert len({r["dedup_key"] for r in rows}) == len(rows)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sla_notices")).scalar_one() == 120


@pytest.mark.slow
def test_reminder_reaches_the_receiver(engine: Engine, json_receiver: Any) -> None:
    from cdmo_workflow.notify.relay import relay_once

    add_user(engine, "carla", [json_receiver.url()], name="Carla Customer")
    snap = sla_snapshot(remind_every="48h")
    store_project(engine, snap, document("P-1", MONDAY, signatures=QUINN_SIGNED))
    watch_once(engine, now=MONDAY + timedelta(hours=49))
    assert relay_once(engine).sent == 1
    [msg] = json_receiver.wait_for(1)
    assert msg.body["title"] == "[P-1] Reminder: gate G Scoping waits for your sign-off"
    assert "customer" in msg.body["message"] and "reminder 1" in msg.body["message"]
    assert msg.body["dedup_key"] == "P-1:sla:g-scoping:1:reminder:1:carla"
