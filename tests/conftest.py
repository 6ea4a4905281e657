"""Shared fixtures: real databases only (a SQLite file and a fresh PostgreSQL database).

PostgreSQL is expected at ``CDMO_TEST_PG_ADMIN_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). A test that needs it FAILS when it
is unreachable; it never skips.

* ``sqlite_url`` - a SQLite file in the test's tmp dir (not migrated)
* ``pg_url``     - a brand-new empty database ``cdmo_test_<random>``, dropped afterwards
* ``db_url``     - parametrised over both (ids ``sqlite`` and ``postgresql``)
* ``database``   - a migrated ``cdmo_workflow.store.Database`` on ``db_url``
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

PG_ADMIN_URL = os.environ.get(
    "CDMO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq(url: str) -> str:
    """SQLAlchemy URL -> libpq URL (drop the ``+psycopg`` driver suffix)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


def _with_database(url: str, name: str) -> str:
    base = url.split("?", 1)[0].rsplit("/", 1)[0]
    return f"{base}/{name}"


def _admin_connect() -> Any:
    import psycopg

    try:
        return psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        pytest.fail(
            f"PostgreSQL is required for this test and is unreachable at {PG_ADMIN_URL}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else err!r} "
            "(start it, e.g. `pg_ctlcluster 15 main start`, or set CDMO_TEST_PG_ADMIN_URL)",
            pytrace=False,
        )


def create_pg_database() -> str:
    """Create an empty, uniquely named database; its SQLAlchemy URL."""
    name = f"cdmo_test_{secrets.token_hex(6)}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_database(PG_ADMIN_URL, name)


def drop_pg_database(url: str) -> None:
    from cdmo_workflow.store import dispose_engines

    dispose_engines(url)
    name = url.rsplit("/", 1)[1]
    with _admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use ``pg_url`` directly carry the ``postgres`` marker too."""
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()) and "db_url" not in item.fixturenames:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _audit_state_in_tmp(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints and the audit key of every test go under its tmp_path, never the cwd."""
    monkeypatch.setenv("CDMO_CHECKPOINT_DIR", str(tmp_path / "audit-state" / "checkpoints"))
    monkeypatch.setenv("CDMO_AUDIT_KEY_FILE", str(tmp_path / "audit-state" / "audit-key.pem"))


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Any) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cdmo.db'}"
    yield url
    from cdmo_workflow.store import dispose_engines

    dispose_engines(url)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def database(db_url: str) -> Any:
    from cdmo_workflow.store import Database

    db = Database(db_url)
    db.migrate()
    return db
