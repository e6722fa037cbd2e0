"""In-memory fakes of billing's stores (``core.billing.ports``): subscriptions,
customers, provider prices, invoices, webhook events, alerts and usage reports.

Like the other fakes they ignore transactions: what was written in a unit of work that
is rolled back stays. They keep the SQL adapters' semantics: the optimistic version
check and one live subscription per workspace, first-write-wins for webhook events and
alerts, newer-``provider_version``-wins for invoices. Times are kept in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from core.billing.errors import ConcurrentSubscriptionUpdateError, SubscriptionExistsError
from core.billing.payments import ProviderPrice
from core.billing.ports import Invoice, StoredWebhookEvent, WebhookEventStatus
from core.billing.subscriptions import Subscription, SubscriptionStatus
from core.kernel import TenantContext

S = TypeVar("S", bound=msgspec.Struct)


def in_utc(struct: S) -> S:
    """``struct`` with each of its times in UTC (as SQL gives them back)."""
    changes = {
        name: value.astimezone(UTC)
        for name, value in msgspec.structs.asdict(struct).items()
        if isinstance(value, datetime)
    }
    return msgspec.structs.replace(struct, **changes) if changes else struct


class InMemorySubscriptionStore:
    """Subscriptions by id."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}

    def _first(self, found: list[Subscription]) -> Subscription | None:
        """The live one, else the most recent final one."""
        return max(found, key=lambda s: (not s.is_final, s.created_at, s.id), default=None)

    def _check_live(self, subscription: Subscription) -> None:
        if subscription.is_final:
            return
        for other in self.subscriptions.values():
            if (
                other.workspace_id == subscription.workspace_id
                and other.id != subscription.id
                and not other.is_final
            ):
                raise SubscriptionExistsError(
                    f"workspace {subscription.workspace_id} already has a live subscription"
                )

    async def current(self, tenant: TenantContext) -> Subscription | None:
        return self._first(
            [s for s in self.subscriptions.values() if s.workspace_id == tenant.workspace_id]
        )

    async def get(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id)

    async def by_provider_id(
        self, provider: str, provider_subscription_id: str
    ) -> Subscription | None:
        return self._first(
            [
                s
                for s in self.subscriptions.values()
                if s.provider == provider and s.provider_subscription_id == provider_subscription_id
            ]
        )

    async def add(self, subscription: Subscription) -> Subscription:
        if subscription.id in self.subscriptions:
            raise SubscriptionExistsError(f"subscription {subscription.id} is already stored")
        self._check_live(subscription)
        stored = in_utc(msgspec.structs.replace(subscription, version=1))
        self.subscriptions[stored.id] = stored
        return stored

    async def save(self, subscription: Subscription) -> Subscription:
        stored = self.subscriptions.get(subscription.id)
        if stored is None or stored.version != subscription.version:
            raise ConcurrentSubscriptionUpdateError(
                f"subscription {subscription.id} is no longer at version {subscription.version}"
            )
        self._check_live(subscription)
        saved = in_utc(msgspec.structs.replace(subscription, version=subscription.version + 1))
        self.subscriptions[saved.id] = saved
        return saved

    async def page(
        self,
        *,
        status: SubscriptionStatus | None = None,
        workspace_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Subscription]:
        found = sorted(
            (
                s
                for s in self.subscriptions.values()
                if (status is None or s.status == status)
                and (workspace_id is None or s.workspace_id == workspace_id)
                and (after is None or s.id > after)
            ),
            key=lambda s: s.id,
        )
        return found[:limit]


class InMemoryCustomerStore:
    """``(provider, workspace_id) -> customer_id``; a different mapping for a workspace
    or a customer id already mapped is refused (``ValueError``)."""

    def __init__(self) -> None:
        self.customers: dict[tuple[str, str], str] = {}

    async def customer_id(self, provider: str, workspace_id: str) -> str | None:
        return self.customers.get((provider, workspace_id))

    async def workspace_id(self, provider: str, customer_id: str) -> str | None:
        for (mapped_provider, workspace_id), mapped in self.customers.items():
            if mapped_provider == provider and mapped == customer_id:
                return workspace_id
        return None

    async def add(self, provider: str, workspace_id: str, customer_id: str) -> None:
        known = self.customers.get((provider, workspace_id))
        if known == customer_id:
            return
        if known is not None or await self.workspace_id(provider, customer_id) is not None:
            raise ValueError(
                f"{provider}: workspace {workspace_id} or customer {customer_id} "
                "is already mapped otherwise"
            )
        self.customers[(provider, workspace_id)] = customer_id


class InMemoryPriceStore:
    """Every price saved, by ``(provider, provider_price_id)``; the current one of each
    key by ``(provider, key)``."""

    def __init__(self) -> None:
        self.prices: dict[tuple[str, str], ProviderPrice] = {}
        self.current: dict[tuple[str, str], str] = {}

    async def all(self, provider: str) -> dict[str, ProviderPrice]:
        return {
            key: self.prices[(provider, price_id)]
            for (of, key), price_id in self.current.items()
            if of == provider
        }

    async def by_provider_price_id(self, provider: str, price_id: str) -> ProviderPrice | None:
        return self.prices.get((provider, price_id))

    async def save(self, prices: Sequence[ProviderPrice]) -> None:
        for price in prices:
            previous = self.prices.get((price.provider, price.provider_price_id))
            if (
                previous is not None
                and previous.key != price.key
                and self.current.get((price.provider, previous.key)) == price.provider_price_id
            ):
                del self.current[(price.provider, previous.key)]
            self.prices[(price.provider, price.provider_price_id)] = price
            self.current[(price.provider, price.key)] = price.provider_price_id


