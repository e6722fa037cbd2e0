"""Feature flags' wiring, used by the safety container: the snapshot loader, the
process's ``Flags`` (evaluation in the app's environment) and the service on a unit of
work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.openfeature import NinefoldProvider
from adapters.sql.safety.flags import SqlFlagStore
from adapters.sql.safety.stores import SqlVersionStore
from adapters.sql.uow import SqlUnitOfWork
from core.kernel import Clock, IdGenerator
from core.safety.flag_eval import Flags, FlagSet
from core.safety.flag_service import FlagService
from core.safety.snapshots import Snapshots, Topic
from entrypoints.settings import Settings


def flag_loader(
    read_sessions: async_sessionmaker[AsyncSession],
) -> Callable[[], Awaitable[FlagSet]]:
    """Loads the flags snapshot: every flag (archived ones serve their off variant) and
    segment, compiled per environment on first use."""

    async def load_flags() -> FlagSet:
        async with read_sessions() as session:
            store = SqlFlagStore(session)
            return FlagSet(await store.flags(), await store.segments())

    return load_flags


def flag_reader(snapshots: Snapshots, settings: Settings, clock: Clock) -> Flags:
    def current() -> FlagSet | None:
        try:
            found: FlagSet = snapshots.get(Topic.FLAGS)
        except LookupError:  # not loaded yet: every flag answers the caller's default
            return None
        return found

    return Flags(current, settings.env, clock.now)


def make_flag_service(*, uow: SqlUnitOfWork, clock: Clock, ids: IdGenerator) -> FlagService:
    session = uow.session
    return FlagService(SqlFlagStore(session), SqlVersionStore(session), uow, clock, ids)


def openfeature_provider(flags: Flags) -> NinefoldProvider:
    """The OpenFeature provider over this process's flags."""
    return NinefoldProvider(flags.evaluate)
