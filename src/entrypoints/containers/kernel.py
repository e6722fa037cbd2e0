"""The shared kernel's and the database's wiring."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.limits.limiter import memory_rate_limiter, redis_rate_limiter
from adapters.sql.database import (
    create_engine,
    create_read_session_factory,
    create_session_factory,
)
from core.kernel import IdGenerator, SystemClock
from entrypoints.settings import Settings


class KernelContainer(containers.DeclarativeContainer):
    """Time, ids and rate limits, shared by every system."""

    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(IdGenerator)
    # In-process counters by default; Redis when several processes must share them.
    rate_limiter = providers.Selector(
        settings.provided.rate_limit_storage,
        memory=providers.Singleton(memory_rate_limiter),
        redis=providers.Singleton(redis_rate_limiter, url=settings.provided.redis_url),
    )


class DatabaseContainer(containers.DeclarativeContainer):
    """The engine (one per process, shared by HTTP, worker and CLI) and sessions."""

    settings = providers.Dependency(instance_of=Settings)
    engine = providers.Singleton(
        create_engine,
        url=settings.provided.effective_database_url,
        pool_size=settings.provided.database_pool_size,
    )
    session_factory = providers.Singleton(create_session_factory, engine=engine)
    read_session_factory = providers.Singleton(create_read_session_factory, engine=engine)
