"""``BillingStores`` on one SQLAlchemy session: every store of billing in the caller's
transaction, made on first use."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.stores import (
    SqlAlertLog,
    SqlCustomerStore,
    SqlInvoiceStore,
    SqlPriceStore,
    SqlUsageReportLog,
    SqlWebhookEventStore,
)
from adapters.sql.billing.subscriptions import SqlSubscriptionStore
from core.kernel import Clock


class SqlBillingStores:
    def __init__(self, session: AsyncSession, clock: Clock | None = None) -> None:
        self.session = session
        self._clock = clock

    @cached_property
    def subscriptions(self) -> SqlSubscriptionStore:
        return SqlSubscriptionStore(self.session)

    @cached_property
    def customers(self) -> SqlCustomerStore:
        return SqlCustomerStore(self.session)

    @cached_property
    def prices(self) -> SqlPriceStore:
        return SqlPriceStore(self.session, self._clock)

    @cached_property
    def invoices(self) -> SqlInvoiceStore:
        return SqlInvoiceStore(self.session)

    @cached_property
    def webhook_events(self) -> SqlWebhookEventStore:
        return SqlWebhookEventStore(self.session)

    @cached_property
    def alerts(self) -> SqlAlertLog:
        return SqlAlertLog(self.session)

    @cached_property
    def usage_reports(self) -> SqlUsageReportLog:
        return SqlUsageReportLog(self.session)
