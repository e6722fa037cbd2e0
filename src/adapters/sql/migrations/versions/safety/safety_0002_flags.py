"""safety: feature flags, segments and their changes

Revision ID: safety_0002
Revises: safety_0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "safety_0002"
down_revision: str | None = "safety_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "safety_flags",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value_type", sa.String(16), nullable=False),
        sa.Column("client_visible", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("archived_at", nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_safety_flags"),
    )
    op.create_table(
        "safety_segments",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("key", name="pk_safety_segments"),
    )
    op.create_table(
        "safety_flag_changes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        _at("at"),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("schedule_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safety_flag_changes"),
    )
    op.create_index(
        "ix_safety_flag_changes_subject", "safety_flag_changes", ["subject", "key", "id"]
    )
    op.create_table(
        "safety_flag_schedules",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        _at("apply_at"),
        sa.Column("patch", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=True),
        _at("created_at"),
        sa.Column("state", sa.String(16), nullable=False),
        _at("done_at", nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_safety_flag_schedules"),
    )
    op.create_index(
        "ix_safety_flag_schedules_state", "safety_flag_schedules", ["state", "apply_at"]
    )
    op.create_index("ix_safety_flag_schedules_key", "safety_flag_schedules", ["key", "apply_at"])


def downgrade() -> None:
    op.drop_table("safety_flag_schedules")
    op.drop_table("safety_flag_changes")
    op.drop_table("safety_segments")
    op.drop_table("safety_flags")
