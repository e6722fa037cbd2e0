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
