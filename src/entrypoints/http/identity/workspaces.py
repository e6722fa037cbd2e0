"""Workspaces and their members: ``/api/v1/workspaces`` and everything under a
workspace id. Each route declares the permission it needs in ``opt``; the use case
checks it again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody

from adapters.sql.identity.repositories import SqlWorkspaceRepository
from adapters.sql.uow import SqlUnitOfWork
from core.identity import (
    ROLE_PERMISSIONS,
    Membership,
    Permission,
    Principal,
    UnauthenticatedError,
    WorkspaceAccess,
    WorkspaceRole,
    WorkspaceService,
    api_key_access,
    workspace_access,
)
from core.identity import Workspace as WorkspaceModel
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import (
    authenticate,
    authenticate_api_key,
    bears_api_key,
    provide_principal,
)
from entrypoints.http.safety.acting import stamp
from entrypoints.logging import add_log_context

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]
Access = NamedDependency[WorkspaceAccess]


class WorkspaceOut(msgspec.Struct):
    id: str
    name: str
    role: str
    created_at: datetime
    permissions: list[str]

    @classmethod
    def of(
        cls,
        workspace: WorkspaceModel,
        membership: Membership,
        permissions: frozenset[Permission] | None = None,
    ) -> WorkspaceOut:
        allowed = ROLE_PERMISSIONS[membership.role] if permissions is None else permissions
        return cls(
            id=workspace.id,
            name=workspace.name,
            role=membership.role.value,
            created_at=workspace.created_at,
            permissions=sorted(p.value for p in allowed),
        )


class DeletedOut(msgspec.Struct):
    id: str
    deleted_at: datetime
    purge_after: datetime


class NewWorkspace(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class WorkspacePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET


class MemberOut(msgspec.Struct):
    user_id: str
    role: str
    joined_at: datetime


class RolePatch(msgspec.Struct, forbid_unknown_fields=True):
    role: WorkspaceRole


def _service(state: State, uow: SqlUnitOfWork) -> WorkspaceService:
    container: ApplicationContainer = state.container
    service: WorkspaceService = container.identity.workspaces(uow=uow)
    return service


async def tenant_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Before anything else of the request (the body included) is looked at: the
    signed-in user must belong to the workspace in the path (404 otherwise, whether it
    exists or not) and hold the permission the route declares in ``opt`` (403). An API
    key must be the workspace's own (404 otherwise) and hold that permission (403; a
    route that declares none is for users only)."""
    workspace_id = connection.path_params.get("workspace_id")
    if workspace_id is None:
        return
    permission = handler.opt.get("permission")
    required = Permission(permission) if permission else None
    container: ApplicationContainer = connection.app.state.container
    if bears_api_key(connection):
        # An API key: its own workspace only, and only the permissions it was given.
        key = await authenticate_api_key(connection)
        if key is None:
            raise UnauthenticatedError(headers={"WWW-Authenticate": 'Bearer realm="ninefold"'})
        async with container.database.read_session_factory()() as session:
            access = await api_key_access(
                SqlWorkspaceRepository(session), key, str(workspace_id), required
            )
        connection.scope["state"]["workspace_access"] = access
        add_log_context(workspace_id=access.workspace.id)
        stamp(connection)
        return
    principal = await authenticate(connection)
    if principal is None:
        raise UnauthenticatedError(headers={"WWW-Authenticate": 'Bearer realm="ninefold"'})
    async with container.database.read_session_factory()() as session:
        access = await workspace_access(
            SqlWorkspaceRepository(session), principal.user.id, str(workspace_id), required
        )
    connection.scope["state"]["workspace_access"] = access
    add_log_context(workspace_id=access.workspace.id)
    stamp(connection)


async def provide_access(request: Request[Any, Any, Any]) -> WorkspaceAccess:
    """The access ``tenant_guard`` established for this request."""
    access: WorkspaceAccess = request.scope["state"]["workspace_access"]
    return access


def _member(membership: Membership) -> MemberOut:
    return MemberOut(membership.user_id, membership.role.value, membership.created_at)


class WorkspacesController(Controller):
    path = "/api/v1/workspaces"
    tags = ["workspaces"]
    guards = [tenant_guard]
    dependencies = {
        "principal": Provide(provide_principal),
        "access": Provide(provide_access),
    }

    @get("/", summary="My workspaces")
    async def list_mine(
        self, state: State, principal: CurrentPrincipal, uow: Uow
    ) -> list[WorkspaceOut]:
        found = await _service(state, uow).mine(principal.user.id)
        return [WorkspaceOut.of(workspace, membership) for workspace, membership in found]

    @post("/", summary="Create a workspace; I become its owner")
    async def create(
        self, state: State, principal: CurrentPrincipal, data: JSONBody[NewWorkspace], uow: Uow
    ) -> WorkspaceOut:
        container: ApplicationContainer = state.container
        workspace = await container.identity.service(uow=uow).create_workspace(
            principal.user.id, data.name
        )
        access = await _service(state, uow).access(principal.user.id, workspace.id)
        return WorkspaceOut.of(access.workspace, access.membership)

    @get(
        "/{workspace_id:str}", summary="One of my workspaces", opt={"permission": "workspace:read"}
    )
    async def read(self, access: Access) -> WorkspaceOut:
        return WorkspaceOut.of(access.workspace, access.membership, access.permissions)

    @patch(
        "/{workspace_id:str}", summary="Rename a workspace", opt={"permission": "workspace:update"}
    )
    async def update(
        self, state: State, access: Access, data: JSONBody[WorkspacePatch], uow: Uow
    ) -> WorkspaceOut:
        if data.name is not msgspec.UNSET:
            await _service(state, uow).rename(access, data.name)
        return WorkspaceOut.of(access.workspace, access.membership, access.permissions)

    @delete(
        "/{workspace_id:str}",
        summary="Delete a workspace (owners); its data is purged after a grace period",
        status_code=200,
        opt={"permission": "workspace:delete"},
    )
    async def remove(self, state: State, access: Access, uow: Uow) -> DeletedOut:
        deleted_at, purge_after = await _service(state, uow).delete(access)
        return DeletedOut(access.workspace.id, deleted_at, purge_after)

    @get(
        "/{workspace_id:str}/members",
        summary="The workspace's members",
        opt={"permission": "members:read"},
    )
    async def members(self, state: State, access: Access, uow: Uow) -> list[MemberOut]:
        return [_member(m) for m in await _service(state, uow).members(access)]

    @patch(
        "/{workspace_id:str}/members/{user_id:str}",
        summary="Change a member's role",
        opt={"permission": "members:manage"},
    )
    async def change_role(
        self,
        state: State,
        access: Access,
        user_id: FromPath[str],
        data: JSONBody[RolePatch],
        uow: Uow,
    ) -> MemberOut:
        return _member(await _service(state, uow).change_role(access, user_id, data.role))

    @delete(
        "/{workspace_id:str}/members/{user_id:str}",
        summary="Remove a member, or leave (my own user id)",
        status_code=204,
    )
    async def remove_member(
        self, state: State, access: Access, user_id: FromPath[str], uow: Uow
    ) -> None:
        await _service(state, uow).remove_member(access, user_id)
