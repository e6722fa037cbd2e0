"""Tables owned by the workflows system (prefix ``workflows_``)."""

from sqlalchemy import Column, Index, Integer, String, Table, Text

from adapters.sql.naming import system_metadata
from adapters.sql.types import UTCDateTime

metadata = system_metadata()

outbox = Table(
    "workflows_outbox",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("workspace_id", String(40), nullable=True),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("last_error", Text(), nullable=True),
    Column("locked_until", UTCDateTime(), nullable=True),
    Column("published_at", UTCDateTime(), nullable=True),
    Index("ix_workflows_outbox_pending", "published_at", "id"),
)
