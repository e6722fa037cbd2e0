"""What the identity system needs from outside."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.identity.model import (
    AuthSession,
    EmailToken,
    Membership,
    TokenPurpose,
    User,
    Workspace,
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


class WorkspaceRepository(Protocol):
    async def add(self, workspace: Workspace) -> None: ...

    async def get(self, tenant: TenantContext) -> Workspace | None:
        """The tenant's own workspace; there is no way to ask for another one."""
        ...

    async def add_member(self, tenant: TenantContext, membership: Membership) -> None: ...

    async def members(self, tenant: TenantContext) -> Sequence[Membership]: ...

    async def memberships_of(self, user_id: str) -> Sequence[Membership]: ...


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
