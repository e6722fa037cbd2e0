"""What the identity system needs from outside."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.identity.model import (
    ApiKey,
    AuthSession,
    EmailToken,
    Invitation,
    Membership,
    RecoveryCode,
    StaffRole,
    Team,
    TokenPurpose,
    User,
    Workspace,
    WorkspaceRole,
)
from core.kernel import TenantContext


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Store a new user; raises ``EmailTakenError`` when the email exists."""
        ...

    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None:
        """Look up by normalized email."""
        ...

    async def count(self) -> int: ...

    async def rename(self, user_id: str, name: str) -> None: ...

    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    async def mark_email_verified(self, user_id: str, at: datetime) -> None: ...

    async def set_totp(
        self,
        user_id: str,
        secret: str | None,
        enabled_at: datetime | None = None,
        last_step: int | None = None,
    ) -> None:
        """Set the TOTP fields together: a pending secret, an enabled one, or none."""
        ...

    async def use_totp_step(self, user_id: str, step: int) -> bool:
        """Record ``step`` as the last accepted one unless it is not newer than the one
        stored; False then (a replayed code, or a concurrent use that won)."""
        ...

    async def search(
        self,
        email_prefix: str = "",
        *,
        after: str | None = None,
        limit: int | None = 50,
        staff_only: bool = False,
    ) -> Sequence[User]:
        """Users whose (normalized) email starts with ``email_prefix``, ordered by id,
        those with an id greater than ``after`` only; at most ``limit`` (None: all)."""
        ...

    async def set_banned(self, user_id: str, at: datetime | None) -> None:
        """Ban the user as of ``at``, or (None) lift the ban."""
        ...

    async def set_staff_role(self, user_id: str, role: StaffRole | None) -> None: ...


class WorkspaceRepository(Protocol):
    async def add(self, workspace: Workspace) -> None: ...

    async def get(self, tenant: TenantContext) -> Workspace | None:
        """The tenant's own workspace; there is no way to ask for another one."""
        ...

    async def add_member(self, tenant: TenantContext, membership: Membership) -> None: ...

    async def members(self, tenant: TenantContext) -> Sequence[Membership]: ...

    async def memberships_of(self, user_id: str) -> Sequence[Membership]: ...

    async def list_for_user(self, user_id: str) -> Sequence[tuple[Workspace, Membership]]:
        """The live (not deleted) workspaces the user belongs to, oldest first."""
        ...

    async def membership(self, tenant: TenantContext, user_id: str) -> Membership | None: ...

    async def rename(self, tenant: TenantContext, name: str) -> None: ...

    async def schedule_deletion(
        self, tenant: TenantContext, at: datetime, purge_after: datetime
    ) -> None: ...

    async def set_role(self, tenant: TenantContext, user_id: str, role: WorkspaceRole) -> None: ...

    async def remove_member(self, tenant: TenantContext, user_id: str) -> None: ...

    async def count_owners(self, tenant: TenantContext) -> int: ...

    async def purge_due(self, now: datetime, limit: int) -> Sequence[str]:
        """Delete up to ``limit`` workspaces whose grace period has passed, with what
        identity holds of them (memberships and the like); returns their ids."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: AuthSession) -> None: ...

    async def find_active(self, token_hash: str, now: datetime) -> tuple[AuthSession, User] | None:
        """The live session with this token hash and its user, in one indexed read."""
        ...

    async def get(self, user_id: str, session_id: str) -> AuthSession | None:
        """One of the user's sessions (active or not); another user's is None."""
        ...

    async def list_active(self, user_id: str, now: datetime) -> Sequence[AuthSession]:
        """The user's live sessions, most recently used first."""
        ...

    async def touch(
        self, session_id: str, last_seen_at: datetime, idle_expires_at: datetime
    ) -> None: ...

    async def revoke(self, session_id: str, at: datetime) -> None: ...

    async def revoke_all(self, user_id: str, at: datetime, keep: str | None = None) -> int:
        """End every live session of the user but ``keep``; returns how many ended."""
        ...


class PasswordPolicy(Protocol):
    """Judges a new password beyond its length: common, guessable, or built from the
    user's own details. Returns what is wrong, for the user to read; empty means fine."""

    def problems(self, password: str, user_inputs: Sequence[str] = ()) -> list[str]: ...


class EmailTokenRepository(Protocol):
    async def add(self, token: EmailToken) -> None: ...

    async def find_usable(
        self, token_hash: str, purpose: TokenPurpose, now: datetime
    ) -> EmailToken | None:
        """The unused, unexpired token of this purpose with this hash."""
        ...

    async def use(self, token_id: str, at: datetime) -> bool:
        """Mark used; False if it was used already (a concurrent use lost the race)."""
        ...

    async def revoke_all(self, user_id: str, purpose: TokenPurpose, at: datetime) -> None:
        """Use up every open token of this purpose (a newer one or a reset supersedes)."""
        ...


