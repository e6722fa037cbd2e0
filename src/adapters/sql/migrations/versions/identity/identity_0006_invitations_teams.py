"""identity: workspace invitations, teams and their members

Revision ID: identity_0006
Revises: identity_0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0006"
down_revision: str | None = "identity_0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_invitations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invited_by", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["identity_workspaces.id"],
            name="fk_identity_invitations_workspace_id_identity_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identity_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_identity_invitations_token_hash"),
    )
    op.create_index(
        "ix_identity_invitations_workspace_id", "identity_invitations", ["workspace_id", "email"]
    )
    op.create_table(
        "identity_teams",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["identity_workspaces.id"],
            name="fk_identity_teams_workspace_id_identity_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identity_teams"),
        sa.UniqueConstraint("workspace_id", "name", name="uq_identity_teams_workspace_id"),
    )
    op.create_table(
        "identity_team_members",
        sa.Column("team_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["identity_teams.id"],
            name="fk_identity_team_members_team_id_identity_teams",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name="fk_identity_team_members_user_id_identity_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_identity_team_members"),
    )
    op.create_index("ix_identity_team_members_user_id", "identity_team_members", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_identity_team_members_user_id", table_name="identity_team_members")
    op.drop_table("identity_team_members")
    op.drop_table("identity_teams")
    op.drop_index("ix_identity_invitations_workspace_id", table_name="identity_invitations")
    op.drop_table("identity_invitations")
