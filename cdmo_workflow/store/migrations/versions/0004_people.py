"""Delegations of signing authority (issue #16): time-boxed, revocable, audited.

Revision ID: 0004_people
Revises: 0003_sessions_and_codes
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_people"
down_revision = "0003_sessions_and_codes"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("delegator", sa.String(128), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("delegate", sa.String(128), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("role", sa.String(128), nullable=False),
        sa.Column("project", sa.String(128), nullable=True),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by", sa.String(128), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_delegations"),
    )
    op.create_index("ix_delegations_delegator", "delegations", ["delegator"])
    op.create_index("ix_delegations_delegate", "delegations", ["delegate"])


def downgrade() -> None:
    op.drop_index("ix_delegations_delegate", "delegations")
    op.drop_index("ix_delegations_delegator", "delegations")
    op.drop_table("delegations")
