"""billing: subscriptions, customers, provider prices, invoices, webhook events,
alerts and usage reports

Revision ID: billing_0003
Revises: billing_0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "billing_0003"
down_revision: str | None = "billing_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

LIVE = "status NOT IN ('canceled', 'incomplete_expired')"
CURRENT_PRICE = "replaced_at IS NULL"


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "billing_subscriptions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("plan", sa.String(100), nullable=False),
        sa.Column("interval", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        _at("current_period_start", nullable=True),
        _at("current_period_end", nullable=True),
        _at("trial_end", nullable=True),
        _at("canceled_at", nullable=True),
        _at("ended_at", nullable=True),
        _at("past_due_since", nullable=True),
        sa.Column("pending_plan", sa.String(100), nullable=True),
        sa.Column("pending_interval", sa.String(20), nullable=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_subscription_id", sa.String(255), nullable=True),
        sa.Column("provider_version", sa.BigInteger(), nullable=False),
        _at("created_at"),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_subscriptions"),
    )
    op.create_index(
        "uq_billing_subscriptions_live",
        "billing_subscriptions",
        ["workspace_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    op.create_index(
        "ix_billing_subscriptions_workspace_id",
        "billing_subscriptions",
        ["workspace_id", "created_at"],
    )
    op.create_index(
        "ix_billing_subscriptions_provider_id",
        "billing_subscriptions",
        ["provider", "provider_subscription_id"],
    )
    op.create_index("ix_billing_subscriptions_status", "billing_subscriptions", ["status", "id"])

    op.create_table(
        "billing_customers",
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("provider", "workspace_id", name="pk_billing_customers"),
        sa.UniqueConstraint("provider", "customer_id", name="uq_billing_customers_customer_id"),
    )

    op.create_table(
        "billing_provider_prices",
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_price_id", sa.String(255), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("provider_product_id", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(100), nullable=False),
        _at("created_at"),
        _at("replaced_at", nullable=True),
        sa.PrimaryKeyConstraint("provider", "provider_price_id", name="pk_billing_provider_prices"),
    )
    op.create_index(
        "uq_billing_provider_prices_current",
        "billing_provider_prices",
        ["provider", "key"],
        unique=True,
        sqlite_where=sa.text(CURRENT_PRICE),
        postgresql_where=sa.text(CURRENT_PRICE),
    )

    op.create_table(
        "billing_invoices",
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_invoice_id", sa.String(255), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("provider_subscription_id", sa.String(255), nullable=True),
        sa.Column("number", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        _at("period_start", nullable=True),
        _at("period_end", nullable=True),
        _at("issued_at"),
        sa.Column("hosted_url", sa.Text(), nullable=True),
        sa.Column("pdf_url", sa.Text(), nullable=True),
        sa.Column("provider_version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "provider_invoice_id", name="pk_billing_invoices"),
    )
    op.create_index(
        "ix_billing_invoices_workspace_id",
        "billing_invoices",
        ["workspace_id", "issued_at", "provider_invoice_id"],
    )

    op.create_table(
        "billing_webhook_events",
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=True),
        _at("received_at"),
        sa.Column("status", sa.String(20), nullable=False),
        _at("processed_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("normalized", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name="pk_billing_webhook_events"),
    )
    op.create_index(
        "ix_billing_webhook_events_received_at",
        "billing_webhook_events",
        ["received_at", "event_id"],
    )
    op.create_index(
        "ix_billing_webhook_events_status", "billing_webhook_events", ["status", "received_at"]
    )

    op.create_table(
        "billing_alerts",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("alert", sa.String(100), nullable=False),
        _at("period_start"),
        _at("raised_at"),
        sa.PrimaryKeyConstraint("workspace_id", "alert", "period_start", name="pk_billing_alerts"),
    )

    op.create_table(
        "billing_usage_reports",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("meter", sa.String(100), nullable=False),
        _at("period_start"),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint(
            "workspace_id", "meter", "period_start", name="pk_billing_usage_reports"
        ),
    )


def downgrade() -> None:
    op.drop_table("billing_usage_reports")
    op.drop_table("billing_alerts")
    op.drop_index("ix_billing_webhook_events_status", table_name="billing_webhook_events")
    op.drop_index("ix_billing_webhook_events_received_at", table_name="billing_webhook_events")
    op.drop_table("billing_webhook_events")
    op.drop_index("ix_billing_invoices_workspace_id", table_name="billing_invoices")
    op.drop_table("billing_invoices")
    op.drop_index("uq_billing_provider_prices_current", table_name="billing_provider_prices")
    op.drop_table("billing_provider_prices")
    op.drop_table("billing_customers")
    op.drop_index("ix_billing_subscriptions_status", table_name="billing_subscriptions")
    op.drop_index("ix_billing_subscriptions_provider_id", table_name="billing_subscriptions")
    op.drop_index("ix_billing_subscriptions_workspace_id", table_name="billing_subscriptions")
    op.drop_index("uq_billing_subscriptions_live", table_name="billing_subscriptions")
    op.drop_table("billing_subscriptions")
