"""The sandbox payment provider on its SQL store (SQLite and PostgreSQL) passes the
port's conformance suite; then what only SQL shows: its state is its own (committed by
each call), and two concurrent ticks renew a subscription once."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from adapters.sandbox import SandboxPaymentProvider
from adapters.sandbox.harness import SandboxHarness
from adapters.sql.billing.sandbox import sql_sandbox_store
from adapters.sql.billing.sandbox_tables import sandbox_invoices, sandbox_usage
from adapters.sql.database import create_engine, create_read_session_factory, is_sqlite
from contracts.ports.payment_provider import (
    PRO_MONTH,
    SPECS,
    PaymentHarness,
    PaymentProviderContract,
)
from core.billing import SubscriptionStatus
from core.billing.errors import PaymentProviderRejectedError
from core.billing.payments import CheckoutMode, CheckoutRequest
from core.kernel import FixedClock, IdGenerator
from entrypoints.containers import ApplicationContainer
from entrypoints.containers.billing import sandbox_webhook_secret
from entrypoints.settings import Settings
from entrypoints.testing.plugin import settings_with


def _provider(container: ApplicationContainer, clock: FixedClock) -> SandboxPaymentProvider:
    session_factory = container.database.session_factory()
    return SandboxPaymentProvider(
        open_store=lambda: sql_sandbox_store(session_factory),
        clock=clock,
        ids=IdGenerator(),
        webhook_secret=sandbox_webhook_secret(container.settings()),
        public_url="http://127.0.0.1:8000",
    )


def _usage_total(database_url: str, customer_id: str, meter: str) -> int:
    """Read the count from another thread and connection (the harness asks
    synchronously, from inside the test's event loop, which then runs nothing else: a
    read-only transaction, so as not to wait for a delivery round's write lock)."""

    async def read() -> int:
        engine = create_engine(database_url)
        try:
            async with create_read_session_factory(engine)() as session:
                total = await session.scalar(
                    select(func.coalesce(func.sum(sandbox_usage.c.quantity), 0)).where(
                        sandbox_usage.c.customer_id == customer_id,
                        sandbox_usage.c.meter == meter,
                    )
                )
                return int(total or 0)
        finally:
            await engine.dispose()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


class TestSandboxPaymentProvider(PaymentProviderContract):
    @pytest.fixture
    async def payments(
        self, container: ApplicationContainer, clock: FixedClock, database_url: str
    ) -> AsyncIterator[PaymentHarness]:
        harness = SandboxHarness(
            _provider(container, clock),
            clock,
            lambda customer, meter: _usage_total(database_url, customer, meter),
        )
        yield harness
        await harness.settle()


async def _subscribed(provider: SandboxPaymentProvider) -> str:
    prices = {p.key: p for p in await provider.sync_prices(SPECS, {})}
    customer = await provider.create_customer(
        "ws_sql", name="SQL Co", email=None, idempotency_key="ws_sql"
    )
    session = await provider.create_checkout(
        CheckoutRequest(
            workspace_id="ws_sql",
            customer_id=customer,
            mode=CheckoutMode.SUBSCRIPTION,
            price=prices[PRO_MONTH],
            quantity=2,
            success_url="http://127.0.0.1:8000/ok",
            cancel_url="http://127.0.0.1:8000/no",
            idempotency_key="sql-checkout",
        )
    )
    await provider.pay(session.id)
    view = await provider.customer_view("ws_sql")
    assert view is not None
    return view.subscriptions[0].id


async def test_a_refused_call_changes_nothing_and_the_state_outlives_the_caller(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    provider = _provider(container, clock)
    sub_id = await _subscribed(provider)
    await provider.cancel(sub_id, at_period_end=False, idempotency_key="end")
    # fail_payment makes the card decline, then refuses a canceled subscription: the
    # whole call is rolled back, the card still works.
    with pytest.raises(PaymentProviderRejectedError, match="canceled"):
        await provider.fail_payment(sub_id)
    # A second provider (another process) sees what the first committed.
    other = _provider(container, clock)
    assert (await other.fetch_subscription(sub_id)).status is SubscriptionStatus.CANCELED
    view = await other.customer_view(sub_id)
    assert view is not None
    assert view.card_works
    assert len(await other.pending_webhooks()) > 0  # no sink: they wait


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings_with(settings, database_pool_size=8)


@pytest.mark.postgres
async def test_two_concurrent_ticks_renew_once(
    container: ApplicationContainer, clock: FixedClock, settings: Settings
) -> None:
    if is_sqlite(settings.database_url):
        pytest.skip("SQLite serializes writers; the row lock is PostgreSQL's")
    provider = _provider(container, clock)
    subs = [await _subscribed(provider)]
    for n in range(5):  # more subscriptions, so the ticks overlap on several rows
        other = await provider.create_customer(
            f"ws_race_{n}", name="Race", email=None, idempotency_key=f"race-{n}"
        )
        prices = {p.key: p for p in await provider.sync_prices(SPECS, {})}
        session = await provider.create_checkout(
            CheckoutRequest(
                workspace_id=f"ws_race_{n}",
                customer_id=other,
                mode=CheckoutMode.SUBSCRIPTION,
                price=prices[PRO_MONTH],
                success_url="http://127.0.0.1:8000/ok",
                cancel_url="http://127.0.0.1:8000/no",
                idempotency_key=f"race-checkout-{n}",
            )
        )
        await provider.pay(session.id)
        view = await provider.customer_view(f"ws_race_{n}")
        assert view is not None
        subs.append(view.subscriptions[0].id)
    clock.advance(timedelta(days=32))

    reports = await asyncio.gather(*(provider.tick() for _ in range(4)))

    assert sum(report.renewed for report in reports) == len(subs)
    async with container.database.session_factory()() as session:
        for sub_id in subs:
            invoices = await session.scalar(
                select(func.count()).where(sandbox_invoices.c.subscription_id == sub_id)
            )
            assert invoices == 2  # the first period's and one renewal
    for sub_id in subs:
        state = await provider.fetch_subscription(sub_id)
        assert state.status is SubscriptionStatus.ACTIVE
        assert state.provider_version == 2
