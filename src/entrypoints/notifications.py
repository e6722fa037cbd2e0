"""The notifications system's jobs, wired: the delivery job that hands a queued email or
SMS to its provider, and the job that applies a provider's delivery report.

Core's notifications system does not know the workflows system (workflows sends
notifications, so the dependency goes that way); this module joins them: it declares
the job types, turns a ``Delivery`` into a job (``JobDeliveryQueue``) and registers the
handlers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import msgspec

from adapters.sql.notifications.deliveries import (
    SqlDeliveryStore,
    SqlProviderEventLog,
    SqlSuppressionList,
)
from adapters.sql.notifications.outbox import SqlOutboxReader
from adapters.sql.notifications.retention import prune_notifications
from adapters.sql.uow import SqlUnitOfWork
from core.notifications import (
    Applied,
    Delivery,
    DeliveryWorker,
    EmailProviderUnavailableError,
    ProviderEvent,
)
from core.workflows import (
    JobContext,
    JobQueue,
    JobType,
    RetryJobLaterError,
    RetryPolicy,
    Schedule,
)

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

logger = logging.getLogger("ninefold.notifications")

NOTIFICATIONS_QUEUE = "notifications"


class DeliverNotification(msgspec.Struct, frozen=True):
    delivery_id: str


class DeliverBatch(msgspec.Struct, frozen=True):
    delivery_ids: list[str]


class ApplyProviderEvent(msgspec.Struct, frozen=True):
    """A verified report, as the adapter read it (the raw body is kept in the
    provider event log)."""

    event: ProviderEvent


# A provider outage is retried for about a day: 12 attempts, 30 s doubling to an hour.
DELIVER_NOTIFICATION = JobType(
    "notifications.deliver",
    DeliverNotification,
    queue=NOTIFICATIONS_QUEUE,
    retry=RetryPolicy(max_attempts=12, base_delay=30.0, max_delay=3600.0),
    timeout=60.0,
)
DELIVER_BATCH = JobType(
    "notifications.deliver_batch",
    DeliverBatch,
    queue=NOTIFICATIONS_QUEUE,
    retry=RetryPolicy(max_attempts=12, base_delay=30.0, max_delay=3600.0),
    timeout=120.0,
)
# A report may arrive before the delivery job recorded the provider's message id:
# "unmatched" reports are tried again for about half an hour, then kept as they are.
APPLY_PROVIDER_EVENT = JobType(
    "notifications.apply_provider_event",
    ApplyProviderEvent,
    queue=NOTIFICATIONS_QUEUE,
    retry=RetryPolicy(max_attempts=6, base_delay=20.0, max_delay=600.0),
    timeout=30.0,
)
UNMATCHED_RETRY = timedelta(seconds=30)


class PruneNotifications(msgspec.Struct, frozen=True):
    """The payload of the daily pruning (none needed)."""


PRUNE_NOTIFICATIONS = JobType(
    "notifications.prune",
    PruneNotifications,
    queue="maintenance",
    retry=RetryPolicy(max_attempts=3, base_delay=30.0, max_delay=600.0),
)


def notification_schedules() -> list[Schedule]:
    return [
        Schedule(
            "notifications.prune",
            PRUNE_NOTIFICATIONS,
            PruneNotifications(),
            every=timedelta(hours=6),
        )
    ]


class JobDeliveryQueue:
    """``DeliveryQueue`` on the workflows job queue of the caller's unit of work."""

    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs

    async def enqueue(self, delivery: Delivery) -> None:
        await enqueue_delivery(self._jobs, delivery.id)

    async def enqueue_batch(self, deliveries: Sequence[Delivery]) -> None:
        ids = [delivery.id for delivery in deliveries]
        digest = hashlib.sha256("\0".join(ids).encode()).hexdigest()
        await self._jobs.enqueue(
            DELIVER_BATCH, DeliverBatch(ids), idempotency_key=f"notifications.batch:{digest}"
        )


async def enqueue_delivery(jobs: JobQueue, delivery_id: str) -> None:
    await jobs.enqueue(
        DELIVER_NOTIFICATION,
        DeliverNotification(delivery_id),
        idempotency_key=f"notifications.deliver:{delivery_id}",
    )


