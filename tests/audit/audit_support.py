"""A small real trail for the audit tests, driven through the service (one place to adapt
when commands need authentication), and the tampering a database owner could do."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cdmo_workflow import audit, service
from cdmo_workflow.hashing import record_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from programme import PASSWORD, ROLES, ROOT, add_team, user_of

CODE = "BX-T"


def open_ctx(db_url: str) -> service.Context:
    return service.open_context(db_url, ROOT)


def small_trail(ctx: service.Context, code: str = CODE, rows: int = 6) -> None:
    """The team (8 rows on ``_system``), then ``code`` with ``rows`` rows, one commit each."""
    add_team(ctx)
    team = {role: [user_of(role)] for role in ROLES}
    service.start_project(
        ctx, code, "api-clinical-program", "Helix Bio", team, user_of("pm"), password=PASSWORD
    )
    for i in range(rows - 1):
        service.submit_deliverable(
            ctx, code, "scoping", "rfp-assessment", user_of("pm"), f"DMS-RFP-{i}", password=PASSWORD
        )


def behind_the_engine(ctx: service.Context, change: Callable[[Connection], None]) -> None:
    """Triggers off (SQLite: dropped; PostgreSQL: DISABLE TRIGGER USER), change, triggers on."""
    engine = ctx.db.engine
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            ddl = [
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'"
                )
            ]
            assert ddl, "the append-only triggers exist"
            for (name,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'"
            ).all():
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
            change(conn)
            for stmt in ddl:
                conn.exec_driver_sql(stmt)
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
            change(conn)
            conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")


def rows_of(conn: Connection, chain: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            sa.text("SELECT * FROM audit_events WHERE chain = :c ORDER BY seq"), {"c": chain}
        ).mappings()
    ]


def rehash_from(conn: Connection, chain: str, seq: int) -> None:
    """Recompute ``hash``/``prev_hash`` of every row from ``seq`` on (a careful forger)."""
    rows = rows_of_typed(conn, chain)
    prev = audit.GENESIS_HASH
    for row in rows:
        if row["seq"] >= seq:
            digest = record_hash(row, prev)
            conn.execute(
                sa.text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": digest, "i": row["id"]},
            )
            prev = digest
        else:
            prev = row["hash"]


def rows_of_typed(conn: Connection, chain: str) -> list[dict[str, Any]]:
    from cdmo_workflow.store.tables import audit_events as t

    stmt = sa.select(t).where(t.c.chain == chain).order_by(t.c.seq)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def report(ctx: service.Context, code: str | None = None, deep: bool = False) -> Any:
    return audit.verify_all(ctx.db, ctx.settings, code, deep=deep)


def lose_checkpoints(ctx: service.Context) -> None:
    shutil.rmtree(ctx.settings.checkpoint_dir)
