"""Sign-in sessions and one-time codes (Part 11.300: no administrator learns a credential).

Revision ID: 0003_sessions_and_codes
Revises: 0002_password_change
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sessions_and_codes"
down_revision = "0002_password_change"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "one_time_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_one_time_codes"),
    )
    op.create_index("ix_one_time_codes_user_id", "one_time_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_one_time_codes_user_id", "one_time_codes")
    op.drop_table("one_time_codes")
    op.drop_index("ix_sessions_user_id", "sessions")
    op.drop_table("sessions")
