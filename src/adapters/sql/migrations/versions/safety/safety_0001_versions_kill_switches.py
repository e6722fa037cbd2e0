"""safety: topic versions for snapshot propagation, kill switches and their changes

Revision ID: safety_0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "safety_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("safety",)
depends_on: Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "safety_versions",
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("topic", name="pk_safety_versions"),
    )
    op.create_table(
        "safety_kill_switches",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(40), nullable=True),
        _at("changed_at"),
        sa.PrimaryKeyConstraint("name", name="pk_safety_kill_switches"),
    )
    op.create_table(
        "safety_kill_switch_changes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(40), nullable=True),
        _at("changed_at"),
        sa.PrimaryKeyConstraint("id", name="pk_safety_kill_switch_changes"),
    )
    op.create_index(
        "ix_safety_kill_switch_changes_name", "safety_kill_switch_changes", ["name", "id"]
    )


def downgrade() -> None:
    op.drop_table("safety_kill_switch_changes")
    op.drop_table("safety_kill_switches")
    op.drop_table("safety_versions")
