"""Billing's stores on SQL: the conformance suites of ``core.billing.ports`` on SQLite
and PostgreSQL (on the migrated database), then what only SQL shows: rows that outlive
their unit of work, and on PostgreSQL concurrent writers (SQLite serializes them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import msgspec
import pytest
from sqlalchemy import func, select

from adapters.sql.billing.store_tables import webhook_events
from adapters.sql.billing.stores import (
    SqlAlertLog,
    SqlCustomerStore,
    SqlInvoiceStore,
    SqlPriceStore,
    SqlUsageReportLog,
    SqlWebhookEventStore,
)
from adapters.sql.billing.subscriptions import SqlSubscriptionStore
from adapters.sql.database import is_sqlite
from adapters.sql.uow import SqlUnitOfWork
from contracts.ports.billing_stores import (
    AlertLogContract,
    CustomerStoreContract,
    InvoiceStoreContract,
    PriceStoreContract,
    SubscriptionStoreContract,
    UsageReportLogContract,
    WebhookEventStoreContract,
    a_full_subscription,
    an_event,
)
from core.billing.errors import ConcurrentSubscriptionUpdateError
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer
from entrypoints.settings import Settings

NOW = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)
WRITERS = 8


@pytest.fixture
async def uow(container: ApplicationContainer) -> AsyncIterator[SqlUnitOfWork]:
    """One open unit of work, never committed."""
    async with container.unit_of_work() as opened:
        yield opened


class TestSqlSubscriptionStore(SubscriptionStoreContract):
    @pytest.fixture
    def subscription_store(self, uow: SqlUnitOfWork) -> SqlSubscriptionStore:
        return SqlSubscriptionStore(uow.session)


class TestSqlCustomerStore(CustomerStoreContract):
    @pytest.fixture
    def customer_store(self, uow: SqlUnitOfWork) -> SqlCustomerStore:
        return SqlCustomerStore(uow.session)


class TestSqlPriceStore(PriceStoreContract):
    @pytest.fixture
    def price_store(self, uow: SqlUnitOfWork) -> SqlPriceStore:
        return SqlPriceStore(uow.session, FixedClock(NOW))


class TestSqlInvoiceStore(InvoiceStoreContract):
    @pytest.fixture
    def invoice_store(self, uow: SqlUnitOfWork) -> SqlInvoiceStore:
        return SqlInvoiceStore(uow.session)


class TestSqlWebhookEventStore(WebhookEventStoreContract):
    @pytest.fixture
    def webhook_event_store(self, uow: SqlUnitOfWork) -> SqlWebhookEventStore:
        return SqlWebhookEventStore(uow.session)


class TestSqlAlertLog(AlertLogContract):
    @pytest.fixture
    def alert_log(self, uow: SqlUnitOfWork) -> SqlAlertLog:
        return SqlAlertLog(uow.session)


class TestSqlUsageReportLog(UsageReportLogContract):
    @pytest.fixture
    def usage_report_log(self, uow: SqlUnitOfWork) -> SqlUsageReportLog:
        return SqlUsageReportLog(uow.session)


async def test_a_committed_subscription_is_read_back_by_the_next_unit_of_work(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        added = await SqlSubscriptionStore(uow.session).add(a_full_subscription())
        await uow.commit()

    async with container.unit_of_work() as uow:
        store = SqlSubscriptionStore(uow.session)
        assert await store.get(added.id) == added
        saved = await store.save(msgspec.structs.replace(added, seats=8))
        await uow.rollback()

    async with container.unit_of_work() as uow:
        assert await SqlSubscriptionStore(uow.session).get(added.id) == added
    assert saved.version == 2


@pytest.mark.postgres
async def test_concurrent_saves_of_one_version_let_exactly_one_through(
    container: ApplicationContainer, settings: Settings
) -> None:
    if is_sqlite(settings.database_url):
        pytest.skip("SQLite serializes writers; the row lock is PostgreSQL's")
    async with container.unit_of_work() as uow:
        added = await SqlSubscriptionStore(uow.session).add(a_full_subscription())
        await uow.commit()
    read = asyncio.Barrier(2)

    async def save(seats: int) -> str:
        async with container.unit_of_work() as uow:
            store = SqlSubscriptionStore(uow.session)
            loaded = await store.get(added.id)
            assert loaded is not None
            await read.wait()  # both have read version 1 before either saves
            try:
                await store.save(msgspec.structs.replace(loaded, seats=seats))
            except ConcurrentSubscriptionUpdateError:
                return "conflict"
            await uow.commit()
            return f"saved {seats}"

    outcomes = await asyncio.gather(save(2), save(3))

    assert outcomes.count("conflict") == 1
    (winner,) = [outcome for outcome in outcomes if outcome != "conflict"]
    async with container.unit_of_work() as uow:
        stored = await SqlSubscriptionStore(uow.session).get(added.id)
    assert stored is not None
    assert stored.version == 2
    assert winner == f"saved {stored.seats}"


@pytest.mark.postgres
async def test_concurrent_records_of_one_webhook_event_keep_one_row(
    container: ApplicationContainer, settings: Settings
) -> None:
    if is_sqlite(settings.database_url):
        pytest.skip("SQLite serializes writers; ON CONFLICT races are PostgreSQL's")
    ready = asyncio.Barrier(WRITERS)

    async def record(n: int) -> bool:
        async with container.unit_of_work() as uow:
            store = SqlWebhookEventStore(uow.session)
            await store.get("stripe", "evt_race")  # each transaction has begun
            await ready.wait()
            recorded = await store.record(an_event("evt_race", body=f"copy {n}".encode()))
            await uow.commit()
            return recorded

    outcomes = await asyncio.gather(*(record(n) for n in range(WRITERS)))

    assert outcomes.count(True) == 1
    async with container.unit_of_work() as uow:
        rows = await uow.session.scalar(select(func.count()).select_from(webhook_events))
        kept = await SqlWebhookEventStore(uow.session).get("stripe", "evt_race")
    assert rows == 1
    assert kept is not None
    assert kept.body == f"copy {outcomes.index(True)}".encode()
