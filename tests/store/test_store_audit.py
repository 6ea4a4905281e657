"""The audit trail in the database: append, verify, tamper detection, triggers, concurrency."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
import time
import tracemalloc
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection
from store_helpers import run_processes
from store_workers import append_worker

from cdmo_workflow import audit
from cdmo_workflow.store import ConcurrentUpdate, Database
from cdmo_workflow.store.tables import audit_events

PG_TRIGGER = (
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
)


def _fill(db: Database, chain: str = "P-1", n: int = 5) -> None:
    with db.unit_of_work() as uow:
        for i in range(n):
            uow.audit.append(
                chain,
                "jdoe",
                "deliverable.submit",
                f"P-1/dev/report-{i}",
                old=None,
                new={"file": f"r{i}.pdf", "n": i},
                events=[{"name": "deliverable.submitted", "project": chain, "data": {"i": i}}],
            )
        uow.commit()


def _behind_the_engines_back(db: Database, change: Callable[[Connection], None]) -> None:
    """Drop the append-only triggers (as the DB owner), change rows, recreate the triggers."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            ddl = [
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'"
                )
            ]
            assert len(ddl) == 2
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
            change(conn)
            for stmt in ddl:
                conn.exec_driver_sql(stmt)
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_events_append_only ON audit_events")
            change(conn)
            conn.exec_driver_sql(PG_TRIGGER)


def test_append_links_the_chain_and_verifies(database: Database) -> None:
    _fill(database, "P-1", 5)
    _fill(database, "P-2", 3)
    with database.unit_of_work() as uow:
        rows = uow.audit.list("P-1")
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == audit.GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
        assert rows[2].new == {"file": "r2.pdf", "n": 2}
        assert rows[2].events[0]["name"] == "deliverable.submitted"
        res = audit.verify(uow)
        assert res.ok and res.checked == 8 and res.first_broken is None
        last = uow.audit.last("P-2")
        assert last is not None and last.seq == 3
    assert audit.verify(database.engine, "P-2").checked == 3
    assert audit.verify(database.engine, "nope") == audit.VerifyResult(ok=True, checked=0)


def test_refused_outcome_and_validation(database: Database) -> None:
    with database.unit_of_work() as uow:
        rec = uow.audit.append(
            "P-1", "bob", "gate.sign", "P-1/g1", outcome="refused", rule="sod", reason="own work"
        )
        assert (rec.outcome, rec.rule, rec.reason) == ("refused", "sod", "own work")
        with pytest.raises(ValueError):
            uow.audit.append("P-1", "bob", "x", "y", outcome="maybe")
        uow.commit()
    assert audit.verify(database.engine).ok


def test_edited_value_is_detected(database: Database) -> None:
    _fill(database, "P-1", 5)

    def edit(conn: Connection) -> None:
        conn.execute(
            sa.update(audit_events)
            .where(audit_events.c.chain == "P-1", audit_events.c.seq == 3)
            .values(actor="mallory")
        )

    _behind_the_engines_back(database, edit)
    res = audit.verify(database.engine)
    assert not res.ok and res.checked == 2
    assert res.first_broken is not None
    assert (res.first_broken["chain"], res.first_broken["seq"]) == ("P-1", 3)
    assert res.first_broken["reason"] == "hash mismatch"
    assert isinstance(res.first_broken["id"], int)


def test_rehashed_row_breaks_the_next_link(database: Database) -> None:
    _fill(database, "P-1", 5)
    with database.unit_of_work() as uow:
        row = uow.audit.list("P-1")[1]
    fields = {k: getattr(row, k) for k in audit.HASHED_FIELDS}
    fields["reason"] = "forged"
    forged = audit.record_hash(fields, row.prev_hash)

    def edit(conn: Connection) -> None:
        conn.execute(
            sa.update(audit_events)
            .where(audit_events.c.id == row.id)
            .values(reason="forged", hash=forged)
        )

    _behind_the_engines_back(database, edit)
    res = audit.verify(database.engine, "P-1")
    assert res.first_broken is not None
    assert (res.first_broken["seq"], res.first_broken["reason"]) == (3, "broken link")


def test_deleted_row_is_a_sequence_gap(database: Database) -> None:
    _fill(database, "P-1", 5)

    def delete(conn: Connection) -> None:
        conn.execute(
            sa.delete(audit_events).where(audit_events.c.chain == "P-1", audit_events.c.seq == 4)
        )

    _behind_the_engines_back(database, delete)
    res = audit.verify(database.engine)
    assert res.first_broken is not None
    assert (res.first_broken["seq"], res.first_broken["reason"]) == (5, "sequence gap")


def test_triggers_refuse_update_and_delete(database: Database) -> None:
    _fill(database, "P-1", 2)
    for stmt in (
        sa.update(audit_events).values(actor="mallory"),
        sa.delete(audit_events),
    ):
        with database.unit_of_work() as uow, pytest.raises(exc.DatabaseError) as err:
            uow.session.execute(stmt)
        assert "append-only" in str(err.value)
    if database.dialect == "postgresql":
        with database.unit_of_work() as uow, pytest.raises(exc.DatabaseError):
            uow.session.execute(sa.text("TRUNCATE audit_events"))
    assert audit.verify(database.engine).checked == 2


