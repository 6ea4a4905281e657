"""Migrations: programmatic, idempotent, safe when two processes race; models match."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from store_helpers import run_processes
from store_workers import migrate_worker

from cdmo_workflow.store import Database, head_revision, make_engine, migrate
from cdmo_workflow.store.engine import current_revision
from cdmo_workflow.store.tables import metadata

TABLES = {
    "users",
    "user_targets",
    "process_snapshots",
    "projects",
    "audit_events",
    "outbox",
    "idempotency_keys",
    "sla_notices",
    "delegations",
    "alembic_version",
}


def test_migrate_creates_every_table_and_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)
    # a fresh process-level cache would go through alembic again: still a no-op
    from cdmo_workflow.store import engine as engine_mod

    engine_mod._migrated.discard(engine)
    migrate(engine)
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) >= TABLES
        assert current_revision(conn) == head_revision()


def test_models_match_the_migration(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diffs = compare_metadata(ctx, metadata)
    assert diffs == []


def test_concurrent_migrate_from_two_processes(db_url: str) -> None:
    run_processes(migrate_worker, [(db_url,), (db_url,)])
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert set(sa.inspect(conn).get_table_names()) >= TABLES
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_database_migrates_on_first_unit_of_work(db_url: str) -> None:
    db = Database(db_url)
    with db.unit_of_work() as uow:
        assert uow.projects.list() == []


def test_sqlite_parent_directory_is_created(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "a" / "b" / "cdmo.db"
    db = Database(f"sqlite:///{path}")
    with db.unit_of_work() as uow:
        assert uow.now().tzinfo is not None
    assert path.exists()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
