"""identity: workspace API keys

Revision ID: identity_0007
Revises: identity_0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0007"
down_revision: str | None = "identity_0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_api_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("permissions", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["identity_workspaces.id"],
            name="fk_identity_api_keys_workspace_id_identity_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identity_api_keys"),
        sa.UniqueConstraint("secret_hash", name="uq_identity_api_keys_secret_hash"),
    )
    op.create_index("ix_identity_api_keys_workspace_id", "identity_api_keys", ["workspace_id"])


def downgrade() -> None:
    op.drop_index("ix_identity_api_keys_workspace_id", table_name="identity_api_keys")
    op.drop_table("identity_api_keys")
