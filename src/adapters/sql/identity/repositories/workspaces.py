"""The SQL repository of workspaces and memberships."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.repositories.rows import (
    membership_from_row,
    workspace_from_row,
)
from adapters.sql.identity.tables import (
    memberships,
    workspaces,
)
from core.identity import (
    Membership,
    Workspace,
    WorkspaceRole,
)
from core.kernel import TenantContext


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
        query = select(workspaces).where(
            workspaces.c.id == tenant.workspace_id, workspaces.c.deleted_at.is_(None)
        )
        row = (await self._session.execute(query)).first()
        return workspace_from_row(row) if row else None

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
        return [membership_from_row(row) for row in await self._session.execute(query)]

    async def list_for_user(self, user_id: str) -> Sequence[tuple[Workspace, Membership]]:
        query = (
            select(
                *workspaces.c,
                memberships.c.role,
                memberships.c.user_id,
                memberships.c.created_at.label("joined_at"),
            )
            .join(memberships, memberships.c.workspace_id == workspaces.c.id)
            .where(memberships.c.user_id == user_id, workspaces.c.deleted_at.is_(None))
            .order_by(workspaces.c.created_at, workspaces.c.id)
        )
        return [
            (
                workspace_from_row(row),
                Membership(
                    workspace_id=row.id,
                    user_id=row.user_id,
                    role=WorkspaceRole(row.role),
                    created_at=row.joined_at,
                ),
            )
            for row in await self._session.execute(query)
        ]

    async def membership(self, tenant: TenantContext, user_id: str) -> Membership | None:
        query = select(memberships).where(
            memberships.c.workspace_id == tenant.workspace_id, memberships.c.user_id == user_id
        )
        row = (await self._session.execute(query)).first()
        return membership_from_row(row) if row else None

    async def rename(self, tenant: TenantContext, name: str) -> None:
        await self._session.execute(
            update(workspaces).where(workspaces.c.id == tenant.workspace_id).values(name=name)
        )

    async def schedule_deletion(
        self, tenant: TenantContext, at: datetime, purge_after: datetime
    ) -> None:
        await self._session.execute(
            update(workspaces)
            .where(workspaces.c.id == tenant.workspace_id)
            .values(deleted_at=at, purge_after=purge_after)
        )

    async def set_role(self, tenant: TenantContext, user_id: str, role: WorkspaceRole) -> None:
        await self._session.execute(
            update(memberships)
            .where(
                memberships.c.workspace_id == tenant.workspace_id,
                memberships.c.user_id == user_id,
            )
            .values(role=role.value)
        )

    async def remove_member(self, tenant: TenantContext, user_id: str) -> None:
        await self._session.execute(
            delete(memberships).where(
                memberships.c.workspace_id == tenant.workspace_id,
                memberships.c.user_id == user_id,
            )
        )

    async def purge_due(self, now: datetime, limit: int) -> Sequence[str]:
        due = (
            select(workspaces.c.id)
            .where(workspaces.c.purge_after.is_not(None), workspaces.c.purge_after <= now)
            .order_by(workspaces.c.purge_after, workspaces.c.id)
            .limit(limit)
        )
        ids = list((await self._session.execute(due)).scalars())
        if ids:
            # Rows that point at a workspace go with it (ON DELETE CASCADE).
            await self._session.execute(delete(workspaces).where(workspaces.c.id.in_(ids)))
        return ids

    async def count_owners(self, tenant: TenantContext) -> int:
        query = (
            select(func.count())
            .select_from(memberships)
            .where(
                memberships.c.workspace_id == tenant.workspace_id,
                memberships.c.role == WorkspaceRole.OWNER.value,
            )
        )
        return int((await self._session.execute(query)).scalar_one())

    async def memberships_of(self, user_id: str) -> Sequence[Membership]:
        query = (
            select(memberships)
            .where(memberships.c.user_id == user_id)
            .order_by(memberships.c.created_at, memberships.c.workspace_id)
        )
        return [membership_from_row(row) for row in await self._session.execute(query)]
