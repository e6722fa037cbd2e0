"""Data export and deletion over HTTP (docs/systems/safety/data.md).

- A user: ``POST /api/v1/me/export`` (202; the archive is built by a job),
  ``GET /api/v1/me/exports`` (each export's state, and its link while ready),
  ``POST /api/v1/me/deletion`` (schedules the account's erasure after the grace period;
  asks for the password again), ``GET`` and ``DELETE /api/v1/me/deletion`` (see it,
  cancel it during the grace period).
- A workspace owner: ``POST /api/v1/workspaces/{id}/export``, ``GET …/exports``. A
  workspace is deleted with ``DELETE /api/v1/workspaces/{id}`` (identity's grace period).
- The requester, signed in, with the link: ``GET /api/v1/exports/{token}`` (the zip;
  404 once expired, and for anyone else: a link that leaks into a log is useless alone).
- Staff with ``data:manage``: ``GET /api/v1/admin/data-requests`` (the list), ``POST``
  (an export or an account's deletion on someone's behalf, with a reason), and
  ``POST …/{id}/cancel`` (cancel a scheduled deletion, with a reason).

Staff impersonating a user can neither export nor delete that user's data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from adapters.sql.identity.repositories import SqlUserRepository, SqlWorkspaceRepository
from adapters.sql.uow import SqlUnitOfWork
from core.identity import (
    Principal,
    StaffPermission,
    WorkspaceAccess,
    WorkspaceRole,
    WrongPasswordError,
)
from core.kernel import PermissionDeniedError, TenantContext, ValidationError
from core.safety import current_context
from core.safety.data import (
    DataRequest,
    DataRequestNotFoundError,
    RequestKind,
    RequestState,
    SubjectKind,
)
from core.safety.data_service import DOWNLOAD_PATH, DataService
from entrypoints.http.auth import provide_principal
from entrypoints.http.client import client_of
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard
from entrypoints.http.identity.workspaces import provide_access, tenant_guard
from entrypoints.http.workflows.admin import staff_may
from entrypoints.safety.data_jobs import data_service, enqueue_build

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]
Access = NamedDependency[WorkspaceAccess]
Limit = Annotated[int, Parameter(description="items per page", ge=1, le=100)]
NO_STORE = {"Cache-Control": "no-store"}


class ExportOut(msgspec.Struct):
    id: str
    state: RequestState
    requested_at: datetime
    ready_at: datetime | None = None
    expires_at: datetime | None = None
    size: int | None = None
    download_url: str | None = None
    """While ready: the link (``GET``, signed in as its requester) until it expires."""

    @classmethod
    def of(cls, request: DataRequest, now: datetime) -> ExportOut:
        ready = request.is_downloadable(now) and request.token is not None
        return cls(
            id=request.id,
            state=request.state,
            requested_at=request.created_at,
            ready_at=request.updated_at if request.state is RequestState.READY else None,
            expires_at=request.expires_at,
            size=request.size,
            download_url=f"{DOWNLOAD_PATH}{request.token}" if ready else None,
        )


class DeletionIn(msgspec.Struct, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class DeletionOut(msgspec.Struct):
    id: str
    state: RequestState
    requested_at: datetime
    erase_after: datetime | None
    """The end of the grace period: until then ``DELETE /api/v1/me/deletion`` cancels."""

    @classmethod
    def of(cls, request: DataRequest) -> DeletionOut:
        return cls(request.id, request.state, request.created_at, request.due_at)


class DataRequestOut(msgspec.Struct):
    id: str
    kind: RequestKind
    subject_kind: SubjectKind
    subject_id: str
    requested_by: str | None
    state: RequestState
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    expires_at: datetime | None
    size: int | None
    error: str | None
    download_url: str | None = None
    """For the staff member who asked for this export, while it is ready."""

    @classmethod
    def of(
        cls, r: DataRequest, viewer: str | None = None, now: datetime | None = None
    ) -> DataRequestOut:
        mine = viewer is not None and r.requested_by == viewer and now is not None
        ready = mine and now is not None and r.is_downloadable(now) and r.token is not None
        return cls(
            r.id,
            r.kind,
            r.subject_kind,
            r.subject_id,
            r.requested_by,
            r.state,
            r.created_at,
            r.updated_at,
            r.due_at,
            r.expires_at,
            r.size,
            r.error,
            f"{DOWNLOAD_PATH}{r.token}" if ready else None,
        )


Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=500)]


class StaffDataRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    """An export of a user's or a workspace's data, or an account's deletion (after the
    grace period, as if the user had asked), on someone's behalf: say why."""

    kind: RequestKind
    subject_kind: SubjectKind
    subject_id: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    reason: Reason


class StaffCancelIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class DataRequestsOut(msgspec.Struct):
    requests: list[DataRequestOut]
    next_cursor: str | None
    """The last request's id; pass it back as ``cursor`` for the next page."""


def _service(state: State, uow: SqlUnitOfWork) -> DataService:
    return data_service(container_of(state), uow)


def _now(state: State) -> datetime:
    now: datetime = container_of(state).kernel.clock().now()
    return now


