"""identity: single-use email tokens (verification, password reset)

Revision ID: identity_0003
Revises: identity_0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0003"
down_revision: str | None = "identity_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_email_tokens",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name="fk_identity_email_tokens_user_id_identity_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identity_email_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_identity_email_tokens_token_hash"),
    )
    op.create_index(
        "ix_identity_email_tokens_user_id", "identity_email_tokens", ["user_id", "purpose"]
    )


def downgrade() -> None:
    op.drop_index("ix_identity_email_tokens_user_id", table_name="identity_email_tokens")
    op.drop_table("identity_email_tokens")
