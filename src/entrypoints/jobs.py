"""The application's jobs and schedules: which handler runs each job type, and what
runs on a schedule. Add your own here: declare a ``JobType`` next to the code that
enqueues it, register its handler in ``register_jobs``, and list periodic work in
``schedules``. Every process that runs a worker calls ``register_jobs`` once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import msgspec

from adapters.sql.workflows.outbox import prune_published
from core.workflows import (
    DELIVER_EVENT,
    JobContext,
    JobType,
    RetryPolicy,
    Schedule,
    event_delivery_handler,
)
from entrypoints.billing.jobs import billing_schedules, register_billing_jobs
from entrypoints.containers import ApplicationContainer
from entrypoints.notifications import notification_schedules, register_notification_jobs
from entrypoints.safety.data_jobs import data_schedules, register_data_jobs
from entrypoints.safety.flags_jobs import flag_schedules, register_flag_jobs
from entrypoints.safety.impersonation_jobs import (
    impersonation_schedules,
    register_impersonation_jobs,
)
from entrypoints.webhooks import register_webhooks, webhook_schedules

logger = logging.getLogger("ninefold.jobs")

MAINTENANCE_QUEUE = "maintenance"
OUTBOX_RETENTION = timedelta(days=7)


class Nothing(msgspec.Struct, frozen=True):
    """The payload of a job that needs none."""


_maintenance = RetryPolicy(max_attempts=3, base_delay=30.0, max_delay=600.0)
PRUNE_OUTBOX = JobType(
    "workflows.prune_outbox", Nothing, queue=MAINTENANCE_QUEUE, retry=_maintenance
)
PRUNE_JOBS = JobType("workflows.prune_jobs", Nothing, queue=MAINTENANCE_QUEUE, retry=_maintenance)
PURGE_WORKSPACES = JobType(
    "identity.purge_workspaces", Nothing, queue=MAINTENANCE_QUEUE, retry=_maintenance
)


def schedules() -> list[Schedule]:
    hourly = timedelta(hours=1)
    return [
        Schedule("workflows.prune_outbox", PRUNE_OUTBOX, Nothing(), every=hourly),
        Schedule("workflows.prune_jobs", PRUNE_JOBS, Nothing(), every=hourly),
        Schedule("identity.purge_workspaces", PURGE_WORKSPACES, Nothing(), every=hourly),
        *webhook_schedules(),
        *notification_schedules(),
        *billing_schedules(),
        *flag_schedules(),
        *data_schedules(),
        *impersonation_schedules(),
    ]


def register_jobs(container: ApplicationContainer) -> None:
    """Register every job handler with the container's registry (once per process)."""
    registry = container.workflows.registry()
    if registry.get(DELIVER_EVENT.name) is not None:
        return  # registered already in this process
    settings = container.settings()
    clock = container.kernel.clock()

    async def prune_outbox(_payload: Nothing, _context: JobContext) -> None:
        async with container.unit_of_work() as uow:
            removed = await prune_published(uow.session, clock.now() - OUTBOX_RETENTION)
            await uow.commit()
        if removed:
            logger.info("pruned %d published outbox messages", removed)

    async def prune_jobs(_payload: Nothing, _context: JobContext) -> None:
        async with container.workflows.open_store()() as store:
            now = clock.now()
            removed = await store.prune(
                now - timedelta(days=settings.jobs_retention_days),
                now - timedelta(days=settings.jobs_dead_retention_days),
            )
        if removed:
            logger.info("pruned %d finished jobs past their retention", removed)

    async def purge_workspaces(_payload: Nothing, _context: JobContext) -> None:
        async with container.unit_of_work() as uow:
            purged = await container.identity.workspaces(uow=uow).purge_due()
            await uow.commit()
        if purged:
            logger.info("purged %d deleted workspaces past their grace period", purged)

    registry.register(DELIVER_EVENT, event_delivery_handler(container.workflows.event_bus()))
    registry.register(PRUNE_OUTBOX, prune_outbox)
    registry.register(PRUNE_JOBS, prune_jobs)
    registry.register(PURGE_WORKSPACES, purge_workspaces)
    register_webhooks(container)
    register_notification_jobs(container)
    register_billing_jobs(container)
    register_flag_jobs(container)
    register_data_jobs(container)
    register_impersonation_jobs(container)
