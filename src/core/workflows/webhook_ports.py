"""What outbound webhooks need from outside: storage for endpoints and the delivery log,
an HTTP transport, and who administers a workspace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from core.kernel import TenantContext, UnitOfWork
from core.notifications import Notifier, Recipient
from core.workflows.jobs import JobQueue
from core.workflows.webhook_model import WebhookDelivery, WebhookEndpoint, WebhookResponse


class WebhookEndpointRepository(Protocol):
    """A workspace's endpoints. Every query is scoped to the tenant's workspace: an
    endpoint of another workspace is never found, changed or deleted."""

    async def add(self, endpoint: WebhookEndpoint) -> None: ...

    async def get(self, tenant: TenantContext, endpoint_id: str) -> WebhookEndpoint | None: ...

    async def list_endpoints(self, tenant: TenantContext) -> Sequence[WebhookEndpoint]:
        """The workspace's endpoints, oldest first."""
        ...

    async def count(self, tenant: TenantContext) -> int: ...

    async def subscribed(self, tenant: TenantContext, event_type: str) -> Sequence[WebhookEndpoint]:
        """The enabled endpoints whose filter accepts ``event_type``, oldest first."""
        ...

    async def update(self, tenant: TenantContext, endpoint: WebhookEndpoint) -> bool:
        """Store what a user may change (url, description, events, secrets,
        ``updated_at``); the enabled state and the failure count are left alone. False
        when there is no such endpoint."""
        ...

    async def disable(
        self, tenant: TenantContext, endpoint_id: str, reason: str, at: datetime
    ) -> bool:
        """Disable an enabled endpoint; False when it is unknown or disabled already
        (so of two concurrent callers, exactly one gets True)."""
        ...

    async def enable(self, tenant: TenantContext, endpoint_id: str, at: datetime) -> bool:
        """Enable a disabled endpoint, its failure count started afresh; False when it
        is unknown or enabled already."""
        ...

    async def record_success(self, tenant: TenantContext, endpoint_id: str) -> None:
        """A delivery succeeded: the endpoint is not failing any more."""
        ...

    async def record_failure(
        self, tenant: TenantContext, endpoint_id: str, at: datetime
    ) -> WebhookEndpoint | None:
        """A delivery attempt failed at ``at``: count it, and start ``failing_since`` if
        the endpoint was not failing. Atomic; returns the endpoint as it is now."""
        ...

    async def delete(self, tenant: TenantContext, endpoint_id: str) -> bool: ...

    async def delete_all(self, tenant: TenantContext) -> int:
        """Delete the workspace's endpoints (it was purged); returns how many."""
        ...


class WebhookDeliveryLog(Protocol):
    """Every delivery attempt, tenant-scoped like the endpoints."""

    async def add(self, delivery: WebhookDelivery) -> None: ...

    async def get(self, tenant: TenantContext, delivery_id: str) -> WebhookDelivery | None: ...

    async def list_for_endpoint(
        self, tenant: TenantContext, endpoint_id: str, *, after: str | None, limit: int
    ) -> Sequence[WebhookDelivery]:
        """The endpoint's attempts, newest first (ids descending), older than the cursor
        ``after`` (an id) when given; at most ``limit``."""
        ...

    async def delete_for_endpoint(self, tenant: TenantContext, endpoint_id: str) -> int: ...

    async def delete_all(self, tenant: TenantContext) -> int: ...

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` attempts (of any workspace) made before ``before``."""
        ...


class WebhookTransport(Protocol):
    """Sends one delivery: POST ``body`` with ``headers`` to ``url``, without following
    redirects, within ``timeout_seconds`` from start to the last byte read.

    Any HTTP answer is returned, whatever its status (the caller judges it), with at
    most the first KB of its body. No answer raises ``WebhookTransportError``: a
    timeout, a connection or TLS failure, or a host that resolves to an address the
    transport refuses (a private one, unless it was built to allow them)."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout_seconds: float
    ) -> WebhookResponse: ...


class WorkspaceAdmins(Protocol):
    """Who to tell about a workspace's webhooks: its owners and admins, as recipients
    of a notification."""

    async def recipients(self, workspace_id: str) -> Sequence[Recipient]: ...


class WebhookSession(Protocol):
    """A unit of work with what webhook jobs use inside it (unopened until
    ``async with session.uow``; the other members are valid inside that block)."""

    @property
    def uow(self) -> UnitOfWork: ...

    @property
    def endpoints(self) -> WebhookEndpointRepository: ...

    @property
    def deliveries(self) -> WebhookDeliveryLog: ...

    @property
    def jobs(self) -> JobQueue: ...

    @property
    def notifier(self) -> Notifier: ...

    @property
    def admins(self) -> WorkspaceAdmins: ...
