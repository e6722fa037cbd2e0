"""Where billing keeps subscriptions, provider mappings, invoices, webhook events and
alerts (the ledger's and usage's stores are in ``ledger.py`` and ``usage.py``).

Every store works inside the caller's unit of work: nothing here commits. Tenant-owned
reads take the ``TenantContext``; lookups by a provider's id (webhooks, staff) do not,
and answer the row's ``workspace_id``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

import msgspec

from core.billing.payments import InvoiceStatus, ProviderInvoice, ProviderPrice, WebhookKind
from core.billing.subscriptions import Subscription, SubscriptionStatus
from core.kernel import TenantContext
from core.kernel.events import AwareDatetime


class SubscriptionStore(Protocol):
    """One live subscription per workspace (final ones stay as history)."""

    async def current(self, tenant: TenantContext) -> Subscription | None:
        """The workspace's live subscription, else its most recent final one, else
        ``None``."""
        ...

    async def get(self, subscription_id: str) -> Subscription | None: ...

    async def by_provider_id(
        self, provider: str, provider_subscription_id: str
    ) -> Subscription | None: ...

    async def add(self, subscription: Subscription) -> Subscription:
        """Store a new subscription (its ``version`` 0 becomes 1).
        ``SubscriptionExistsError`` if the workspace already has a live one."""
        ...

    async def save(self, subscription: Subscription) -> Subscription:
        """Store a changed subscription if the stored one still has its ``version``;
        returns it with ``version + 1``. ``ConcurrentSubscriptionUpdateError`` when
        another writer got there first (reload, re-apply, save again)."""
        ...

    async def page(
        self,
        *,
        status: SubscriptionStatus | None = None,
        workspace_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Subscription]:
        """For staff: subscriptions ordered by id, after the id ``after``."""
        ...


class CustomerStore(Protocol):
    """A workspace's customer id at each provider (customer = workspace)."""

    async def customer_id(self, provider: str, workspace_id: str) -> str | None: ...

    async def workspace_id(self, provider: str, customer_id: str) -> str | None: ...

    async def add(self, provider: str, workspace_id: str, customer_id: str) -> None:
        """Record the mapping; the same mapping again is a no-op."""
        ...


class PriceStore(Protocol):
    """The prices ``PaymentProvider.sync_prices`` created, by our key."""

    async def all(self, provider: str) -> dict[str, ProviderPrice]: ...

    async def by_provider_price_id(self, provider: str, price_id: str) -> ProviderPrice | None:
        """The price with this provider id, also one that a later sync replaced (a
        subscription may still be on it)."""
        ...

    async def save(self, prices: Sequence[ProviderPrice]) -> None:
        """Record these as the current prices of their keys (keeping replaced ones
        findable by provider id)."""
        ...


class Invoice(msgspec.Struct, frozen=True, kw_only=True):
    """An invoice mirrored from the provider."""

    workspace_id: str
    provider: str
    provider_invoice_id: str
    provider_subscription_id: str | None = None
    number: str | None = None
    status: InvoiceStatus
    currency: str
    subtotal: int
    tax: int = 0
    total: int
    amount_paid: int = 0
    amount_due: int = 0
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None
    issued_at: AwareDatetime
    hosted_url: str | None = None
    pdf_url: str | None = None
    provider_version: int

    @classmethod
    def mirror(cls, workspace_id: str, provider: str, invoice: ProviderInvoice) -> Invoice:
        fields = msgspec.structs.asdict(invoice)
        del fields["customer_id"], fields["workspace_id"]
        return cls(workspace_id=workspace_id, provider=provider, **fields)


class InvoiceStore(Protocol):
    async def upsert(self, invoice: Invoice) -> bool:
        """Store the invoice, or replace the stored one if this view is newer
        (``provider_version``); ``False`` when an equal or newer one was kept."""
        ...

    async def page(
        self, tenant: TenantContext, *, before: str | None = None, limit: int = 50
    ) -> list[Invoice]:
        """The workspace's invoices, newest ``issued_at`` first; ``before`` is the
        ``provider_invoice_id`` of the last one of the previous page."""
        ...


class WebhookEventStatus(enum.StrEnum):
    PENDING = "pending"  # stored, its job not done yet
    PROCESSED = "processed"
    IGNORED = "ignored"  # a type billing does not use, or nothing to apply
    FAILED = "failed"  # the job gave up; staff can replay it


class StoredWebhookEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A verified provider webhook as received (``body`` byte for byte) and as its
    adapter read it (``normalized``: the ``BillingWebhook`` as JSON, what the job
    applies; the signature cannot be checked again later, its timestamp goes stale)."""

    provider: str
    event_id: str
    type: str
    kind: WebhookKind
    workspace_id: str | None = None
    received_at: AwareDatetime
    status: WebhookEventStatus = WebhookEventStatus.PENDING
    processed_at: AwareDatetime | None = None
    attempts: int = 0
    detail: str = ""
    body: bytes
    normalized: bytes = b""


class WebhookEventStore(Protocol):
    async def record(self, event: StoredWebhookEvent) -> bool:
        """Keep a new event; ``False`` (and nothing changes) when one with its
        ``(provider, event_id)`` is already kept."""
        ...

    async def get(self, provider: str, event_id: str) -> StoredWebhookEvent | None: ...

    async def mark(
        self,
        provider: str,
        event_id: str,
        status: WebhookEventStatus,
        *,
        at: AwareDatetime,
        detail: str = "",
    ) -> None:
        """Record a processing attempt's outcome (``attempts`` + 1; ``processed_at``
        = ``at``); ``PENDING`` again for a replay."""
        ...

    async def page(
        self,
        *,
        provider: str | None = None,
        status: WebhookEventStatus | None = None,
        type: str | None = None,
        workspace_id: str | None = None,
        before: tuple[AwareDatetime, str] | None = None,
        limit: int = 50,
    ) -> list[StoredWebhookEvent]:
        """Newest ``received_at`` first; ``before`` is ``(received_at, event_id)`` of
        the last one of the previous page."""
        ...


class AlertLog(Protocol):
    """Which threshold alerts were raised: one per workspace, threshold and period."""

    async def first(
        self, workspace_id: str, alert: str, period_start: AwareDatetime, *, at: AwareDatetime
    ) -> bool:
        """Record ``alert`` (``usage:api_calls:80``, ``credits:low``, ``payment_failed``)
        for the period starting ``period_start``; ``True`` only the first time."""
        ...


class UsageReportLog(Protocol):
    """How much of each meter was reported to the provider, per workspace and period,
    so each report sends only the difference under a fresh idempotency key."""

    async def reported(self, workspace_id: str, meter: str, period_start: AwareDatetime) -> int: ...

    async def set_reported(
        self,
        workspace_id: str,
        meter: str,
        period_start: AwareDatetime,
        quantity: int,
        *,
        at: AwareDatetime,
    ) -> None: ...


class BillingStores(Protocol):
    """Billing's stores in one unit of work."""

    @property
    def subscriptions(self) -> SubscriptionStore: ...
    @property
    def customers(self) -> CustomerStore: ...
    @property
    def prices(self) -> PriceStore: ...
    @property
    def invoices(self) -> InvoiceStore: ...
    @property
    def webhook_events(self) -> WebhookEventStore: ...
    @property
    def alerts(self) -> AlertLog: ...
    @property
    def usage_reports(self) -> UsageReportLog: ...
