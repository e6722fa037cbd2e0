"""Outbound webhooks, as a workspace's admins manage them: endpoints (URL, event filter,
description, enabled or not), their signing secrets, their delivery log, redelivery
and test deliveries. Every use case needs ``webhooks:manage`` (owners and admins, or
an API key given it), whatever the entrypoint checked before.

Delivering events is ``core.workflows.webhook_delivery``; signing is
``core.workflows.webhook_signing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from core.identity import Permission, WorkspaceAccess
from core.kernel import Clock, IdGenerator
from core.workflows.jobs import JobQueue
from core.workflows.webhook_delivery import schedule_delivery
from core.workflows.webhook_errors import (
    InvalidWebhookEndpointError,
    InvalidWebhookEventsError,
    WebhookDeliveryNotFoundError,
    WebhookEndpointDisabledError,
    WebhookEndpointLimitError,
    WebhookEndpointNotFoundError,
)
from core.workflows.webhook_model import (
    ALL_EVENTS,
    DESCRIPTION_MAX_LENGTH,
    ENDPOINT_ID_PREFIX,
    TEST_EVENT_TYPE,
    DeliveryPage,
    DeliveryScheduled,
    DeliveryTrigger,
    WebhookEndpoint,
    WebhookPayload,
    WebhookPolicy,
    WebhookTest,
)
from core.workflows.webhook_ports import WebhookDeliveryLog, WebhookEndpointRepository
from core.workflows.webhook_signing import generate_secret, message_id
from core.workflows.webhook_urls import check_endpoint_url

MAX_FILTER_ENTRIES = 100
DELIVERIES_PAGE_DEFAULT = 50
DELIVERIES_PAGE_MAX = 100
DISABLED_BY_USER = "disabled by a workspace admin"

Unset = msgspec.UnsetType
UNSET = msgspec.UNSET


class WebhookService:
    """The use cases of a workspace's webhook endpoints, in one unit of work.

    ``event_types`` are the events endpoints may subscribe to: the public events that
    belong to a workspace."""

    def __init__(
        self,
        *,
        endpoints: WebhookEndpointRepository,
        deliveries: WebhookDeliveryLog,
        jobs: JobQueue,
        clock: Clock,
        ids: IdGenerator,
        policy: WebhookPolicy,
        event_types: Iterable[str],
    ) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._jobs = jobs
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._event_types = frozenset(event_types)

    @property
    def event_types(self) -> list[str]:
        """What an endpoint's filter may name (besides ``*``), sorted."""
        return sorted(self._event_types)

    async def create(
        self,
        access: WorkspaceAccess,
        *,
        url: str,
        events: Sequence[str] = (ALL_EVENTS,),
        description: str = "",
    ) -> WebhookEndpoint:
        """A new enabled endpoint with a new secret (shown this once, by the caller)."""
        access.require(Permission.WEBHOOKS_MANAGE)
        url = check_endpoint_url(url, allow_private=self._policy.allow_private_urls)
        filter_ = self._check_events(events)
        description = _check_description(description)
        if await self._endpoints.count(access.tenant) >= self._policy.max_endpoints:
            raise WebhookEndpointLimitError(
                f"a workspace has at most {self._policy.max_endpoints} webhook endpoints",
                limit=self._policy.max_endpoints,
            )
        now = self._clock.now()
        endpoint = WebhookEndpoint(
            id=self._ids.new(ENDPOINT_ID_PREFIX, now),
            workspace_id=access.workspace.id,
            url=url,
            description=description,
            events=filter_,
            secret=generate_secret(),
            created_at=now,
            updated_at=now,
        )
        await self._endpoints.add(endpoint)
        return endpoint

    async def list_endpoints(self, access: WorkspaceAccess) -> Sequence[WebhookEndpoint]:
        access.require(Permission.WEBHOOKS_MANAGE)
        return await self._endpoints.list_endpoints(access.tenant)

    async def get(self, access: WorkspaceAccess, endpoint_id: str) -> WebhookEndpoint:
        access.require(Permission.WEBHOOKS_MANAGE)
        return await self._endpoint(access, endpoint_id)

    async def update(
        self,
        access: WorkspaceAccess,
        endpoint_id: str,
        *,
        url: str | Unset = UNSET,
        events: Sequence[str] | Unset = UNSET,
        description: str | Unset = UNSET,
        enabled: bool | Unset = UNSET,
    ) -> WebhookEndpoint:
        """Change what is given. Enabling a disabled endpoint starts its failure count
        afresh; disabling one stops its deliveries (those under way end)."""
        access.require(Permission.WEBHOOKS_MANAGE)
        endpoint = await self._endpoint(access, endpoint_id)
        changes: dict[str, Any] = {}
        if not isinstance(url, Unset):
            changes["url"] = check_endpoint_url(url, allow_private=self._policy.allow_private_urls)
        if not isinstance(events, Unset):
            changes["events"] = self._check_events(events)
        if not isinstance(description, Unset):
            changes["description"] = _check_description(description)
        now = self._clock.now()
        if changes:
            endpoint = msgspec.structs.replace(endpoint, **changes, updated_at=now)
            await self._endpoints.update(access.tenant, endpoint)
        if not isinstance(enabled, Unset) and enabled != endpoint.enabled:
            if enabled:
                await self._endpoints.enable(access.tenant, endpoint.id, now)
            else:
                await self._endpoints.disable(access.tenant, endpoint.id, DISABLED_BY_USER, now)
            endpoint = await self._endpoint(access, endpoint.id)
        return endpoint

    async def delete(self, access: WorkspaceAccess, endpoint_id: str) -> None:
        """Delete the endpoint and its delivery log; deliveries under way are dropped."""
        access.require(Permission.WEBHOOKS_MANAGE)
        if not await self._endpoints.delete(access.tenant, endpoint_id):
            raise WebhookEndpointNotFoundError()
        await self._deliveries.delete_for_endpoint(access.tenant, endpoint_id)

    async def rotate_secret(self, access: WorkspaceAccess, endpoint_id: str) -> WebhookEndpoint:
        """A new secret (shown this once, by the caller). The one it replaces still signs
        deliveries, beside the new one, for ``policy.secret_grace``; an older one stops
        at once."""
        access.require(Permission.WEBHOOKS_MANAGE)
        endpoint = await self._endpoint(access, endpoint_id)
        rotated = endpoint.rotated(generate_secret(), self._clock.now(), self._policy.secret_grace)
        await self._endpoints.update(access.tenant, rotated)
        return rotated

    async def deliveries(
        self,
        access: WorkspaceAccess,
        endpoint_id: str,
        cursor: str | None = None,
        limit: int = DELIVERIES_PAGE_DEFAULT,
    ) -> DeliveryPage:
        """The endpoint's delivery attempts, newest first, a page at a time."""
        access.require(Permission.WEBHOOKS_MANAGE)
        await self._endpoint(access, endpoint_id)
        limit = max(1, min(limit, DELIVERIES_PAGE_MAX))
        found = list(
            await self._deliveries.list_for_endpoint(
                access.tenant, endpoint_id, after=cursor, limit=limit + 1
            )
        )
        more = len(found) > limit
        page = found[:limit]
        return DeliveryPage(deliveries=page, next_cursor=page[-1].id if more and page else None)

    async def redeliver(
        self, access: WorkspaceAccess, endpoint_id: str, delivery_id: str
    ) -> DeliveryScheduled:
        """Send a logged delivery's event to its endpoint again, as it was sent (same
        body, same ``webhook-id``; a new timestamp and signature). Tried once."""
        access.require(Permission.WEBHOOKS_MANAGE)
        endpoint = await self._enabled_endpoint(access, endpoint_id)
        delivery = await self._deliveries.get(access.tenant, delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint.id:
            raise WebhookDeliveryNotFoundError()
        await schedule_delivery(
            self._jobs,
            endpoint,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            body=delivery.body,
            trigger=DeliveryTrigger.REDELIVERY,
        )
        return DeliveryScheduled(
            endpoint_id=endpoint.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            message_id=delivery.message_id,
        )

    async def send_test(self, access: WorkspaceAccess, endpoint_id: str) -> DeliveryScheduled:
        """Send a ``webhook.test`` event to the endpoint (whatever its filter). Tried
        once; its outcome is in the delivery log."""
        access.require(Permission.WEBHOOKS_MANAGE)
        endpoint = await self._enabled_endpoint(access, endpoint_id)
        now = self._clock.now()
        event_id = self._ids.new("evt", now)
        event = WebhookTest(
            occurred_at=now, workspace_id=endpoint.workspace_id, endpoint_id=endpoint.id
        )
        body = msgspec.json.encode(
            WebhookPayload(
                id=event_id,
                type=TEST_EVENT_TYPE,
                timestamp=now,
                data=msgspec.Raw(msgspec.json.encode(event)),
            )
        )
        await schedule_delivery(
            self._jobs,
            endpoint,
            event_id=event_id,
            event_type=TEST_EVENT_TYPE,
            body=body,
            trigger=DeliveryTrigger.TEST,
        )
        return DeliveryScheduled(
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=TEST_EVENT_TYPE,
            message_id=message_id(event_id, endpoint.id),
        )

    async def _endpoint(self, access: WorkspaceAccess, endpoint_id: str) -> WebhookEndpoint:
        endpoint = await self._endpoints.get(access.tenant, endpoint_id)
        if endpoint is None:
            raise WebhookEndpointNotFoundError()
        return endpoint

    async def _enabled_endpoint(self, access: WorkspaceAccess, endpoint_id: str) -> WebhookEndpoint:
        endpoint = await self._endpoint(access, endpoint_id)
        if not endpoint.enabled:
            raise WebhookEndpointDisabledError()
        return endpoint

    def _check_events(self, events: Sequence[str]) -> tuple[str, ...]:
        if isinstance(events, str):
            raise InvalidWebhookEventsError("give a list of event types", field="events")
        names = sorted({name.strip() for name in events})
        if not names:
            raise InvalidWebhookEventsError(
                "name at least one event type, or '*' for all", field="events"
            )
        if len(names) > MAX_FILTER_ENTRIES:
            raise InvalidWebhookEventsError(
                f"a filter names at most {MAX_FILTER_ENTRIES} event types", field="events"
            )
        if ALL_EVENTS in names:
            if len(names) > 1:
                raise InvalidWebhookEventsError(
                    "'*' already means every event: give it alone", field="events"
                )
            return (ALL_EVENTS,)
        unknown = [name for name in names if name not in self._event_types]
        if unknown:
            raise InvalidWebhookEventsError(
                "unknown event types: " + ", ".join(unknown),
                field="events",
                unknown=unknown,
                known=self.event_types,
            )
        return tuple(names)


def _check_description(description: str) -> str:
    description = description.strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise InvalidWebhookEndpointError(
            f"a description has at most {DESCRIPTION_MAX_LENGTH} characters",
            field="description",
        )
    return description
