"""billing: the sandbox payment processor's own state

Revision ID: billing_0004
Revises: billing_0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "billing_0004"
down_revision: str | None = "billing_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = 64
KEY = 300
STATUS = 30
NAME = 200
URL = 2_000
DUE = "due_at IS NOT NULL"
UNDELIVERED = "delivered_at IS NULL"


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(ID), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "billing_sandbox_customers",
        _id("id"),
        _id("workspace_id"),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("card_works", sa.Boolean(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_customers"),
    )
    op.create_index(
        "ix_billing_sandbox_customers_workspace_id", "billing_sandbox_customers", ["workspace_id"]
    )

    op.create_table(
        "billing_sandbox_prices",
        _id("id"),
        _id("product_id"),
        sa.Column("key", sa.String(KEY), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("interval", sa.String(STATUS), nullable=True),
        sa.Column("per_seat", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(KEY), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_prices"),
    )
    op.create_index("ix_billing_sandbox_prices_key", "billing_sandbox_prices", ["key"])

    op.create_table(
        "billing_sandbox_checkouts",
        _id("id"),
        _id("customer_id"),
        _id("workspace_id"),
        sa.Column("mode", sa.String(STATUS), nullable=False),
        _id("price_id"),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("trial_days", sa.Integer(), nullable=False),
        sa.Column("success_url", sa.String(URL), nullable=False),
        sa.Column("cancel_url", sa.String(URL), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("status", sa.String(STATUS), nullable=False),
        _at("created_at"),
        _at("expires_at"),
        _at("due_at", nullable=True),
        _at("completed_at", nullable=True),
        _id("subscription_id", nullable=True),
        _id("payment_id", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_checkouts"),
    )
    op.create_index(
        "ix_billing_sandbox_checkouts_due_at",
        "billing_sandbox_checkouts",
        ["due_at"],
        sqlite_where=sa.text(DUE),
        postgresql_where=sa.text(DUE),
    )

    op.create_table(
        "billing_sandbox_subscriptions",
        _id("id"),
        _id("customer_id"),
        _id("workspace_id"),
        _id("price_id"),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(STATUS), nullable=False),
        _at("current_period_start"),
        _at("current_period_end"),
        _at("trial_end", nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        _at("canceled_at", nullable=True),
        _at("ended_at", nullable=True),
        _at("past_due_since", nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        _at("next_retry_at", nullable=True),
        _at("due_at", nullable=True),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_subscriptions"),
    )
    op.create_index(
        "ix_billing_sandbox_subscriptions_customer_id",
        "billing_sandbox_subscriptions",
        ["customer_id"],
    )
    op.create_index(
        "ix_billing_sandbox_subscriptions_workspace_id",
        "billing_sandbox_subscriptions",
        ["workspace_id"],
    )
    op.create_index(
        "ix_billing_sandbox_subscriptions_due_at",
        "billing_sandbox_subscriptions",
        ["due_at"],
        sqlite_where=sa.text(DUE),
        postgresql_where=sa.text(DUE),
    )

    op.create_table(
        "billing_sandbox_invoices",
        _id("id"),
        sa.Column("number", sa.String(STATUS), nullable=False),
        _id("customer_id"),
        _id("workspace_id"),
        _id("subscription_id", nullable=True),
        sa.Column("reason", sa.String(STATUS), nullable=False),
        sa.Column("status", sa.String(STATUS), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        _at("period_start", nullable=True),
        _at("period_end", nullable=True),
        _at("issued_at"),
        _at("paid_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_invoices"),
        sa.UniqueConstraint("number", name="uq_billing_sandbox_invoices_number"),
    )
    op.create_index(
        "ix_billing_sandbox_invoices_customer_id", "billing_sandbox_invoices", ["customer_id"]
    )
    op.create_index(
        "ix_billing_sandbox_invoices_subscription_id",
        "billing_sandbox_invoices",
        ["subscription_id"],
    )

    op.create_table(
        "billing_sandbox_payments",
        _id("id"),
        _id("customer_id"),
        _id("workspace_id"),
        _id("price_id"),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _id("invoice_id", nullable=True),
        _at("paid_at"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_payments"),
    )
    op.create_index(
        "ix_billing_sandbox_payments_customer_id", "billing_sandbox_payments", ["customer_id"]
    )

    op.create_table(
        "billing_sandbox_usage",
        sa.Column("id", sa.String(KEY), nullable=False),
        _id("customer_id"),
        _id("subscription_id", nullable=True),
        sa.Column("meter", sa.String(NAME), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        _at("timestamp"),
        _at("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_usage"),
    )
    op.create_index(
        "ix_billing_sandbox_usage_customer_id", "billing_sandbox_usage", ["customer_id", "meter"]
    )

    op.create_table(
        "billing_sandbox_requests",
        sa.Column("id", sa.String(KEY + 40), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_requests"),
    )

    op.create_table(
        "billing_sandbox_events",
        _id("id"),
        sa.Column("type", sa.String(NAME), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _at("created_at"),
        _at("delivered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_billing_sandbox_events"),
    )
    op.create_index(
        "ix_billing_sandbox_events_undelivered",
        "billing_sandbox_events",
        ["created_at", "id"],
        sqlite_where=sa.text(UNDELIVERED),
        postgresql_where=sa.text(UNDELIVERED),
    )

    op.create_table(
        "billing_sandbox_sequences",
        sa.Column("name", sa.String(STATUS), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_billing_sandbox_sequences"),
    )


def downgrade() -> None:
    op.drop_table("billing_sandbox_sequences")
    op.drop_index("ix_billing_sandbox_events_undelivered", table_name="billing_sandbox_events")
    op.drop_table("billing_sandbox_events")
    op.drop_table("billing_sandbox_requests")
    op.drop_index("ix_billing_sandbox_usage_customer_id", table_name="billing_sandbox_usage")
    op.drop_table("billing_sandbox_usage")
    op.drop_index("ix_billing_sandbox_payments_customer_id", table_name="billing_sandbox_payments")
    op.drop_table("billing_sandbox_payments")
    op.drop_index(
        "ix_billing_sandbox_invoices_subscription_id", table_name="billing_sandbox_invoices"
    )
    op.drop_index("ix_billing_sandbox_invoices_customer_id", table_name="billing_sandbox_invoices")
    op.drop_table("billing_sandbox_invoices")
    for index in ("due_at", "workspace_id", "customer_id"):
        op.drop_index(
            f"ix_billing_sandbox_subscriptions_{index}",
            table_name="billing_sandbox_subscriptions",
        )
    op.drop_table("billing_sandbox_subscriptions")
    op.drop_index("ix_billing_sandbox_checkouts_due_at", table_name="billing_sandbox_checkouts")
    op.drop_table("billing_sandbox_checkouts")
    op.drop_index("ix_billing_sandbox_prices_key", table_name="billing_sandbox_prices")
    op.drop_table("billing_sandbox_prices")
    op.drop_index(
        "ix_billing_sandbox_customers_workspace_id", table_name="billing_sandbox_customers"
    )
    op.drop_table("billing_sandbox_customers")
