"""The application container: every system's container, joined."""

from __future__ import annotations

import asyncio

from dependency_injector import containers, providers

from adapters.limits.limiter import LimitsRateLimiter
from adapters.sql.uow import SqlUnitOfWork
from entrypoints.containers.billing import BillingContainer
from entrypoints.containers.identity import IdentityContainer
from entrypoints.containers.kernel import DatabaseContainer, KernelContainer
from entrypoints.containers.notifications import NotificationsContainer
from entrypoints.containers.safety import SafetyContainer
from entrypoints.containers.workflows import WorkflowsContainer
from entrypoints.settings import Settings


class ApplicationContainer(containers.DeclarativeContainer):
    """Everything the entrypoints need. Build it with ``build_container(settings)``."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.Container(KernelContainer, settings=settings)
    database = providers.Container(DatabaseContainer, settings=settings)

    safety = providers.Container(
        SafetyContainer, settings=settings, kernel=kernel, database=database
    )

    # Set after a commit that stored events, so the relay delivers them at once.
    outbox_wakeup = providers.Singleton(asyncio.Event)
    # One transaction per request or job; every system's use cases share it. Its
    # auditable events become audit entries in it (safety.audit_events).
    unit_of_work = providers.Factory(
        SqlUnitOfWork,
        session_factory=database.session_factory,
        clock=kernel.clock,
        ids=kernel.ids,
        on_events_committed=outbox_wakeup.provided.set,
        observers=providers.List(safety.audit_events),
    )
    workflows = providers.Container(
        WorkflowsContainer,
        settings=settings,
        kernel=kernel,
        database=database,
        open_session=unit_of_work.provider,
        wakeup=outbox_wakeup,
        paused_queues=safety.paused_queues,
    )
    notifications = providers.Container(
        NotificationsContainer,
        settings=settings,
        kernel=kernel,
        workflows=workflows,
        breakers=safety.breakers,
    )
    identity = providers.Container(
        IdentityContainer, settings=settings, kernel=kernel, notifications=notifications
    )
    billing = providers.Container(
        BillingContainer,
        settings=settings,
        kernel=kernel,
        database=database,
        breakers=safety.breakers,
    )


def build_container(settings: Settings) -> ApplicationContainer:
    return ApplicationContainer(settings=settings)


async def close_container(container: ApplicationContainer) -> None:
    """Release what the container opened (the database pool)."""
    # Creating an engine or a limiter opens no connection, so asking for them here
    # costs nothing.
    await container.database.engine().dispose()
    container.database.engine.reset()  # type: ignore[attr-defined]
    limiter = container.kernel.rate_limiter()
    if isinstance(limiter, LimitsRateLimiter):
        await limiter.close()
    settings = container.settings()
    if settings.payments_provider == "sandbox":
        await container.billing.sandbox_database().close()
        container.billing.sandbox_database.reset()  # type: ignore[attr-defined]
    if settings.jobs_backend == "saq" and settings.saq_url:
        await container.workflows.saq_store().close()
