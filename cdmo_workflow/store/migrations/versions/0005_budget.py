"""Budgets and forecasts: cost entries, completed phase runs, users' time zones.

* ``cost_entries``: one row per commitment or actual cost of a project phase (``cdmo cost add``
  and ``cdmo cost import``), amounts as exact decimal text in the project's currency; unique on
  (project, kind, ref); insert-only (triggers refuse UPDATE and DELETE, as on the audit trail).
  The project document keeps the running totals, so a command never sums this table.
* ``phase_runs``: one row per completed phase run (started, ended, planned length), written in
  the command's transaction; the forecast's history of actual against planned durations.
  Existing projects' completed runs are copied in from their documents.
* ``users.time_zone``: the IANA zone a user reads times in (messages, reports); NULL is UTC.

Revision ID: 0005_budget
Revises: 0004_people
Create Date: 2026-12-10
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005_budget"
down_revision = "0004_people"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PG_COSTS_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION cost_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cost_entries is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "cost_entries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("booked_on", sa.String(10), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("batch", sa.String(80), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cost_entries"),
        sa.UniqueConstraint("project", "kind", "ref", name="uq_cost_entries_project_kind_ref"),
    )
    op.create_table(
        "phase_runs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("process_id", sa.String(128), nullable=False),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=True),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("planned_seconds", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_phase_runs"),
        sa.UniqueConstraint("project", "phase", "cycle", name="uq_phase_runs_project_phase_cycle"),
    )
    op.create_index("ix_phase_runs_phase", "phase_runs", ["phase"])
    op.create_index("ix_phase_runs_kind", "phase_runs", ["kind"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=True))

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER cost_entries_no_{verb.lower()} BEFORE {verb} ON cost_entries "
                "BEGIN SELECT RAISE(ABORT, 'cost_entries is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(PG_COSTS_APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER cost_entries_append_only BEFORE UPDATE OR DELETE ON cost_entries "
            "FOR EACH ROW EXECUTE FUNCTION cost_entries_append_only()"
        )
        op.execute(
            "CREATE TRIGGER cost_entries_no_truncate BEFORE TRUNCATE ON cost_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION cost_entries_append_only()"
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    _copy_completed_runs()


def _copy_completed_runs() -> None:
    """Completed phase runs of existing projects, from their documents. Projects stored
    before this revision have no site calendar, so planned business days skip weekends only
    (the parser is the spec's, standard library only)."""
    from cdmo_workflow.spec.durations import parse_duration

    bind = op.get_bind()
    snapshots: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    projects = sa.table(
        "projects",
        sa.column("code"),
        sa.column("process_id"),
        sa.column("version_hash"),
        sa.column("document"),
    )
    process_snapshots = sa.table(
        "process_snapshots", sa.column("version_hash"), sa.column("document")
    )
    for code, process_id, version_hash, document in bind.execute(
        sa.select(
            projects.c.code, projects.c.process_id, projects.c.version_hash, projects.c.document
        )
    ):
        doc = json.loads(document) if isinstance(document, str) else document
        if version_hash not in snapshots:
            raw = bind.execute(
                sa.select(process_snapshots.c.document).where(
                    process_snapshots.c.version_hash == version_hash
                )
            ).scalar()
            snap = json.loads(raw) if isinstance(raw, str) else raw or {}
            snapshots[version_hash] = {
                p.get("id"): p.get("duration")
                for p in (snap.get("process") or {}).get("phases") or []
            }
        durations = snapshots[version_hash]
        for phase in doc.get("phases") or []:
            seen: set[int] = set()
            for h in phase.get("history") or []:
                outcome = str(h.get("outcome") or "")
                cycle = int(h.get("cycle") or 0)
                if cycle in seen or not outcome or outcome.startswith("recycled"):
                    continue  # a run ended by a recycle never passed its gate
                started, ended = _time(h.get("started_at")), _time(h.get("ended_at"))
                if started is None or ended is None:
                    continue
                seen.add(cycle)
                text = durations.get(phase.get("id"))
                planned = None
                if text:
                    planned = int((parse_duration(text).add_to(started) - started).total_seconds())
                rows.append(
                    {
                        "project": code,
                        "process_id": process_id,
                        "phase": phase.get("id"),
                        "kind": None,
                        "cycle": cycle,
                        "started_at": started,
                        "ended_at": ended,
                        "planned_seconds": planned,
                        "outcome": outcome[:32],
                    }
                )
    if rows:
        typed = {"started_at": TS, "ended_at": TS}
        phase_runs = sa.table(
            "phase_runs",
            *(sa.column(k, typed.get(k)) for k in rows[0]),
        )
        for start in range(0, len(rows), 500):
            bind.execute(sa.insert(phase_runs), rows[start : start + 500])


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cost_entries_no_truncate ON cost_entries")
        op.execute("DROP TRIGGER IF EXISTS cost_entries_append_only ON cost_entries")
        op.execute("DROP FUNCTION IF EXISTS cost_entries_append_only()")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_zone")
    op.drop_index("ix_phase_runs_kind", "phase_runs")
    op.drop_index("ix_phase_runs_phase", "phase_runs")
    op.drop_table("phase_runs")
    op.drop_table("cost_entries")
