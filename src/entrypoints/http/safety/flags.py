"""Feature flags over HTTP (docs/systems/safety/flags.md).

``/api/v1/admin/flags…`` for staff: ``safety:read`` lists flags (each marked stale when
past its kind's lifetime), reads one with its history and pending scheduled changes,
lists segments and evaluates a flag for a given context; ``safety:manage`` creates,
changes, archives and restores flags, schedules and cancels changes, and manages
segments. Every change needs a reason (422 ``safety/reason-required``), is recorded with
its before and after, and is in force in this process at once (the snapshot is
refreshed after the commit) and in every other within the poll interval.

``GET /api/v1/flags`` answers the signed-in user's flags for front ends: only flags
marked ``client_visible`` (the others may carry targeting a browser has no business
seeing), evaluated with the user's id, and with ``?workspace_id=`` (a workspace they
belong to; 404 otherwise) that workspace's id and plan, in the app's environment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter

from adapters.sql.identity.repositories.workspaces import SqlWorkspaceRepository
from adapters.sql.uow import SqlUnitOfWork
from core.identity import Principal, StaffPermission, WorkspaceNotFoundError
from core.kernel import TenantContext
from core.safety.flag_eval import Evaluation, EvaluationContext
from core.safety.flag_events import (
    FlagPatch,
    FlagSchedule,
    ScheduleNotFoundError,
    SegmentNotFoundError,
)
from core.safety.flag_service import FlagService
from core.safety.flags import (
    Flag,
    Segment,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import provide_principal
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard
from entrypoints.http.safety.flag_schemas import (
    EvaluatedFlagsOut,
    EvaluateIn,
    FlagDetailOut,
    FlagIn,
    FlagOut,
    FlagPatchIn,
    FlagsOut,
    ReasonIn,
    ScheduleIn,
    SegmentDetailOut,
    SegmentIn,
    SegmentPatchIn,
    SegmentsOut,
)
from entrypoints.http.workflows.admin import staff_may

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]
READ = [staff_may(StaffPermission.SAFETY_READ)]
MANAGE = [staff_may(StaffPermission.SAFETY_MANAGE)]


def _service(state: State, uow: SqlUnitOfWork) -> FlagService:
    container = container_of(state)
    service: FlagService = container.safety.flag_service(uow=uow)

    async def refresh() -> None:
        await container.safety.snapshots().refresh()

    uow.after_commit(refresh)  # in force in this process as soon as it is committed
    return service


def _now(state: State) -> datetime:
    now: datetime = container_of(state).kernel.clock().now()
    return now


class FlagsAdminController(Controller):
    path = "/api/v1/admin/flags"
    tags = ["admin"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", summary="Feature flags, each marked stale or not (staff: safety:read)", guards=READ)
    async def list_flags(
        self,
        state: State,
        uow: Uow,
        *,
        archived: Annotated[bool, Parameter(description="include archived flags")] = False,
        stale: Annotated[bool | None, Parameter(description="only stale (or fresh) ones")] = None,
    ) -> FlagsOut:
        now = _now(state)
        found = await _service(state, uow).store.flags(include_archived=archived)
        shown = [FlagOut.of(f, now) for f in found]
        return FlagsOut([f for f in shown if stale is None or f.stale is stale])

    @post("/", summary="Create a flag, with a reason (staff: safety:manage)", guards=MANAGE)
    async def create(
        self, state: State, uow: Uow, principal: CurrentPrincipal, data: JSONBody[FlagIn]
    ) -> FlagOut:
        fields = msgspec.structs.asdict(data)
        reason = fields.pop("reason")
        flag = await _service(state, uow).create(
            Flag(**fields), reason=reason, actor=principal.user.id
        )
        return FlagOut.of(flag, _now(state))

    @get("/segments", summary="Segments (staff: safety:read)", guards=READ)
    async def list_segments(self, state: State, uow: Uow) -> SegmentsOut:
        return SegmentsOut(await _service(state, uow).store.segments())

    @post(
        "/segments", summary="Create a segment, with a reason (staff: safety:manage)", guards=MANAGE
    )
    async def create_segment(
        self, state: State, uow: Uow, principal: CurrentPrincipal, data: JSONBody[SegmentIn]
    ) -> Segment:
        segment = Segment(key=data.key, description=data.description, constraints=data.constraints)
        return await _service(state, uow).save_segment(
            segment, reason=data.reason, actor=principal.user.id, create=True
        )

    @get(
        "/segments/{key:str}", summary="A segment and its history (staff: safety:read)", guards=READ
    )
    async def read_segment(self, state: State, uow: Uow, key: FromPath[str]) -> SegmentDetailOut:
        service = _service(state, uow)
        segment = await service.store.get_segment(key)
        if segment is None:
            raise SegmentNotFoundError(f"no segment {key!r}", key=key)
        return SegmentDetailOut(segment, await service.store.history("segment", key))

    @patch(
        "/segments/{key:str}",
        summary="Change a segment, with a reason (staff: safety:manage)",
        guards=MANAGE,
    )
    async def update_segment(
        self,
        state: State,
        uow: Uow,
        principal: CurrentPrincipal,
        key: FromPath[str],
        data: JSONBody[SegmentPatchIn],
    ) -> Segment:
        service = _service(state, uow)
        current = await service.store.get_segment(key)
        changed = current or Segment(key=key)
        if data.description is not None:
            changed = msgspec.structs.replace(changed, description=data.description)
        if data.constraints is not None:
            changed = msgspec.structs.replace(changed, constraints=data.constraints)
        return await service.save_segment(
            changed, reason=data.reason, actor=principal.user.id, create=False
        )

    @post(
        "/segments/{key:str}/delete",
        summary="Delete a segment no flag uses, with a reason (staff: safety:manage)",
        status_code=204,
        guards=MANAGE,
    )
    async def delete_segment(
        self,
        state: State,
        uow: Uow,
        principal: CurrentPrincipal,
        key: FromPath[str],
        data: JSONBody[ReasonIn],
    ) -> None:
        await _service(state, uow).delete_segment(key, reason=data.reason, actor=principal.user.id)

    @get(
        "/{key:str}",
        summary="A flag with its history and scheduled changes (staff: safety:read)",
        guards=READ,
    )
    async def read(
        self,
        state: State,
        uow: Uow,
        key: FromPath[str],
        history: Annotated[int, Parameter(ge=1, le=200, description="changes shown")] = 50,
    ) -> FlagDetailOut:
        service = _service(state, uow)
        flag = await service.get(key)
        return FlagDetailOut(
            FlagOut.of(flag, _now(state)),
            await service.store.history("flag", key, limit=history),
            await service.store.schedules(key),
        )

    @patch(
        "/{key:str}", summary="Change a flag, with a reason (staff: safety:manage)", guards=MANAGE
    )
    async def update(
        self,
        state: State,
        uow: Uow,
        principal: CurrentPrincipal,
        key: FromPath[str],
        data: JSONBody[FlagPatchIn],
    ) -> FlagOut:
        fields = {
            name: getattr(data, name)
            for name in FlagPatch.__struct_fields__
            if getattr(data, name) is not msgspec.UNSET
        }
        flag = await _service(state, uow).update(
            key,
            FlagPatch(**fields),
            reason=data.reason,
            actor=principal.user.id,
            expected_version=data.version,
        )
        return FlagOut.of(flag, _now(state))

    @post(
        "/{key:str}/archive",
        summary="Archive a flag: it serves its off variant (staff: safety:manage)",
        status_code=200,
        guards=MANAGE,
    )
    async def archive(
        self,
        state: State,
        uow: Uow,
        principal: CurrentPrincipal,
        key: FromPath[str],
        data: JSONBody[ReasonIn],
    ) -> FlagOut:
        flag = await _service(state, uow).archive(key, reason=data.reason, actor=principal.user.id)
        return FlagOut.of(flag, _now(state))

    @post(
        "/{key:str}/restore",
        summary="Restore an archived flag (staff: safety:manage)",
        status_code=200,
        guards=MANAGE,
    )
    async def restore(
        self,
        state: State,
        uow: Uow,
        principal: CurrentPrincipal,
        key: FromPath[str],
        data: JSONBody[ReasonIn],
    ) -> FlagOut:
        flag = await _service(state, uow).archive(
            key, reason=data.reason, actor=principal.user.id, restore=True
        )
        return FlagOut.of(flag, _now(state))

    @post(
        "/{key:str}/schedules",
        summary="Schedule a change for later, with a reason (staff: safety:manage)",
        status_code=201,
        guards=MANAGE,
    )
    async def schedule(
        self,
        state: State,
        uow: Uow,
        principal: CurrentPrincipal,
        key: FromPath[str],
        data: JSONBody[ScheduleIn],
    ) -> FlagSchedule:
        return await _service(state, uow).schedule(
            key, data.change, apply_at=data.apply_at, reason=data.reason, actor=principal.user.id
        )

    @post(
        "/{key:str}/schedules/{schedule_id:str}/cancel",
        summary="Cancel a scheduled change, with a reason (staff: safety:manage)",
        status_code=200,
        guards=MANAGE,
    )
    async def cancel_schedule(
        self,
        *,
        state: State,
        uow: Uow,
        principal: CurrentPrincipal,
        key: FromPath[str],
        schedule_id: FromPath[str],
        data: JSONBody[ReasonIn],
    ) -> FlagSchedule:
        service = _service(state, uow)
        found = await service.store.get_schedule(schedule_id)
        if found is None or found.key != key:
            raise ScheduleNotFoundError(f"no scheduled change {schedule_id!r} of {key!r}")
        return await service.cancel_schedule(
            schedule_id, reason=data.reason, actor=principal.user.id
        )

    @post(
        "/{key:str}/evaluate",
        summary="Evaluate a flag for a context, as this process does (staff: safety:read)",
        status_code=200,
        guards=READ,
    )
    async def evaluate(
        self, state: State, key: FromPath[str], data: JSONBody[EvaluateIn]
    ) -> Evaluation:
        result: Evaluation = container_of(state).safety.flags().evaluate(key, data.context)
        return result


class FlagsController(Controller):
    path = "/api/v1/flags"
    tags = ["flags"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="The signed-in user's client-visible flags, evaluated (for front ends)",
    )
    async def my_flags(
        self,
        state: State,
        uow: Uow,
        principal: CurrentPrincipal,
        workspace_id: Annotated[
            str | None, Parameter(max_length=40, description="a workspace you belong to")
        ] = None,
    ) -> EvaluatedFlagsOut:
        container: ApplicationContainer = container_of(state)
        plan = None
        if workspace_id is not None:
            tenant = TenantContext(workspace_id)
            membership = await SqlWorkspaceRepository(uow.session).membership(
                tenant, principal.user.id
            )
            if membership is None:
                raise WorkspaceNotFoundError(f"no workspace {workspace_id}")
            plan = (await container.billing.entitlements(uow=uow).plan(tenant)).key
        flags = container.safety.flags()
        context = EvaluationContext(user_id=principal.user.id, workspace_id=workspace_id, plan=plan)
        found = flags.evaluate_all(context)
        return EvaluatedFlagsOut(flags.environment, {e.key: e for e in found})
