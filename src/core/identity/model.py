"""Users, workspaces (the tenant) and memberships, with the roles that join them."""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta

import msgspec

from core.identity.errors import InvalidEmailError

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
EMAIL_MAX_LENGTH = 254


class WorkspaceRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    BILLING = "billing"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    """What a workspace role (or an API key) may do; see ``permissions``."""

    WORKSPACE_READ = "workspace:read"
    WORKSPACE_UPDATE = "workspace:update"
    WORKSPACE_DELETE = "workspace:delete"
    MEMBERS_READ = "members:read"
    MEMBERS_INVITE = "members:invite"
    MEMBERS_MANAGE = "members:manage"
    TEAMS_MANAGE = "teams:manage"
    BILLING_READ = "billing:read"
    BILLING_MANAGE = "billing:manage"
    API_KEYS_MANAGE = "api_keys:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"
    USAGE_WRITE = "usage:write"  # report metered usage (an API key's "usage scope")
    AUDIT_READ = "audit:read"  # read and export the workspace's audit log (owners)


class StaffRole(enum.StrEnum):
    """Platform staff roles: a separate axis from workspace roles."""

    SUPPORT = "support"
    OPS = "ops"
    SUPERADMIN = "superadmin"


def normalize_email(raw: str) -> str:
    """Trim and lowercase; emails are unique case-insensitively."""
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.match(email):
        raise InvalidEmailError(f"{raw!r} is not an email address", field="email")
    return email


class User(msgspec.Struct, kw_only=True):
    id: str
    email: str
    name: str
    password_hash: str
    created_at: datetime
    staff_role: StaffRole | None = None
    email_verified_at: datetime | None = None
    banned_at: datetime | None = None
    totp_secret: str | None = None
    """The TOTP secret (base32): pending while ``totp_enabled_at`` is None, in force
    after. Stored as is (the server must read it to check codes): see the docs."""
    totp_enabled_at: datetime | None = None
    totp_last_step: int | None = None
    """The time step of the last accepted code, so that no code is accepted twice."""

    @property
    def is_banned(self) -> bool:
        return self.banned_at is not None

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None


class Workspace(msgspec.Struct, kw_only=True):
    id: str
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    purge_after: datetime | None = None


class Membership(msgspec.Struct, kw_only=True):
    workspace_id: str
    user_id: str
    role: WorkspaceRole
    created_at: datetime


class SessionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How long a session lives: it ends after ``idle`` without use or ``absolute`` after
    sign-in, whichever comes first. Use is recorded at most every ``touch_every``, so
    that a busy session does not write on every request."""

    idle: timedelta = timedelta(days=7)
    absolute: timedelta = timedelta(days=30)
    touch_every: timedelta = timedelta(minutes=5)


class AuthSession(msgspec.Struct, kw_only=True):
    """A signed-in session. Only the hash of its token is kept."""

    id: str
    user_id: str
    token_hash: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute end
    idle_expires_at: datetime
    user_agent: str = ""
    ip: str = ""
    revoked_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at and now < self.idle_expires_at

    def needs_touch(self, now: datetime, policy: SessionPolicy) -> bool:
        return now - self.last_seen_at >= policy.touch_every


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request acts as: the user and the session that authenticated it."""

    user: User
    session: AuthSession


class TokenPurpose(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    TWO_FACTOR_CHALLENGE = "two_factor_challenge"
    """Not emailed: the second step of a sign-in with two-factor authentication."""


TOKEN_LIFETIMES = {
    TokenPurpose.VERIFY_EMAIL: timedelta(hours=48),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
    TokenPurpose.TWO_FACTOR_CHALLENGE: timedelta(minutes=5),
}


class EmailToken(msgspec.Struct, kw_only=True):
    """A single-use, expiring secret sent by email; only its hash is kept."""

    id: str
    user_id: str
    purpose: TokenPurpose
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


class RecoveryCode(msgspec.Struct, kw_only=True):
    """A single-use two-factor recovery code; only its hash is kept."""

    id: str
    user_id: str
    code_hash: str
    used_at: datetime | None = None


INVITATION_LIFETIME = timedelta(days=7)


class Invitation(msgspec.Struct, kw_only=True):
    """An emailed invitation to join a workspace with a role: single use, expiring,
    revocable. Only the hash of its token is kept."""

    id: str
    workspace_id: str
    email: str
    role: WorkspaceRole
    token_hash: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_pending(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at


class Team(msgspec.Struct, kw_only=True):
    """A named group of a workspace's members."""

    id: str
    workspace_id: str
    name: str
    created_at: datetime
    member_ids: list[str] = msgspec.field(default_factory=list)


class ApiKey(msgspec.Struct, kw_only=True):
    """A workspace API key: it acts for its workspace only, with the permissions it was
    given. Only the hash of its secret is kept, with the secret's first characters
    (``prefix``) to recognise it in lists."""

    id: str
    workspace_id: str
    name: str
    prefix: str
    secret_hash: str
    permissions: frozenset[Permission]
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def needs_touch(self, now: datetime, every: timedelta) -> bool:
        return self.last_used_at is None or now - self.last_used_at >= every


class ApiKeyPrincipal(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request authenticated by an API key acts as: the key, not a user."""

    key: ApiKey
