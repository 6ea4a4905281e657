"""Engines (SQLite file or PostgreSQL via psycopg) and programmatic Alembic migrations."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine, make_url

from cdmo_workflow.config import mask_url
from cdmo_workflow.store.errors import DatabaseUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30
_PG_MIGRATE_LOCK = 0x43444D4F  # "CDMO": advisory lock key held while migrating

_engines: dict[tuple[int, str], Engine] = {}
_migrated: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        obj = obj.replace(tzinfo=UTC) if obj.tzinfo is None else obj.astimezone(UTC)
        return obj.isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def json_dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_json_default, allow_nan=False)


def _prepare_sqlite_file(url: str) -> None:
    db = make_url(url).database
    if db and db != ":memory:" and not db.startswith("file:"):
        Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)


def missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist yet (None otherwise, or not SQLite).

    Read-only commands check this first: connecting would create the file, and
    :func:`make_engine` its folder.
    """
    try:
        parsed = make_url(url)
    except Exception:  # an unparsable URL fails later with its own message
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    db = parsed.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    path = Path(db).expanduser()
    return None if path.exists() else path


def _enable_wal(cur: Any) -> None:
    """Switch the file to WAL, retrying while another connection does the same.

    SQLite answers "database is locked" at once, without its busy handler, when two
    processes open a new file and both change the journal mode; the second one retries
    until the busy timeout and then finds the file already in WAL.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _install_sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Driver-level autocommit: SQLAlchemy emits BEGIN itself (below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        _enable_wal(cur)
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers queue on the database lock (busy_timeout) instead of failing with
        # "database is locked" on upgrade from a read lock. Read-only units may ask for
        # a deferred transaction with execution option sqlite_begin="DEFERRED".
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """One engine per URL per process (safe after fork/spawn: keyed on the pid)."""
    key = (os.getpid(), url)
    with _lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        backend = make_url(url).get_backend_name()
        kwargs: dict[str, Any] = {
            "json_serializer": json_dumps,
            "pool_pre_ping": backend != "sqlite",
        }
        if backend == "sqlite":
            try:
                _prepare_sqlite_file(url)
            except OSError as err:
                reason = f"cannot create its folder: {err}"
                raise DatabaseUnavailable(mask_url(url), reason) from None
            kwargs["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_S,
                "check_same_thread": False,
            }
        elif backend == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 10}
        engine = sa.create_engine(url, **kwargs)
        if backend == "sqlite":
            _install_sqlite_events(engine)
        _engines[key] = engine
        return engine


def dispose_engines(url: str | None = None) -> None:
    """Close pooled connections (all engines of this process, or the one for ``url``)."""
    with _lock:
        for key in list(_engines):
            if key[0] == os.getpid() and (url is None or key[1] == url):
                engine = _engines.pop(key)
                _migrated.discard(engine)
                engine.dispose()


def _reason(err: BaseException) -> str:
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def url_of(engine: Engine) -> str:
    return mask_url(engine.url.render_as_string(hide_password=False))


@contextmanager
def translate_connect_errors(engine: Engine) -> Iterator[None]:
    """Turn a failure to reach the database into ``DatabaseUnavailable`` (masked URL)."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as err:
        raise DatabaseUnavailable(url_of(engine), _reason(err)) from None


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)  # type: ignore[arg-type]
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """``alembic upgrade head`` on ``engine``. Idempotent; safe when processes race.

    The upgrade runs in one transaction that first takes a database-wide lock (SQLite:
    ``BEGIN IMMEDIATE``; PostgreSQL: an advisory transaction lock), then reads the current
    revision, so a second process waits and finds the schema already at head.
    """
    from alembic import command

    if engine in _migrated:
        return
    head = head_revision()
    with translate_connect_errors(engine):
        with engine.connect() as conn:  # fast path: already at head, no write lock
            conn = conn.execution_options(sqlite_begin="DEFERRED")
            with conn.begin():
                at_head = _has_version_table(conn) and current_revision(conn) == head
        if not at_head:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    lock = sa.text("SELECT pg_advisory_xact_lock(:k)")
                    conn.execute(lock, {"k": _PG_MIGRATE_LOCK})
                if not (_has_version_table(conn) and current_revision(conn) == head):
                    command.upgrade(_alembic_config(conn), "head")
    _migrated.add(engine)


def _has_version_table(conn: Connection) -> bool:
    return sa.inspect(conn).has_table("alembic_version")
