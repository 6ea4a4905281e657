"""Fixtures for notification tests: databases (SQLite file, fresh PostgreSQL database per
module), users with targets, outbox rows, and real receivers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.notify.receivers import JsonReceiver, SmtpReceiver

PG_ADMIN = os.environ.get("CDMO_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_TABLES = ("outbox", "sla_notices", "user_targets", "projects", "process_snapshots", "users")


@pytest.fixture(scope="module")
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database for this test module (fails when the server is missing)."""
    name = f"cdmo_notify_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from cdmo_workflow.store import dispose_engines

        dispose_engines(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _clean(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in _TABLES:
            conn.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or this module's PostgreSQL database."""
    from cdmo_workflow.store import make_engine, migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cdmo.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine)
    _clean(engine)
    yield url
    if request.param == "sqlite":
        from cdmo_workflow.store import dispose_engines

        dispose_engines(url)


@pytest.fixture
def engine(db_url: str) -> Engine:
    from cdmo_workflow.store import make_engine

    return make_engine(db_url)


def add_user(engine: Engine, user_id: str, urls: Iterable[str] = (), name: str = "") -> None:
    from cdmo_workflow.store.tables import user_targets, users

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(users).values(
                user_id=user_id,
                name=name or user_id.title(),
                roles=[],
                password_hash="x",
                password_changed_at=now,
                created_at=now,
            )
        )
        for url in urls:
            conn.execute(sa.insert(user_targets).values(user_id=user_id, url=url, created_at=now))


def add_rows(engine: Engine, rows: list[dict[str, Any]]) -> int:
    from cdmo_workflow.store import UnitOfWork

    with UnitOfWork(engine) as uow:
        n = uow.outbox.add(rows)
        uow.commit()
    return n


def outbox_state(engine: Engine) -> list[dict[str, Any]]:
    from cdmo_workflow.store.tables import outbox

    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id))]


@pytest.fixture
def json_receiver() -> Iterator[JsonReceiver]:
    receiver = JsonReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()
