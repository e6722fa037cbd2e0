"""Billing's stores in memory: the conformance suites of ``core.billing.ports``."""

from __future__ import annotations

import pytest

from adapters.memory.billing_stores import (
    InMemoryAlertLog,
    InMemoryCustomerStore,
    InMemoryInvoiceStore,
    InMemoryPriceStore,
    InMemorySubscriptionStore,
    InMemoryUsageReportLog,
    InMemoryWebhookEventStore,
)
from contracts.ports.billing_stores import (
    AlertLogContract,
    CustomerStoreContract,
    InvoiceStoreContract,
    PriceStoreContract,
    SubscriptionStoreContract,
    UsageReportLogContract,
    WebhookEventStoreContract,
)


class TestInMemorySubscriptionStore(SubscriptionStoreContract):
    @pytest.fixture
    def subscription_store(self) -> InMemorySubscriptionStore:
        return InMemorySubscriptionStore()


class TestInMemoryCustomerStore(CustomerStoreContract):
    @pytest.fixture
    def customer_store(self) -> InMemoryCustomerStore:
        return InMemoryCustomerStore()


class TestInMemoryPriceStore(PriceStoreContract):
    @pytest.fixture
    def price_store(self) -> InMemoryPriceStore:
        return InMemoryPriceStore()


class TestInMemoryInvoiceStore(InvoiceStoreContract):
    @pytest.fixture
    def invoice_store(self) -> InMemoryInvoiceStore:
        return InMemoryInvoiceStore()


class TestInMemoryWebhookEventStore(WebhookEventStoreContract):
    @pytest.fixture
    def webhook_event_store(self) -> InMemoryWebhookEventStore:
        return InMemoryWebhookEventStore()


class TestInMemoryAlertLog(AlertLogContract):
    @pytest.fixture
    def alert_log(self) -> InMemoryAlertLog:
        return InMemoryAlertLog()


class TestInMemoryUsageReportLog(UsageReportLogContract):
    @pytest.fixture
    def usage_report_log(self) -> InMemoryUsageReportLog:
        return InMemoryUsageReportLog()
