"""Payment providers' webhooks, from receipt to effect.

``receive_billing_webhook`` is the one ingestion path: the HTTP route
(``POST /webhooks/billing/{provider}``) and the sandbox's own deliveries go through it.
It verifies the signature with the selected provider's adapter (a bad, stale or replayed
signature raises ``InvalidBillingWebhookError``: 400, nothing stored), stores the raw
event under the provider's event id (a redelivery is acknowledged and ignored) and
enqueues the job that applies it, in one transaction; the answer does not wait for the
job. Unknown event types are stored as ``ignored`` and never applied.

``apply_stored_event`` is the job's work: it applies the event in one unit of work and
records the outcome on the stored event in the same transaction; when it fails, the job
retries by its policy and the last failure is recorded as ``failed`` for staff to see
and replay (``replay_event``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from adapters.sql.billing.bundle import SqlBillingStores
from core.billing.errors import PaymentProviderUnavailableError
from core.billing.payments import BillingWebhook, WebhookKind
from core.billing.ports import StoredWebhookEvent, WebhookEventStatus, WebhookEventStore
from core.billing.webhooks import WebhookProcessor
from core.kernel import NotFoundError
from core.workflows import JobQueue, JobType, RetryPolicy

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

logger = logging.getLogger("ninefold.billing")

BILLING_QUEUE = "billing"
DETAIL_MAX = 1_000


class BillingWebhookNotConfiguredError(NotFoundError):
    type = "billing/webhook-provider-not-selected"
    title = "This payment provider is not the one this deployment uses."


class WebhookEventNotFoundError(NotFoundError):
    type = "billing/webhook-event-not-found"
    title = "There is no such stored webhook event."


class ApplyWebhook(msgspec.Struct, frozen=True):
    provider: str
    event_id: str


# A provider outage (refetches) or a conflicting concurrent write is retried for about
# six hours: 10 attempts, 30 s doubling to an hour.
APPLY_WEBHOOK = JobType(
    "billing.apply_webhook",
    ApplyWebhook,
    queue=BILLING_QUEUE,
    retry=RetryPolicy(max_attempts=10, base_delay=30.0, max_delay=3600.0),
    timeout=60.0,
)


async def enqueue_apply(jobs: JobQueue, provider: str, event_id: str, *, replay: int = 0) -> None:
    suffix = f":replay:{replay}" if replay else ""
    await jobs.enqueue(
        APPLY_WEBHOOK,
        ApplyWebhook(provider, event_id),
        idempotency_key=f"billing.webhook:{provider}:{event_id}{suffix}",
    )


async def receive_billing_webhook(
    container: ApplicationContainer, provider_name: str, headers: Mapping[str, str], body: bytes
) -> bool:
    """Verify, keep and queue one delivery; ``False`` when it was received before."""
    provider = container.billing.payment_provider()
    if provider.name != provider_name:
        raise BillingWebhookNotConfiguredError(
            f"this deployment takes payments with {provider.name}, not {provider_name}: "
            f"point {provider_name}'s webhooks elsewhere, or set NINEFOLD_PAYMENTS_PROVIDER"
        )
    now = container.kernel.clock().now()
    webhook = provider.parse_webhook(headers, body, now=now)
    ignored = webhook.kind is WebhookKind.IGNORED
    event = StoredWebhookEvent(
        provider=provider.name,
        event_id=webhook.event_id,
        type=webhook.type,
        kind=webhook.kind,
        workspace_id=webhook.workspace_id,
        received_at=now,
        status=WebhookEventStatus.IGNORED if ignored else WebhookEventStatus.PENDING,
        processed_at=now if ignored else None,
        detail=f"{webhook.type} is not used by billing" if ignored else "",
        body=body,
        normalized=msgspec.json.encode(webhook),
    )
    async with container.unit_of_work() as uow:
        stores: SqlBillingStores = container.billing.stores(uow.session)
        recorded = await stores.webhook_events.record(event)
        if recorded and not ignored:
            await enqueue_apply(
                container.workflows.job_queue(uow=uow), provider.name, event.event_id
            )
        await uow.commit()
    if not recorded:
        logger.info(
            "billing webhook %s %s received again: ignored", provider.name, webhook.event_id
        )
    return recorded


def connect_sandbox(container: ApplicationContainer) -> None:
    """Hand the sandbox's webhooks to ``receive_billing_webhook``, as a real provider's
    arrive over HTTP (once per process; nothing to do for other providers)."""
    if container.settings().payments_provider != "sandbox":
        return
    provider = container.billing.payment_provider()

    async def sink(headers: dict[str, str], body: bytes) -> None:
        await receive_billing_webhook(container, "sandbox", headers, body)

    provider.set_webhook_sink(sink)


async def apply_stored_event(
    container: ApplicationContainer, provider: str, event_id: str, *, last_attempt: bool
) -> WebhookEventStatus:
    """Apply a stored event (a job's work). A pending event is applied once; one already
    processed or ignored is left alone (a replay sets it pending first)."""
    clock = container.kernel.clock()
    try:
        async with container.unit_of_work() as uow:
            events: WebhookEventStore = container.billing.stores(uow.session).webhook_events
            stored = await events.get(provider, event_id)
            if stored is None:
                raise WebhookEventNotFoundError(f"no stored {provider} event {event_id}")
            if stored.status is not WebhookEventStatus.PENDING:
                return stored.status
            webhook = msgspec.json.decode(stored.normalized, type=BillingWebhook)
            processor: WebhookProcessor = container.billing.webhook_processor(uow=uow)
            status, detail = await processor.apply(webhook)
            await events.mark(
                provider, event_id, status, at=clock.now(), detail=detail[:DETAIL_MAX]
            )
            await uow.commit()
    except Exception as error:
        reason = error.detail if hasattr(error, "detail") else repr(error)
        logger.warning("billing webhook %s %s not applied: %s", provider, event_id, reason)
        if last_attempt or not _retryable(error):
            async with container.unit_of_work() as uow:
                await container.billing.stores(uow.session).webhook_events.mark(
                    provider,
                    event_id,
                    WebhookEventStatus.FAILED,
                    at=clock.now(),
                    detail=str(reason)[:DETAIL_MAX],
                )
                await uow.commit()
            if not _retryable(error):
                return WebhookEventStatus.FAILED
        raise
    container.billing.access_cache().invalidate(webhook.workspace_id or "")
    if webhook.subscription is not None and webhook.subscription.workspace_id:
        container.billing.access_cache().invalidate(webhook.subscription.workspace_id)
    return status


def _retryable(error: Exception) -> bool:
    """Errors worth another attempt: the provider or the database being unavailable,
    a provider's circuit breaker open, a concurrent update. Domain errors other than
    those will fail the same way again."""
    from core.billing.errors import ConcurrentSubscriptionUpdateError
    from core.kernel import DomainError
    from core.safety.breakers import CircuitOpenError

    if isinstance(
        error,
        PaymentProviderUnavailableError | ConcurrentSubscriptionUpdateError | CircuitOpenError,
    ):
        return True
    return not isinstance(error, DomainError | ValueError | msgspec.DecodeError)


async def replay_event(
    container: ApplicationContainer, provider: str, event_id: str
) -> StoredWebhookEvent:
    """Set a stored event pending and queue it again (staff). Applying is idempotent, so
    replaying a processed event changes nothing that was applied already."""
    clock = container.kernel.clock()
    async with container.unit_of_work() as uow:
        events: WebhookEventStore = container.billing.stores(uow.session).webhook_events
        stored = await events.get(provider, event_id)
        if stored is None:
            raise WebhookEventNotFoundError(f"no stored {provider} event {event_id}")
        await events.mark(
            provider,
            event_id,
            WebhookEventStatus.PENDING,
            at=clock.now(),
            detail="replay requested",
        )
        await enqueue_apply(
            container.workflows.job_queue(uow=uow),
            provider,
            event_id,
            replay=stored.attempts + 1,
        )
        await uow.commit()
    return msgspec.structs.replace(stored, status=WebhookEventStatus.PENDING)
