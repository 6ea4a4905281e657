"""The tables, as typed SQLAlchemy 2 declarative models.

The initial Alembic migration creates the same schema explicitly (migrations never import
these models); ``tests/store`` checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cdmo_workflow.store.types import UTCDateTime, json_type

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite rowid autoincrement


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012
        datetime: UTCDateTime(),
        dict[str, Any]: json_type(),
        list[Any]: json_type(),
    }


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(256))
    roles: Mapped[list[Any]] = mapped_column(json_type())
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failed_attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    locked: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    must_change_password: Mapped[bool] = mapped_column(
        sa.Boolean, default=False, server_default=sa.false()
    )
    time_zone: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class UserTarget(Base):
    __tablename__ = "user_targets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.user_id"), index=True)
    url: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessSnapshot(Base):
    __tablename__ = "process_snapshots"

    version_hash: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    process_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(json_type())
    git_commit: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    git_dirty: Mapped[bool | None] = mapped_column(sa.Boolean, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Project(Base):
    __tablename__ = "projects"

    code: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    process_id: Mapped[str] = mapped_column(sa.String(128))
    version_hash: Mapped[str] = mapped_column(sa.ForeignKey("process_snapshots.version_hash"))
    customer: Mapped[str] = mapped_column(sa.String(256))
    state: Mapped[str] = mapped_column(sa.String(32), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(json_type())
    summary: Mapped[dict[str, Any] | None] = mapped_column(json_type(), nullable=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (sa.UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(sa.String(128))
    seq: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(sa.String(128))
    action: Mapped[str] = mapped_column(sa.String(64))
    subject: Mapped[str] = mapped_column(sa.String(512))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    rule: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    old: Mapped[Any | None] = mapped_column(json_type(), nullable=True)
    new: Mapped[Any | None] = mapped_column(json_type(), nullable=True)
    events: Mapped[list[Any]] = mapped_column(json_type())
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(sa.String(512), unique=True)
    event: Mapped[str] = mapped_column(sa.String(64))
    notify_event: Mapped[str] = mapped_column(sa.String(64))
    project: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    gate: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    recipient: Mapped[str] = mapped_column(sa.String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(json_type())
    state: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    command: Mapped[str] = mapped_column(sa.String(64))
    project: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    result: Mapped[Any] = mapped_column(json_type(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SlaNotice(Base):
    __tablename__ = "sla_notices"
    __table_args__ = (
        sa.UniqueConstraint("project", "gate", "review", "kind", "period", "recipient"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(sa.String(128))
    gate: Mapped[str] = mapped_column(sa.String(128))
    review: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(16))
    period: Mapped[int] = mapped_column(sa.Integer)
    recipient: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


users = cast(sa.Table, User.__table__)
user_targets = cast(sa.Table, UserTarget.__table__)
process_snapshots = cast(sa.Table, ProcessSnapshot.__table__)
projects = cast(sa.Table, Project.__table__)
audit_events = cast(sa.Table, AuditEvent.__table__)
outbox = cast(sa.Table, Outbox.__table__)
idempotency_keys = cast(sa.Table, IdempotencyKey.__table__)
sla_notices = cast(sa.Table, SlaNotice.__table__)
metadata = Base.metadata


class SignInSession(Base):
    """A ``cdmo login`` session: only the SHA-256 of its random token is stored."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.user_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OneTimeCode(Base):
    """An enrolment or reset code sent to the user's own targets; stored only hashed."""

    __tablename__ = "one_time_codes"

    code_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.user_id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


sessions = cast(sa.Table, SignInSession.__table__)
one_time_codes = cast(sa.Table, OneTimeCode.__table__)


class DelegationRow(Base):
    """A delegation of signing authority (``domain/delegation.py``); revoked, never deleted."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delegator: Mapped[str] = mapped_column(sa.ForeignKey("users.user_id"), index=True)
    delegate: Mapped[str] = mapped_column(sa.ForeignKey("users.user_id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(128))
    project: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(sa.Text)
    granted_by: Mapped[str] = mapped_column(sa.String(128))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


delegations = cast(sa.Table, DelegationRow.__table__)


class CostEntry(Base):
    """A commitment or actual cost of a project phase; insert-only (migration 0005_budget)."""

    __tablename__ = "cost_entries"
    __table_args__ = (sa.UniqueConstraint("project", "kind", "ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(sa.String(128))
    phase: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[str] = mapped_column(sa.String(40))
    """Exact decimal text in the project's currency (never a float)."""
    currency: Mapped[str] = mapped_column(sa.String(3))
    ref: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    booked_on: Mapped[str | None] = mapped_column(sa.String(10), nullable=True)
    source: Mapped[str] = mapped_column(sa.String(16))
    batch: Mapped[str | None] = mapped_column(sa.String(80), nullable=True)
    row: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    recorded_by: Mapped[str] = mapped_column(sa.String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PhaseRun(Base):
    """A completed phase run: the forecast's history of actual against planned durations."""

    __tablename__ = "phase_runs"
    __table_args__ = (sa.UniqueConstraint("project", "phase", "cycle"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(sa.String(128))
    process_id: Mapped[str] = mapped_column(sa.String(128))
    phase: Mapped[str] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, index=True)
    cycle: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    planned_seconds: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    outcome: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)


cost_entries = cast(sa.Table, CostEntry.__table__)
phase_runs = cast(sa.Table, PhaseRun.__table__)
