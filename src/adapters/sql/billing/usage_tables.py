"""Metered usage's tables (billing_0002).

``billing_usage_events``: one row per recorded event, keyed by ``(workspace_id,
event_id)``: the primary key is the deduplication (``INSERT … ON CONFLICT DO NOTHING``),
with no surrogate id to index. ``value`` and ``distinct_value`` hold what the event's
meter aggregates, so sums, maxima and distinct counts run on plain columns;
``properties`` keeps the event's properties as a JSON object (text) for the record.
Rows are append-only.

``billing_usage_hourly``: per workspace, meter and UTC hour, the number of events, the
sum and the maximum of their values, kept up to date in the transaction that records
the events. A count, sum or max over a period reads the whole hours here and only the
partial hours at its two ends from the events, so limit checks cost the same at the
start and at the end of a busy month.
"""

from sqlalchemy import BigInteger, Column, Double, Index, String, Table, Text, text

from adapters.sql.billing.tables import metadata
from adapters.sql.types import UTCDateTime

WORKSPACE_ID_MAX = 40
EVENT_ID_MAX = 100
METER_MAX = 100

usage_events = Table(
    "billing_usage_events",
    metadata,
    Column("workspace_id", String(WORKSPACE_ID_MAX), primary_key=True),
    Column("event_id", String(EVENT_ID_MAX), primary_key=True),
    Column("meter", String(METER_MAX), nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("quantity", Double(), nullable=False),
    Column("value", Double(), nullable=True),
    Column("distinct_value", Text(), nullable=True),
    Column("properties", Text(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    # A meter's events in a period: the partial hours of aggregates, latest, listings.
    Index("ix_billing_usage_events_meter_time", "workspace_id", "meter", "timestamp"),
    # Unique-count events only: "which of these values did the period see already?"
    # is one index probe per value (the limit check of a unique-count meter).
    Index(
        "ix_billing_usage_events_distinct_value",
        "workspace_id",
        "meter",
        "distinct_value",
        "timestamp",
        sqlite_where=text("distinct_value IS NOT NULL"),
        postgresql_where=text("distinct_value IS NOT NULL"),
    ),
)

usage_hourly = Table(
    "billing_usage_hourly",
    metadata,
    Column("workspace_id", String(WORKSPACE_ID_MAX), primary_key=True),
    Column("meter", String(METER_MAX), primary_key=True),
    Column("hour", UTCDateTime(), primary_key=True),  # the start of the UTC hour
    Column("events", BigInteger(), nullable=False),
    Column("total", Double(), nullable=False),  # of the values (0 without)
    Column("maximum", Double(), nullable=True),  # of the values (NULL without)
)
