"""workflows: the transactional outbox

Revision ID: workflows_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "workflows_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("workflows",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workflows_outbox",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_workflows_outbox"),
    )
    op.create_index("ix_workflows_outbox_pending", "workflows_outbox", ["published_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_workflows_outbox_pending", table_name="workflows_outbox")
    op.drop_table("workflows_outbox")
