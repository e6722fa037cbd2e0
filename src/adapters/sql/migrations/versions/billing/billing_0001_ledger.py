"""billing: the credit ledger (transactions, entries, grants, cached balances)

Revision ID: billing_0001
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "billing_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("billing",)
depends_on: Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "billing_ledger_transactions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _at("occurred_at"),
        sa.Column("reverses", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_billing_ledger_transactions"),
        sa.UniqueConstraint(
            "workspace_id", "idempotency_key", name="uq_billing_ledger_transactions_key"
        ),
    )
    op.create_index(
        "ix_billing_ledger_transactions_workspace_id",
        "billing_ledger_transactions",
        ["workspace_id", "id"],
    )

    op.create_table(
        "billing_ledger_entries",
        sa.Column("transaction_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("grant_id", sa.String(40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", "position", name="pk_billing_ledger_entries"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["billing_ledger_transactions.id"],
            name="fk_billing_ledger_entries_transaction",
        ),
        sa.CheckConstraint("amount <> 0", name="ck_billing_ledger_entries_nonzero"),
    )
    op.create_index(
        "ix_billing_ledger_entries_workspace_id",
        "billing_ledger_entries",
        ["workspace_id", "account"],
    )
    op.create_index("ix_billing_ledger_entries_grant_id", "billing_ledger_entries", ["grant_id"])

    op.create_table(
        "billing_credit_grants",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("transaction_id", sa.String(40), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        _at("effective_at"),
        _at("expires_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("allocation_key", sa.String(255), nullable=True),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_credit_grants"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["billing_ledger_transactions.id"],
            name="fk_billing_credit_grants_transaction",
        ),
    )
    op.create_index(
        "ix_billing_credit_grants_workspace_id",
        "billing_credit_grants",
        ["workspace_id", "allocation_key"],
    )
    op.create_index("ix_billing_credit_grants_expires_at", "billing_credit_grants", ["expires_at"])

    op.create_table(
        "billing_credit_balances",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("overdraft", sa.BigInteger(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_billing_credit_balances"),
    )


def downgrade() -> None:
    op.drop_table("billing_credit_balances")
    op.drop_index("ix_billing_credit_grants_expires_at", table_name="billing_credit_grants")
    op.drop_index("ix_billing_credit_grants_workspace_id", table_name="billing_credit_grants")
    op.drop_table("billing_credit_grants")
    op.drop_index("ix_billing_ledger_entries_grant_id", table_name="billing_ledger_entries")
    op.drop_index("ix_billing_ledger_entries_workspace_id", table_name="billing_ledger_entries")
    op.drop_table("billing_ledger_entries")
    op.drop_index(
        "ix_billing_ledger_transactions_workspace_id", table_name="billing_ledger_transactions"
    )
    op.drop_table("billing_ledger_transactions")