class RecoveryCodeRepository(Protocol):
    async def replace_all(self, user_id: str, codes: Sequence[RecoveryCode]) -> None:
        """Delete the user's codes, used or not, and store these instead."""
        ...

    async def use(self, user_id: str, code_hash: str, at: datetime) -> bool:
        """Mark the user's unused code with this hash used; False if there is none."""
        ...

    async def count_unused(self, user_id: str) -> int: ...

    async def delete_all(self, user_id: str) -> None: ...


class TotpGenerator(Protocol):
    """Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30-second steps)."""

    def new_secret(self) -> str:
        """A random base32 secret of at least 160 bits."""
        ...

    def provisioning_uri(self, secret: str, account_name: str, issuer: str) -> str:
        """The ``otpauth://totp/...`` URI authenticator apps read (as a QR code)."""
        ...

    def verify(self, secret: str, code: str, at: datetime) -> int | None:
        """The time step whose code ``code`` is, looking one step either side of
        ``at``; None if it matches none of them (or is malformed)."""
        ...


class InvitationRepository(Protocol):
    async def add(self, invitation: Invitation) -> None: ...

    async def get(self, tenant: TenantContext, invitation_id: str) -> Invitation | None:
        """One of the tenant's invitations (in any state); another workspace's is None."""
        ...

    async def pending(self, tenant: TenantContext, now: datetime) -> Sequence[Invitation]:
        """The tenant's invitations not accepted, revoked or expired, oldest first."""
        ...

    async def find_by_token_hash(self, token_hash: str) -> Invitation | None:
        """The invitation with this token hash, in any state (the token is the key)."""
        ...

    async def revoke(self, tenant: TenantContext, invitation_id: str, at: datetime) -> bool:
        """Revoke one of the tenant's open invitations; False if there was none."""
        ...

    async def revoke_for_email(self, tenant: TenantContext, email: str, at: datetime) -> None:
        """Revoke every open invitation of the tenant to this email (a new one replaces)."""
        ...

    async def accept(self, tenant: TenantContext, invitation_id: str, at: datetime) -> bool:
        """Mark an open, unexpired invitation accepted; False if it was not (already
        used, revoked, expired, or a concurrent accept won)."""
        ...


class TeamRepository(Protocol):
    """Teams of a workspace; each read and write is scoped to the tenant. A team read
    back carries its member ids (sorted)."""

    async def add(self, tenant: TenantContext, team: Team) -> None:
        """Raises ``TeamNameTakenError`` when the workspace has a team of this name."""
        ...

    async def get(self, tenant: TenantContext, team_id: str) -> Team | None: ...

    async def list_teams(self, tenant: TenantContext) -> Sequence[Team]:
        """The tenant's teams, by name."""
        ...

    async def rename(self, tenant: TenantContext, team_id: str, name: str) -> None:
        """Raises ``TeamNameTakenError`` when another team has this name."""
        ...

    async def delete(self, tenant: TenantContext, team_id: str) -> None: ...

    async def add_member(self, tenant: TenantContext, team_id: str, user_id: str) -> None:
        """Idempotent; the team must be the tenant's."""
        ...

    async def remove_member(self, tenant: TenantContext, team_id: str, user_id: str) -> None: ...

    async def remove_from_all(self, tenant: TenantContext, user_id: str) -> None:
        """Take the user out of every team of the tenant (they left the workspace)."""
        ...


class ApiKeyRepository(Protocol):
    """Workspace API keys. Listing, reading and revoking are scoped to the tenant; a key
    is found by the hash of its secret alone (the secret is the credential)."""

    async def add(self, key: ApiKey) -> None: ...

    async def get(self, tenant: TenantContext, key_id: str) -> ApiKey | None:
        """One of the tenant's keys (in any state); another workspace's is None."""
        ...

    async def list_keys(self, tenant: TenantContext) -> Sequence[ApiKey]:
        """The tenant's keys in any state, oldest first."""
        ...

    async def find_by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        """The key with this secret hash, in any state, in one indexed read."""
        ...

    async def revoke(self, tenant: TenantContext, key_id: str, at: datetime) -> bool:
        """Revoke one of the tenant's unrevoked keys; False if there was none."""
        ...

    async def touch(self, key_id: str, at: datetime) -> None:
        """Record that the key was used at ``at``."""
        ...
