"""Notification relay throughput and SLA watcher cost, on SQLite and PostgreSQL.

* relay: N outbox rows sent to a local ``json://`` receiver by ``relay_once`` (claim, render,
  send, mark sent one row per transaction), against a plain ``apprise.notify()`` loop to the
  same receiver in the same run (target: relay >= 80 % of plain apprise);
* watcher: ``watch_once`` over 10,000 active projects with one open gate each (target < 10 s),
  first pass (queues 10,000 reminders) and a second pass (nothing new).

Run: ``python -m bench relay`` (needs PostgreSQL at 127.0.0.1:5432 for the PG rows).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
N_MESSAGES = 1000
ROUNDS = 3
N_GATES = 10_000


def _plain_apprise(url: str, n: int) -> float:
    import apprise

    ap = apprise.Apprise()
    ap.add(url)
    t0 = time.perf_counter()
    for i in range(n):
        if not ap.notify(body=f"message {i}\nsome body text", title=f"subject {i}"):
            raise RuntimeError("plain apprise failed")
    return n / (time.perf_counter() - t0)


def _relay(db_url: str, url: str, n: int) -> float:
    from cdmo_workflow.notify.relay import relay_once
    from cdmo_workflow.store import make_engine, migrate
    from tests.notify.conftest import add_rows, add_user
    from tests.notify.test_relay import row

    engine = make_engine(db_url)
    migrate(engine)
    user = f"bench-{uuid.uuid4().hex[:8]}"
    add_user(engine, user, [url])
    add_rows(engine, [row(f"B:{uuid.uuid4().hex}:{i}", user) for i in range(n)])
    sent = 0
    t0 = time.perf_counter()
    while True:
        stats = relay_once(engine, batch=200)
        sent += stats.sent
        if stats.claimed == 0:
            break
    elapsed = time.perf_counter() - t0
    if sent != n:
        raise RuntimeError(f"relay sent {sent} of {n}")
    return n / elapsed


def _watch(db_url: str, n: int) -> tuple[float, float, int]:
    import sqlalchemy as sa

    from cdmo_workflow.notify.watcher import watch_once
    from cdmo_workflow.store import make_engine, migrate
    from cdmo_workflow.store.tables import process_snapshots, projects
    from tests.notify.test_watcher import QUINN_SIGNED, document, sla_snapshot

    engine = make_engine(db_url)
    migrate(engine)
    snap = sla_snapshot(remind_every="2bd", decide_within="10bd", escalate_to=["head"])
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(process_snapshots).values(
                version_hash=snap.version_hash,
                process_id=snap.process.id,
                document=snap.model_dump(mode="json", by_alias=True),
                created_at=now,
            )
        )
        rows: list[dict[str, Any]] = []
        for i in range(n):
            doc = document(f"W-{i:05d}", opened, signatures=QUINN_SIGNED)
            rows.append(
                {
                    "code": doc["code"],
                    "process_id": snap.process.id,
                    "version_hash": snap.version_hash,
                    "customer": "Acme Pharma",
                    "state": "active",
                    "document": doc,
                    "summary": {"open_gates": [{"gate": "g-scoping", "review": 1}]},
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for start in range(0, n, 1000):
            conn.execute(sa.insert(projects), rows[start : start + 1000])
    at = opened + timedelta(days=3)  # Thursday: reminder period 1 due, no escalation
    t0 = time.perf_counter()
    first = watch_once(engine, now=at)
    t1 = time.perf_counter()
    second = watch_once(engine, now=at + timedelta(hours=1))
    t2 = time.perf_counter()
    assert second.reminders == 0
    return t1 - t0, t2 - t1, first.reminders


def _backends(tmp: Path) -> list[tuple[str, str, Any]]:
    import sqlalchemy as sa

    out: list[tuple[str, str, Any]] = [("sqlite", f"sqlite:///{tmp / 'bench.db'}", None)]
    name = f"cdmo_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # report and carry on with SQLite only
        print(f"   PostgreSQL unavailable ({type(exc).__name__}); SQLite only")
        return out
    url = sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        from cdmo_workflow.store import dispose_engines

        dispose_engines(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    out.append(("postgres", url, drop))
    return out


def main() -> int:
    import logging

    from tests.notify.receivers import JsonReceiver

    logging.getLogger("apprise").setLevel(logging.ERROR)
    receiver = JsonReceiver().start()
    url = receiver.url("/bench")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        backends = _backends(Path(tmp))
        try:
            _plain_apprise(url, 200)  # warm-up (imports, connection setup)
            for name, db_url, _ in backends:
                # alternate the two, three rounds each, and compare medians (the host is shared)
                plains, relays = [], []
                for _ in range(ROUNDS):
                    plains.append(_plain_apprise(url, N_MESSAGES))
                    relays.append(_relay(db_url, url, N_MESSAGES))
                plain, relay = statistics.median(plains), statistics.median(relays)
                ratio = relay / plain
                ok = ratio >= 0.8
                failed += not ok
                print(
                    f"   relay {name:<8} {relay:7.0f} msg/s   plain apprise {plain:7.0f} msg/s   "
                    f"ratio {ratio:5.1%}  {'ok' if ok else 'BELOW 80 %'}  "
                    f"(median of {ROUNDS} x {N_MESSAGES})"
                )
            for name, db_url, _ in backends:
                first, second, reminders = _watch(db_url, N_GATES)
                ok = first < 10 and second < 10
                failed += not ok
                print(
                    f"   watch {name:<8} {N_GATES} open gates: first pass {first:5.2f} s "
                    f"({reminders} reminders queued), second pass {second:5.2f} s  "
                    f"{'ok' if ok else 'ABOVE 10 s'}"
                )
        finally:
            receiver.stop()
            for _, _, drop in backends:
                if drop is not None:
                    drop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
