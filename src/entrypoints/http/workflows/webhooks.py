"""A workspace's outbound webhooks: ``/api/v1/workspaces/{workspace_id}/webhooks``.

Everything here needs ``webhooks:manage`` (owners and admins, or an API key given it).
An endpoint's secret is in the answers of its creation and of a rotation only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter

from adapters.sql.uow import SqlUnitOfWork
from core.identity import WorkspaceAccess
from core.workflows.webhook_model import (
    ALL_EVENTS,
    DeliveryScheduled,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.workflows.webhooks import DELIVERIES_PAGE_DEFAULT, DELIVERIES_PAGE_MAX, WebhookService
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import provide_principal
from entrypoints.http.identity.workspaces import provide_access, tenant_guard

Uow = NamedDependency[SqlUnitOfWork]
Access = NamedDependency[WorkspaceAccess]
MANAGE = {"permission": "webhooks:manage"}


class WebhookEndpointOut(msgspec.Struct):
    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    """The first failed delivery since the last successful one; empty when healthy."""
    consecutive_failures: int
    previous_secret_expires_at: datetime | None
    """Until then, deliveries are signed with the rotated-out secret too."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookEndpointOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            description=endpoint.description,
            events=list(endpoint.events),
            enabled=endpoint.enabled,
            disabled_at=endpoint.disabled_at,
            disabled_reason=endpoint.disabled_reason,
            failing_since=endpoint.failing_since,
            consecutive_failures=endpoint.consecutive_failures,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class WebhookEndpointWithSecretOut(WebhookEndpointOut):
    secret: str
    """``whsec_…``: shown this once. Verify deliveries with it (Standard Webhooks)."""

    @classmethod
    def with_secret(cls, endpoint: WebhookEndpoint) -> WebhookEndpointWithSecretOut:
        shown = msgspec.structs.asdict(WebhookEndpointOut.of(endpoint))
        return cls(**shown, secret=endpoint.secret)


class NewWebhookEndpoint(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    events: list[str] = msgspec.field(default_factory=lambda: [ALL_EVENTS])
    description: str = ""


class WebhookEndpointPatch(msgspec.Struct, forbid_unknown_fields=True):
    url: str | msgspec.UnsetType = msgspec.UNSET
    events: list[str] | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class WebhookDeliveryOut(msgspec.Struct):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    message_id: str
    """The ``webhook-id`` header: the same for each attempt of one event."""
    trigger: str
    attempt: int
    status: str
    url: str
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str
    error: str | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryOut:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            message_id=delivery.message_id,
            trigger=delivery.trigger.value,
            attempt=delivery.attempt,
            status=delivery.status.value,
            url=delivery.url,
            status_code=delivery.status_code,
            latency_ms=delivery.latency_ms,
            response_excerpt=delivery.response_excerpt,
            error=delivery.error,
            created_at=delivery.created_at,
        )


class WebhookDeliveriesPage(msgspec.Struct):
    deliveries: list[WebhookDeliveryOut]
    next_cursor: str | None


class DeliveryScheduledOut(msgspec.Struct):
    endpoint_id: str
    event_id: str
    event_type: str
    message_id: str

    @classmethod
    def of(cls, scheduled: DeliveryScheduled) -> DeliveryScheduledOut:
        return cls(
            scheduled.endpoint_id, scheduled.event_id, scheduled.event_type, scheduled.message_id
        )


class WebhookEventTypesOut(msgspec.Struct):
    event_types: list[str]
    """What an endpoint's ``events`` may name, besides ``*`` (every one of them)."""


def _service(state: State, uow: SqlUnitOfWork) -> WebhookService:
    container: ApplicationContainer = state.container
    service: WebhookService = container.workflows.webhooks(uow=uow)
    return service


