"""safety: the tamper-evident audit log

Revision ID: safety_0004
Revises: safety_0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "safety_0004"
down_revision: str | None = "safety_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLE = "safety_audit_entries"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=True),
        sa.Column("impersonator_id", sa.String(64), nullable=True),
        sa.Column("workspace_id", sa.String(64), nullable=True),
        sa.Column("target_type", sa.String(40), nullable=True),
        sa.Column("target_id", sa.String(128), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(400), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("salt", sa.String(32), nullable=True),
        sa.Column("personal_digest", sa.String(64), nullable=False),
        sa.Column("pseudonymized_by", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_safety_audit_entries"),
        sa.UniqueConstraint("seq", name="uq_safety_audit_entries_seq"),
    )
    op.create_index("ix_safety_audit_entries_workspace", TABLE, ["workspace_id", "seq"])
    op.create_index("ix_safety_audit_entries_actor", TABLE, ["actor_id", "seq"])
    op.create_index("ix_safety_audit_entries_action", TABLE, ["action", "seq"])
    op.create_index("ix_safety_audit_entries_target", TABLE, ["target_type", "target_id", "seq"])
    op.create_index("ix_safety_audit_entries_at", TABLE, ["at"])
    op.create_index("ix_safety_audit_entries_pseudonymized_by", TABLE, ["pseudonymized_by"])
    op.create_table(
        "safety_audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_safety_audit_head"),
    )
    head = sa.table("safety_audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"))
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])  # the genesis


def downgrade() -> None:
    op.drop_table("safety_audit_head")
    op.drop_table(TABLE)
