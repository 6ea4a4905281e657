"""Unit of work and repositories on SQLite and PostgreSQL (real databases, no mocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from store_helpers import run_processes
from store_workers import increment_worker

from cdmo_workflow.notify.relay import backoff
from cdmo_workflow.store import (
    ConcurrentUpdate,
    Database,
    DatabaseUnavailable,
    DuplicateProject,
    DuplicateUser,
    mask_target,
)
from cdmo_workflow.store.outbox import OutboxQueue, outbox_marks
from cdmo_workflow.store.tables import projects

SNAP = {"process": "tech-transfer", "phases": ["a", "b"]}


def _project(db: Database, code: str = "P-1", **summary: object) -> None:
    with db.unit_of_work() as uow:
        uow.snapshots.put(SNAP, "h1", "tech-transfer", "abc123", False)
        uow.projects.add(
            code, "tech-transfer", "h1", "ACME", "active", {"phases": {}}, summary=summary
        )
        uow.commit()


def test_rolls_back_unless_committed(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.snapshots.put(SNAP, "h1", "tech-transfer")
        uow.projects.add("P-1", "tech-transfer", "h1", "ACME", "active", {})
    with database.unit_of_work() as uow:
        assert uow.projects.get("P-1") is None
    with pytest.raises(RuntimeError), database.unit_of_work() as uow:
        uow.snapshots.put(SNAP, "h1", "tech-transfer")
        raise RuntimeError("boom")
    with database.unit_of_work() as uow:
        assert uow.snapshots.get("h1") is None


def test_project_add_get_duplicate(database: Database) -> None:
    _project(database, phases=["a"])
    with database.unit_of_work() as uow:
        p = uow.projects.get("P-1")
        assert p is not None
        assert (p.code, p.process_id, p.version_hash, p.customer, p.state, p.version) == (
            "P-1",
            "tech-transfer",
            "h1",
            "ACME",
            "active",
            1,
        )
        assert p.document == {"phases": {}}
        assert p.summary == {"phases": ["a"]}
        with pytest.raises(DuplicateProject) as err:
            uow.projects.add("P-1", "tech-transfer", "h1", "X", "active", {})
        assert err.value.code == "P-1"


def test_optimistic_concurrency_second_save_raises(database: Database) -> None:
    _project(database)
    with database.unit_of_work(read_only=True) as uow:
        stale = uow.projects.get("P-1")
    assert stale is not None
    with database.unit_of_work() as uow:
        assert uow.projects.save("P-1", {"n": 1}, "active", stale.version) == 2
        uow.commit()
    with database.unit_of_work() as uow, pytest.raises(ConcurrentUpdate) as err:
        uow.projects.save("P-1", {"n": 2}, "on-hold", stale.version)
    assert (err.value.code, err.value.expected_version) == ("P-1", 1)
    with database.unit_of_work() as uow:
        p = uow.projects.get("P-1")
        assert p is not None
        assert (p.document, p.state, p.version) == ({"n": 1}, "active", 2)


@pytest.mark.postgres
def test_overlapping_units_of_work_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    _project(db)
    with db.unit_of_work() as a, db.unit_of_work() as b:
        pa, pb = a.projects.get("P-1"), b.projects.get("P-1")
        assert pa is not None and pb is not None
        a.projects.save("P-1", {"by": "a"}, "active", pa.version)
        a.commit()
        with pytest.raises(ConcurrentUpdate):
            b.projects.save("P-1", {"by": "b"}, "active", pb.version)


@pytest.mark.slow
def test_optimistic_concurrency_with_processes(database: Database) -> None:
    _project(database)
    retries = run_processes(increment_worker, [(database.url, "P-1", 10)] * 4)
    with database.unit_of_work() as uow:
        p = uow.projects.get("P-1")
        assert p is not None
        assert p.document["counter"] == 40
        assert p.version == 41
    assert all(r >= 0 for r in retries)


def test_list_by_state_with_summary(database: Database) -> None:
    _project(database, "P-1", open_gates=["g1"])
    _project(database, "P-2")
    with database.unit_of_work() as uow:
        p2 = uow.projects.get("P-2")
        assert p2 is not None
        uow.projects.save("P-2", {}, "killed", p2.version, summary={"phases": []})
        uow.commit()
    with database.unit_of_work(read_only=True) as uow:
        all_ = uow.projects.list()
        assert [p.code for p in all_] == ["P-1", "P-2"]
        assert all_[0].summary == {"open_gates": ["g1"]}
        assert all_[1].summary == {"phases": []}
        assert [p.code for p in uow.projects.list(["killed"])] == ["P-2"]
        assert uow.projects.list([]) == []
        assert all_[0].updated_at.tzinfo is not None


def test_list_10000_projects_is_one_query_without_documents(database: Database) -> None:
    """The listing reads summaries only, in one statement (its speed is in bench/, not here)."""
    with database.unit_of_work() as uow:
        uow.snapshots.put(SNAP, "h1", "tech-transfer")
        now = uow.now()
        doc = {"phases": {f"ph{i}": {"gates": {"g": {"signatures": []}}} for i in range(20)}}
        rows = [
            {
                "code": f"P-{i:05d}",
                "process_id": "tech-transfer",
                "version_hash": "h1",
                "customer": "ACME",
                "state": "active" if i % 3 else "completed",
                "document": doc,
                "summary": {"phases": ["ph1"], "open_gates": ["g"]},
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(10_000)
        ]
        uow.session.execute(sa.insert(projects), rows)
        uow.commit()
    statements: list[str] = []

    def seen(_conn: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    with database.unit_of_work(read_only=True) as uow:
        sa.event.listen(database.engine, "before_cursor_execute", seen)
        try:
            listed = uow.projects.list()
        finally:
            sa.event.remove(database.engine, "before_cursor_execute", seen)
    assert len(listed) == 10_000
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects
    assert "document" not in selects[0].split("FROM")[0]


def test_snapshots_put_is_idempotent(database: Database) -> None:
    with database.unit_of_work() as uow:
        assert uow.snapshots.put(SNAP, "h1", "tech-transfer", "abc", True) is True
        assert uow.snapshots.put({"other": 1}, "h1", "tech-transfer") is False
        uow.commit()
    with database.unit_of_work() as uow:
        assert uow.snapshots.get("h1") == SNAP
        assert uow.snapshots.get("nope") is None


def test_users_lockout_and_targets(database: Database) -> None:
    with database.unit_of_work() as uow:
        u = uow.users.add("jdoe", "Dr. Jane Doe", ["qa"], "scrypt$x")
        assert u.active and not u.locked and u.failed_attempts == 0
        with pytest.raises(DuplicateUser):
            uow.users.add("jdoe", "Someone Else", [], "scrypt$y")
        uow.commit()
    for i in range(1, 5):
        with database.unit_of_work() as uow:
            assert uow.users.record_failure("jdoe", lock_after=5) == (i, False)
            uow.commit()
    with database.unit_of_work() as uow:
        assert uow.users.record_failure("jdoe", lock_after=5) == (5, True)
        assert uow.users.record_failure("jdoe", lock_after=5) == (6, False)
        uow.commit()
    with database.unit_of_work() as uow:
        u2 = uow.users.get("jdoe")
        assert u2 is not None and u2.locked and u2.locked_at is not None
        assert u2.locked_at.tzinfo == UTC
        uow.users.unlock("jdoe")
        uow.users.add_target("jdoe", "mailto://user:pw@example.com")
        uow.users.add_target("jdoe", "mailto://user:pw@example.com")
        uow.commit()
    with database.unit_of_work() as uow:
        u3 = uow.users.get("jdoe")
        assert u3 is not None and not u3.locked and u3.failed_attempts == 0
        assert uow.users.targets("jdoe") == ["mailto://user:pw@example.com"]
        assert [x.user_id for x in uow.users.list()] == ["jdoe"]
        assert uow.users.record_failure("ghost") == (0, False)
    assert "pw" not in mask_target("mailto://user:pw@example.com")


def test_outbox_dedup(database: Database) -> None:
    row = {
        "dedup_key": "P-1:3:0:jdoe",
        "event": "gate.decided",
        "notify_event": "decided",
        "project": "P-1",
        "gate": "g1",
        "recipient": "jdoe",
        "payload": {"decision": "go"},
    }
    with database.unit_of_work() as uow:
        assert uow.outbox.add([row, {**row, "recipient": "x"}]) == 1
        uow.commit()
    with database.unit_of_work() as uow:
        assert uow.outbox.add([row, {**row, "dedup_key": "P-1:3:0:bob"}]) == 1
        uow.commit()
        now = uow.now()
    with database.engine.connect() as conn:
        rows = OutboxQueue(conn).listing()  # newest first
    assert [r["dedup_key"] for r in rows] == ["P-1:3:0:bob", "P-1:3:0:jdoe"]
    assert rows[1]["state"] == "pending" and rows[1]["attempts"] == 0
    assert rows[1]["next_attempt_at"].tzinfo == UTC
    with database.engine.begin() as conn:
        claimed = OutboxQueue(conn).claim(now=now + timedelta(seconds=1), batch=10, lease=60)
    assert claimed[0]["payload"] == {"decision": "go"}


def test_outbox_claim_lease_marks_and_retry(database: Database) -> None:
    """The relay's queue: claims skip leased rows, a lease ends, marks record the outcome."""
    base = {"event": "gate.opened", "notify_event": "opened", "recipient": "u", "payload": {}}
    with database.unit_of_work() as uow:
        uow.outbox.add([{**base, "dedup_key": f"k{i}"} for i in range(3)])
        uow.commit()
        t = uow.now() + timedelta(seconds=1)
    engine = database.engine
    with engine.begin() as conn:
        claimed = OutboxQueue(conn).claim(now=t, batch=2, lease=60)
    assert [r["dedup_key"] for r in claimed] == ["k0", "k1"]
    with engine.begin() as conn:
        queue = OutboxQueue(conn)
        assert [r["dedup_key"] for r in queue.claim(now=t, batch=5, lease=60)] == ["k2"]
        assert queue.claim(now=t + timedelta(seconds=59), batch=5, lease=60) == []
    retry_at = t + backoff(1)
    with engine.connect() as conn, outbox_marks(conn) as marks:
        marks.sent(claimed[0]["id"], t)
        marks.failed(
            claimed[1]["id"], attempts=1, dead=False, next_attempt_at=retry_at, error="smtp down"
        )
        marks.sent(claimed[0]["id"], t + timedelta(seconds=9))  # no longer pending: no-op
    with engine.connect() as conn:
        rows = {r["dedup_key"]: r for r in OutboxQueue(conn).listing()}
    assert rows["k0"]["state"] == "sent" and rows["k0"]["sent_at"] == t
    assert rows["k0"]["attempts"] == 1
    assert rows["k1"]["state"] == "pending" and rows["k1"]["attempts"] == 1
    assert rows["k1"]["last_error"] == "smtp down" and rows["k1"]["next_attempt_at"] == retry_at
    with engine.begin() as conn:  # k2's lease has ended, k1's back-off too
        again = OutboxQueue(conn).claim(now=t + timedelta(seconds=61), batch=5, lease=60)
    assert [r["dedup_key"] for r in again] == ["k1", "k2"]
    with engine.connect() as conn, outbox_marks(conn) as marks:
        marks.failed(again[0]["id"], attempts=2, dead=True, next_attempt_at=t, error="again")
    with engine.begin() as conn:
        assert OutboxQueue(conn).retry(dead=True) == 1
        assert OutboxQueue(conn).retry() == 0
    with engine.connect() as conn:
        k1 = next(r for r in OutboxQueue(conn).listing(state="pending") if r["dedup_key"] == "k1")
    assert k1["attempts"] == 0


