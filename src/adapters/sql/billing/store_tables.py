"""The billing stores' tables (billing_0003): subscriptions, customer and price
mappings, mirrored invoices, received webhook events, raised alerts and usage reports.

``billing_subscriptions``: one row per subscription, final ones kept as history. The
partial unique index ``uq_billing_subscriptions_live`` lets a workspace have at most one
live subscription (any status but ``canceled`` and ``incomplete_expired``); ``version``
is the optimistic lock (``UPDATE … WHERE id = ? AND version = ?``).

``billing_provider_prices``: every price a sync created; the current one of a key has
no ``replaced_at`` (at most one per provider and key), replaced ones stay findable by
their provider id.

``billing_webhook_events``: verified webhooks byte for byte (``body``), keyed by the
provider's event id: the primary key is the deduplication (``ON CONFLICT DO NOTHING``);
``normalized`` is the adapter's reading of it (the ``BillingWebhook`` as JSON).

``billing_alerts`` and ``billing_usage_reports`` are keyed by workspace, alert or meter
and period start.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from adapters.sql.billing.tables import metadata
from adapters.sql.types import UTCDateTime

ID_MAX = 40
PROVIDER_MAX = 20
PROVIDER_ID_MAX = 255
KEY_MAX = 100
STATUS_MAX = 20
CURRENCY_MAX = 3

LIVE = "status NOT IN ('canceled', 'incomplete_expired')"
CURRENT_PRICE = "replaced_at IS NULL"

subscriptions = Table(
    "billing_subscriptions",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("plan", String(KEY_MAX), nullable=False),
    Column("interval", String(STATUS_MAX), nullable=False),
    Column("currency", String(CURRENCY_MAX), nullable=False),
    Column("seats", Integer(), nullable=False),
    Column("status", String(STATUS_MAX), nullable=False),
    Column("cancel_at_period_end", Boolean(), nullable=False),
    Column("current_period_start", UTCDateTime(), nullable=True),
    Column("current_period_end", UTCDateTime(), nullable=True),
    Column("trial_end", UTCDateTime(), nullable=True),
    Column("canceled_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("past_due_since", UTCDateTime(), nullable=True),
    Column("pending_plan", String(KEY_MAX), nullable=True),
    Column("pending_interval", String(STATUS_MAX), nullable=True),
    Column("provider", String(PROVIDER_MAX), nullable=False),
    Column("provider_subscription_id", String(PROVIDER_ID_MAX), nullable=True),
    Column("provider_version", BigInteger(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("version", BigInteger(), nullable=False),
    # One live subscription per workspace; final ones do not count.
    Index(
        "uq_billing_subscriptions_live",
        "workspace_id",
        unique=True,
        sqlite_where=text(LIVE),
        postgresql_where=text(LIVE),
    ),
    # ``current``: the workspace's subscriptions, most recent first.
    Index("ix_billing_subscriptions_workspace_id", "workspace_id", "created_at"),
    Index("ix_billing_subscriptions_provider_id", "provider", "provider_subscription_id"),
    Index("ix_billing_subscriptions_status", "status", "id"),
)

customers = Table(
    "billing_customers",
    metadata,
    Column("provider", String(PROVIDER_MAX), primary_key=True),
    Column("workspace_id", String(ID_MAX), primary_key=True),
    Column("customer_id", String(PROVIDER_ID_MAX), nullable=False),
    UniqueConstraint("provider", "customer_id", name="uq_billing_customers_customer_id"),
)

provider_prices = Table(
    "billing_provider_prices",
    metadata,
    Column("provider", String(PROVIDER_MAX), primary_key=True),
    Column("provider_price_id", String(PROVIDER_ID_MAX), primary_key=True),
    Column("key", String(KEY_MAX), nullable=False),
    Column("provider_product_id", String(PROVIDER_ID_MAX), nullable=False),
    Column("fingerprint", String(KEY_MAX), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("replaced_at", UTCDateTime(), nullable=True),  # NULL: the key's current price
    Index(
        "uq_billing_provider_prices_current",
        "provider",
        "key",
        unique=True,
        sqlite_where=text(CURRENT_PRICE),
        postgresql_where=text(CURRENT_PRICE),
    ),
)

invoices = Table(
    "billing_invoices",
    metadata,
    Column("provider", String(PROVIDER_MAX), primary_key=True),
    Column("provider_invoice_id", String(PROVIDER_ID_MAX), primary_key=True),
    Column("workspace_id", String(ID_MAX), nullable=False),
    Column("provider_subscription_id", String(PROVIDER_ID_MAX), nullable=True),
    Column("number", String(KEY_MAX), nullable=True),
    Column("status", String(STATUS_MAX), nullable=False),
    Column("currency", String(CURRENCY_MAX), nullable=False),
    Column("subtotal", BigInteger(), nullable=False),
    Column("tax", BigInteger(), nullable=False),
    Column("total", BigInteger(), nullable=False),
    Column("amount_paid", BigInteger(), nullable=False),
    Column("amount_due", BigInteger(), nullable=False),
    Column("period_start", UTCDateTime(), nullable=True),
    Column("period_end", UTCDateTime(), nullable=True),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("hosted_url", Text(), nullable=True),
    Column("pdf_url", Text(), nullable=True),
    Column("provider_version", BigInteger(), nullable=False),
    Index("ix_billing_invoices_workspace_id", "workspace_id", "issued_at", "provider_invoice_id"),
)

webhook_events = Table(
    "billing_webhook_events",
    metadata,
    Column("provider", String(PROVIDER_MAX), primary_key=True),
    Column("event_id", String(PROVIDER_ID_MAX), primary_key=True),
    Column("type", String(KEY_MAX), nullable=False),
    Column("kind", String(STATUS_MAX), nullable=False),
    Column("workspace_id", String(ID_MAX), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("status", String(STATUS_MAX), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=True),
    Column("attempts", Integer(), nullable=False),
    Column("detail", Text(), nullable=False),
    Column("body", LargeBinary(), nullable=False),
    Column("normalized", LargeBinary(), nullable=False),  # the BillingWebhook as JSON
    Index("ix_billing_webhook_events_received_at", "received_at", "event_id"),
    Index("ix_billing_webhook_events_status", "status", "received_at"),
)

alerts = Table(
    "billing_alerts",
    metadata,
    Column("workspace_id", String(ID_MAX), primary_key=True),
    Column("alert", String(KEY_MAX), primary_key=True),
    Column("period_start", UTCDateTime(), primary_key=True),
    Column("raised_at", UTCDateTime(), nullable=False),
)

usage_reports = Table(
    "billing_usage_reports",
    metadata,
    Column("workspace_id", String(ID_MAX), primary_key=True),
    Column("meter", String(KEY_MAX), primary_key=True),
    Column("period_start", UTCDateTime(), primary_key=True),
    Column("quantity", BigInteger(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
