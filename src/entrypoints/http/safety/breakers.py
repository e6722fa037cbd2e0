"""Circuit breakers for staff: ``/api/v1/admin/breakers…``.

``safety:read`` lists the breakers with this process's view of each (state, window,
counters, its last transitions: breakers' runtime state is per process) and staff's
override with its history; ``safety:manage`` forces a breaker open or closed, or resets
it, always with a reason. A change is stored, audited, in force in this process at once
and in every other within the snapshot poll interval (half a second).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from adapters.sql.uow import SqlUnitOfWork
from core.identity import Principal, StaffPermission
from core.safety.breaker_registry import (
    BreakerOverride,
    BreakerRegistry,
    BreakerService,
    OverrideKind,
)
from core.safety.breakers import RUNBOOK_BASE, BreakerConfig, BreakerTransition, CircuitBreaker
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import provide_principal
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard
from entrypoints.http.workflows.admin import staff_may

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]


class ChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)]
    """Why: kept with the change, in the audit log, and shown to whoever looks later."""


class OverrideOut(msgspec.Struct):
    kind: str
    """``forced_open``, ``forced_closed`` or ``none`` (reset: the automatic states)."""
    reason: str
    changed_by: str | None
    changed_at: datetime

    @classmethod
    def of(cls, override: BreakerOverride) -> OverrideOut:
        return cls(override.kind.value, override.reason, override.changed_by, override.changed_at)


class TransitionOut(msgspec.Struct):
    from_state: str
    to_state: str
    at: datetime
    reason: str

    @classmethod
    def of(cls, transition: BreakerTransition) -> TransitionOut:
        return cls(
            transition.from_state.value, transition.to_state.value, transition.at, transition.reason
        )


class WindowOut(msgspec.Struct):
    """The closed state's sliding window now (the probes' while half-open)."""

    calls: int
    failed: int
    slow: int
    failure_rate: float
    slow_rate: float


class BreakerOut(msgspec.Struct):
    name: str
    description: str
    wired: bool
    """False: declared for a port whose adapters do not exist yet."""
    state: str
    """In this process: closed, open, half_open, forced_open or disabled (forced closed)."""
    since: datetime
    retry_after: int
    """Seconds until a call may go again (0: calls go now)."""
    config: BreakerConfig
    failures: str
    """What counts as a failure."""
    window: WindowOut
    counters: dict[str, int]
    """This process's calls since it started: successful, failed, slow, ignored,
    not_permitted (refused by the breaker)."""
    transitions: dict[str, int]
    """This process's transitions since it started, by ``from->to``."""
    last_transitions: list[TransitionOut]
    """Newest first."""
    override: OverrideOut | None
    runbook: str

    @classmethod
    def of(
        cls, registry: BreakerRegistry, breaker: CircuitBreaker, override: BreakerOverride | None
    ) -> BreakerOut:
        spec = registry.spec(breaker.name)
        stats = breaker.stats()
        return cls(
            name=spec.name,
            description=spec.description,
            wired=spec.wired,
            state=breaker.state.value,
            since=breaker.since,
            retry_after=breaker.retry_after(),
            config=spec.config,
            failures=spec.failures,
            window=WindowOut(
                stats.calls, stats.failed, stats.slow, stats.failure_rate, stats.slow_rate
            ),
            counters=dict(breaker.counters),
            transitions=dict(breaker.transitions),
            last_transitions=[TransitionOut.of(t) for t in reversed(breaker.history)],
            override=OverrideOut.of(override) if override is not None else None,
            runbook=RUNBOOK_BASE + spec.runbook,
        )


class BreakerDetailOut(BreakerOut):
    history: list[OverrideOut]
    """Staff's changes, newest first."""


async def change(
    container: ApplicationContainer,
    name: str,
    kind: OverrideKind,
    *,
    reason: str,
    actor: str | None,
) -> BreakerOverride:
    """Force ``name`` open or closed, or reset it, in a unit of work of its own (stored,
    version bumped, audit event raised), then refresh this process's snapshot (the HTTP
    routes and the CLI)."""
    clock = container.kernel.clock()
    async with container.unit_of_work() as uow:
        service: BreakerService = container.safety.breaker_service(uow=uow)
        override = await service.change(name, kind, reason=reason, actor=actor, now=clock.now())
        await uow.commit()
    await container.safety.snapshots().refresh()
    return override


async def describe(container: ApplicationContainer, uow: SqlUnitOfWork) -> list[BreakerOut]:
    """Every breaker as this process has it, with the overrides as stored now."""
    registry: BreakerRegistry = container.safety.breakers()
    overrides = await container.safety.breaker_service(uow=uow).store.overrides()
    return [BreakerOut.of(registry, b, overrides.get(b.name)) for b in registry.all()]


async def describe_one(
    container: ApplicationContainer, uow: SqlUnitOfWork, name: str
) -> BreakerDetailOut:
    registry: BreakerRegistry = container.safety.breakers()
    breaker = registry.breaker(name)
    store = container.safety.breaker_service(uow=uow).store
    overrides = await store.overrides()
    shown = msgspec.structs.asdict(BreakerOut.of(registry, breaker, overrides.get(name)))
    history = [OverrideOut.of(o) for o in await store.history(name)]
    return BreakerDetailOut(**shown, history=history)


class BreakersController(Controller):
    path = "/api/v1/admin/breakers"
    tags = ["admin"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Every circuit breaker, its state in this process and its override "
        "(staff: safety:read)",
        guards=[staff_may(StaffPermission.SAFETY_READ)],
    )
    async def list_breakers(self, state: State, uow: Uow) -> list[BreakerOut]:
        return await describe(container_of(state), uow)

    @get(
        "/{name:str}",
        summary="One circuit breaker with its override history (staff: safety:read)",
        guards=[staff_may(StaffPermission.SAFETY_READ)],
    )
    async def read(self, state: State, uow: Uow, name: FromPath[str]) -> BreakerDetailOut:
        return await describe_one(container_of(state), uow, name)

    @post(
        "/{name:str}/force-open",
        summary="Refuse every call to the provider until released, with a reason "
        "(staff: safety:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.SAFETY_MANAGE)],
    )
    async def force_open(
        self,
        state: State,
        principal: CurrentPrincipal,
        name: FromPath[str],
        data: JSONBody[ChangeIn],
    ) -> BreakerDetailOut:
        return await self._change(state, principal, name, data, OverrideKind.FORCED_OPEN)

    @post(
        "/{name:str}/force-closed",
        summary="Let every call go, never trip, with a reason (staff: safety:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.SAFETY_MANAGE)],
    )
    async def force_closed(
        self,
        state: State,
        principal: CurrentPrincipal,
        name: FromPath[str],
        data: JSONBody[ChangeIn],
    ) -> BreakerDetailOut:
        return await self._change(state, principal, name, data, OverrideKind.FORCED_CLOSED)

    @post(
        "/{name:str}/reset",
        summary="Drop the override and start closed with an empty window, with a reason "
        "(staff: safety:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.SAFETY_MANAGE)],
    )
    async def reset(
        self,
        state: State,
        principal: CurrentPrincipal,
        name: FromPath[str],
        data: JSONBody[ChangeIn],
    ) -> BreakerDetailOut:
        return await self._change(state, principal, name, data, OverrideKind.NONE)

    async def _change(
        self, state: State, principal: Principal, name: str, data: ChangeIn, kind: OverrideKind
    ) -> BreakerDetailOut:
        container = container_of(state)
        await change(container, name, kind, reason=data.reason, actor=principal.user.id)
        async with container.unit_of_work() as uow:
            return await describe_one(container, uow, name)
