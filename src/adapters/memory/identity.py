"""In-memory fakes of the identity system's ports."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from core.identity import EmailTakenError, Membership, User, Workspace
from core.kernel import TenantContext


class InMemoryUserRepository:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    async def add(self, user: User) -> None:
        if any(existing.email == user.email for existing in self.users.values()):
            raise EmailTakenError()
        self.users[user.id] = user

    async def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email == email), None)

    async def count(self) -> int:
        return len(self.users)


class InMemoryWorkspaceRepository:
    def __init__(self) -> None:
        self.workspaces: dict[str, Workspace] = {}
        self.memberships: list[Membership] = []

    async def add(self, workspace: Workspace) -> None:
        self.workspaces[workspace.id] = workspace

    async def get(self, tenant: TenantContext) -> Workspace | None:
        return self.workspaces.get(tenant.workspace_id)

    async def add_member(self, tenant: TenantContext, membership: Membership) -> None:
        if membership.workspace_id != tenant.workspace_id:
            raise ValueError("a membership can only be added to the tenant's own workspace")
        self.memberships.append(membership)

    async def members(self, tenant: TenantContext) -> Sequence[Membership]:
        return [m for m in self.memberships if m.workspace_id == tenant.workspace_id]

    async def memberships_of(self, user_id: str) -> Sequence[Membership]:
        return [m for m in self.memberships if m.user_id == user_id]


class FastInsecurePasswordHasher:
    """Unsalted SHA-256: microseconds instead of argon2's tens of milliseconds, for tests
    only. Production settings refuse it."""

    def hash(self, password: str) -> str:
        return "sha256$" + hashlib.sha256(password.encode()).hexdigest()

    def verify(self, password_hash: str, password: str) -> bool:
        return hmac.compare_digest(password_hash, self.hash(password))
