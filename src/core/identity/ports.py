"""What the identity system needs from outside."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.identity.model import (
    AuthSession,
    EmailToken,
    Membership,
    RecoveryCode,
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
