"""workflows: the durable job queue

Revision ID: workflows_0002
Revises: workflows_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "workflows_0002"
down_revision: str | None = "workflows_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

INDEXES = {
    "ix_workflows_jobs_claim": ["state", "queue", "priority", "run_at"],
    "ix_workflows_jobs_lease": ["state", "lease_until"],
    "ix_workflows_jobs_concurrency": ["concurrency_key", "state"],
    "ix_workflows_jobs_state_id": ["state", "id"],
    "ix_workflows_jobs_finished": ["state", "finished_at"],
}


def upgrade() -> None:
    op.create_table(
        "workflows_jobs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("queue", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry", sa.Text(), nullable=False),
        sa.Column("timeout", sa.Float(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("concurrency_key", sa.String(200), nullable=True),
        sa.Column("concurrency_limit", sa.Integer(), server_default="1", nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(120), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("history", sa.Text(), server_default="[]", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflows_jobs"),
        sa.UniqueConstraint("name", "idempotency_key", name="uq_workflows_jobs_idempotency"),
    )
    for name, columns in INDEXES.items():
        op.create_index(name, "workflows_jobs", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="workflows_jobs")
    op.drop_table("workflows_jobs")
