"""SQL repositories of the identity system."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.tables import memberships, users, workspaces
from core.identity import (
    EmailTakenError,
    Membership,
    StaffRole,
    User,
    Workspace,
    WorkspaceRole,
)
from core.kernel import TenantContext


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        password_hash=row.password_hash,
        created_at=row.created_at,
        staff_role=StaffRole(row.staff_role) if row.staff_role else None,
    )


def _membership(row: Any) -> Membership:
    return Membership(
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        role=WorkspaceRole(row.role),
        created_at=row.created_at,
    )


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        values = {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "password_hash": user.password_hash,
            "staff_role": user.staff_role.value if user.staff_role else None,
            "created_at": user.created_at,
        }
        try:
            async with self._session.begin_nested():
                await self._session.execute(insert(users).values(values))
        except IntegrityError as exc:
            raise EmailTakenError() from exc

    async def get(self, user_id: str) -> User | None:
        row = (await self._session.execute(select(users).where(users.c.id == user_id))).first()
        return _user(row) if row else None

    async def get_by_email(self, email: str) -> User | None:
        query = select(users).where(users.c.email == email)
        row = (await self._session.execute(query)).first()
        return _user(row) if row else None

    async def count(self) -> int:
        return int(
            (await self._session.execute(select(func.count()).select_from(users))).scalar_one()
        )


class SqlWorkspaceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, workspace: Workspace) -> None:
        await self._session.execute(
            insert(workspaces).values(
                id=workspace.id, name=workspace.name, created_at=workspace.created_at
            )
        )

    async def get(self, tenant: TenantContext) -> Workspace | None:
        query = select(workspaces).where(workspaces.c.id == tenant.workspace_id)
        row = (await self._session.execute(query)).first()
        return Workspace(id=row.id, name=row.name, created_at=row.created_at) if row else None

    async def add_member(self, tenant: TenantContext, membership: Membership) -> None:
        if membership.workspace_id != tenant.workspace_id:
            raise ValueError("a membership can only be added to the tenant's own workspace")
        await self._session.execute(
            insert(memberships).values(
                workspace_id=membership.workspace_id,
                user_id=membership.user_id,
                role=membership.role.value,
                created_at=membership.created_at,
            )
        )

    async def members(self, tenant: TenantContext) -> Sequence[Membership]:
        query = (
            select(memberships)
            .where(memberships.c.workspace_id == tenant.workspace_id)
            .order_by(memberships.c.created_at, memberships.c.user_id)
        )
        return [_membership(row) for row in await self._session.execute(query)]

    async def memberships_of(self, user_id: str) -> Sequence[Membership]:
        query = (
            select(memberships)
            .where(memberships.c.user_id == user_id)
            .order_by(memberships.c.created_at, memberships.c.workspace_id)
        )
        return [_membership(row) for row in await self._session.execute(query)]
