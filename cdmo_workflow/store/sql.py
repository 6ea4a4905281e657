"""SQL helpers the repositories share: portable insert-or-ignore, the stored JSON form."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cdmo_workflow.hashing import canonical_json

Clock = Callable[[], datetime]

CHUNK = 500


def insert_ignore(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], keys: list[str]
) -> int:
    """INSERT ... ON CONFLICT (keys) DO NOTHING on SQLite and PostgreSQL; rows inserted."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        make: Any = pg_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        make = sqlite_insert
    # One cached statement executed with many parameter sets ("insertmanyvalues"): a
    # .values(rows) statement would be compiled afresh for every distinct row count.
    stmt = make(table).on_conflict_do_nothing(index_elements=keys).returning(table.c[keys[0]])
    inserted = 0
    for start in range(0, len(rows), CHUNK):
        chunk = list(rows[start : start + CHUNK])
        inserted += len(session.execute(stmt, chunk).all())  # rowcount is unreliable here
    return inserted


def json_ready(value: Any) -> Any:
    """The exact JSON value that is stored (and hashed): tuples become lists, times ISO text."""
    return None if value is None else json.loads(canonical_json(value))