def _not_impersonated(what: str) -> None:
    if current_context().impersonator_id is not None:
        raise PermissionDeniedError(f"staff impersonating a user cannot {what}")


async def _export(
    state: State, uow: SqlUnitOfWork, kind: SubjectKind, subject_id: str, by: str
) -> ExportOut:
    request, new = await _service(state, uow).request_export(kind, subject_id, requested_by=by)
    if new:
        await enqueue_build(container_of(state).workflows.job_queue(uow=uow), request.id)
    return ExportOut.of(request, _now(state))


async def _check_password(
    request: Request[Any, Any, Any], state: State, principal: Principal, password: str
) -> None:
    identity = container_of(state).identity
    throttle, hasher = identity.throttle(), identity.password_hasher()
    ip = client_of(request)["ip"]
    await throttle.check_two_factor(principal.user.id, ip)
    if not await asyncio.to_thread(hasher.verify, principal.user.password_hash, password):
        await throttle.two_factor_failed(principal.user.id, ip)
        raise WrongPasswordError()


class MyDataController(Controller):
    path = "/api/v1/me"
    tags = ["me"]
    dependencies = {"principal": Provide(provide_principal)}

    @post(
        "/export",
        summary="Export my data: one archive with every system's part (built by a job)",
        status_code=202,
        description="Asking again while one is on its way answers that one.",
    )
    async def export(self, state: State, principal: CurrentPrincipal, uow: Uow) -> ExportOut:
        _not_impersonated("export their data")
        user_id = principal.user.id
        return await _export(state, uow, SubjectKind.USER, user_id, user_id)

    @get("/exports", summary="My exports, newest first, with the link of a ready one")
    async def exports(
        self, state: State, principal: CurrentPrincipal, uow: Uow
    ) -> Response[list[ExportOut]]:
        found = await _service(state, uow).exports(SubjectKind.USER, principal.user.id)
        now = _now(state)
        return Response([ExportOut.of(r, now) for r in found], headers=NO_STORE)

    @post(
        "/deletion",
        summary="Delete my account after a grace period (asks for the password)",
        status_code=202,
        description="Every system erases or pseudonymizes my data when the grace period "
        "ends; until then DELETE cancels. The only owner of a workspace must make "
        "another member an owner, or delete it, first (409 safety/sole-owner).",
    )
    async def request_deletion(
        self,
        request: Request[Any, Any, Any],
        state: State,
        principal: CurrentPrincipal,
        data: JSONBody[DeletionIn],
        uow: Uow,
    ) -> DeletionOut:
        _not_impersonated("delete their account")
        await _check_password(request, state, principal, data.password)
        user_id = principal.user.id
        scheduled = await _service(state, uow).request_account_deletion(
            user_id, requested_by=user_id
        )
        return DeletionOut.of(scheduled)

    @get("/deletion", summary="My account's scheduled deletion (404 when none)")
    async def deletion(self, state: State, principal: CurrentPrincipal, uow: Uow) -> DeletionOut:
        found = await _service(state, uow).scheduled_deletion(principal.user.id)
        if found is None:
            raise DataRequestNotFoundError("no deletion of this account is scheduled")
        return DeletionOut.of(found)

    @delete(
        "/deletion", summary="Cancel my account's deletion during the grace period", status_code=200
    )
    async def cancel_deletion(
        self, state: State, principal: CurrentPrincipal, uow: Uow
    ) -> DeletionOut:
        _not_impersonated("cancel their account's deletion")
        canceled = await _service(state, uow).cancel_account_deletion(principal.user.id)
        return DeletionOut.of(canceled)


def _owner(access: WorkspaceAccess) -> str:
    if access.via_api_key or access.membership.role is not WorkspaceRole.OWNER:
        raise PermissionDeniedError("only an owner (signed in, not an API key) exports a workspace")
    _not_impersonated("export a workspace")
    return access.membership.user_id


class WorkspaceDataController(Controller):
    path = "/api/v1/workspaces/{workspace_id:str}"
    tags = ["workspaces"]
    guards = [tenant_guard]
    dependencies = {"access": Provide(provide_access)}

    @post(
        "/export",
        summary="Export the workspace's data (owners): one archive, built by a job",
        status_code=202,
        opt={"permission": "workspace:delete"},
    )
    async def export(self, state: State, access: Access, uow: Uow) -> ExportOut:
        by = _owner(access)
        return await _export(state, uow, SubjectKind.WORKSPACE, access.workspace.id, by)

    @get(
        "/exports",
        summary="The workspace's exports (owners), with the link of a ready one",
        opt={"permission": "workspace:delete"},
    )
    async def exports(self, state: State, access: Access, uow: Uow) -> Response[list[ExportOut]]:
        _owner(access)
        found = await _service(state, uow).exports(SubjectKind.WORKSPACE, access.workspace.id)
        now = _now(state)
        return Response([ExportOut.of(r, now) for r in found], headers=NO_STORE)