class InMemoryInvoiceStore:
    """Invoices by ``(provider, provider_invoice_id)``."""

    def __init__(self) -> None:
        self.invoices: dict[tuple[str, str], Invoice] = {}

    async def upsert(self, invoice: Invoice) -> bool:
        key = (invoice.provider, invoice.provider_invoice_id)
        stored = self.invoices.get(key)
        if stored is not None and stored.provider_version >= invoice.provider_version:
            return False
        self.invoices[key] = in_utc(invoice)
        return True

    async def page(
        self, tenant: TenantContext, *, before: str | None = None, limit: int = 50
    ) -> list[Invoice]:
        mine = sorted(
            (i for i in self.invoices.values() if i.workspace_id == tenant.workspace_id),
            key=lambda i: (i.issued_at, i.provider_invoice_id),
            reverse=True,
        )
        if before is not None:
            cursor = next((i for i in mine if i.provider_invoice_id == before), None)
            if cursor is None:
                return []
            mark = (cursor.issued_at, cursor.provider_invoice_id)
            mine = [i for i in mine if (i.issued_at, i.provider_invoice_id) < mark]
        return mine[:limit]


class InMemoryWebhookEventStore:
    """Webhook events by ``(provider, event_id)``; the first one recorded stays."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], StoredWebhookEvent] = {}

    async def record(self, event: StoredWebhookEvent) -> bool:
        key = (event.provider, event.event_id)
        if key in self.events:
            return False
        self.events[key] = in_utc(event)
        return True

    async def get(self, provider: str, event_id: str) -> StoredWebhookEvent | None:
        return self.events.get((provider, event_id))

    async def mark(
        self,
        provider: str,
        event_id: str,
        status: WebhookEventStatus,
        *,
        at: datetime,
        detail: str = "",
    ) -> None:
        stored = self.events.get((provider, event_id))
        if stored is None:
            return
        status = WebhookEventStatus(status)
        if status is WebhookEventStatus.PENDING:  # a replay is no attempt
            marked = msgspec.structs.replace(stored, status=status, detail=detail)
        else:
            marked = msgspec.structs.replace(
                stored,
                status=status,
                detail=detail,
                attempts=stored.attempts + 1,
                processed_at=at.astimezone(UTC),
            )
        self.events[(provider, event_id)] = marked

    async def page(
        self,
        *,
        provider: str | None = None,
        status: WebhookEventStatus | None = None,
        type: str | None = None,
        workspace_id: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[StoredWebhookEvent]:
        found = sorted(
            (
                e
                for e in self.events.values()
                if (provider is None or e.provider == provider)
                and (status is None or e.status == status)
                and (type is None or e.type == type)
                and (workspace_id is None or e.workspace_id == workspace_id)
                and (before is None or (e.received_at, e.event_id) < before)
            ),
            key=lambda e: (e.received_at, e.event_id),
            reverse=True,
        )
        return found[:limit]


class InMemoryAlertLog:
    """The alerts raised: ``(workspace_id, alert, period_start) -> raised at``."""

    def __init__(self) -> None:
        self.raised: dict[tuple[str, str, datetime], datetime] = {}

    async def first(
        self, workspace_id: str, alert: str, period_start: datetime, *, at: datetime
    ) -> bool:
        key = (workspace_id, alert, period_start.astimezone(UTC))
        if key in self.raised:
            return False
        self.raised[key] = at.astimezone(UTC)
        return True


class InMemoryUsageReportLog:
    """``(workspace_id, meter, period_start) -> (quantity, updated_at)``."""

    def __init__(self) -> None:
        self.reports: dict[tuple[str, str, datetime], tuple[int, datetime]] = {}

    async def reported(self, workspace_id: str, meter: str, period_start: datetime) -> int:
        report = self.reports.get((workspace_id, meter, period_start.astimezone(UTC)))
        return 0 if report is None else report[0]

    async def set_reported(
        self,
        workspace_id: str,
        meter: str,
        period_start: datetime,
        quantity: int,
        *,
        at: datetime,
    ) -> None:
        key = (workspace_id, meter, period_start.astimezone(UTC))
        self.reports[key] = (quantity, at.astimezone(UTC))


class InMemoryBillingStores:
    """``BillingStores`` in memory: every billing store, each kept for the bundle's life."""

    def __init__(self) -> None:
        self.subscriptions = InMemorySubscriptionStore()
        self.customers = InMemoryCustomerStore()
        self.prices = InMemoryPriceStore()
        self.invoices = InMemoryInvoiceStore()
        self.webhook_events = InMemoryWebhookEventStore()
        self.alerts = InMemoryAlertLog()
        self.usage_reports = InMemoryUsageReportLog()
