"""The credit ledger's tables (billing_0001).

Transactions and their entries are append-only: a correction is a reversal transaction,
never an UPDATE. A grant's remaining credits are the sum of the entries on the
``available`` account that carry its id. ``billing_credit_balances`` caches each
workspace's balance and is the row a posting locks (``SELECT … FOR UPDATE``) so that
concurrent postings to one workspace queue up; it is never trusted over the entries
(``CreditLedger.verify`` recomputes it).
"""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from adapters.sql.billing.tables import metadata
from adapters.sql.types import UTCDateTime

ID_MAX = 40
KIND_MAX = 20
ACCOUNT_MAX = 64
KEY_MAX = 255

ledger_transactions = Table(
    "billing_ledger_transactions",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("kind", String(KIND_MAX), nullable=False),
    Column("idempotency_key", String(KEY_MAX), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("reverses", String(ID_MAX), nullable=True),
    Column("reason", Text(), nullable=True),
    Column("actor_id", String(ID_MAX), nullable=True),
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_billing_ledger_transactions_key"),
    Index("ix_billing_ledger_transactions_workspace_id", "workspace_id", "id"),
)

ledger_entries = Table(
    "billing_ledger_entries",
    metadata,
    Column(
        "transaction_id",
        String(ID_MAX),
        ForeignKey("billing_ledger_transactions.id", name="fk_billing_ledger_entries_transaction"),
        primary_key=True,
    ),
    Column("position", Integer(), primary_key=True),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("account", String(ACCOUNT_MAX), nullable=False),
    Column("grant_id", String(ID_MAX), nullable=True),
    Column("amount", BigInteger(), nullable=False),
    CheckConstraint("amount <> 0", name="nonzero"),
    Index("ix_billing_ledger_entries_workspace_id", "workspace_id", "account"),
    Index("ix_billing_ledger_entries_grant_id", "grant_id"),
)

credit_grants = Table(
    "billing_credit_grants",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column(
        "transaction_id",
        String(ID_MAX),
        ForeignKey("billing_ledger_transactions.id", name="fk_billing_credit_grants_transaction"),
        nullable=False,
    ),
    Column("source", String(KIND_MAX), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("priority", Integer(), nullable=False),
    Column("effective_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("reason", Text(), nullable=True),
    Column("allocation_key", String(KEY_MAX), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_billing_credit_grants_workspace_id", "workspace_id", "allocation_key"),
    Index("ix_billing_credit_grants_expires_at", "expires_at"),
)

credit_balances = Table(
    "billing_credit_balances",
    metadata,
    Column("workspace_id", String(ID_MAX), primary_key=True),
    Column("available", BigInteger(), nullable=False),
    Column("overdraft", BigInteger(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
