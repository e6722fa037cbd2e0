"""Kill switches over HTTP: the guard every route that declares one passes through, and
the staff routes ``/api/v1/admin/kill-switches…``.

A route names its switch in ``opt={"kill_switch": "checkout"}``; while that switch is
engaged, ``kill_switch_guard`` answers 503 ``safety/kill-switch-engaged`` with
Retry-After and the runbook, before anything else of the request is looked at. The
guard reads this process's snapshot: no database round trip.

Staff with ``safety:read`` list the switches and their history; ``safety:manage``
engages and releases them, always with a reason. The change is in force in this process
at once and in every other within the snapshot poll interval (half a second).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody

from adapters.sql.uow import SqlUnitOfWork
from core.identity import Principal, StaffPermission
from core.safety import (
    KILL_SWITCHES,
    KillSwitch,
    KillSwitchBoard,
    KillSwitchService,
    SwitchState,
    Topic,
)
from core.safety.kill_switches import RUNBOOK_BASE, KillSwitchEngaged, KillSwitchReleased
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import provide_principal
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard
from entrypoints.http.workflows.admin import staff_may

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]


async def kill_switch_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    name = handler.opt.get("kill_switch")
    if name is None:
        return
    snapshots = container_of(connection.app.state).safety.snapshots()
    if snapshots.has(Topic.KILL_SWITCHES):
        board: KillSwitchBoard = snapshots.get(Topic.KILL_SWITCHES)
        board.check(name)


class ChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)]
    """Why: kept with the change and shown to whoever looks later."""


class ChangeOut(msgspec.Struct):
    engaged: bool
    reason: str
    changed_by: str | None
    changed_at: datetime | None

    @classmethod
    def of(cls, state: SwitchState) -> ChangeOut:
        return cls(state.engaged, state.reason, state.changed_by, state.changed_at)


class KillSwitchOut(msgspec.Struct):
    name: str
    description: str
    kind: str
    """``http``: routes answer 503 while engaged; ``jobs``: its queues pause."""
    queues: list[str]
    engaged: bool
    reason: str
    changed_by: str | None
    changed_at: datetime | None
    runbook: str

    @classmethod
    def of(cls, switch: KillSwitch, state: SwitchState) -> KillSwitchOut:
        return cls(
            name=switch.name,
            description=switch.description,
            kind=switch.kind.value,
            queues=list(switch.queues),
            engaged=state.engaged,
            reason=state.reason,
            changed_by=state.changed_by,
            changed_at=state.changed_at,
            runbook=RUNBOOK_BASE + switch.runbook,
        )


class KillSwitchDetailOut(KillSwitchOut):
    history: list[ChangeOut]
    """Newest first."""


async def _board(container: ApplicationContainer, uow: SqlUnitOfWork) -> KillSwitchBoard:
    """The switches as the database has them now (not the snapshot)."""
    service: KillSwitchService = container.safety.kill_switches(uow=uow)
    return KillSwitchBoard(service.board.switches.values(), await service.store.states())


async def change(
    container: ApplicationContainer,
    name: str,
    *,
    engaged: bool,
    reason: str,
    actor: str | None,
) -> SwitchState:
    """Engage or release ``name`` in a unit of work of its own, bump the kill switches'
    version and refresh this process's snapshot (the HTTP route and the CLI)."""
    clock = container.kernel.clock()
    async with container.unit_of_work() as uow:
        now = clock.now()
        service: KillSwitchService = container.safety.kill_switches(uow=uow)
        before = (await service.store.states()).get(name)
        state = await service.set(name, engaged=engaged, reason=reason, actor=actor, now=now)
        await container.safety.versions(uow.session).bump(Topic.KILL_SWITCHES, now)
        event = KillSwitchEngaged if engaged else KillSwitchReleased
        uow.raise_event(
            event(
                occurred_at=now,
                switch=state.name,
                reason=state.reason,
                before={"engaged": bool(before and before.engaged)},
                after={"engaged": engaged},
            )
        )
        await uow.commit()
    await container.safety.snapshots().refresh()
    return state


class KillSwitchesController(Controller):
    path = "/api/v1/admin/kill-switches"
    tags = ["admin"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Every kill switch and its state (staff: safety:read)",
        guards=[staff_may(StaffPermission.SAFETY_READ)],
    )
    async def list_switches(self, state: State, uow: Uow) -> list[KillSwitchOut]:
        board = await _board(container_of(state), uow)
        return [KillSwitchOut.of(switch, current) for switch, current in board.all()]

    @get(
        "/{name:str}",
        summary="One kill switch with its history (staff: safety:read)",
        guards=[staff_may(StaffPermission.SAFETY_READ)],
    )
    async def read(self, state: State, uow: Uow, name: FromPath[str]) -> KillSwitchDetailOut:
        container = container_of(state)
        board = await _board(container, uow)
        switch = board.switch(name)
        history = await container.safety.kill_switches(uow=uow).store.history(name)
        shown = msgspec.structs.asdict(KillSwitchOut.of(switch, board.state(name)))
        return KillSwitchDetailOut(**shown, history=[ChangeOut.of(s) for s in history])

    @post(
        "/{name:str}/engage",
        summary="Turn a capability off, with a reason (staff: safety:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.SAFETY_MANAGE)],
    )
    async def engage(
        self,
        state: State,
        principal: CurrentPrincipal,
        name: FromPath[str],
        data: JSONBody[ChangeIn],
    ) -> KillSwitchOut:
        return await self._change(state, principal, name, data, engaged=True)

    @post(
        "/{name:str}/release",
        summary="Turn a capability back on, with a reason (staff: safety:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.SAFETY_MANAGE)],
    )
    async def release(
        self,
        state: State,
        principal: CurrentPrincipal,
        name: FromPath[str],
        data: JSONBody[ChangeIn],
    ) -> KillSwitchOut:
        return await self._change(state, principal, name, data, engaged=False)

    async def _change(
        self, state: State, principal: Principal, name: str, data: ChangeIn, *, engaged: bool
    ) -> KillSwitchOut:
        container = container_of(state)
        changed = await change(
            container, name, engaged=engaged, reason=data.reason, actor=principal.user.id
        )
        return KillSwitchOut.of(KillSwitchBoard(KILL_SWITCHES).switch(name), changed)