def test_idempotency_keys(database: Database) -> None:
    with database.unit_of_work() as uow:
        assert uow.idempotency.get("k1") is None
        uow.idempotency.put("k1", "sign", "P-1", {"seq": 3})
        uow.commit()
    with database.unit_of_work() as uow:
        assert uow.idempotency.get("k1") == {"seq": 3}
        with pytest.raises(ConcurrentUpdate):
            uow.idempotency.put("k1", "sign", "P-1", {"seq": 4})


def test_sla_notices_recorded_once(database: Database) -> None:
    first = {"project": "P-1", "gate": "g1", "review": 1, "kind": "reminder", "recipient": "jdoe"}
    with database.unit_of_work() as uow:
        assert uow.sla.record([{**first, "period": 1}]) == [("P-1", "g1", 1, "reminder", 1, "jdoe")]
        assert uow.sla.record([{**first, "period": 1}]) == []
        both = uow.sla.record(
            [{**first, "period": 1}, {**first, "period": 2}, {**first, "period": 2}]
        )
        assert both == [("P-1", "g1", 1, "reminder", 2, "jdoe")]


def test_datetimes_are_tz_aware_utc_and_now_is_database_time(database: Database) -> None:
    with database.unit_of_work() as uow:
        t1 = uow.now()
        rec = uow.audit.append("_system", "admin", "user.create", "jdoe")
        t2 = uow.now()
        # an aware time given is converted to UTC
        cet = datetime(2026, 1, 1, 13, 0, tzinfo=_tz(1))
        uow.audit.append("_system", "admin", "x", "y", at=cet)
        uow.commit()
    for t in (t1, t2):
        assert t.tzinfo is not None and t.utcoffset() == timedelta(0)
        assert abs((t - datetime.now(UTC)).total_seconds()) < 5
    assert t1 <= rec.at <= t2
    with database.unit_of_work() as uow:
        rows = uow.audit.list("_system")
    assert rows[0].at == rec.at and rows[0].at.tzinfo == UTC
    assert rows[1].at == cet and rows[1].at.utcoffset() == timedelta(0)
    assert rows[1].at.hour == 12


