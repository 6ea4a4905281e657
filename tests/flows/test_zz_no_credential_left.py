"""After every flow test of the session (sign-offs right and wrong, action runs, crashed and
stuck runs the reconcile replaced), no password is anywhere in Prefect's database: every text
value of every table of the server's SQLite file, read with sqlite3 (named ``zz`` so pytest runs
it after the other files that share the session's server)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .conftest import PASSWORD, WRONG_PASSWORD, Orchestra


def test_no_password_in_any_table_of_prefects_database(orchestra: Orchestra) -> None:
    base = Path(orchestra.db_url.removeprefix("sqlite:///")).parent
    db_file = base / "prefect" / "prefect.db"
    assert db_file.exists(), db_file
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert "flow_run_input" in tables and "flow_run" in tables
        scanned, hits = 0, []
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                    if isinstance(text, str):
                        scanned += 1
                        if PASSWORD in text or WRONG_PASSWORD in text:
                            hits.append((table, text[:120]))
    finally:
        conn.close()
    assert scanned > 100  # the session really ran flows
    assert hits == []
