"""Teams of a workspace: ``/api/v1/workspaces/{workspace_id}/teams``. Any member reads
them; managing them needs ``teams:manage``."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from adapters.sql.uow import SqlUnitOfWork
from core.identity import Team, TeamService, WorkspaceAccess
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import provide_principal
from entrypoints.http.identity.workspaces import provide_access, tenant_guard

Uow = NamedDependency[SqlUnitOfWork]
Access = NamedDependency[WorkspaceAccess]


class TeamOut(msgspec.Struct):
    id: str
    name: str
    created_at: datetime
    member_ids: list[str]

    @classmethod
    def of(cls, team: Team) -> TeamOut:
        return cls(team.id, team.name, team.created_at, list(team.member_ids))


class NewTeam(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class TeamPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET


def _service(state: State, uow: SqlUnitOfWork) -> TeamService:
    container: ApplicationContainer = state.container
    service: TeamService = container.identity.teams(uow=uow)
    return service


class TeamsController(Controller):
    path = "/api/v1/workspaces"
    tags = ["teams"]
    guards = [tenant_guard]
    dependencies = {
        "principal": Provide(provide_principal),
        "access": Provide(provide_access),
    }

    @get(
        "/{workspace_id:str}/teams",
        summary="The workspace's teams, by name",
        opt={"permission": "members:read"},
    )
    async def list_teams(self, state: State, access: Access, uow: Uow) -> list[TeamOut]:
        return [TeamOut.of(t) for t in await _service(state, uow).list_teams(access)]

    @post(
        "/{workspace_id:str}/teams",
        summary="Create a team",
        opt={"permission": "teams:manage"},
    )
    async def create(
        self, state: State, access: Access, data: JSONBody[NewTeam], uow: Uow
    ) -> TeamOut:
        return TeamOut.of(await _service(state, uow).create(access, data.name))

    @get(
        "/{workspace_id:str}/teams/{team_id:str}",
        summary="One team and its members",
        opt={"permission": "members:read"},
    )
    async def read(self, state: State, access: Access, team_id: FromPath[str], uow: Uow) -> TeamOut:
        return TeamOut.of(await _service(state, uow).get(access, team_id))

    @patch(
        "/{workspace_id:str}/teams/{team_id:str}",
        summary="Rename a team",
        opt={"permission": "teams:manage"},
    )
    async def update(
        self,
        state: State,
        access: Access,
        team_id: FromPath[str],
        data: JSONBody[TeamPatch],
        uow: Uow,
    ) -> TeamOut:
        service = _service(state, uow)
        if data.name is msgspec.UNSET:
            return TeamOut.of(await service.get(access, team_id))
        return TeamOut.of(await service.rename(access, team_id, data.name))

    @delete(
        "/{workspace_id:str}/teams/{team_id:str}",
        summary="Delete a team (its members stay in the workspace)",
        status_code=204,
        opt={"permission": "teams:manage"},
    )
    async def remove(self, state: State, access: Access, team_id: FromPath[str], uow: Uow) -> None:
        await _service(state, uow).delete(access, team_id)

    @put(
        "/{workspace_id:str}/teams/{team_id:str}/members/{user_id:str}",
        summary="Add a workspace member to a team",
        opt={"permission": "teams:manage"},
    )
    async def add_member(
        self,
        state: State,
        access: Access,
        team_id: FromPath[str],
        user_id: FromPath[str],
        uow: Uow,
    ) -> TeamOut:
        return TeamOut.of(await _service(state, uow).add_member(access, team_id, user_id))

    @delete(
        "/{workspace_id:str}/teams/{team_id:str}/members/{user_id:str}",
        summary="Take a member out of a team",
        status_code=204,
        opt={"permission": "teams:manage"},
    )
    async def remove_member(
        self,
        state: State,
        access: Access,
        team_id: FromPath[str],
        user_id: FromPath[str],
        uow: Uow,
    ) -> None:
        await _service(state, uow).remove_member(access, team_id, user_id)
