"""Teams: named groups of a workspace's members. Any member may read them; managing them
needs ``teams:manage``. A team of another workspace answers like one that does not exist.
Only members of the workspace can be in its teams; leaving the workspace leaves its teams
(see ``WorkspaceService.remove_member``)."""

from __future__ import annotations

from collections.abc import Sequence

from core.identity.errors import MemberNotFoundError, TeamNotFoundError
from core.identity.model import Team
from core.identity.permissions import Permission
from core.identity.ports import TeamRepository, WorkspaceRepository
from core.identity.workspaces import WorkspaceAccess
from core.kernel import Clock, IdGenerator, ValidationError

TEAM_NAME_MAX_LENGTH = 100


def _team_name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= TEAM_NAME_MAX_LENGTH:
        raise ValidationError(
            f"a team name has 1 to {TEAM_NAME_MAX_LENGTH} characters", field="name"
        )
    return name


class TeamService:
    def __init__(
        self,
        *,
        teams: TeamRepository,
        workspaces: WorkspaceRepository,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._teams = teams
        self._workspaces = workspaces
        self._clock = clock
        self._ids = ids

    async def list_teams(self, access: WorkspaceAccess) -> Sequence[Team]:
        access.require(Permission.MEMBERS_READ)
        return await self._teams.list_teams(access.tenant)

    async def get(self, access: WorkspaceAccess, team_id: str) -> Team:
        access.require(Permission.MEMBERS_READ)
        return await self._team(access, team_id)

    async def create(self, access: WorkspaceAccess, name: str) -> Team:
        access.require(Permission.TEAMS_MANAGE)
        now = self._clock.now()
        team = Team(
            id=self._ids.new("team", now),
            workspace_id=access.workspace.id,
            name=_team_name(name),
            created_at=now,
        )
        await self._teams.add(access.tenant, team)
        return team

    async def rename(self, access: WorkspaceAccess, team_id: str, name: str) -> Team:
        access.require(Permission.TEAMS_MANAGE)
        team = await self._team(access, team_id)
        team.name = _team_name(name)
        await self._teams.rename(access.tenant, team_id, team.name)
        return team

    async def delete(self, access: WorkspaceAccess, team_id: str) -> None:
        access.require(Permission.TEAMS_MANAGE)
        await self._team(access, team_id)
        await self._teams.delete(access.tenant, team_id)

    async def add_member(self, access: WorkspaceAccess, team_id: str, user_id: str) -> Team:
        access.require(Permission.TEAMS_MANAGE)
        await self._team(access, team_id)
        if await self._workspaces.membership(access.tenant, user_id) is None:
            raise MemberNotFoundError()
        await self._teams.add_member(access.tenant, team_id, user_id)
        return await self._team(access, team_id)

    async def remove_member(self, access: WorkspaceAccess, team_id: str, user_id: str) -> Team:
        access.require(Permission.TEAMS_MANAGE)
        team = await self._team(access, team_id)
        if user_id not in team.member_ids:
            raise MemberNotFoundError("there is no such member in this team")
        await self._teams.remove_member(access.tenant, team_id, user_id)
        return await self._team(access, team_id)

    async def _team(self, access: WorkspaceAccess, team_id: str) -> Team:
        team = await self._teams.get(access.tenant, team_id)
        if team is None:
            raise TeamNotFoundError()
        return team
