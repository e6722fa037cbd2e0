"""notifications: the mail outbox

Revision ID: notifications_0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notifications_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("notifications",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications_emails",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications_emails"),
        sa.UniqueConstraint("idempotency_key", name="uq_notifications_emails_idempotency_key"),
    )
    op.create_index("ix_notifications_emails_to_address", "notifications_emails", ["to_address"])


def downgrade() -> None:
    op.drop_index("ix_notifications_emails_to_address", table_name="notifications_emails")
    op.drop_table("notifications_emails")
