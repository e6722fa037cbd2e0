"""billing: metered usage events and their hourly totals

Revision ID: billing_0002
Revises: billing_0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "billing_0002"
down_revision: str | None = "billing_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_usage_events",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("meter", sa.String(100), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("distinct_value", sa.Text(), nullable=True),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "event_id", name="pk_billing_usage_events"),
    )
    op.create_index(
        "ix_billing_usage_events_meter_time",
        "billing_usage_events",
        ["workspace_id", "meter", "timestamp"],
    )
    op.create_index(
        "ix_billing_usage_events_distinct_value",
        "billing_usage_events",
        ["workspace_id", "meter", "distinct_value", "timestamp"],
        sqlite_where=sa.text("distinct_value IS NOT NULL"),
        postgresql_where=sa.text("distinct_value IS NOT NULL"),
    )

    op.create_table(
        "billing_usage_hourly",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("meter", sa.String(100), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("maximum", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("workspace_id", "meter", "hour", name="pk_billing_usage_hourly"),
    )


def downgrade() -> None:
    op.drop_table("billing_usage_hourly")
    op.drop_index("ix_billing_usage_events_distinct_value", table_name="billing_usage_events")
    op.drop_index("ix_billing_usage_events_meter_time", table_name="billing_usage_events")
    op.drop_table("billing_usage_events")
