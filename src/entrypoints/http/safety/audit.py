"""The audit log over HTTP (docs/systems/safety/audit.md).

Staff with ``safety:read``: ``GET /api/v1/admin/audit`` (every entry, newest first,
filtered by actor, action, target, workspace and time, cursor-paged), ``…/audit/export``
(the same filters, oldest first, as JSON Lines, streamed) and ``…/audit/verify``
(recomputes the whole chain and names the first broken entry).

Workspace owners (``audit:read``, which an owner may also give an API key):
``GET /api/v1/workspaces/{workspace_id}/audit`` and ``…/audit/export``: their workspace's
entries only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter, QueryParameter
from litestar.response import Stream

from adapters.sql.safety.audit import SqlAuditStore
from adapters.sql.uow import SqlUnitOfWork
from core.identity import StaffPermission, WorkspaceAccess
from core.safety import ActorType, AuditEntry, AuditFilter, AuditLog
from core.safety.audit import PAGE_MAX, entry_json
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import provide_principal
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard
from entrypoints.http.identity.workspaces import provide_access, tenant_guard
from entrypoints.http.workflows.admin import staff_may

Uow = NamedDependency[SqlUnitOfWork]
Access = NamedDependency[WorkspaceAccess]
READ = {"permission": "audit:read"}
JSON_LINES = "application/jsonl"

Actor = Annotated[str | None, Parameter(description="the actor's id", max_length=64)]
Action = Annotated[
    str | None,
    Parameter(description="an action, or a prefix ending in .* (member.*)", max_length=64),
]
TargetType = Annotated[str | None, Parameter(description="the target's type", max_length=40)]
TargetId = Annotated[str | None, Parameter(description="the target's id", max_length=128)]
Since = Annotated[
    datetime | None, QueryParameter(name="from", description="entries at or after (RFC 3339)")
]
Until = Annotated[
    datetime | None, QueryParameter(name="to", description="entries before (RFC 3339)")
]
Cursor = Annotated[
    str | None, Parameter(description="next_cursor of the page before", max_length=20)
]
Limit = Annotated[int, Parameter(description="entries per page", ge=1, le=PAGE_MAX)]


class AuditEntryOut(msgspec.Struct, kw_only=True):
    id: str
    seq: int
    at: datetime
    action: str
    actor_type: ActorType
    actor_id: str | None
    impersonator_id: str | None
    workspace_id: str | None
    target_type: str | None
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    pseudonymized_by: int | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return msgspec.convert(entry_json(entry), cls)


class AuditPageOut(msgspec.Struct):
    entries: list[AuditEntryOut]
    next_cursor: str | None
    """The seq to pass back as ``cursor`` for older entries; None on the last page."""


class AuditBreakOut(msgspec.Struct):
    seq: int
    entry_id: str | None
    problem: str


class AuditVerificationOut(msgspec.Struct):
    intact: bool
    entries: int
    head_seq: int
    head_hash: str
    broken: AuditBreakOut | None


def _filter(
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    workspace_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditFilter:
    from core.kernel import ValidationError

    for name, at in (("from", since), ("to", until)):
        if at is not None and at.tzinfo is None:
            raise ValidationError(f"give {name} with a time zone (…Z or …+00:00)", field=name)
    return AuditFilter(
        actor_id=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        workspace_id=workspace_id,
        since=since,
        until=until,
    )


def _audit(state: State, uow: SqlUnitOfWork) -> AuditLog:
    log: AuditLog = container_of(state).safety.audit(uow=uow)
    return log


async def _page(
    state: State, uow: SqlUnitOfWork, where: AuditFilter, cursor: str | None, limit: int
) -> AuditPageOut:
    page = await _audit(state, uow).page(where, cursor=cursor, limit=limit)
    return AuditPageOut([AuditEntryOut.of(e) for e in page.entries], page.next_cursor)


def _export(container: ApplicationContainer, where: AuditFilter, filename: str) -> Stream:
    """The matching entries as JSON Lines, oldest first, read in batches from a session
    of the stream's own (the request's has ended by the time the body is sent)."""

    async def lines() -> AsyncIterator[bytes]:
        encoder = msgspec.json.Encoder()
        async with container.database.read_session_factory()() as session:
            store = SqlAuditStore(session, container.kernel.ids())
            async for entry in store.scan(where):
                yield encoder.encode(entry_json(entry)) + b"\n"

    return Stream(
        lines(),
        media_type=JSON_LINES,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class AuditAdminController(Controller):
    path = "/api/v1/admin/audit"
    tags = ["admin"]
    guards = [staff_guard, staff_may(StaffPermission.SAFETY_READ)]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", summary="Audit log entries, newest first, with filters (staff: safety:read)")
    async def entries(
        self,
        state: State,
        uow: Uow,
        *,
        actor: Actor = None,
        action: Action = None,
        target_type: TargetType = None,
        target_id: TargetId = None,
        workspace_id: Annotated[str | None, Parameter(max_length=64)] = None,
        since: Since = None,
        until: Until = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AuditPageOut:
        where = _filter(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            workspace_id=workspace_id,
            since=since,
            until=until,
        )
        return await _page(state, uow, where, cursor, limit)

    @get(
        "/export",
        summary="Audit log entries as JSON Lines, oldest first (staff: safety:read)",
        media_type=JSON_LINES,
    )
    async def export(
        self,
        state: State,
        *,
        actor: Actor = None,
        action: Action = None,
        target_type: TargetType = None,
        target_id: TargetId = None,
        workspace_id: Annotated[str | None, Parameter(max_length=64)] = None,
        since: Since = None,
        until: Until = None,
    ) -> Stream:
        where = _filter(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            workspace_id=workspace_id,
            since=since,
            until=until,
        )
        return _export(container_of(state), where, "audit.jsonl")

    @get(
        "/verify",
        summary="Recompute the audit log's hash chain; names the first broken entry "
        "(staff: safety:read)",
    )
    async def verify(self, state: State, uow: Uow) -> AuditVerificationOut:
        outcome = await _audit(state, uow).verify()
        broken = outcome.broken
        return AuditVerificationOut(
            intact=outcome.intact,
            entries=outcome.entries,
            head_seq=outcome.head_seq,
            head_hash=outcome.head_hash,
            broken=AuditBreakOut(broken.seq, broken.entry_id, broken.problem) if broken else None,
        )


class WorkspaceAuditController(Controller):
    path = "/api/v1/workspaces"
    tags = ["workspaces"]
    guards = [tenant_guard]
    dependencies = {
        "principal": Provide(provide_principal),
        "access": Provide(provide_access),
    }

    @get(
        "/{workspace_id:str}/audit",
        summary="The workspace's audit log, newest first (owners: audit:read)",
        opt=READ,
    )
    async def entries(
        self,
        state: State,
        access: Access,
        uow: Uow,
        *,
        actor: Actor = None,
        action: Action = None,
        target_type: TargetType = None,
        target_id: TargetId = None,
        since: Since = None,
        until: Until = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AuditPageOut:
        where = _filter(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            workspace_id=access.workspace.id,
            since=since,
            until=until,
        )
        return await _page(state, uow, where, cursor, limit)

    @get(
        "/{workspace_id:str}/audit/export",
        summary="The workspace's audit log as JSON Lines, oldest first (owners: audit:read)",
        opt=READ,
        media_type=JSON_LINES,
    )
    async def export(
        self,
        state: State,
        access: Access,
        *,
        actor: Actor = None,
        action: Action = None,
        target_type: TargetType = None,
        target_id: TargetId = None,
        since: Since = None,
        until: Until = None,
    ) -> Stream:
        where = _filter(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            workspace_id=access.workspace.id,
            since=since,
            until=until,
        )
        return _export(container_of(state), where, f"audit-{access.workspace.id}.jsonl")
