"""notifications: deliveries, suppressions, preferences, the inbox, provider reports,
and the headers of queued emails

Revision ID: notifications_0003
Revises: notifications_0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notifications_0003"
down_revision: str | None = "notifications_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notifications_deliveries",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("notification_type", sa.String(120), nullable=False),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=True),
        sa.Column("workspace_id", sa.String(40), nullable=True),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(40), nullable=True),
        sa.Column("provider_message_id", sa.String(255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _at("queued_at"),
        _at("sent_at", nullable=True),
        _at("delivered_at", nullable=True),
        _at("bounced_at", nullable=True),
        _at("complained_at", nullable=True),
        _at("failed_at", nullable=True),
        _at("suppressed_at", nullable=True),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_notifications_deliveries"),
        sa.UniqueConstraint("idempotency_key", name="uq_notifications_deliveries_idempotency_key"),
    )
    op.create_index(
        "ix_notifications_deliveries_provider_message",
        "notifications_deliveries",
        ["provider", "provider_message_id"],
    )
    for column in ("address", "user_id", "status"):
        op.create_index(
            f"ix_notifications_deliveries_{column}", "notifications_deliveries", [column]
        )

    op.create_table(
        "notifications_suppressions",
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("delivery_id", sa.String(40), nullable=True),
        _at("created_at"),
        sa.PrimaryKeyConstraint("address", name="pk_notifications_suppressions"),
    )

    op.create_table(
        "notifications_preferences",
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint(
            "user_id", "category", "channel", name="pk_notifications_preferences"
        ),
    )

    op.create_table(
        "notifications_inbox",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=True),
        sa.Column("notification_type", sa.String(120), nullable=False),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        _at("created_at"),
        _at("read_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications_inbox"),
    )
    op.create_index("ix_notifications_inbox_user_id_id", "notifications_inbox", ["user_id", "id"])
    op.create_index("ix_notifications_inbox_created_at", "notifications_inbox", ["created_at"])

    op.create_table(
        "notifications_provider_events",
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        _at("received_at"),
        _at("processed_at", nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.PrimaryKeyConstraint("provider", "event_id", name="pk_notifications_provider_events"),
    )
    op.create_index(
        "ix_notifications_provider_events_message",
        "notifications_provider_events",
        ["provider", "message_id"],
    )

    # A nullable column: a plain ALTER TABLE … ADD COLUMN, also on SQLite.
    with op.batch_alter_table("notifications_emails") as batch:
        batch.add_column(sa.Column("headers", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications_emails") as batch:
        batch.drop_column("headers")
    op.drop_index(
        "ix_notifications_provider_events_message", table_name="notifications_provider_events"
    )
    op.drop_table("notifications_provider_events")
    op.drop_index("ix_notifications_inbox_created_at", table_name="notifications_inbox")
    op.drop_index("ix_notifications_inbox_user_id_id", table_name="notifications_inbox")
    op.drop_table("notifications_inbox")
    op.drop_table("notifications_preferences")
    op.drop_table("notifications_suppressions")
    for column in ("status", "user_id", "address"):
        op.drop_index(
            f"ix_notifications_deliveries_{column}", table_name="notifications_deliveries"
        )
    op.drop_index(
        "ix_notifications_deliveries_provider_message", table_name="notifications_deliveries"
    )
    op.drop_table("notifications_deliveries")
