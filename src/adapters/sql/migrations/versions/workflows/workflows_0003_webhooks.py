"""workflows: outbound webhooks (endpoints and the delivery log)

Revision ID: workflows_0003
Revises: workflows_0002
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "workflows_0003"
down_revision: str | None = "workflows_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workflows_webhook_endpoints",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(500), server_default="", nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflows_webhook_endpoints"),
    )
    op.create_index(
        "ix_workflows_webhook_endpoints_workspace",
        "workflows_webhook_endpoints",
        ["workspace_id", "id"],
    )
    op.create_table(
        "workflows_webhook_deliveries",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("endpoint_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("message_id", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), server_default="", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflows_webhook_deliveries"),
    )
    op.create_index(
        "ix_workflows_webhook_deliveries_endpoint",
        "workflows_webhook_deliveries",
        ["workspace_id", "endpoint_id", "id"],
    )
    op.create_index(
        "ix_workflows_webhook_deliveries_created", "workflows_webhook_deliveries", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index(
        "ix_workflows_webhook_deliveries_created", table_name="workflows_webhook_deliveries"
    )
    op.drop_index(
        "ix_workflows_webhook_deliveries_endpoint", table_name="workflows_webhook_deliveries"
    )
    op.drop_table("workflows_webhook_deliveries")
    op.drop_index(
        "ix_workflows_webhook_endpoints_workspace", table_name="workflows_webhook_endpoints"
    )
    op.drop_table("workflows_webhook_endpoints")
