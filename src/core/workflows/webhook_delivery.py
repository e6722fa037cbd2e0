"""Delivering events to the workspaces' webhook endpoints.

1. **Fan-out.** ``WebhookDeliverer.fan_out`` subscribes (as an envelope subscriber) to
   every public event of a workspace. For each committed event it enqueues one
   ``workflows.deliver_webhook`` job per enabled endpoint of the event's workspace whose
   filter accepts it (and that existed when the event happened), with the idempotency
   key ``<event id>:<endpoint id>`` (fanning out twice sends nothing twice) and the
   endpoint as concurrency key, so that one slow endpoint holds at most
   ``DELIVERY_CONCURRENCY`` workers.
2. **Delivery.** Each job signs the body (Standard Webhooks) and POSTs it, outside any
   transaction, then logs the attempt. A 2xx answer is a success. Anything else is a
   failure that the job's retry policy retries (``WEBHOOK_RETRY``: 12 attempts over
   roughly a day), waiting at least what a ``429``/``503`` answer's ``Retry-After``
   asks for (up to ``WebhookPolicy.max_retry_after``); ``410 Gone`` disables the
   endpoint at once.
3. **Disabling.** An endpoint none of whose deliveries has succeeded since its first
   failure ``WebhookPolicy.disable_after`` ago (5 days) is disabled at its next failure,
   and the workspace's owners and admins get an email, stored in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import msgspec

from core.kernel import Clock, IdGenerator, TenantContext
from core.kernel.events import AwareDatetime
from core.notifications import NotificationRequest, Recipient
from core.workflows.errors import PermanentJobError, RetryJobLaterError
from core.workflows.jobs import JobContext, JobQueue, JobType
from core.workflows.model import RetryPolicy
from core.workflows.service import EventEnvelope
from core.workflows.webhook_errors import WebhookTransportError
from core.workflows.webhook_model import (
    DELIVERY_ID_PREFIX,
    DeliveryStatus,
    DeliveryTrigger,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookPayload,
    WebhookPolicy,
    WebhookResponse,
)
from core.workflows.webhook_ports import WebhookSession, WebhookTransport
from core.workflows.webhook_signing import message_id, signed_headers

logger = logging.getLogger(__name__)

WEBHOOKS_QUEUE = "webhooks"
DELIVERY_CONCURRENCY = 4
USER_AGENT = "ninefold-webhooks/1"
ERROR_MAX_LENGTH = 500
PRUNE_BATCH = 1000
# 12 attempts; the wait after attempt n is 60 s * 2^(n-1), at most 8 hours, jittered to
# 50-100 % of that: the last attempt comes 12 to 25 hours after the first.
WEBHOOK_RETRY = RetryPolicy(max_attempts=12, base_delay=60.0, max_delay=8 * 3600.0)
# Redeliveries and test events someone asked for are tried once: they see the outcome.
ONCE = RetryPolicy(max_attempts=1)
GONE = 410
RETRY_AFTER_STATUSES = frozenset({429, 503})


class DeliverWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """One event for one endpoint: the body is built once, at fan-out."""

    workspace_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    trigger: DeliveryTrigger = DeliveryTrigger.EVENT
    body: msgspec.Raw


DELIVER_WEBHOOK = JobType(
    name="workflows.deliver_webhook",
    payload=DeliverWebhook,
    queue=WEBHOOKS_QUEUE,
    timeout=60.0,
    retry=WEBHOOK_RETRY,
    concurrency_limit=DELIVERY_CONCURRENCY,
)


class _Occurred(msgspec.Struct):
    occurred_at: AwareDatetime


async def schedule_delivery(
    jobs: JobQueue,
    endpoint: WebhookEndpoint,
    *,
    event_id: str,
    event_type: str,
    body: bytes,
    trigger: DeliveryTrigger,
) -> None:
    """Enqueue the delivery of ``body`` to ``endpoint`` in the caller's unit of work."""
    automatic = trigger is DeliveryTrigger.EVENT
    await jobs.enqueue(
        DELIVER_WEBHOOK,
        DeliverWebhook(
            workspace_id=endpoint.workspace_id,
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            trigger=trigger,
            body=msgspec.Raw(body),
        ),
        idempotency_key=f"{event_id}:{endpoint.id}" if automatic else None,
        concurrency_key=f"webhooks:{endpoint.id}",
        retry=None if automatic else ONCE,
        workspace_id=endpoint.workspace_id,
    )