class SqlDeliverySession:
    """``DeliverySession`` on a SQL unit of work of the application."""

    def __init__(self, container: ApplicationContainer) -> None:
        self._uow: SqlUnitOfWork = container.unit_of_work()

    @property
    def uow(self) -> SqlUnitOfWork:
        return self._uow

    @cached_property
    def deliveries(self) -> SqlDeliveryStore:
        return SqlDeliveryStore(self._uow.session)

    @cached_property
    def suppressions(self) -> SqlSuppressionList:
        return SqlSuppressionList(self._uow.session)

    @cached_property
    def outbox(self) -> SqlOutboxReader:
        return SqlOutboxReader(self._uow.session)


def delivery_worker(container: ApplicationContainer) -> DeliveryWorker:
    """The delivery use cases with the container's current providers."""
    return DeliveryWorker(
        open_session=lambda: SqlDeliverySession(container),
        email=container.notifications.email_transport(),
        sms=None,  # no SMS provider adapter yet: the SMS outbox is the delivery
        clock=container.kernel.clock(),
    )


def register_notification_jobs(container: ApplicationContainer) -> None:
    clock = container.kernel.clock()

    async def deliver(payload: DeliverNotification, context: JobContext) -> None:
        try:
            await delivery_worker(container).deliver(
                payload.delivery_id, last_attempt=context.is_last_attempt
            )
        except EmailProviderUnavailableError as error:
            # Retry-After from the provider would land here too; the policy's backoff
            # is used meanwhile.
            logger.warning("delivery %s: %s", payload.delivery_id, error.detail)
            raise

    async def deliver_batch(payload: DeliverBatch, context: JobContext) -> None:
        alone = await delivery_worker(container).deliver_batch(
            payload.delivery_ids, last_attempt=context.is_last_attempt
        )
        if alone:  # the provider refused the batch: each on its own, so one fails alone
            async with container.unit_of_work() as uow:
                jobs = container.workflows.job_queue(uow=uow)
                for delivery_id in alone:
                    await enqueue_delivery(jobs, delivery_id)
                await uow.commit()

    async def apply_event(payload: ApplyProviderEvent, context: JobContext) -> None:
        event = payload.event
        outcome = await delivery_worker(container).apply(event)
        if outcome is Applied.UNMATCHED and not context.is_last_attempt:
            raise RetryJobLaterError(
                f"no delivery has {event.provider} message {event.message_id} yet",
                delay=UNMATCHED_RETRY,
            )
        async with container.unit_of_work() as uow:
            await SqlProviderEventLog(uow.session).mark_processed(
                event.provider, event.event_id, clock.now(), outcome.value
            )
            await uow.commit()

    async def prune(_payload: PruneNotifications, _context: JobContext) -> None:
        retention = timedelta(days=container.settings().notifications_retention_days)
        async with container.unit_of_work() as uow:
            pruned = await prune_notifications(uow.session, clock.now() - retention)
            await uow.commit()
        if pruned.total:
            logger.info("pruned notifications past their retention: %s", pruned)

    registry = container.workflows.registry()
    registry.register(PRUNE_NOTIFICATIONS, prune)
    registry.register(DELIVER_NOTIFICATION, deliver)
    registry.register(DELIVER_BATCH, deliver_batch)
    registry.register(APPLY_PROVIDER_EVENT, apply_event)


async def receive_provider_event(
    container: ApplicationContainer, event: ProviderEvent, payload: bytes
) -> bool:
    """Keep a verified report and queue the job that applies it, in one transaction;
    ``False`` when the provider sent this report before (nothing is done again)."""
    async with container.unit_of_work() as uow:
        recorded = await SqlProviderEventLog(uow.session).record(
            event, payload, container.kernel.clock().now()
        )
        if recorded:
            await container.workflows.job_queue(uow=uow).enqueue(
                APPLY_PROVIDER_EVENT,
                ApplyProviderEvent(event),
                idempotency_key=f"notifications.provider_event:{event.provider}:{event.event_id}",
            )
        await uow.commit()
    return recorded
