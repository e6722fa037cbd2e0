"""notifications: the SMS outbox

Revision ID: notifications_0002
Revises: notifications_0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notifications_0002"
down_revision: str | None = "notifications_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications_sms",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("to_number", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications_sms"),
        sa.UniqueConstraint("idempotency_key", name="uq_notifications_sms_idempotency_key"),
    )
    op.create_index("ix_notifications_sms_to_number", "notifications_sms", ["to_number"])


def downgrade() -> None:
    op.drop_index("ix_notifications_sms_to_number", table_name="notifications_sms")
    op.drop_table("notifications_sms")
