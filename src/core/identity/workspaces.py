"""Workspaces (the tenant) and their members, seen by a signed-in user.

A workspace that is not the user's answers exactly like one that does not exist, so ids
cannot be probed. Each use case checks the member's permission itself, whatever the
entrypoint already checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from core.identity.errors import (
    LastOwnerError,
    MemberNotFoundError,
    WorkspaceNotFoundError,
)
from core.identity.events import (
    MemberRemoved,
    MemberRoleChanged,
    WorkspaceDeletionScheduled,
    WorkspacePurged,
)
from core.identity.model import Membership, Workspace, WorkspaceRole
from core.identity.permissions import ROLE_PERMISSIONS, Permission, role_allows
from core.identity.ports import TeamRepository, WorkspaceRepository
from core.identity.service import WORKSPACE_NAME_MAX_LENGTH
from core.kernel import Clock, PermissionDeniedError, TenantContext, UnitOfWork, ValidationError

DELETION_GRACE = timedelta(days=30)


class WorkspaceAccess:
    """A member acting in a workspace: the tenant context plus their membership.

    ``permissions``, when given, replaces what the membership's role allows: an API key
    acts with the permissions it was given (see ``api_keys.api_key_access``)."""

    def __init__(
        self,
        workspace: Workspace,
        membership: Membership,
        permissions: frozenset[Permission] | None = None,
    ) -> None:
        self.workspace = workspace
        self.membership = membership
        self.tenant = TenantContext(workspace.id, actor_id=membership.user_id)
        self._permissions = permissions

    @property
    def permissions(self) -> frozenset[Permission]:
        if self._permissions is not None:
            return self._permissions
        return ROLE_PERMISSIONS[self.membership.role]

    @property
    def via_api_key(self) -> bool:
        return self._permissions is not None

    def require(self, permission: Permission) -> None:
        if self._permissions is not None:
            if permission not in self._permissions:
                raise PermissionDeniedError(
                    f"this API key lacks '{permission}'", permission=permission.value
                )
            return
        if not role_allows(self.membership.role, permission):
            raise PermissionDeniedError(
                f"your role '{self.membership.role}' lacks '{permission}'",
                permission=permission.value,
            )


async def workspace_access(
    workspaces: WorkspaceRepository,
    user_id: str,
    workspace_id: str,
    permission: Permission | None = None,
) -> WorkspaceAccess:
    """The user's access to a live workspace they belong to; 404 otherwise (whether it
    exists or not), and 403 when they belong but their role lacks ``permission``."""
    tenant = TenantContext(workspace_id, actor_id=user_id)
    membership = await workspaces.membership(tenant, user_id)
    workspace = await workspaces.get(tenant) if membership else None
    if membership is None or workspace is None:
        raise WorkspaceNotFoundError()
    access = WorkspaceAccess(workspace, membership)
    if permission is not None:
        access.require(permission)
    return access


class WorkspaceService:
    def __init__(
        self,
        *,
        uow: UnitOfWork,
        workspaces: WorkspaceRepository,
        clock: Clock,
        deletion_grace: timedelta = DELETION_GRACE,
        teams: TeamRepository | None = None,
    ) -> None:
        self._uow = uow
        self._workspaces = workspaces
        self._teams = teams
        self._clock = clock
        self._grace = deletion_grace

    async def mine(self, user_id: str) -> Sequence[tuple[Workspace, Membership]]:
        return await self._workspaces.list_for_user(user_id)

    async def access(
        self, user_id: str, workspace_id: str, permission: Permission | None = None
    ) -> WorkspaceAccess:
        return await workspace_access(self._workspaces, user_id, workspace_id, permission)

    async def rename(self, access: WorkspaceAccess, name: str) -> Workspace:
        access.require(Permission.WORKSPACE_UPDATE)
        name = name.strip()
        if not 1 <= len(name) <= WORKSPACE_NAME_MAX_LENGTH:
            raise ValidationError(
                f"a workspace name has 1 to {WORKSPACE_NAME_MAX_LENGTH} characters", field="name"
            )
        await self._workspaces.rename(access.tenant, name)
        access.workspace.name = name
        return access.workspace

    async def delete(self, access: WorkspaceAccess) -> tuple[datetime, datetime]:
        """Hide the workspace now; its data is purged after the grace period. Returns
        when it was deleted and when it will be purged."""
        access.require(Permission.WORKSPACE_DELETE)
        now = self._clock.now()
        purge_after = now + self._grace
        await self._workspaces.schedule_deletion(access.tenant, now, purge_after)
        self._uow.raise_event(
            WorkspaceDeletionScheduled(
                occurred_at=now, workspace_id=access.workspace.id, purge_after=purge_after
            )
        )
        access.workspace.deleted_at, access.workspace.purge_after = now, purge_after
        return now, purge_after

    async def purge_due(self, limit: int = 100) -> int:
        """Purge workspaces whose deletion grace period has passed (a scheduled task)."""
        now = self._clock.now()
        purged = await self._workspaces.purge_due(now, limit)
        for workspace_id in purged:
            self._uow.raise_event(WorkspacePurged(occurred_at=now, workspace_id=workspace_id))
        return len(purged)

    async def members(self, access: WorkspaceAccess) -> Sequence[Membership]:
        access.require(Permission.MEMBERS_READ)
        return await self._workspaces.members(access.tenant)

    async def change_role(
        self, access: WorkspaceAccess, user_id: str, role: WorkspaceRole
    ) -> Membership:
        access.require(Permission.MEMBERS_MANAGE)
        target = await self._member(access, user_id)
        if (
            WorkspaceRole.OWNER in (role, target.role)
            and access.membership.role != WorkspaceRole.OWNER
        ):
            raise PermissionDeniedError("only an owner can make or unmake an owner")
        if target.role == WorkspaceRole.OWNER and role != WorkspaceRole.OWNER:
            await self._keep_an_owner(access)
        if role != target.role:
            await self._workspaces.set_role(access.tenant, user_id, role)
            self._uow.raise_event(
                MemberRoleChanged(
                    occurred_at=self._clock.now(),
                    workspace_id=access.workspace.id,
                    user_id=user_id,
                    role=role,
                )
            )
            target.role = role
        return target

    async def remove_member(self, access: WorkspaceAccess, user_id: str) -> None:
        """Remove a member; anyone may remove themselves (leave)."""
        if user_id != access.membership.user_id:
            access.require(Permission.MEMBERS_MANAGE)
        target = await self._member(access, user_id)
        if target.role == WorkspaceRole.OWNER:
            if access.membership.role != WorkspaceRole.OWNER:
                raise PermissionDeniedError("only an owner can remove an owner")
            await self._keep_an_owner(access)
        await self._workspaces.remove_member(access.tenant, user_id)
        if self._teams is not None:  # leaving the workspace leaves its teams
            await self._teams.remove_from_all(access.tenant, user_id)
        self._uow.raise_event(
            MemberRemoved(
                occurred_at=self._clock.now(), workspace_id=access.workspace.id, user_id=user_id
            )
        )

    async def _member(self, access: WorkspaceAccess, user_id: str) -> Membership:
        membership = await self._workspaces.membership(access.tenant, user_id)
        if membership is None:
            raise MemberNotFoundError()
        return membership

    async def _keep_an_owner(self, access: WorkspaceAccess) -> None:
        if await self._workspaces.count_owners(access.tenant) <= 1:
            raise LastOwnerError("make someone else an owner first")
