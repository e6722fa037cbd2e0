"""Identity use cases: registering users and staff, creating workspaces."""

from __future__ import annotations

import asyncio

from core.identity.errors import EmailTakenError, InvalidPasswordError, WeakPasswordError
from core.identity.events import MemberAdded, UserRegistered, WorkspaceCreated
from core.identity.model import (
    Membership,
    StaffRole,
    User,
    Workspace,
    WorkspaceRole,
    normalize_email,
)
from core.identity.ports import (
    PasswordHasher,
    PasswordPolicy,
    UserRepository,
    WorkspaceRepository,
)
from core.kernel import (
    Clock,
    IdGenerator,
    NotFoundError,
    TenantContext,
    UnitOfWork,
    ValidationError,
)

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
WORKSPACE_NAME_MAX_LENGTH = 100
USER_NAME_MAX_LENGTH = 200


def check_password(password: str) -> None:
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise InvalidPasswordError(
            f"use {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters", field="password"
        )


def check_new_password(policy: PasswordPolicy, password: str, email: str, name: str = "") -> None:
    """A password someone chooses: 8 to 256 characters, and nothing the policy objects
    to (common, guessable, built from the email or name)."""
    check_password(password)
    problems = policy.problems(password, [email, email.split("@", maxsplit=1)[0], name])
    if problems:
        raise WeakPasswordError(" ".join(problems), field="password", problems=problems)


class IdentityService:
    """The identity use cases, bound to one unit of work."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        workspaces: WorkspaceRepository,
        hasher: PasswordHasher,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._users = users
        self._workspaces = workspaces
        self._hasher = hasher
        self._clock = clock
        self._ids = ids

    async def register_user(
        self, email: str, name: str, password: str, staff_role: StaffRole | None = None
    ) -> User:
        normalized = normalize_email(email)
        check_password(password)
        # Hash first, off the event loop, before the first query opens the transaction:
        # argon2 takes tens of milliseconds, and on SQLite the transaction holds the
        # write lock from its first statement.
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        if await self._users.get_by_email(normalized) is not None:
            raise EmailTakenError()
        now = self._clock.now()
        user = User(
            id=self._ids.new("usr", now),
            email=normalized,
            name=name.strip() or normalized.split("@")[0],
            password_hash=password_hash,
            created_at=now,
            staff_role=staff_role,
        )
        await self._users.add(user)
        self._uow.raise_event(UserRegistered(occurred_at=now, user_id=user.id, email=user.email))
        return user

    async def create_workspace(self, owner_id: str, name: str) -> Workspace:
        name = name.strip()
        if not 1 <= len(name) <= WORKSPACE_NAME_MAX_LENGTH:
            raise ValidationError(
                f"a workspace name has 1 to {WORKSPACE_NAME_MAX_LENGTH} characters", field="name"
            )
        if await self._users.get(owner_id) is None:
            raise NotFoundError("the workspace's owner is not a user", field="owner_id")
        now = self._clock.now()
        workspace = Workspace(id=self._ids.new("ws", now), name=name, created_at=now)
        await self._workspaces.add(workspace)
        tenant = TenantContext(workspace.id, actor_id=owner_id)
        owner = Membership(
            workspace_id=workspace.id, user_id=owner_id, role=WorkspaceRole.OWNER, created_at=now
        )
        await self._workspaces.add_member(tenant, owner)
        self._uow.raise_event(
            WorkspaceCreated(occurred_at=now, workspace_id=workspace.id, owner_id=owner_id)
        )
        self._uow.raise_event(
            MemberAdded(
                occurred_at=now, workspace_id=workspace.id, user_id=owner_id, role=owner.role
            )
        )
        return workspace

    async def rename_user(self, user_id: str, name: str) -> User:
        name = name.strip()
        if not 1 <= len(name) <= USER_NAME_MAX_LENGTH:
            raise ValidationError(
                f"a name has 1 to {USER_NAME_MAX_LENGTH} characters", field="name"
            )
        await self._users.rename(user_id, name)
        user = await self._users.get(user_id)
        if user is None:
            raise NotFoundError("no such user")
        return user

    async def user_count(self) -> int:
        return await self._users.count()
