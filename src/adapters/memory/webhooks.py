"""In-memory fakes of outbound webhooks' ports: the endpoint repository, the delivery
log, a scripted transport that records what it was asked to send, and a fixed list of
workspace admins."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import msgspec

from core.kernel import TenantContext
from core.notifications import Recipient
from core.workflows.webhook_errors import WebhookTransportError
from core.workflows.webhook_model import WebhookDelivery, WebhookEndpoint, WebhookResponse


class InMemoryWebhookEndpointRepository:
    def __init__(self) -> None:
        self.endpoints: dict[str, WebhookEndpoint] = {}

    def _mine(self, tenant: TenantContext, endpoint_id: str) -> WebhookEndpoint | None:
        endpoint = self.endpoints.get(endpoint_id)
        return endpoint if endpoint and endpoint.workspace_id == tenant.workspace_id else None

    def _set(self, endpoint: WebhookEndpoint, **changes: object) -> WebhookEndpoint:
        changed = msgspec.structs.replace(endpoint, **changes)
        self.endpoints[endpoint.id] = changed
        return changed

    async def add(self, endpoint: WebhookEndpoint) -> None:
        self.endpoints[endpoint.id] = endpoint

    async def get(self, tenant: TenantContext, endpoint_id: str) -> WebhookEndpoint | None:
        return self._mine(tenant, endpoint_id)

    async def list_endpoints(self, tenant: TenantContext) -> Sequence[WebhookEndpoint]:
        return sorted(
            (e for e in self.endpoints.values() if e.workspace_id == tenant.workspace_id),
            key=lambda e: e.id,
        )

    async def count(self, tenant: TenantContext) -> int:
        return len(await self.list_endpoints(tenant))

    async def subscribed(self, tenant: TenantContext, event_type: str) -> Sequence[WebhookEndpoint]:
        return [e for e in await self.list_endpoints(tenant) if e.enabled and e.accepts(event_type)]

    async def update(self, tenant: TenantContext, endpoint: WebhookEndpoint) -> bool:
        stored = self._mine(tenant, endpoint.id)
        if stored is None:
            return False
        self._set(
            stored,
            url=endpoint.url,
            description=endpoint.description,
            events=endpoint.events,
            secret=endpoint.secret,
            previous_secret=endpoint.previous_secret,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
            updated_at=endpoint.updated_at,
        )
        return True

    async def disable(
        self, tenant: TenantContext, endpoint_id: str, reason: str, at: datetime
    ) -> bool:
        stored = self._mine(tenant, endpoint_id)
        if stored is None or not stored.enabled:
            return False
        self._set(stored, disabled_at=at, disabled_reason=reason, updated_at=at)
        return True

    async def enable(self, tenant: TenantContext, endpoint_id: str, at: datetime) -> bool:
        stored = self._mine(tenant, endpoint_id)
        if stored is None or stored.enabled:
            return False
        self._set(
            stored,
            disabled_at=None,
            disabled_reason=None,
            failing_since=None,
            consecutive_failures=0,
            updated_at=at,
        )
        return True

    async def record_success(self, tenant: TenantContext, endpoint_id: str) -> None:
        stored = self._mine(tenant, endpoint_id)
        if stored is not None and stored.consecutive_failures:
            self._set(stored, failing_since=None, consecutive_failures=0)

    async def record_failure(
        self, tenant: TenantContext, endpoint_id: str, at: datetime
    ) -> WebhookEndpoint | None:
        stored = self._mine(tenant, endpoint_id)
        if stored is None:
            return None
        return self._set(
            stored,
            failing_since=stored.failing_since or at,
            consecutive_failures=stored.consecutive_failures + 1,
        )

    async def delete(self, tenant: TenantContext, endpoint_id: str) -> bool:
        if self._mine(tenant, endpoint_id) is None:
            return False
        del self.endpoints[endpoint_id]
        return True

    async def delete_all(self, tenant: TenantContext) -> int:
        doomed = [e.id for e in await self.list_endpoints(tenant)]
        for endpoint_id in doomed:
            del self.endpoints[endpoint_id]
        return len(doomed)


class InMemoryWebhookDeliveryLog:
    def __init__(self) -> None:
        self.deliveries: dict[str, WebhookDelivery] = {}

    async def add(self, delivery: WebhookDelivery) -> None:
        self.deliveries[delivery.id] = delivery

    async def get(self, tenant: TenantContext, delivery_id: str) -> WebhookDelivery | None:
        delivery = self.deliveries.get(delivery_id)
        return delivery if delivery and delivery.workspace_id == tenant.workspace_id else None

    async def list_for_endpoint(
        self, tenant: TenantContext, endpoint_id: str, *, after: str | None, limit: int
    ) -> Sequence[WebhookDelivery]:
        found = [
            d
            for d in self.deliveries.values()
            if d.workspace_id == tenant.workspace_id
            and d.endpoint_id == endpoint_id
            and (after is None or d.id < after)
        ]
        return sorted(found, key=lambda d: d.id, reverse=True)[:limit]

    async def delete_for_endpoint(self, tenant: TenantContext, endpoint_id: str) -> int:
        return self._delete(
            lambda d: d.workspace_id == tenant.workspace_id and d.endpoint_id == endpoint_id
        )

    async def delete_all(self, tenant: TenantContext) -> int:
        return self._delete(lambda d: d.workspace_id == tenant.workspace_id)

    async def prune(self, before: datetime, limit: int) -> int:
        doomed = sorted(
            (d for d in self.deliveries.values() if d.created_at < before),
            key=lambda d: d.created_at,
        )[:limit]
        for delivery in doomed:
            del self.deliveries[delivery.id]
        return len(doomed)

    def _delete(self, doomed: Callable[[WebhookDelivery], bool]) -> int:
        ids = [d.id for d in self.deliveries.values() if doomed(d)]
        for delivery_id in ids:
            del self.deliveries[delivery_id]
        return len(ids)


class SentWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """One request the fake transport was asked to send."""

    url: str
    body: bytes
    headers: dict[str, str]
    timeout_seconds: float


class FakeWebhookTransport:
    """Answers from a script, in order (then ``default``), and records every request in
    ``sent``. A script entry is an HTTP status, a ``WebhookResponse``, or a
    ``WebhookTransportError`` to raise."""

    def __init__(self, default: int = 200) -> None:
        self.sent: list[SentWebhook] = []
        self.default = default
        self._script: deque[int | WebhookResponse | WebhookTransportError] = deque()

    def answer(self, *outcomes: int | WebhookResponse | WebhookTransportError) -> None:
        """Queue what the next requests get."""
        self._script.extend(outcomes)

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout_seconds: float
    ) -> WebhookResponse:
        self.sent.append(
            SentWebhook(url=url, body=body, headers=dict(headers), timeout_seconds=timeout_seconds)
        )
        outcome = self._script.popleft() if self._script else self.default
        if isinstance(outcome, WebhookTransportError):
            raise outcome
        if isinstance(outcome, WebhookResponse):
            return outcome
        return WebhookResponse(status_code=outcome, body_excerpt="", latency_ms=5)


class FixedWorkspaceAdmins:
    """Admins' addresses per workspace id, as given (recipients without an account)."""

    def __init__(self, emails: Mapping[str, Sequence[str]] | None = None) -> None:
        self.by_workspace = {k: list(v) for k, v in (emails or {}).items()}

    async def recipients(self, workspace_id: str) -> Sequence[Recipient]:
        return [Recipient(email=email) for email in self.by_workspace.get(workspace_id, ())]
