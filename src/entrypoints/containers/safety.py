"""The operational safety system's wiring: the process's snapshots (kill switches; flags
and breaker overrides register their topics too) and the use cases on a unit of work."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.sql.identity.repositories import SqlUserRepository
from adapters.sql.safety.audit import AuditEvents, SqlAuditStore
from adapters.sql.safety.breaker_store import SqlBreakerStore
from adapters.sql.safety.impersonations import SqlImpersonationStore
from adapters.sql.safety.stores import SqlKillSwitchStore, SqlVersionStore
from adapters.sql.uow import SqlUnitOfWork
from core.identity import SessionService
from core.kernel import Clock, IdGenerator
from core.safety import (
    KILL_SWITCHES,
    AuditLog,
    KillSwitchBoard,
    KillSwitchService,
    Snapshots,
    Topic,
)
from core.safety.breaker_registry import (
    BREAKERS,
    BreakerOverride,
    BreakerRegistry,
    BreakerService,
    BreakerSpec,
)
from core.safety.impersonation import ImpersonationService
from entrypoints.safety.data_wiring import local_archives, make_data_service
from entrypoints.safety.flags_wiring import (
    flag_loader,
    flag_reader,
    make_flag_service,
    openfeature_provider,
)
from entrypoints.settings import Settings


def _snapshots(read_sessions: async_sessionmaker[AsyncSession], ids: IdGenerator) -> Snapshots:
    async def read_versions() -> dict[str, int]:
        async with read_sessions() as session:
            return await SqlVersionStore(session).versions()

    async def load_kill_switches() -> KillSwitchBoard:
        async with read_sessions() as session:
            states = await SqlKillSwitchStore(session, ids).states()
        return KillSwitchBoard(KILL_SWITCHES, states)

    snapshots = Snapshots(read_versions, {Topic.KILL_SWITCHES: load_kill_switches})

    async def load_breaker_overrides() -> dict[str, BreakerOverride]:
        async with read_sessions() as session:
            return dict(await SqlBreakerStore(session).overrides())

    snapshots.register(Topic.BREAKERS, load_breaker_overrides)
    snapshots.register(Topic.FLAGS, flag_loader(read_sessions))
    return snapshots


def _paused_queues(snapshots: Snapshots) -> Callable[[], frozenset[str]]:
    """What the job runner asks before each claim: the queues engaged kill switches
    pause (none until the first snapshot is loaded)."""

    def paused() -> frozenset[str]:
        if not snapshots.has(Topic.KILL_SWITCHES):
            return frozenset()
        board: KillSwitchBoard = snapshots.get(Topic.KILL_SWITCHES)
        return board.paused_queues()

    return paused


def _kill_switches(*, uow: SqlUnitOfWork, ids: IdGenerator) -> KillSwitchService:
    store = SqlKillSwitchStore(uow.session, ids)
    return KillSwitchService(KillSwitchBoard(KILL_SWITCHES), store)


def _breakers(
    *, specs: Sequence[BreakerSpec], clock: Clock, snapshots: Snapshots, timer: Callable[[], float]
) -> BreakerRegistry:
    """This process's breakers; staff overrides come from the breakers' snapshot."""

    def overrides() -> Mapping[str, BreakerOverride]:
        if not snapshots.has(Topic.BREAKERS):
            return {}
        found: Mapping[str, BreakerOverride] = snapshots.get(Topic.BREAKERS)
        return found

    return BreakerRegistry(specs, clock, overrides=overrides, timer=timer)


def _breaker_service(
    *, uow: SqlUnitOfWork, specs: Sequence[BreakerSpec], ids: IdGenerator
) -> BreakerService:
    session = uow.session
    return BreakerService(specs, SqlBreakerStore(session), SqlVersionStore(session), uow, ids)


def _audit(*, uow: SqlUnitOfWork, ids: IdGenerator, clock: Clock) -> AuditLog:
    return AuditLog(SqlAuditStore(uow.session, ids), clock, uow=uow)


def _impersonations(
    *,
    uow: SqlUnitOfWork,
    sessions: SessionService,
    clock: Clock,
    ids: IdGenerator,
    settings: Settings,
) -> ImpersonationService:
    return ImpersonationService(
        uow=uow,
        store=SqlImpersonationStore(uow.session),
        users=SqlUserRepository(uow.session),
        sessions=sessions,
        clock=clock,
        ids=ids,
        max_duration=timedelta(minutes=settings.impersonation_max_minutes),
    )


class SafetyContainer(containers.DeclarativeContainer):
    """Safety: ``snapshots`` (one per process, refreshed by the poller the app and the
    worker run), and the use cases: ``kill_switches(uow=uow)``, ``versions(session)``,
    ``audit(uow=uow)``."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.DependenciesContainer()
    database = providers.DependenciesContainer()

    snapshots = providers.Singleton(
        _snapshots, read_sessions=database.read_session_factory, ids=kernel.ids
    )
    paused_queues = providers.Singleton(_paused_queues, snapshots=snapshots)
    versions = providers.Factory(SqlVersionStore)  # (session)
    kill_switches = providers.Factory(_kill_switches, ids=kernel.ids)
    # The audit log: ``audit(uow=uow).record(AuditRecord(...))``; ``audit_events`` is the
    # unit of work's observer that records auditable events in their transaction.
    audit = providers.Factory(_audit, ids=kernel.ids, clock=kernel.clock)
    audit_events = providers.Singleton(AuditEvents, ids=kernel.ids)
    # Circuit breakers (docs/systems/safety/breakers.md): the declared ones (tests
    # override them with smaller windows), the timer that measures calls, this
    # process's registry, and staff's changes: ``breaker_service(uow=uow)``.
    breaker_specs = providers.Object(BREAKERS)
    breaker_timer = providers.Object(time.perf_counter)
    breakers = providers.Singleton(
        _breakers,
        specs=breaker_specs,
        clock=kernel.clock,
        snapshots=snapshots,
        timer=breaker_timer,
    )
    breaker_service = providers.Factory(_breaker_service, specs=breaker_specs, ids=kernel.ids)
    # Feature flags (docs/systems/safety/flags.md): ``flags()`` evaluates from this
    # process's snapshot; ``flag_service(uow=uow)`` changes flags and segments.
    flags = providers.Singleton(
        flag_reader, snapshots=snapshots, settings=settings, clock=kernel.clock
    )
    flag_service = providers.Factory(make_flag_service, clock=kernel.clock, ids=kernel.ids)
    # For code written against OpenFeature: api.set_provider(container.safety.openfeature())
    openfeature = providers.Singleton(openfeature_provider, flags=flags)
    # Data export and deletion (docs/systems/safety/data.md): ``data(uow=uow)``.
    archives = providers.Singleton(local_archives, settings=settings)
    data = providers.Factory(
        make_data_service,
        settings=settings,
        clock=kernel.clock,
        ids=kernel.ids,
        archives=archives,
    )
    # Impersonation (docs/systems/safety/impersonation.md): ``impersonations(uow=uow,
    # sessions=<identity's session service on uow.session>)``.
    impersonations = providers.Factory(
        _impersonations, clock=kernel.clock, ids=kernel.ids, settings=settings
    )
