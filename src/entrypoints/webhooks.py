"""Wiring outbound webhooks: the service for a request's unit of work, the unit of work
the webhook jobs run in (SQL repositories, the job queue, the mail outbox and the
workspace's admins from identity), and the handlers, subscriptions and schedule that
``entrypoints.jobs`` registers.

Tests replace the HTTP transport like any provider::

    container.workflows.webhook_transport.override(providers.Object(FakeWebhookTransport()))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.repositories import SqlUserRepository, SqlWorkspaceRepository
from adapters.sql.uow import SqlUnitOfWork
from adapters.sql.workflows.webhooks import SqlWebhookDeliveryLog, SqlWebhookEndpointRepository
from core.identity import WorkspacePurged, WorkspaceRole
from core.kernel import Clock, IdGenerator, TenantContext
from core.notifications import Notifier, Recipient
from core.workflows import EventEnvelope, JobContext, JobQueue, JobType, RetryPolicy, Schedule
from core.workflows.webhook_delivery import DELIVER_WEBHOOK, DeliverWebhook, WebhookDeliverer
from core.workflows.webhook_model import WebhookPolicy
from core.workflows.webhooks import WebhookService
from entrypoints.contracts import WEBHOOK_EVENTS
from entrypoints.settings import Settings

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

logger = logging.getLogger("ninefold.webhooks")

FAN_OUT_SUBSCRIBER = "workflows.webhooks.fan_out"
PURGE_SUBSCRIBER = "workflows.webhooks.purge_workspace"
ADMIN_ROLES = frozenset({WorkspaceRole.OWNER, WorkspaceRole.ADMIN})


def webhook_event_types() -> list[str]:
    """The event types endpoints may subscribe to."""
    return [event.name for event in WEBHOOK_EVENTS]


def policy_from_settings(settings: Settings) -> WebhookPolicy:
    return WebhookPolicy(
        allow_private_urls=settings.webhooks_private_urls_allowed,
        max_endpoints=settings.webhooks_max_endpoints,
        timeout_seconds=settings.webhooks_timeout_seconds,
        disable_after=timedelta(days=settings.webhooks_disable_after_days),
    )


def build_webhook_service(
    *,
    uow: SqlUnitOfWork,
    jobs_for: Callable[..., JobQueue],
    policy: WebhookPolicy,
    clock: Clock,
    ids: IdGenerator,
) -> WebhookService:
    return WebhookService(
        endpoints=SqlWebhookEndpointRepository(uow.session),
        deliveries=SqlWebhookDeliveryLog(uow.session),
        jobs=jobs_for(uow=uow),
        clock=clock,
        ids=ids,
        policy=policy,
        event_types=webhook_event_types(),
    )


class IdentityWorkspaceAdmins:
    """``WorkspaceAdmins`` from identity's tables: the owners and admins who are not
    banned, in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._workspaces = SqlWorkspaceRepository(session)
        self._users = SqlUserRepository(session)

    async def recipients(self, workspace_id: str) -> list[Recipient]:
        found = []
        for member in await self._workspaces.members(TenantContext(workspace_id)):
            if member.role not in ADMIN_ROLES:
                continue
            user = await self._users.get(member.user_id)
            if user is not None and not user.is_banned:
                found.append(
                    Recipient(
                        user_id=user.id,
                        email=user.email,
                        name=user.name or None,
                        workspace_id=workspace_id,
                    )
                )
        return sorted(found, key=lambda recipient: recipient.email or "")


class SqlWebhookSession:
    """``WebhookSession`` on a SQL unit of work of the application."""

    def __init__(self, container: ApplicationContainer) -> None:
        self._container = container
        self._uow: SqlUnitOfWork = container.unit_of_work()

    @property
    def uow(self) -> SqlUnitOfWork:
        return self._uow

    @cached_property
    def endpoints(self) -> SqlWebhookEndpointRepository:
        return SqlWebhookEndpointRepository(self._uow.session)

    @cached_property
    def deliveries(self) -> SqlWebhookDeliveryLog:
        return SqlWebhookDeliveryLog(self._uow.session)

    @cached_property
    def jobs(self) -> JobQueue:
        queue: JobQueue = self._container.workflows.job_queue(uow=self._uow)
        return queue

    @cached_property
    def notifier(self) -> Notifier:
        notifier: Notifier = self._container.notifications.notifier(uow=self._uow)
        return notifier

    @cached_property
    def admins(self) -> IdentityWorkspaceAdmins:
        return IdentityWorkspaceAdmins(self._uow.session)


def webhook_deliverer(container: ApplicationContainer) -> WebhookDeliverer:
    """The webhook jobs' use cases, with the container's current transport."""
    settings = container.settings()
    return WebhookDeliverer(
        open_session=lambda: SqlWebhookSession(container),
        transport=container.workflows.webhook_transport(),
        clock=container.kernel.clock(),
        ids=container.kernel.ids(),
        policy=container.workflows.webhook_policy(),
        event_types=webhook_event_types(),
        console_url=settings.effective_public_url,
    )


class PruneDeliveries(msgspec.Struct, frozen=True):
    """The payload of the daily pruning of the delivery log (none needed)."""


PRUNE_WEBHOOK_DELIVERIES = JobType(
    "workflows.prune_webhook_deliveries",
    PruneDeliveries,
    queue="maintenance",
    retry=RetryPolicy(max_attempts=3, base_delay=30.0, max_delay=600.0),
)


def webhook_schedules() -> list[Schedule]:
    return [
        Schedule(
            "workflows.prune_webhook_deliveries",
            PRUNE_WEBHOOK_DELIVERIES,
            PruneDeliveries(),
            every=timedelta(hours=6),
        )
    ]


def register_webhooks(container: ApplicationContainer) -> None:
    """Register the webhook jobs' handlers and subscribe the fan-out to every event a
    webhook may carry (called by ``register_jobs``, once per process)."""
    registry = container.workflows.registry()
    bus = container.workflows.event_bus()
    retention = timedelta(days=container.settings().webhooks_delivery_retention_days)

    async def fan_out(envelope: EventEnvelope) -> None:
        await webhook_deliverer(container).fan_out(envelope)

    async def deliver(payload: DeliverWebhook, context: JobContext) -> None:
        await webhook_deliverer(container).deliver(payload, context)

    async def purge(event: WorkspacePurged) -> None:
        await webhook_deliverer(container).purge_workspace(event.workspace_id)

    async def prune(_payload: PruneDeliveries, _context: JobContext) -> None:
        removed = await webhook_deliverer(container).prune(retention)
        if removed:
            logger.info("pruned %d webhook delivery attempts past their retention", removed)

    bus.subscribe_envelopes(webhook_event_types(), fan_out, name=FAN_OUT_SUBSCRIBER)
    bus.subscribe(WorkspacePurged, purge, name=PURGE_SUBSCRIBER)
    registry.register(DELIVER_WEBHOOK, deliver)
    registry.register(PRUNE_WEBHOOK_DELIVERIES, prune)
