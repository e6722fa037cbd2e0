"""Outbound webhooks in SQL: the endpoints and the delivery log, tenant-scoped.

Every query that reads or changes a workspace's rows filters on the tenant's
``workspace_id``; the failure count is kept by single ``UPDATE`` statements, so
concurrent deliveries to one endpoint never lose a count, and ``disable`` changes only
an enabled row, so exactly one of two concurrent callers disables it (and mails).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.workflows.tables import webhook_deliveries, webhook_endpoints
from core.kernel import TenantContext
from core.workflows.webhook_model import (
    DeliveryStatus,
    DeliveryTrigger,
    WebhookDelivery,
    WebhookEndpoint,
)

_endpoints = webhook_endpoints.c
_deliveries = webhook_deliveries.c


def _endpoint(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        workspace_id=row.workspace_id,
        url=row.url,
        description=row.description,
        events=tuple(row.events.split()),
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_expires_at=row.previous_secret_expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        consecutive_failures=row.consecutive_failures,
    )


def _configuration(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The columns a user changes (``update``)."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": " ".join(endpoint.events),
        "secret": endpoint.secret,
        "previous_secret": endpoint.previous_secret,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "updated_at": endpoint.updated_at,
    }


class SqlWebhookEndpointRepository:
    """``WebhookEndpointRepository`` on the application's database."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _mine(self, tenant: TenantContext, endpoint_id: str) -> Any:
        return (_endpoints.workspace_id == tenant.workspace_id) & (_endpoints.id == endpoint_id)

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._session.execute(
            insert(webhook_endpoints).values(
                id=endpoint.id,
                workspace_id=endpoint.workspace_id,
                created_at=endpoint.created_at,
                disabled_at=endpoint.disabled_at,
                disabled_reason=endpoint.disabled_reason,
                failing_since=endpoint.failing_since,
                consecutive_failures=endpoint.consecutive_failures,
                **_configuration(endpoint),
            )
        )

    async def get(self, tenant: TenantContext, endpoint_id: str) -> WebhookEndpoint | None:
        query = select(webhook_endpoints).where(self._mine(tenant, endpoint_id))
        row = (await self._session.execute(query)).first()
        return _endpoint(row) if row else None

    async def list_endpoints(self, tenant: TenantContext) -> Sequence[WebhookEndpoint]:
        query = (
            select(webhook_endpoints)
            .where(_endpoints.workspace_id == tenant.workspace_id)
            .order_by(_endpoints.id)
        )
        return [_endpoint(row) for row in await self._session.execute(query)]

    async def count(self, tenant: TenantContext) -> int:
        query = select(func.count()).where(_endpoints.workspace_id == tenant.workspace_id)
        return int((await self._session.execute(query)).scalar_one())

    async def subscribed(self, tenant: TenantContext, event_type: str) -> Sequence[WebhookEndpoint]:
        # A workspace has a handful of endpoints: filtering them here is simpler (and as
        # quick) as matching the space-separated filter in SQL on two dialects.
        query = (
            select(webhook_endpoints)
            .where(_endpoints.workspace_id == tenant.workspace_id)
            .where(_endpoints.disabled_at.is_(None))
            .order_by(_endpoints.id)
        )
        endpoints = [_endpoint(row) for row in await self._session.execute(query)]
        return [endpoint for endpoint in endpoints if endpoint.accepts(event_type)]

    async def update(self, tenant: TenantContext, endpoint: WebhookEndpoint) -> bool:
        result = await self._session.execute(
            update(webhook_endpoints)
            .where(self._mine(tenant, endpoint.id))
            .values(**_configuration(endpoint))
        )
        return bool(getattr(result, "rowcount", 0))

    async def disable(
        self, tenant: TenantContext, endpoint_id: str, reason: str, at: datetime
    ) -> bool:
        result = await self._session.execute(
            update(webhook_endpoints)
            .where(self._mine(tenant, endpoint_id), _endpoints.disabled_at.is_(None))
            .values(disabled_at=at, disabled_reason=reason, updated_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def enable(self, tenant: TenantContext, endpoint_id: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(webhook_endpoints)
            .where(self._mine(tenant, endpoint_id), _endpoints.disabled_at.is_not(None))
            .values(
                disabled_at=None,
                disabled_reason=None,
                failing_since=None,
                consecutive_failures=0,
                updated_at=at,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def record_success(self, tenant: TenantContext, endpoint_id: str) -> None:
        await self._session.execute(
            update(webhook_endpoints)
            .where(self._mine(tenant, endpoint_id), _endpoints.consecutive_failures != 0)
            .values(failing_since=None, consecutive_failures=0)
        )

    async def record_failure(
        self, tenant: TenantContext, endpoint_id: str, at: datetime
    ) -> WebhookEndpoint | None:
        await self._session.execute(
            update(webhook_endpoints)
            .where(self._mine(tenant, endpoint_id))
            .values(
                failing_since=func.coalesce(_endpoints.failing_since, at),
                consecutive_failures=_endpoints.consecutive_failures + 1,
            )
        )
        return await self.get(tenant, endpoint_id)

    async def delete(self, tenant: TenantContext, endpoint_id: str) -> bool:
        result = await self._session.execute(
            delete(webhook_endpoints).where(self._mine(tenant, endpoint_id))
        )
        return bool(getattr(result, "rowcount", 0))

    async def delete_all(self, tenant: TenantContext) -> int:
        result = await self._session.execute(
            delete(webhook_endpoints).where(_endpoints.workspace_id == tenant.workspace_id)
        )
        return int(getattr(result, "rowcount", 0))


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        workspace_id=row.workspace_id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        message_id=row.message_id,
        trigger=DeliveryTrigger(row.trigger),
        attempt=row.attempt,
        status=DeliveryStatus(row.status),
        url=row.url,
        body=row.body.encode(),
        created_at=row.created_at,
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        response_excerpt=row.response_excerpt,
        error=row.error,
    )


class SqlWebhookDeliveryLog:
    """``WebhookDeliveryLog`` on the application's database."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, delivery: WebhookDelivery) -> None:
        await self._session.execute(
            insert(webhook_deliveries).values(
                id=delivery.id,
                workspace_id=delivery.workspace_id,
                endpoint_id=delivery.endpoint_id,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                message_id=delivery.message_id,
                trigger=delivery.trigger.value,
                attempt=delivery.attempt,
                status=delivery.status.value,
                url=delivery.url,
                body=delivery.body.decode(),
                status_code=delivery.status_code,
                latency_ms=delivery.latency_ms,
                response_excerpt=delivery.response_excerpt,
                error=delivery.error,
                created_at=delivery.created_at,
            )
        )

    async def get(self, tenant: TenantContext, delivery_id: str) -> WebhookDelivery | None:
        query = select(webhook_deliveries).where(
            _deliveries.workspace_id == tenant.workspace_id, _deliveries.id == delivery_id
        )
        row = (await self._session.execute(query)).first()
        return _delivery(row) if row else None

    async def list_for_endpoint(
        self, tenant: TenantContext, endpoint_id: str, *, after: str | None, limit: int
    ) -> Sequence[WebhookDelivery]:
        query = select(webhook_deliveries).where(
            _deliveries.workspace_id == tenant.workspace_id,
            _deliveries.endpoint_id == endpoint_id,
        )
        if after is not None:
            query = query.where(_deliveries.id < after)
        query = query.order_by(_deliveries.id.desc()).limit(limit)
        return [_delivery(row) for row in await self._session.execute(query)]

    async def delete_for_endpoint(self, tenant: TenantContext, endpoint_id: str) -> int:
        result = await self._session.execute(
            delete(webhook_deliveries).where(
                _deliveries.workspace_id == tenant.workspace_id,
                _deliveries.endpoint_id == endpoint_id,
            )
        )
        return int(getattr(result, "rowcount", 0))

    async def delete_all(self, tenant: TenantContext) -> int:
        result = await self._session.execute(
            delete(webhook_deliveries).where(_deliveries.workspace_id == tenant.workspace_id)
        )
        return int(getattr(result, "rowcount", 0))

    async def prune(self, before: datetime, limit: int) -> int:
        doomed = (
            select(_deliveries.id)
            .where(_deliveries.created_at < before)
            .order_by(_deliveries.created_at)
            .limit(limit)
        )
        ids = list((await self._session.execute(doomed)).scalars())
        if not ids:
            return 0
        await self._session.execute(delete(webhook_deliveries).where(_deliveries.id.in_(ids)))
        return len(ids)