def _tz(hours: int) -> object:
    from datetime import timezone

    return timezone(timedelta(hours=hours))


@pytest.mark.postgres
def test_now_is_database_server_clock_on_postgres(pg_url: str) -> None:
    db = Database(pg_url)
    with db.unit_of_work() as uow:
        uow.session.execute(sa.text("SET TIME ZONE 'Asia/Tokyo'"))
        now = uow.now()
        server = uow.session.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    assert now.utcoffset() == timedelta(0)
    assert timedelta(0) <= server - now < timedelta(seconds=1)


@pytest.mark.postgres
def test_database_unavailable_message_masks_password() -> None:
    db = Database("postgresql+psycopg://postgres:s3cr3t@127.0.0.1:1/cdmo")
    with pytest.raises(DatabaseUnavailable) as err:
        db.unit_of_work()
    text = str(err.value)
    assert "s3cr3t" not in text and "***" in text
    assert "127.0.0.1" in text and ("refused" in text.lower() or "failed" in text.lower())
    assert err.value.__suppress_context__ and err.value.__cause__ is None
    assert "\n" not in text


def test_database_unavailable_for_sqlite_in_unusable_folder(tmp_path: object) -> None:
    from pathlib import Path

    blocker = Path(str(tmp_path)) / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseUnavailable):
        Database(f"sqlite:///{blocker}/sub/cdmo.db").unit_of_work()