class WebhooksController(Controller):
    path = "/api/v1/workspaces"
    tags = ["webhooks"]
    guards = [tenant_guard]
    dependencies = {
        "principal": Provide(provide_principal),
        "access": Provide(provide_access),
    }

    @get(
        "/{workspace_id:str}/webhooks/event-types",
        summary="The event types a webhook endpoint may subscribe to",
        opt=MANAGE,
    )
    async def event_types(self, state: State, uow: Uow) -> WebhookEventTypesOut:
        return WebhookEventTypesOut(_service(state, uow).event_types)

    @get("/{workspace_id:str}/webhooks", summary="The workspace's webhook endpoints", opt=MANAGE)
    async def list_endpoints(
        self, state: State, access: Access, uow: Uow
    ) -> list[WebhookEndpointOut]:
        found = await _service(state, uow).list_endpoints(access)
        return [WebhookEndpointOut.of(e) for e in found]

    @post(
        "/{workspace_id:str}/webhooks",
        summary="Register a webhook endpoint; its signing secret is shown this once",
        opt=MANAGE,
    )
    async def create(
        self, state: State, access: Access, data: JSONBody[NewWebhookEndpoint], uow: Uow
    ) -> WebhookEndpointWithSecretOut:
        endpoint = await _service(state, uow).create(
            access, url=data.url, events=data.events, description=data.description
        )
        return WebhookEndpointWithSecretOut.with_secret(endpoint)

    @get(
        "/{workspace_id:str}/webhooks/{endpoint_id:str}",
        summary="One webhook endpoint (never its secret)",
        opt=MANAGE,
    )
    async def read(
        self, state: State, access: Access, endpoint_id: FromPath[str], uow: Uow
    ) -> WebhookEndpointOut:
        return WebhookEndpointOut.of(await _service(state, uow).get(access, endpoint_id))

    @patch(
        "/{workspace_id:str}/webhooks/{endpoint_id:str}",
        summary="Change an endpoint's URL, events or description; disable or enable it",
        opt=MANAGE,
    )
    async def update(
        self,
        state: State,
        access: Access,
        endpoint_id: FromPath[str],
        data: JSONBody[WebhookEndpointPatch],
        uow: Uow,
    ) -> WebhookEndpointOut:
        endpoint = await _service(state, uow).update(
            access,
            endpoint_id,
            url=data.url,
            events=data.events,
            description=data.description,
            enabled=data.enabled,
        )
        return WebhookEndpointOut.of(endpoint)

    @delete(
        "/{workspace_id:str}/webhooks/{endpoint_id:str}",
        summary="Delete a webhook endpoint and its delivery log",
        status_code=204,
        opt=MANAGE,
    )
    async def remove(
        self, state: State, access: Access, endpoint_id: FromPath[str], uow: Uow
    ) -> None:
        await _service(state, uow).delete(access, endpoint_id)

    @post(
        "/{workspace_id:str}/webhooks/{endpoint_id:str}/rotate-secret",
        summary="A new signing secret, shown this once; the old one signs too for 24 hours",
        status_code=200,
        opt=MANAGE,
    )
    async def rotate_secret(
        self, state: State, access: Access, endpoint_id: FromPath[str], uow: Uow
    ) -> WebhookEndpointWithSecretOut:
        endpoint = await _service(state, uow).rotate_secret(access, endpoint_id)
        return WebhookEndpointWithSecretOut.with_secret(endpoint)

    @post(
        "/{workspace_id:str}/webhooks/{endpoint_id:str}/test",
        summary="Send a webhook.test event to the endpoint (its outcome lands in the log)",
        status_code=202,
        opt=MANAGE,
    )
    async def send_test(
        self, state: State, access: Access, endpoint_id: FromPath[str], uow: Uow
    ) -> DeliveryScheduledOut:
        return DeliveryScheduledOut.of(await _service(state, uow).send_test(access, endpoint_id))

    @get(
        "/{workspace_id:str}/webhooks/{endpoint_id:str}/deliveries",
        summary="The endpoint's delivery attempts, newest first",
        opt=MANAGE,
    )
    async def deliveries(
        self,
        *,
        state: State,
        access: Access,
        endpoint_id: FromPath[str],
        uow: Uow,
        cursor: Annotated[
            str | None, Parameter(description="next_cursor of the page before")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=DELIVERIES_PAGE_MAX)] = DELIVERIES_PAGE_DEFAULT,
    ) -> WebhookDeliveriesPage:
        page = await _service(state, uow).deliveries(access, endpoint_id, cursor, limit)
        return WebhookDeliveriesPage(
            [WebhookDeliveryOut.of(d) for d in page.deliveries], page.next_cursor
        )

    @post(
        "/{workspace_id:str}/webhooks/{endpoint_id:str}/deliveries/{delivery_id:str}/redeliver",
        summary="Send a logged delivery's event to the endpoint again",
        status_code=202,
        opt=MANAGE,
    )
    async def redeliver(
        self,
        state: State,
        access: Access,
        endpoint_id: FromPath[str],
        delivery_id: FromPath[str],
        uow: Uow,
    ) -> DeliveryScheduledOut:
        scheduled = await _service(state, uow).redeliver(access, endpoint_id, delivery_id)
        return DeliveryScheduledOut.of(scheduled)
