"""identity: users, workspaces and memberships

Revision ID: identity_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("identity",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("staff_role", sa.String(20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_identity_users"),
        sa.UniqueConstraint("email", name="uq_identity_users_email"),
    )
    op.create_table(
        "identity_workspaces",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_identity_workspaces"),
    )
    op.create_table(
        "identity_memberships",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["identity_workspaces.id"],
            name="fk_identity_memberships_workspace_id_identity_workspaces",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name="fk_identity_memberships_user_id_identity_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", name="pk_identity_memberships"),
    )
    op.create_index("ix_identity_memberships_user_id", "identity_memberships", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_identity_memberships_user_id", table_name="identity_memberships")
    op.drop_table("identity_memberships")
    op.drop_table("identity_workspaces")
    op.drop_table("identity_users")
