"""The SQL repository of workspace invitations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.tables import (
    invitations,
)
from core.identity import (
    Invitation,
    WorkspaceRole,
)
from core.kernel import TenantContext


def _invitation(row: Any) -> Invitation:
    return Invitation(
        id=row.id,
        workspace_id=row.workspace_id,
        email=row.email,
        role=WorkspaceRole(row.role),
        token_hash=row.token_hash,
        invited_by=row.invited_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
        revoked_at=row.revoked_at,
    )


def _open_invitation(tenant: TenantContext) -> Any:
    return (
        (invitations.c.workspace_id == tenant.workspace_id)
        & invitations.c.accepted_at.is_(None)
        & invitations.c.revoked_at.is_(None)
    )


class SqlInvitationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, invitation: Invitation) -> None:
        await self._session.execute(
            insert(invitations).values(
                id=invitation.id,
                workspace_id=invitation.workspace_id,
                email=invitation.email,
                role=invitation.role.value,
                token_hash=invitation.token_hash,
                invited_by=invitation.invited_by,
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
                accepted_at=invitation.accepted_at,
                revoked_at=invitation.revoked_at,
            )
        )

    async def get(self, tenant: TenantContext, invitation_id: str) -> Invitation | None:
        query = select(invitations).where(
            invitations.c.workspace_id == tenant.workspace_id, invitations.c.id == invitation_id
        )
        row = (await self._session.execute(query)).first()
        return _invitation(row) if row else None

    async def pending(self, tenant: TenantContext, now: datetime) -> Sequence[Invitation]:
        query = (
            select(invitations)
            .where(_open_invitation(tenant), invitations.c.expires_at > now)
            .order_by(invitations.c.created_at, invitations.c.id)
        )
        return [_invitation(row) for row in await self._session.execute(query)]

    async def find_by_token_hash(self, token_hash: str) -> Invitation | None:
        query = select(invitations).where(invitations.c.token_hash == token_hash)
        row = (await self._session.execute(query)).first()
        return _invitation(row) if row else None

    async def revoke(self, tenant: TenantContext, invitation_id: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(invitations)
            .where(_open_invitation(tenant), invitations.c.id == invitation_id)
            .where(invitations.c.expires_at > at)
            .values(revoked_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_for_email(self, tenant: TenantContext, email: str, at: datetime) -> None:
        await self._session.execute(
            update(invitations)
            .where(_open_invitation(tenant), invitations.c.email == email)
            .values(revoked_at=at)
        )

    async def accept(self, tenant: TenantContext, invitation_id: str, at: datetime) -> bool:
        # One conditional UPDATE: of two concurrent accepts, only one matches.
        result = await self._session.execute(
            update(invitations)
            .where(_open_invitation(tenant), invitations.c.id == invitation_id)
            .where(invitations.c.expires_at > at)
            .values(accepted_at=at)
        )
        return bool(getattr(result, "rowcount", 0))
