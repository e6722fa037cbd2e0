"""Tables owned by the notifications system (prefix ``notifications_``)."""

from collections.abc import Mapping

from sqlalchemy import Boolean, Column, Index, Integer, LargeBinary, String, Table, Text

from adapters.sql.naming import system_metadata
from adapters.sql.types import UTCDateTime

metadata = system_metadata()

# Bounded columns; the outbox refuses longer values on every backend alike (SQLite would
# store them, PostgreSQL would fail the whole transaction).
TO_ADDRESS_MAX = 320
CATEGORY_MAX = 120
IDEMPOTENCY_KEY_MAX = 255

emails = Table(
    "notifications_emails",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("to_address", String(TO_ADDRESS_MAX), nullable=False),
    Column("subject", Text(), nullable=False),
    Column("text_body", Text(), nullable=False),
    Column("html_body", Text(), nullable=True),
    Column("headers", Text(), nullable=True),  # a JSON object of strings, or NULL
    Column("category", String(CATEGORY_MAX), nullable=False),
    Column("idempotency_key", String(IDEMPOTENCY_KEY_MAX), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_notifications_emails_to_address", "to_address"),
)

# The SMS outbox. A number is E.164: "+" and at most 15 digits.
TO_NUMBER_MAX = 16

sms = Table(
    "notifications_sms",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("to_number", String(TO_NUMBER_MAX), nullable=False),
    Column("body", Text(), nullable=False),
    Column("category", String(CATEGORY_MAX), nullable=False),
    Column("idempotency_key", String(IDEMPOTENCY_KEY_MAX), nullable=False, unique=True),
    Column("segments", Integer(), nullable=False),
    Column("encoding", String(8), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_notifications_sms_to_number", "to_number"),
)

# Deliveries, suppressions, preferences, the in-app inbox and provider reports
# (notifications_0003). No foreign keys to identity's tables: systems own their tables
# and refer to each other by id only.
ID_MAX = 40  # a prefixed, time-ordered id
TYPE_MAX = 120  # a notification type's name
CHANNEL_MAX = 10  # email, sms, in_app
STATUS_MAX = 20
PROVIDER_MAX = 40
PROVIDER_ID_MAX = 255  # a provider's id of a message or of a report

deliveries = Table(
    "notifications_deliveries",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("idempotency_key", String(IDEMPOTENCY_KEY_MAX), nullable=False, unique=True),
    Column("notification_type", String(TYPE_MAX), nullable=False),
    Column("category", String(CATEGORY_MAX), nullable=False),
    Column("channel", String(CHANNEL_MAX), nullable=False),
    Column("user_id", String(ID_MAX), nullable=True),
    Column("workspace_id", String(ID_MAX), nullable=True),
    Column("address", String(TO_ADDRESS_MAX), nullable=False),
    Column("status", String(STATUS_MAX), nullable=False),
    Column("provider", String(PROVIDER_MAX), nullable=True),
    Column("provider_message_id", String(PROVIDER_ID_MAX), nullable=True),
    Column("error", Text(), nullable=True),
    Column("queued_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("bounced_at", UTCDateTime(), nullable=True),
    Column("complained_at", UTCDateTime(), nullable=True),
    Column("failed_at", UTCDateTime(), nullable=True),
    Column("suppressed_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_notifications_deliveries_provider_message", "provider", "provider_message_id"),
    Index("ix_notifications_deliveries_address", "address"),
    Index("ix_notifications_deliveries_user_id", "user_id"),
    Index("ix_notifications_deliveries_status", "status"),
)

suppressions = Table(
    "notifications_suppressions",
    metadata,
    Column("address", String(TO_ADDRESS_MAX), primary_key=True),  # normalized (lowercase)
    Column("reason", String(STATUS_MAX), nullable=False),
    Column("detail", Text(), nullable=True),
    Column("delivery_id", String(ID_MAX), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Only what a person chose; a pair without a row follows the notification types' defaults.
preferences = Table(
    "notifications_preferences",
    metadata,
    Column("user_id", String(ID_MAX), primary_key=True),
    Column("category", String(CATEGORY_MAX), primary_key=True),
    Column("channel", String(CHANNEL_MAX), primary_key=True),
    Column("enabled", Boolean(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

inbox = Table(
    "notifications_inbox",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("user_id", String(ID_MAX), nullable=False),
    Column("workspace_id", String(ID_MAX), nullable=True),
    Column("notification_type", String(TYPE_MAX), nullable=False),
    Column("category", String(CATEGORY_MAX), nullable=False),
    Column("title", Text(), nullable=False),
    Column("body", Text(), nullable=False),
    Column("link", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("read_at", UTCDateTime(), nullable=True),
    Index("ix_notifications_inbox_user_id_id", "user_id", "id"),
    Index("ix_notifications_inbox_created_at", "created_at"),
)

# Every verified provider report, once per (provider, event_id): the primary key.
provider_events = Table(
    "notifications_provider_events",
    metadata,
    Column("provider", String(PROVIDER_MAX), primary_key=True),
    Column("event_id", String(PROVIDER_ID_MAX), primary_key=True),
    Column("event_type", String(TYPE_MAX), nullable=False),
    Column("message_id", String(PROVIDER_ID_MAX), nullable=False),
    Column("payload", LargeBinary(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=True),
    Column("outcome", String(STATUS_MAX), nullable=True),
    Index("ix_notifications_provider_events_message", "provider", "message_id"),
)


def check_lengths(table: Table, row: Mapping[str, object], what: str) -> None:
    """Refuse a value longer than its bounded column before any SQL, on every backend
    alike (SQLite would store it, PostgreSQL would fail the whole transaction)."""
    for name, value in row.items():
        limit = getattr(table.c[name].type, "length", None)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            raise ValueError(f"{what} {name} is longer than {limit} characters")
