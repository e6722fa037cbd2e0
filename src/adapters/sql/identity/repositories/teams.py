"""The SQL repository of teams inside a workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.tables import (
    team_members,
    teams,
)
from core.identity import (
    Team,
    TeamNameTakenError,
)
from core.kernel import TenantContext


def _teams_of(tenant: TenantContext) -> Any:
    return select(teams.c.id).where(teams.c.workspace_id == tenant.workspace_id)


class SqlTeamRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, tenant: TenantContext, team: Team) -> None:
        if team.workspace_id != tenant.workspace_id:
            raise ValueError("a team can only be added to the tenant's own workspace")
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(teams).values(
                        id=team.id,
                        workspace_id=team.workspace_id,
                        name=team.name,
                        created_at=team.created_at,
                    )
                )
        except IntegrityError as exc:
            raise TeamNameTakenError(field="name") from exc
        for user_id in team.member_ids:
            await self.add_member(tenant, team.id, user_id)

    async def get(self, tenant: TenantContext, team_id: str) -> Team | None:
        found = await self._select(tenant, teams.c.id == team_id)
        return found[0] if found else None

    async def list_teams(self, tenant: TenantContext) -> Sequence[Team]:
        return await self._select(tenant)

    async def _select(self, tenant: TenantContext, *where: Any) -> list[Team]:
        query = (
            select(teams)
            .where(teams.c.workspace_id == tenant.workspace_id, *where)
            .order_by(teams.c.name, teams.c.id)
        )
        found = [
            Team(id=row.id, workspace_id=row.workspace_id, name=row.name, created_at=row.created_at)
            for row in await self._session.execute(query)
        ]
        if found:
            by_id = {team.id: team for team in found}
            members = (
                select(team_members.c.team_id, team_members.c.user_id)
                .where(team_members.c.team_id.in_(list(by_id)))
                .order_by(team_members.c.user_id)
            )
            for row in await self._session.execute(members):
                by_id[row.team_id].member_ids.append(row.user_id)
        return found

    async def rename(self, tenant: TenantContext, team_id: str, name: str) -> None:
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    update(teams)
                    .where(teams.c.workspace_id == tenant.workspace_id, teams.c.id == team_id)
                    .values(name=name)
                )
        except IntegrityError as exc:
            raise TeamNameTakenError(field="name") from exc

    async def delete(self, tenant: TenantContext, team_id: str) -> None:
        mine = teams.c.id.in_(_teams_of(tenant).where(teams.c.id == team_id))
        await self._session.execute(
            delete(team_members).where(
                team_members.c.team_id.in_(_teams_of(tenant).where(teams.c.id == team_id))
            )
        )
        await self._session.execute(delete(teams).where(mine))

    async def add_member(self, tenant: TenantContext, team_id: str, user_id: str) -> None:
        if await self.get(tenant, team_id) is None:
            raise ValueError("a member can only be added to one of the tenant's teams")
        exists = select(team_members.c.team_id).where(
            team_members.c.team_id == team_id, team_members.c.user_id == user_id
        )
        if (await self._session.execute(exists)).first() is not None:
            return
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(team_members).values(team_id=team_id, user_id=user_id)
                )
        except IntegrityError:  # a concurrent add won: the member is in the team
            pass

    async def remove_member(self, tenant: TenantContext, team_id: str, user_id: str) -> None:
        await self._session.execute(
            delete(team_members).where(
                team_members.c.team_id.in_(_teams_of(tenant).where(teams.c.id == team_id)),
                team_members.c.user_id == user_id,
            )
        )

    async def remove_from_all(self, tenant: TenantContext, user_id: str) -> None:
        await self._session.execute(
            delete(team_members).where(
                team_members.c.team_id.in_(_teams_of(tenant)), team_members.c.user_id == user_id
            )
        )
