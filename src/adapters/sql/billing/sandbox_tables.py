"""The sandbox payment processor's tables (billing_0004): its own state, as a real
provider keeps its own, apart from billing's tables (``billing_subscriptions`` … hold
billing's view, fed by the sandbox's webhooks like any provider's).

One table per record kind of ``adapters.sandbox.model``, its columns named like the
record's fields; lists and dicts (``metadata``, ``lines``) are JSON text. ``due_at``
(subscriptions, checkouts) is what ``tick`` looks for: a partial index holds only the
rows waiting for something. ``billing_sandbox_sequences`` numbers invoices.
"""

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, text

from adapters.sql.billing.tables import metadata
from adapters.sql.types import UTCDateTime

ID_MAX = 64
KEY_MAX = 300
STATUS_MAX = 30
CURRENCY_MAX = 3
NAME_MAX = 200
URL_MAX = 2_000

sandbox_customers = Table(
    "billing_sandbox_customers",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("name", String(NAME_MAX), nullable=False),
    Column("email", String(320), nullable=True),
    Column("card_works", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_billing_sandbox_customers_workspace_id", "workspace_id"),
)

sandbox_prices = Table(
    "billing_sandbox_prices",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("product_id", String(ID_MAX), nullable=False),
    Column("key", String(KEY_MAX), nullable=False),
    Column("name", String(NAME_MAX), nullable=False),
    Column("description", Text(), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("currency", String(CURRENCY_MAX), nullable=False),
    Column("interval", String(STATUS_MAX), nullable=True),
    Column("per_seat", Boolean(), nullable=False),
    Column("fingerprint", String(KEY_MAX), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_billing_sandbox_prices_key", "key"),
)

sandbox_checkouts = Table(
    "billing_sandbox_checkouts",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("customer_id", String(ID_MAX), nullable=False),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("mode", String(STATUS_MAX), nullable=False),
    Column("price_id", String(ID_MAX), nullable=False),
    Column("quantity", Integer(), nullable=False),
    Column("trial_days", Integer(), nullable=False),
    Column("success_url", String(URL_MAX), nullable=False),
    Column("cancel_url", String(URL_MAX), nullable=False),
    Column("metadata", Text(), nullable=False),
    Column("status", String(STATUS_MAX), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("completed_at", UTCDateTime(), nullable=True),
    Column("subscription_id", String(ID_MAX), nullable=True),
    Column("payment_id", String(ID_MAX), nullable=True),
    Index(
        "ix_billing_sandbox_checkouts_due_at",
        "due_at",
        sqlite_where=text("due_at IS NOT NULL"),
        postgresql_where=text("due_at IS NOT NULL"),
    ),
)

sandbox_subscriptions = Table(
    "billing_sandbox_subscriptions",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("customer_id", String(ID_MAX), nullable=False),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("price_id", String(ID_MAX), nullable=False),
    Column("currency", String(CURRENCY_MAX), nullable=False),
    Column("quantity", Integer(), nullable=False),
    Column("status", String(STATUS_MAX), nullable=False),
    Column("current_period_start", UTCDateTime(), nullable=False),
    Column("current_period_end", UTCDateTime(), nullable=False),
    Column("trial_end", UTCDateTime(), nullable=True),
    Column("cancel_at_period_end", Boolean(), nullable=False),
    Column("canceled_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("past_due_since", UTCDateTime(), nullable=True),
    Column("failed_attempts", Integer(), nullable=False),
    Column("next_retry_at", UTCDateTime(), nullable=True),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("metadata", Text(), nullable=False),
    Column("version", BigInteger(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_billing_sandbox_subscriptions_customer_id", "customer_id"),
    Index("ix_billing_sandbox_subscriptions_workspace_id", "workspace_id"),
    Index(
        "ix_billing_sandbox_subscriptions_due_at",
        "due_at",
        sqlite_where=text("due_at IS NOT NULL"),
        postgresql_where=text("due_at IS NOT NULL"),
    ),
)

sandbox_invoices = Table(
    "billing_sandbox_invoices",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("number", String(STATUS_MAX), nullable=False, unique=True),
    Column("customer_id", String(ID_MAX), nullable=False),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("subscription_id", String(ID_MAX), nullable=True),
    Column("reason", String(STATUS_MAX), nullable=False),
    Column("status", String(STATUS_MAX), nullable=False),
    Column("currency", String(CURRENCY_MAX), nullable=False),
    Column("subtotal", BigInteger(), nullable=False),
    Column("total", BigInteger(), nullable=False),
    Column("amount_paid", BigInteger(), nullable=False),
    Column("amount_due", BigInteger(), nullable=False),
    Column("lines", Text(), nullable=False),
    Column("period_start", UTCDateTime(), nullable=True),
    Column("period_end", UTCDateTime(), nullable=True),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("paid_at", UTCDateTime(), nullable=True),
    Column("attempts", Integer(), nullable=False),
    Column("version", BigInteger(), nullable=False),
    Index("ix_billing_sandbox_invoices_customer_id", "customer_id"),
    Index("ix_billing_sandbox_invoices_subscription_id", "subscription_id"),
)

sandbox_payments = Table(
    "billing_sandbox_payments",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("customer_id", String(ID_MAX), nullable=False),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("price_id", String(ID_MAX), nullable=False),
    Column("quantity", Integer(), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("currency", String(CURRENCY_MAX), nullable=False),
    Column("invoice_id", String(ID_MAX), nullable=True),
    Column("paid_at", UTCDateTime(), nullable=False),
    Index("ix_billing_sandbox_payments_customer_id", "customer_id"),
)

sandbox_usage = Table(
    "billing_sandbox_usage",
    metadata,
    Column("id", String(KEY_MAX), primary_key=True),  # the idempotency key
    Column("customer_id", String(ID_MAX), nullable=False),
    Column("subscription_id", String(ID_MAX), nullable=True),
    Column("meter", String(NAME_MAX), nullable=False),
    Column("quantity", BigInteger(), nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_billing_sandbox_usage_customer_id", "customer_id", "meter"),
)

sandbox_requests = Table(
    "billing_sandbox_requests",
    metadata,
    Column("id", String(KEY_MAX + 40), primary_key=True),  # "{operation}:{key}"
    Column("result", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

sandbox_events = Table(
    "billing_sandbox_events",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("type", String(NAME_MAX), nullable=False),
    Column("body", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Index(
        "ix_billing_sandbox_events_undelivered",
        "created_at",
        "id",
        sqlite_where=text("delivered_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL"),
    ),
)

sandbox_sequences = Table(
    "billing_sandbox_sequences",
    metadata,
    Column("name", String(STATUS_MAX), primary_key=True),
    Column("value", BigInteger(), nullable=False),
)
