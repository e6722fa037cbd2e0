"""safety: circuit breaker overrides forced by staff

Revision ID: safety_0003
Revises: safety_0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "safety_0003"
down_revision: str | None = "safety_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(40), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "safety_breaker_overrides",
        *_common(),
        sa.Column("change_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_safety_breaker_overrides"),
    )
    op.create_table(
        "safety_breaker_changes",
        sa.Column("id", sa.String(40), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name="pk_safety_breaker_changes"),
    )
    op.create_index("ix_safety_breaker_changes_name", "safety_breaker_changes", ["name", "id"])


def downgrade() -> None:
    op.drop_table("safety_breaker_changes")
    op.drop_table("safety_breaker_overrides")
