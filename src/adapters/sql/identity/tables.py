"""Tables owned by the identity system (prefix ``identity_``)."""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, UniqueConstraint

from adapters.sql.naming import system_metadata
from adapters.sql.types import UTCDateTime

metadata = system_metadata()

users = Table(
    "identity_users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("staff_role", String(20), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("email_verified_at", UTCDateTime(), nullable=True),
    Column("banned_at", UTCDateTime(), nullable=True),
    # Stored as is: checking a code needs the secret (see docs/systems/identity.md).
    Column("totp_secret", String(64), nullable=True),
    Column("totp_enabled_at", UTCDateTime(), nullable=True),
    Column("totp_last_step", BigInteger(), nullable=True),
)

workspaces = Table(
    "identity_workspaces",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("deleted_at", UTCDateTime(), nullable=True),
    Column("purge_after", UTCDateTime(), nullable=True),
)

memberships = Table(
    "identity_memberships",
    metadata,
    Column(
        "workspace_id",
        String(40),
        ForeignKey("identity_workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "user_id", String(40), ForeignKey("identity_users.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_identity_memberships_user_id", "user_id"),
)

sessions = Table(
    "identity_sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "user_id", String(40), ForeignKey("identity_users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("idle_expires_at", UTCDateTime(), nullable=False),
    Column("user_agent", String(400), nullable=False, server_default=""),
    Column("ip", String(64), nullable=False, server_default=""),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index("ix_identity_sessions_user_id", "user_id"),
)

email_tokens = Table(
    "identity_email_tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "user_id", String(40), ForeignKey("identity_users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("purpose", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Index("ix_identity_email_tokens_user_id", "user_id", "purpose"),
)

recovery_codes = Table(
    "identity_recovery_codes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "user_id", String(40), ForeignKey("identity_users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Index("ix_identity_recovery_codes_user_id", "user_id"),
)

invitations = Table(
    "identity_invitations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "workspace_id",
        String(40),
        ForeignKey("identity_workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", String(254), nullable=False),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    # No foreign key: the invitation outlives its inviter's account.
    Column("invited_by", String(40), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("accepted_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index("ix_identity_invitations_workspace_id", "workspace_id", "email"),
)

teams = Table(
    "identity_teams",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "workspace_id",
        String(40),
        ForeignKey("identity_workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "name"),
)

team_members = Table(
    "identity_team_members",
    metadata,
    Column(
        "team_id", String(40), ForeignKey("identity_teams.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "user_id", String(40), ForeignKey("identity_users.id", ondelete="CASCADE"), primary_key=True
    ),
    Index("ix_identity_team_members_user_id", "user_id"),
)

api_keys = Table(
    "identity_api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "workspace_id",
        String(40),
        ForeignKey("identity_workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    # The permission values, sorted, separated by spaces.
    Column("permissions", String(500), nullable=False),
    # No foreign key: the key outlives its creator's account (or is made by a key).
    Column("created_by", String(40), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index("ix_identity_api_keys_workspace_id", "workspace_id"),
)