def webhook_body(event_id: str, event_type: str, occurred_at: datetime, event: bytes) -> bytes:
    """The body sent for a stored event: ``{"id", "type", "timestamp", "data"}``."""
    payload = WebhookPayload(
        id=event_id, type=event_type, timestamp=occurred_at, data=msgspec.Raw(event)
    )
    return msgspec.json.encode(payload)


def retry_after_delay(value: str | None, now: datetime) -> timedelta | None:
    """A ``Retry-After`` header as a wait: whole seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))


class _Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """What one POST came to."""

    response: WebhookResponse | None
    error: str | None
    latency_ms: int | None

    @property
    def succeeded(self) -> bool:
        return self.response is not None and self.response.succeeded

    @property
    def gone(self) -> bool:
        return self.response is not None and self.response.status_code == GONE

    def describe(self) -> str:
        if self.response is not None:
            return f"the endpoint answered {self.response.status_code}"
        return self.error or "no answer"


class WebhookDeliverer:
    """The jobs of outbound webhooks: fan-out, delivery, and cleaning up."""

    def __init__(
        self,
        *,
        open_session: Callable[[], WebhookSession],
        transport: WebhookTransport,
        clock: Clock,
        ids: IdGenerator,
        policy: WebhookPolicy,
        event_types: Iterable[str],
        console_url: str = "",
    ) -> None:
        self._open_session = open_session
        self._transport = transport
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._event_types = frozenset(event_types)
        self._console_url = console_url.rstrip("/")

    async def fan_out(self, envelope: EventEnvelope) -> None:
        """The envelope subscriber: enqueue the event's delivery to each endpoint."""
        if envelope.workspace_id is None or envelope.name not in self._event_types:
            return
        occurred_at = msgspec.json.decode(envelope.payload, type=_Occurred).occurred_at
        body = webhook_body(envelope.id, envelope.name, occurred_at, envelope.payload)
        tenant = TenantContext(envelope.workspace_id)
        session = self._open_session()
        async with session.uow:
            for endpoint in await session.endpoints.subscribed(tenant, envelope.name):
                if occurred_at < endpoint.created_at:
                    continue  # it happened before the endpoint was registered
                await schedule_delivery(
                    session.jobs,
                    endpoint,
                    event_id=envelope.id,
                    event_type=envelope.name,
                    body=body,
                    trigger=DeliveryTrigger.EVENT,
                )
            await session.uow.commit()

    async def deliver(self, job: DeliverWebhook, context: JobContext) -> None:
        """The handler of ``workflows.deliver_webhook``: one attempt, logged."""
        tenant = TenantContext(job.workspace_id)
        session = self._open_session()
        async with session.uow:
            endpoint = await session.endpoints.get(tenant, job.endpoint_id)
        if endpoint is None:
            logger.info("webhook endpoint %s is gone; dropping a delivery", job.endpoint_id)
            return
        if not endpoint.enabled:
            raise PermanentJobError(f"webhook endpoint {endpoint.id} is disabled")
        body = bytes(job.body)
        msg_id = message_id(job.event_id, endpoint.id)
        attempt = await self._post(endpoint, msg_id, body)
        final = context.is_last_attempt or attempt.gone
        disabled = await self._record(
            endpoint=endpoint,
            job=job,
            context=context,
            msg_id=msg_id,
            body=body,
            attempt=attempt,
            final=final,
        )
        if attempt.succeeded:
            return
        reason = f"delivery {msg_id} to {endpoint.url}: {attempt.describe()}"
        if disabled or attempt.gone:
            raise PermanentJobError(reason)
        wait = self._retry_after(attempt)
        if wait is not None and not final:
            raise RetryJobLaterError(reason, delay=wait)
        raise WebhookDeliveryFailedError(reason)

    async def purge_workspace(self, workspace_id: str) -> None:
        """Delete a purged workspace's endpoints and delivery log."""
        tenant = TenantContext(workspace_id)
        session = self._open_session()
        async with session.uow:
            await session.deliveries.delete_all(tenant)
            await session.endpoints.delete_all(tenant)
            await session.uow.commit()

    async def prune(self, retention: timedelta) -> int:
        """Delete delivery attempts older than ``retention``; returns how many."""
        before = self._clock.now() - retention
        total = 0
        while True:
            session = self._open_session()
            async with session.uow:
                removed = await session.deliveries.prune(before, PRUNE_BATCH)
                await session.uow.commit()
            total += removed
            if removed < PRUNE_BATCH:
                return total

    async def _post(self, endpoint: WebhookEndpoint, msg_id: str, body: bytes) -> _Attempt:
        now = self._clock.now()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(endpoint.signing_secrets(now), msg_id, int(now.timestamp()), body),
        }
        try:
            response = await self._transport.post(
                endpoint.url, body, headers, timeout_seconds=self._policy.timeout_seconds
            )
        except WebhookTransportError as exc:
            return _Attempt(response=None, error=f"{exc.kind}: {exc}", latency_ms=exc.latency_ms)
        return _Attempt(response=response, error=None, latency_ms=response.latency_ms)

    async def _record(
        self,
        *,
        endpoint: WebhookEndpoint,
        job: DeliverWebhook,
        context: JobContext,
        msg_id: str,
        body: bytes,
        attempt: _Attempt,
        final: bool,
    ) -> bool:
        """Log the attempt and keep the endpoint's failure count; disable it when it
        must be. True when this attempt disabled it."""
        tenant = TenantContext(job.workspace_id)
        now = self._clock.now()
        session = self._open_session()
        async with session.uow:
            disabled = False
            if attempt.succeeded:
                await session.endpoints.record_success(tenant, endpoint.id)
            elif attempt.gone:
                reason = "the endpoint answered 410 Gone"
                disabled = await self._disable(session, endpoint, reason, now)
            elif job.trigger is DeliveryTrigger.EVENT:
                current = await session.endpoints.record_failure(tenant, endpoint.id, now)
                since = None if current is None else current.failing_since
                if since is not None and now - since >= self._policy.disable_after:
                    days = self._policy.disable_after / timedelta(days=1)
                    reason = f"no delivery has succeeded for {days:g} days"
                    disabled = await self._disable(session, current or endpoint, reason, now)
            if attempt.succeeded:
                status = DeliveryStatus.SUCCEEDED
            elif final or disabled:
                status = DeliveryStatus.FAILED
            else:
                status = DeliveryStatus.RETRYING
            response = attempt.response
            await session.deliveries.add(
                WebhookDelivery(
                    id=self._ids.new(DELIVERY_ID_PREFIX, now),
                    workspace_id=job.workspace_id,
                    endpoint_id=endpoint.id,
                    event_id=job.event_id,
                    event_type=job.event_type,
                    message_id=msg_id,
                    trigger=job.trigger,
                    attempt=context.attempt,
                    status=status,
                    url=endpoint.url,
                    body=body,
                    created_at=now,
                    status_code=None if response is None else response.status_code,
                    latency_ms=attempt.latency_ms,
                    response_excerpt="" if response is None else _text(response.body_excerpt),
                    error=None
                    if attempt.error is None
                    else _text(attempt.error)[:ERROR_MAX_LENGTH],
                )
            )
            await session.uow.commit()
        return disabled

    async def _disable(
        self, session: WebhookSession, endpoint: WebhookEndpoint, reason: str, now: datetime
    ) -> bool:
        tenant = TenantContext(endpoint.workspace_id)
        if not await session.endpoints.disable(tenant, endpoint.id, reason, now):
            return False
        logger.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
        admins = await session.admins.recipients(endpoint.workspace_id)
        await session.notifier.notify_many(
            [self._disabled_notification(endpoint, reason, now, admin) for admin in admins]
        )
        return True

    def _disabled_notification(
        self, endpoint: WebhookEndpoint, reason: str, now: datetime, recipient: Recipient
    ) -> NotificationRequest:
        workspace = endpoint.workspace_id
        api = f"{self._console_url}/api/v1/workspaces/{workspace}/webhooks/{endpoint.id}"
        failing = endpoint.failing_since or now
        who = recipient.user_id or recipient.email or ""
        digest = hashlib.sha256(who.encode()).hexdigest()[:16]
        return NotificationRequest(
            type="workflows.webhook_endpoint_disabled",
            recipient=recipient,
            data={
                "endpoint_url": endpoint.url,
                "endpoint_id": endpoint.id,
                "reason": reason,
                "failing_since": f"{failing:%Y-%m-%d %H:%M}",
                "endpoint_api_url": api,
                "deliveries_url": f"{api}/deliveries",
            },
            idempotency_key=(
                f"workflows.webhook_endpoint_disabled:{endpoint.id}:{int(now.timestamp())}:{digest}"
            ),
        )

    def _retry_after(self, attempt: _Attempt) -> timedelta | None:
        response = attempt.response
        if response is None or response.status_code not in RETRY_AFTER_STATUSES:
            return None
        wait = retry_after_delay(response.retry_after, self._clock.now())
        return None if wait is None else min(wait, self._policy.max_retry_after)


def _text(value: str) -> str:
    """Text as a database stores it: PostgreSQL refuses NUL characters."""
    return value.replace("\x00", "\ufffd")


class WebhookDeliveryFailedError(Exception):
    """An attempt failed; the job's retry policy tries again (or dead-letters it)."""
