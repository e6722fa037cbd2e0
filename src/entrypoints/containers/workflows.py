"""The workflows system's wiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.cronsim.cron import CronsimEvaluator
from adapters.httpx.webhooks import HttpxWebhookTransport
from adapters.saq import SaqJobStore
from adapters.sql.uow import SqlUnitOfWork
from adapters.sql.workflows.jobs import SqlJobStore, sql_job_store
from core.kernel import Clock, IdGenerator
from core.workflows import (
    EventBus,
    JobMetrics,
    JobQueue,
    JobRegistry,
    JobRunner,
    JobStore,
    OutboxRelay,
    OutboxSession,
)
from entrypoints.settings import Settings
from entrypoints.webhooks import build_webhook_service, policy_from_settings


def _sql_store_opener(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[], AbstractAsyncContextManager[JobStore]]:
    return lambda: sql_job_store(session_factory)


def _sql_store_in(session: OutboxSession) -> JobStore:
    """The SQL engine's store inside a unit of work's own transaction."""
    if not isinstance(session, SqlUnitOfWork):
        raise TypeError("the SQL job engine needs a SQL unit of work")
    return SqlJobStore(session.session)


def _saq_store_opener(store: SaqJobStore) -> Callable[[], AbstractAsyncContextManager[JobStore]]:
    """Every step uses the process's one SAQ store: each of its methods is atomic on its
    own, and it connects on first use."""

    @asynccontextmanager
    async def open_store() -> AsyncIterator[JobStore]:
        yield store

    return open_store


def _saq_store_in(store: SaqJobStore) -> Callable[[OutboxSession], JobStore]:
    """SAQ lives outside the database: the same store whatever the unit of work; its
    enqueues travel through the outbox (``store_in_transaction`` is false)."""
    return lambda _session: store


def _job_queue(
    *,
    uow: SqlUnitOfWork,
    store_in: Callable[[OutboxSession], JobStore],
    in_transaction: bool,
    clock: Clock,
    ids: IdGenerator,
    metrics: JobMetrics,
    wakeup: asyncio.Event,
    settings: Settings,
) -> JobQueue:
    return JobQueue(
        uow=uow,
        store=store_in(uow),
        store_in_transaction=in_transaction,
        clock=clock,
        ids=ids,
        on_enqueued=lambda request: metrics.count(request.queue, "enqueued"),
        wake=wakeup.set,
        queue_limits=settings.queue_limits,
    )


def _job_runner(
    *,
    settings: Settings,
    registry: JobRegistry,
    open_store: Callable[[], AbstractAsyncContextManager[JobStore]],
    clock: Clock,
    wakeup: asyncio.Event,
    metrics: JobMetrics,
    paused: Callable[[], frozenset[str]],
    queues: tuple[str, ...] | None = None,
    concurrency: int | None = None,
) -> JobRunner:
    return JobRunner(
        registry=registry,
        open_store=open_store,
        clock=clock,
        queues=queues if queues is not None else settings.queues,
        concurrency=concurrency or settings.worker_concurrency,
        lease=timedelta(seconds=settings.jobs_lease_seconds),
        heartbeat_every=settings.jobs_lease_seconds / 3,
        wakeup=wakeup,
        metrics=metrics,
        paused=paused,
    )


class WorkflowsContainer(containers.DeclarativeContainer):
    """Jobs and event delivery: the job engine chosen by settings, the registry of
    handlers, the runner, the scheduler and the relay that turns events into jobs."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.DependenciesContainer()
    database = providers.DependenciesContainer()
    # Makes a unit of work with its outbox store: the application container passes its own.
    open_session: providers.Dependency[Callable[[], OutboxSession]] = providers.Dependency()
    wakeup = providers.Dependency(instance_of=asyncio.Event)
    # The queues kill switches pause now (safety's snapshot), read before each claim.
    paused_queues: providers.Dependency[Callable[[], frozenset[str]]] = providers.Dependency()

    event_bus = providers.Singleton(EventBus)
    registry = providers.Singleton(JobRegistry)
    metrics = providers.Singleton(JobMetrics)
    cron = providers.Singleton(CronsimEvaluator)
    # Set when jobs were enqueued in this process, so its runner looks at once.
    jobs_wakeup = providers.Singleton(asyncio.Event)

    # The engine. ``open_store`` opens one atomic step; ``store_in`` gives the store
    # inside a unit of work (the SQL engine joins its transaction).
    # SAQ's store: one per process, connected on first use, closed by close_container.
    saq_store = providers.Singleton(
        SaqJobStore, url=settings.provided.saq_url, prefix=settings.provided.saq_prefix
    )
    open_store = providers.Selector(
        settings.provided.jobs_backend,
        sql=providers.Singleton(_sql_store_opener, session_factory=database.session_factory),
        saq=providers.Singleton(_saq_store_opener, store=saq_store),
    )
    store_in = providers.Selector(
        settings.provided.jobs_backend,
        sql=providers.Object(_sql_store_in),
        saq=providers.Singleton(_saq_store_in, store=saq_store),
    )
    store_in_transaction = providers.Selector(
        settings.provided.jobs_backend,
        sql=providers.Object(True),
        saq=providers.Object(False),
    )

    # Takes the unit of work: enqueue jobs in its transaction.
    job_queue = providers.Factory(
        _job_queue,
        store_in=store_in,
        in_transaction=store_in_transaction,
        clock=kernel.clock,
        ids=kernel.ids,
        metrics=metrics,
        wakeup=jobs_wakeup,
        settings=settings,
    )
    job_runner = providers.Factory(
        _job_runner,
        settings=settings,
        registry=registry,
        open_store=open_store,
        clock=kernel.clock,
        wakeup=jobs_wakeup,
        metrics=metrics,
        paused=paused_queues,
    )
    outbox_relay = providers.Singleton(
        OutboxRelay,
        bus=event_bus,
        open_session=open_session,
        jobs_for=store_in,
        clock=kernel.clock,
        ids=kernel.ids,
        wakeup=wakeup,
        on_jobs_added=jobs_wakeup.provided.set,
        queue_limits=settings.provided.queue_limits,
    )

    # Outbound webhooks (docs/systems/workflows.md): the rules from settings,
    # the HTTP transport (tests override it), and the use cases, which take the unit of
    # work. The delivery jobs are wired in ``entrypoints.webhooks``.
    webhook_policy = providers.Singleton(policy_from_settings, settings=settings)
    webhook_transport = providers.Singleton(
        HttpxWebhookTransport, allow_private=settings.provided.webhooks_private_urls_allowed
    )
    webhooks = providers.Factory(
        build_webhook_service,
        jobs_for=job_queue.provider,
        policy=webhook_policy,
        clock=kernel.clock,
        ids=kernel.ids,
    )
