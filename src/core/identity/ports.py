"""What the identity system needs from outside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.identity.model import Membership, User, Workspace
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


class WorkspaceRepository(Protocol):
    async def add(self, workspace: Workspace) -> None: ...

    async def get(self, tenant: TenantContext) -> Workspace | None:
        """The tenant's own workspace; there is no way to ask for another one."""
        ...

    async def add_member(self, tenant: TenantContext, membership: Membership) -> None: ...

    async def members(self, tenant: TenantContext) -> Sequence[Membership]: ...

    async def memberships_of(self, user_id: str) -> Sequence[Membership]: ...