def _requester_check(
    uow: SqlUnitOfWork, principal: Principal
) -> Callable[[DataRequest], Awaitable[bool]]:
    """Who may use a link: whoever asked for it, the user it exports, or an owner of the
    workspace it exports. A link copied into a log or a chat hands nothing over alone."""

    async def allowed(request: DataRequest) -> bool:
        user_id = principal.user.id
        if request.requested_by == user_id:
            return True  # the owner, or the staff member, who asked for it
        if request.subject_kind is SubjectKind.USER:
            return request.subject_id == user_id
        tenant = TenantContext(request.subject_id, actor_id=user_id)
        membership = await SqlWorkspaceRepository(uow.session).membership(tenant, user_id)
        return membership is not None and membership.role is WorkspaceRole.OWNER

    return allowed


class ExportDownloadController(Controller):
    path = "/api/v1/exports"
    tags = ["me"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/{token:str}",
        summary="Download an export's archive (its requester, signed in; 404 once expired)",
        media_type="application/zip",
        description="The link works for the user it exports, or an owner of the workspace "
        "it exports, signed in: the token alone is not enough.",
    )
    async def download(
        self, state: State, token: FromPath[str], principal: CurrentPrincipal, uow: Uow
    ) -> Response[bytes]:
        allowed = _requester_check(uow, principal)
        request, archive = await _service(state, uow).download(token, allowed=allowed)
        return Response(
            archive,
            media_type="application/zip",
            headers={
                **NO_STORE,
                "Content-Disposition": f'attachment; filename="export-{request.id}.zip"',
                "Referrer-Policy": "no-referrer",
            },
        )


class DataAdminController(Controller):
    path = "/api/v1/admin/data-requests"
    tags = ["admin"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Data export and deletion requests, newest first (staff: data:manage)",
        guards=[staff_may(StaffPermission.DATA_MANAGE)],
    )
    async def requests(
        self,
        state: State,
        principal: CurrentPrincipal,
        uow: Uow,
        *,
        kind: Annotated[RequestKind | None, Parameter(description="only this kind")] = None,
        request_state: Annotated[
            RequestState | None, QueryParameter(name="state", description="only this state")
        ] = None,
        cursor: Annotated[str | None, Parameter(max_length=40)] = None,
        limit: Limit = 50,
    ) -> DataRequestsOut:
        found = await _service(state, uow).requests.page(
            kind=kind, state=request_state, before=cursor, limit=limit + 1
        )
        more = len(found) > limit
        found = found[:limit]
        viewer, now = principal.user.id, _now(state)
        return DataRequestsOut(
            [DataRequestOut.of(r, viewer, now) for r in found],
            found[-1].id if more and found else None,
        )

    @post(
        "/",
        summary="Export a user's or a workspace's data, or delete an account, on someone's "
        "behalf (staff: data:manage)",
        status_code=202,
        description="A deletion waits out the grace period like one the user asked for (and "
        "is refused while they are a workspace's only owner); the export's link works for "
        "the staff member who asked. The reason goes into the audit log.",
        guards=[staff_may(StaffPermission.DATA_MANAGE)],
    )
    async def create(
        self,
        state: State,
        principal: CurrentPrincipal,
        data: JSONBody[StaffDataRequestIn],
        uow: Uow,
    ) -> DataRequestOut:
        await _subject_exists(uow, data.subject_kind, data.subject_id)
        service, staff_id = _service(state, uow), principal.user.id
        if data.kind is RequestKind.EXPORT:
            request, new = await service.request_export(
                data.subject_kind, data.subject_id, requested_by=staff_id, reason=data.reason
            )
            if new:
                await enqueue_build(container_of(state).workflows.job_queue(uow=uow), request.id)
        elif data.subject_kind is SubjectKind.USER:
            request = await service.request_account_deletion(
                data.subject_id, requested_by=staff_id, reason=data.reason
            )
        else:
            raise ValidationError(
                "a workspace is deleted by its owner (DELETE /api/v1/workspaces/{id})",
                field="subject_kind",
            )
        return DataRequestOut.of(request, staff_id, _now(state))

    @post(
        "/{request_id:str}/cancel",
        summary="Cancel an account's scheduled deletion (staff: data:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.DATA_MANAGE)],
    )
    async def cancel(
        self,
        state: State,
        principal: CurrentPrincipal,
        request_id: FromPath[str],
        data: JSONBody[StaffCancelIn],
        uow: Uow,
    ) -> DataRequestOut:
        canceled = await _service(state, uow).cancel_deletion(request_id, reason=data.reason)
        return DataRequestOut.of(canceled, principal.user.id, _now(state))


async def _subject_exists(uow: SqlUnitOfWork, kind: SubjectKind, subject_id: str) -> None:
    if kind is SubjectKind.USER:
        found = await SqlUserRepository(uow.session).get(subject_id) is not None
    else:
        tenant = TenantContext(subject_id)
        found = await SqlWorkspaceRepository(uow.session).get(tenant) is not None
    if not found:
        raise DataRequestNotFoundError(f"no {kind.value} {subject_id!r}", subject_id=subject_id)
