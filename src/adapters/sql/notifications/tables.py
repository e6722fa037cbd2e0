"""Tables owned by the notifications system (prefix ``notifications_``)."""

from sqlalchemy import Column, Index, Integer, String, Table, Text

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
