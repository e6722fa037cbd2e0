"""safety: data export and deletion requests

Revision ID: safety_0006
Revises: safety_0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "safety_0006"
down_revision: str | None = "safety_0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "safety_data_requests",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.Column("requested_by", sa.String(40), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("due_at", nullable=True),
        sa.Column("token", sa.String(64), nullable=True),
        _at("expires_at", nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safety_data_requests"),
        sa.UniqueConstraint("token", name="uq_safety_data_requests_token"),
    )
    op.create_index(
        "ix_safety_data_requests_subject",
        "safety_data_requests",
        ["subject_kind", "subject_id", "id"],
    )
    op.create_index("ix_safety_data_requests_state", "safety_data_requests", ["state", "due_at"])


def downgrade() -> None:
    op.drop_table("safety_data_requests")
