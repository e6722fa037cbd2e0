"""Tables owned by the workflows system (prefix ``workflows_``)."""

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text, UniqueConstraint

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

jobs = Table(
    "workflows_jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("queue", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer(), nullable=False, server_default="0"),
    Column("run_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("retry", Text(), nullable=False),
    Column("timeout", Float(), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("concurrency_key", String(200), nullable=True),
    Column("concurrency_limit", Integer(), nullable=False, server_default="1"),
    Column("workspace_id", String(40), nullable=True),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("failed_at", UTCDateTime(), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("worker", String(120), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("history", Text(), nullable=False, server_default="[]"),
    UniqueConstraint("name", "idempotency_key", name="uq_workflows_jobs_idempotency"),
    # Claiming: due queued jobs by queue, priority and time.
    Index("ix_workflows_jobs_claim", "state", "queue", "priority", "run_at"),
    # Recovering lost jobs and counting running ones per concurrency key.
    Index("ix_workflows_jobs_lease", "state", "lease_until"),
    Index("ix_workflows_jobs_concurrency", "concurrency_key", "state"),
    # Listing by state (newest first) and pruning finished jobs.
    Index("ix_workflows_jobs_state_id", "state", "id"),
    Index("ix_workflows_jobs_finished", "state", "finished_at"),
)

# Outbound webhooks: a workspace's endpoints and the log of every delivery attempt.
webhook_endpoints = Table(
    "workflows_webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("events", Text(), nullable=False),  # event types, space-separated; "*" for all
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100), nullable=True),
    Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
    Column("disabled_reason", Text(), nullable=True),
    Column("failing_since", UTCDateTime(), nullable=True),
    Column("consecutive_failures", Integer(), nullable=False, server_default="0"),
    Index("ix_workflows_webhook_endpoints_workspace", "workspace_id", "id"),
)

webhook_deliveries = Table(
    "workflows_webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("endpoint_id", String(40), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("message_id", String(40), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("attempt", Integer(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("body", Text(), nullable=False),
    Column("status_code", Integer(), nullable=True),
    Column("latency_ms", Integer(), nullable=True),
    Column("response_excerpt", Text(), nullable=False, server_default=""),
    Column("error", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # The delivery log of one endpoint, newest first; and pruning by age.
    Index("ix_workflows_webhook_deliveries_endpoint", "workspace_id", "endpoint_id", "id"),
    Index("ix_workflows_webhook_deliveries_created", "created_at"),
)