def test_stale_chain_head_raises_concurrent_update(database: Database) -> None:
    """Two appends computed from the same head: the unique (chain, seq) refuses the fork."""
    _fill(database, "P-1", 1)
    with database.unit_of_work() as uow:
        head = uow.audit.last("P-1")
        assert head is not None
        fields = {
            "chain": "P-1",
            "seq": head.seq,  # a writer that did not see the head
            "at": uow.now(),
            "actor": "x",
            "action": "x",
            "subject": "x",
            "outcome": "accepted",
            "rule": None,
            "reason": None,
            "old": None,
            "new": None,
            "events": [],
        }
        with pytest.raises(exc.IntegrityError):
            uow.session.execute(
                sa.insert(audit_events).values(**fields, prev_hash="0" * 64, hash="0" * 64)
            )


@pytest.mark.slow
def test_concurrent_appends_from_four_processes(database: Database) -> None:
    retries = run_processes(append_worker, [(database.url, "P-C", 25)] * 4)
    with database.unit_of_work() as uow:
        rows = uow.audit.list("P-C")
    assert [r.seq for r in rows] == list(range(1, 101))
    res = audit.verify(database.engine, "P-C")
    assert res.ok and res.checked == 100
    assert sum(retries) >= 0


def test_concurrent_update_is_raised_on_unique_violation(pg_url: str) -> None:
    """Overlapping appends on PostgreSQL: the loser gets ConcurrentUpdate, never a fork.

    ``a`` appends seq 2 and has not committed; ``b`` reads the same head and inserts seq 2
    too, which waits on the unique index until ``a`` commits, then fails.
    """
    db = Database(pg_url)
    _fill(db, "P-1", 1)
    outcome: list[BaseException | None] = []

    def other_writer() -> None:
        try:
            with db.unit_of_work() as b:
                b.audit.append("P-1", "b", "x", "y")
                b.commit()
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    with db.unit_of_work() as a:
        a.audit.append("P-1", "a", "x", "y")
        thread = threading.Thread(target=other_writer)
        thread.start()
        time.sleep(0.5)  # b is now blocked on the unique (chain, seq) index
        assert thread.is_alive()
        a.commit()
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], ConcurrentUpdate)
    assert outcome[0].code == "P-1"
    res = audit.verify(db.engine)
    assert res.ok and res.checked == 2


SIGNATURE = {
    "user": "jdoe",
    "name": "Dr. Jane Doe",
    "role": "qa",
    "decision": "go",
    "meaning": "approval",
    "signed_at": "2026-11-25T12:00:00Z",
    "record_hash": "ab" * 32,
}


def test_export_csv_and_json_show_the_signature_manifestation(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.audit.append("P-1", "admin", "project.start", "P-1", new={"customer": "ACME"})
        uow.audit.append(
            "P-1",
            "jdoe",
            "gate.sign",
            "P-1/g1",
            new=SIGNATURE,
            events=[{"name": "gate.signed", "project": "P-1", "gate": "g1", "data": SIGNATURE}],
        )
        uow.commit()
    text = audit.export(database.engine, "P-1", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(audit.EXPORT_COLUMNS)
    assert [r["seq"] for r in rows] == ["1", "2"]
    assert rows[0]["signature"] == ""
    assert rows[0]["new"] == '{"customer":"ACME"}'
    sig = rows[1]["signature"]
    assert sig == (
        "Signed by Dr. Jane Doe (jdoe, role qa) at 2026-11-25T12:00:00Z — meaning: approval — "
        f"decision: go — record sha256:{'ab' * 32}"
    )
    assert rows[1]["at"].endswith("Z")
    assert len(rows[1]["hash"]) == 64 and rows[1]["prev_hash"] == rows[0]["hash"]

    data = json.loads(audit.export(database.engine, "P-1", "json"))
    assert [d["seq"] for d in data] == [1, 2]
    assert data[1]["signature"] == sig and data[1]["new"] == SIGNATURE
    out = io.StringIO()
    assert audit.export(database.engine, None, "json", out=out) == ""
    assert len(json.loads(out.getvalue())) == 2
    with pytest.raises(ValueError):
        audit.export(database.engine, "P-1", "xml")  # type: ignore[arg-type]


@pytest.mark.slow
def test_verify_streams_a_long_chain(database: Database) -> None:
    """20,000 rows verified in flat memory (yield_per): the peak stays far below the data."""
    n = 20_000
    with database.unit_of_work() as uow:
        now = uow.now()
        prev = audit.GENESIS_HASH
        batch = []
        for seq in range(1, n + 1):
            fields = {
                "chain": "BIG",
                "seq": seq,
                "at": now,
                "actor": "bench",
                "action": "x",
                "subject": "s" * 50,
                "outcome": "accepted",
                "rule": None,
                "reason": None,
                "old": None,
                "new": {"payload": "p" * 200, "seq": seq},
                "events": [],
            }
            h = audit.record_hash(fields, prev)
            batch.append({**fields, "prev_hash": prev, "hash": h})
            prev = h
        uow.session.execute(sa.insert(audit_events), batch)
        uow.commit()
    del batch
    tracemalloc.start()
    try:
        res = audit.verify(database.engine, "BIG")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.ok and res.checked == n
    assert peak < 10 * 1024 * 1024, f"verify peaked at {peak / 1e6:.1f} MB"
