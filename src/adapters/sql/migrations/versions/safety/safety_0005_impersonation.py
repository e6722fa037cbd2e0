"""safety: impersonation sessions

Revision ID: safety_0005
Revises: safety_0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "safety_0005"
down_revision: str | None = "safety_0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "safety_impersonations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("staff_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _at("started_at"),
        _at("expires_at"),
        sa.Column("staff_session_id", sa.String(40), nullable=False),
        sa.Column("session_id", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _at("ended_at", nullable=True),
        sa.Column("ended_reason", sa.String(16), nullable=True),
        sa.Column("ended_by", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safety_impersonations"),
        sa.UniqueConstraint("token_hash", name="uq_safety_impersonations_token_hash"),
    )
    op.create_index(
        "ix_safety_impersonations_staff_id", "safety_impersonations", ["staff_id", "id"]
    )
    op.create_index("ix_safety_impersonations_user_id", "safety_impersonations", ["user_id", "id"])
    op.create_index(
        "ix_safety_impersonations_staff_session_id", "safety_impersonations", ["staff_session_id"]
    )
    op.create_index(
        "ix_safety_impersonations_open", "safety_impersonations", ["ended_at", "expires_at"]
    )


def downgrade() -> None:
    op.drop_table("safety_impersonations")
