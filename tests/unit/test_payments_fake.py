"""The in-memory ``PaymentProvider`` (the sandbox over dictionaries) passes the port's
conformance suite; then the sandbox processor's own behaviour, as the clock moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from adapters.memory.payments import InMemoryPaymentProvider
from adapters.sandbox import CheckoutStatus, SandboxUsage, TickReport
from adapters.sandbox.harness import SandboxHarness
from contracts.ports.payment_provider import (
    BUSINESS_MONTH,
    CREDITS,
    PRO_MONTH,
    PRO_YEAR,
    SPECS,
    PaymentHarness,
    PaymentProviderContract,
)
from core.billing import SubscriptionStatus
from core.billing.errors import InvalidBillingWebhookError, PaymentProviderRejectedError
from core.billing.payments import (
    BillingWebhook,
    CheckoutMode,
    CheckoutRequest,
    CheckoutSession,
    InvoiceStatus,
    ProviderInvoice,
    ProviderPrice,
    UsageRecord,
)
from core.kernel import FixedClock

_UNPAID = SubscriptionStatus.UNPAID


def _harness() -> SandboxHarness:
    clock = FixedClock()
    provider = InMemoryPaymentProvider(clock=clock)

    def usage_total(customer_id: str, meter: str) -> int:
        return sum(
            usage.quantity
            for usage in provider.store.records[SandboxUsage].values()
            if isinstance(usage, SandboxUsage)
            and usage.customer_id == customer_id
            and usage.meter == meter
        )

    return SandboxHarness(provider, clock, usage_total)


class TestInMemoryPaymentProvider(PaymentProviderContract):
    @pytest.fixture
    async def payments(self) -> AsyncIterator[PaymentHarness]:
        harness = _harness()
        yield harness
        await harness.settle()


# --- the processor, as the clock moves --------------------------------------------------

START = datetime(2030, 1, 1, tzinfo=UTC)
PERIOD = timedelta(days=31)  # January 2030


class World:
    """A fake provider with the catalog's prices, one customer and a recording sink."""

    def __init__(self) -> None:
        self.clock = FixedClock(START)
        self.provider = InMemoryPaymentProvider(clock=self.clock)
        self.sent: list[BillingWebhook] = []
        self.provider.set_webhook_sink(self._take)
        self.prices: dict[str, ProviderPrice] = {}
        self.customer = ""

    async def _take(self, headers: dict[str, str], body: bytes) -> None:
        self.sent.append(self.provider.parse_webhook(headers, body, now=self.clock.now()))

    async def start(self) -> World:
        self.prices = {p.key: p for p in await self.provider.sync_prices(SPECS, {})}
        self.customer = await self.provider.create_customer(
            "ws_world", name="World <Co>", email="w@example.com", idempotency_key="ws_world"
        )
        return self

    async def checkout(
        self, key: str = PRO_MONTH, *, quantity: int = 3, trial_days: int = 0, ikey: str = "c1"
    ) -> CheckoutSession:
        price = self.prices[key]
        mode = CheckoutMode.PAYMENT if key == CREDITS else CheckoutMode.SUBSCRIPTION
        return await self.provider.create_checkout(
            CheckoutRequest(
                workspace_id="ws_world",
                customer_id=self.customer,
                mode=mode,
                price=price,
                quantity=quantity,
                trial_days=trial_days,
                success_url="http://127.0.0.1:8000/ok",
                cancel_url="http://127.0.0.1:8000/no",
                idempotency_key=ikey,
            )
        )

    async def subscribe(self, **kwargs: Any) -> str:
        session = await self.checkout(**kwargs)
        assert await self.provider.pay(session.id) == "http://127.0.0.1:8000/ok"
        return await self.sub_id()

    async def sub_id(self) -> str:
        view = await self.provider.customer_view("ws_world")
        assert view is not None
        return view.subscriptions[0].id

    async def invoices(self) -> list[ProviderInvoice]:
        return await self.provider.list_invoices(self.customer)

    async def events(self) -> list[BillingWebhook]:
        """Every webhook delivered so far (after the background delivery settled)."""
        await self.provider.settle()
        return self.sent

    async def types(self) -> list[str]:
        return [event.type for event in await self.events()]

    async def at(self, instant: datetime) -> TickReport:
        self.clock.set(instant)
        return await self.provider.tick()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    started = await World().start()
    yield started
    await started.provider.settle()


async def test_periods_renew_as_the_clock_moves_and_catch_up_after_a_jump(world: World) -> None:
    sub_id = await world.subscribe()
    first = await world.provider.fetch_subscription(sub_id)
    assert (first.current_period_start, first.current_period_end) == (START, START + PERIOD)

    assert (await world.at(START + PERIOD - timedelta(seconds=1))).renewed == 0
    report = await world.at(START + PERIOD)
    assert report.renewed == 1
    renewed = await world.provider.fetch_subscription(sub_id)
    assert renewed.current_period_start == START + PERIOD
    assert renewed.current_period_end == datetime(2030, 3, 1, tzinfo=UTC)
    assert renewed.provider_version == first.provider_version + 1

    assert (await world.at(datetime(2030, 6, 15, tzinfo=UTC))).renewed == 4  # Mar..Jun
    latest = await world.provider.fetch_subscription(sub_id)
    assert latest.current_period_start == datetime(2030, 6, 1, tzinfo=UTC)
    invoices = await world.invoices()
    assert [i.number for i in invoices] == [f"SBX-{n:06d}" for n in range(6, 0, -1)]
    assert all(i.status is InvoiceStatus.PAID and i.total == 4_500 for i in invoices)
    assert (
        invoices[0].hosted_url
        == f"http://127.0.0.1:8000/billing/sandbox/invoices/{invoices[0].provider_invoice_id}"
    )
    versions = [e.subscription.provider_version for e in (await world.events()) if e.subscription]
    assert versions == sorted(versions)


async def test_a_declined_renewal_is_retried_after_1_3_and_5_days_then_unpaid(
    world: World,
) -> None:
    sub_id = await world.subscribe()
    await world.provider.set_card("ws_world", works=False)
    due = START + PERIOD
    await world.at(due)
    state = await world.provider.fetch_subscription(sub_id)
    assert state.status is SubscriptionStatus.PAST_DUE
    assert state.past_due_since == due
    view = await world.provider.customer_view(sub_id)
    assert view is not None
    assert view.subscriptions[0].next_retry_at == due + timedelta(days=1)

    for days, status in [(1, "past_due"), (3, "past_due"), (5, "unpaid")]:
        await world.at(due + timedelta(days=days) - timedelta(seconds=1))
        assert (await world.provider.fetch_subscription(sub_id)).status is not _UNPAID
        report = await world.at(due + timedelta(days=days))
        assert report.payments_failed == 1
        assert (await world.provider.fetch_subscription(sub_id)).status.value == status

    failed = [e for e in (await world.events()) if e.payment_failed]
    assert len(failed) == 4
    assert {e.invoice.provider_invoice_id for e in failed if e.invoice} == {
        (await world.invoices())[0].provider_invoice_id
    }
    assert (await world.invoices())[0].status is InvoiceStatus.OPEN
    # Unpaid: nothing more happens, even at the next period's end.
    assert (await world.at(due + timedelta(days=60))).payments_failed == 0


async def test_recovery_pays_the_open_invoice_and_reactivates(world: World) -> None:
    sub_id = await world.subscribe()
    world.clock.advance(timedelta(days=3))
    failed = await world.provider.fail_payment(sub_id)
    assert failed.status is SubscriptionStatus.PAST_DUE
    owed = (await world.invoices())[0]
    assert (owed.status, owed.amount_due) == (InvoiceStatus.OPEN, 4_500)

    recovered = await world.provider.recover_payment("ws_world")
    assert recovered.status is SubscriptionStatus.ACTIVE
    assert recovered.past_due_since is None
    paid = (await world.invoices())[0]
    assert (paid.provider_invoice_id, paid.status) == (owed.provider_invoice_id, InvoiceStatus.PAID)
    assert (await world.types())[-2:] == ["invoice.paid", "subscription.updated"]


async def test_a_retry_succeeds_once_the_card_works_again(world: World) -> None:
    sub_id = await world.subscribe()
    await world.provider.set_card(world.customer, works=False)
    await world.at(START + PERIOD)
    await world.provider.set_card(world.customer, works=True)
    report = await world.at(START + PERIOD + timedelta(days=1))
    assert report.payments_recovered == 1
    state = await world.provider.fetch_subscription(sub_id)
    assert state.status is SubscriptionStatus.ACTIVE
    assert state.current_period_end == datetime(2030, 3, 1, tzinfo=UTC)


async def test_a_cancellation_at_period_end_ends_it_at_that_end(world: World) -> None:
    sub_id = await world.subscribe()
    await world.provider.cancel(sub_id, at_period_end=True, idempotency_key="c")
    await world.at(START + PERIOD - timedelta(seconds=1))
    assert (await world.provider.fetch_subscription(sub_id)).status is SubscriptionStatus.ACTIVE
    report = await world.at(START + PERIOD + timedelta(days=2))
    assert report.ended == 1
    ended = await world.provider.fetch_subscription(sub_id)
    assert ended.status is SubscriptionStatus.CANCELED
    assert ended.ended_at == START + PERIOD
    assert len(await world.invoices()) == 1  # no renewal
    assert (await world.types())[-1] == "subscription.canceled"


async def test_an_upgrade_is_charged_for_the_rest_of_the_period(world: World) -> None:
    sub_id = await world.subscribe(quantity=3)  # 3 x 1,500 = 4,500 a month
    world.clock.set(START + PERIOD / 2)  # half the period left
    state = await world.provider.change_plan(
        sub_id, world.prices[BUSINESS_MONTH], quantity=10, prorate=True, idempotency_key="up"
    )
    assert state.status is SubscriptionStatus.ACTIVE
    proration = (await world.invoices())[0]
    assert proration.total == (40_000 - 4_500) // 2
    assert proration.status is InvoiceStatus.PAID
    assert proration.period_end == START + PERIOD

    more_seats = await world.provider.set_quantity(sub_id, 12, idempotency_key="q")
    assert more_seats.quantity == 12
    assert (await world.invoices())[0].total == 2 * 4_000 // 2
    # A decrease or a downgrade without proration is not credited: no invoice.
    count = len(await world.invoices())
    await world.provider.set_quantity(sub_id, 4, idempotency_key="q2")
    await world.provider.change_plan(
        sub_id, world.prices[PRO_MONTH], quantity=4, prorate=False, idempotency_key="down"
    )
    assert len(await world.invoices()) == count
    # The next renewal charges the new price.
    await world.at(START + PERIOD)
    assert (await world.invoices())[0].total == 4 * 1_500


async def test_an_upgrade_to_another_interval_restarts_the_period(world: World) -> None:
    sub_id = await world.subscribe(quantity=1)
    world.clock.set(START + PERIOD / 2)
    state = await world.provider.change_plan(
        sub_id, world.prices[PRO_YEAR], quantity=1, prorate=True, idempotency_key="yearly"
    )
    assert state.current_period_start == START + PERIOD / 2
    assert state.current_period_end == START + PERIOD / 2 + timedelta(days=365)
    assert (await world.invoices())[0].total == 15_000 - 750


async def test_a_trial_is_free_then_its_end_is_charged(world: World) -> None:
    sub_id = await world.subscribe(trial_days=14)
    trialing = await world.provider.fetch_subscription(sub_id)
    assert trialing.status is SubscriptionStatus.TRIALING
    assert trialing.trial_end == START + timedelta(days=14)
    assert await world.invoices() == []

    await world.at(START + timedelta(days=14))
    active = await world.provider.fetch_subscription(sub_id)
    assert active.status is SubscriptionStatus.ACTIVE
    assert active.current_period_start == START + timedelta(days=14)
    assert active.current_period_end == datetime(2030, 2, 15, tzinfo=UTC)
    (invoice,) = await world.invoices()
    assert (invoice.status, invoice.total) == (InvoiceStatus.PAID, 4_500)


async def test_a_trial_ending_on_a_declining_card_is_past_due(world: World) -> None:
    sub_id = await world.subscribe(trial_days=7)
    await world.provider.set_card("ws_world", works=False)
    await world.at(START + timedelta(days=7))
    assert (await world.provider.fetch_subscription(sub_id)).status is SubscriptionStatus.PAST_DUE


async def test_a_checkout_expires_after_24_hours(world: World) -> None:
    session = await world.checkout()
    assert session.expires_at == START + timedelta(hours=24)
    assert await world.checkout() == session  # same idempotency key, same session
    await world.at(START + timedelta(hours=23))
    view = await world.provider.checkout_view(session.id)
    assert view is not None
    assert view.status is CheckoutStatus.OPEN
    assert (view.amount, view.quantity, view.product_name) == (4_500, 3, "Pro")

    report = await world.at(START + timedelta(hours=24))
    assert report.checkouts_expired == 1
    assert (await world.types())[-1] == "checkout.expired"
    with pytest.raises(PaymentProviderRejectedError, match="expired"):
        await world.provider.pay(session.id)
    assert await world.provider.decline(session.id) == "http://127.0.0.1:8000/no"
    assert await world.provider.checkout_view("cs_nope") is None


async def test_a_declined_checkout_cannot_be_paid_and_a_paid_one_pays_once(world: World) -> None:
    declined = await world.checkout(ikey="d")
    assert await world.provider.decline(declined.id) == "http://127.0.0.1:8000/no"
    with pytest.raises(PaymentProviderRejectedError, match="declined"):
        await world.provider.pay(declined.id)
    paid = await world.checkout(ikey="p")
    await world.provider.pay(paid.id)
    await world.provider.pay(paid.id)  # a double click
    assert len(await world.invoices()) == 1
    with pytest.raises(PaymentProviderRejectedError, match="paid"):
        await world.provider.decline(paid.id)


async def test_a_one_off_purchase_is_invoiced_and_paid(world: World) -> None:
    session = await world.checkout(CREDITS, quantity=2)
    await world.provider.pay(session.id)
    (invoice,) = await world.invoices()
    assert (invoice.total, invoice.provider_subscription_id) == (2_000, None)
    payments = [e.payment for e in (await world.events()) if e.payment]
    assert [(p.amount, p.quantity) for p in payments] == [(2_000, 2)]


async def test_usage_is_counted_once_per_key(world: World) -> None:
    sub_id = await world.subscribe()
    record = UsageRecord(
        idempotency_key="u1",
        customer_id=world.customer,
        provider_subscription_id=sub_id,
        meter="api_calls",
        quantity=5,
        timestamp=START,
    )
    await world.provider.report_usage([record, record])
    await world.provider.report_usage(
        [record, msgspec.structs.replace(record, idempotency_key="u2")]
    )
    assert await world.provider.usage_total(world.customer, "api_calls") == 10
    with pytest.raises(PaymentProviderRejectedError):
        await world.provider.report_usage([record] * 1_001)
    with pytest.raises(PaymentProviderRejectedError):
        await world.provider.report_usage(
            [msgspec.structs.replace(record, idempotency_key="u3", customer_id="cus_nobody")]
        )


async def test_webhooks_wait_when_the_sink_fails_and_flush_delivers_them_in_order() -> None:
    clock = FixedClock(START)
    provider = InMemoryPaymentProvider(clock=clock)
    taken: list[str] = []
    failing = True

    async def sink(headers: dict[str, str], body: bytes) -> None:
        if failing:
            raise ConnectionError("ingestion is down")
        taken.append(provider.parse_webhook(headers, body, now=clock.now()).event_id)

    await provider.create_customer("ws_a", name="A", email=None, idempotency_key="a")
    assert [e.type for e in await provider.pending_webhooks()] == ["customer.created"]
    provider.set_webhook_sink(sink)
    await provider.create_customer("ws_b", name="B", email=None, idempotency_key="b")
    assert await provider.settle() == 0
    pending = await provider.pending_webhooks()
    assert len(pending) == 2  # the sink raised: nothing was marked delivered

    failing = False
    assert await provider.flush_webhooks() == 2
    assert taken == [event.id for event in pending]
    assert await provider.pending_webhooks() == []
    assert await provider.flush_webhooks() == 0


async def test_a_sink_that_calls_the_provider_does_not_deliver_again_from_inside() -> None:
    provider = InMemoryPaymentProvider(clock=FixedClock(START))
    bodies: list[bytes] = []

    async def sink(headers: dict[str, str], body: bytes) -> None:
        bodies.append(body)
        customer = msgspec.json.decode(body)["data"]["id"]
        await provider.create_portal(customer, return_url="http://x")  # re-enters

    provider.set_webhook_sink(sink)
    await provider.create_customer("ws_a", name="A", email=None, idempotency_key="a")
    await provider.settle()
    assert len(bodies) == 1


async def test_a_signed_body_that_is_no_event_is_malformed(world: World) -> None:
    body = b'{"hello": "world"}'
    headers = world.provider.sign(body, event_id="evt_x", at=START)
    with pytest.raises(InvalidBillingWebhookError) as refused:
        world.provider.parse_webhook(headers, body, now=START)
    assert refused.value.reason == "malformed"
    bad = {**headers, "webhook-timestamp": "soon"}
    with pytest.raises(InvalidBillingWebhookError) as refused:
        world.provider.parse_webhook(bad, body, now=START)
    assert refused.value.reason == "malformed"


async def test_a_failed_command_changes_nothing(world: World) -> None:
    sub_id = await world.subscribe()
    await world.provider.cancel(sub_id, at_period_end=False, idempotency_key="now")
    with pytest.raises(PaymentProviderRejectedError):
        await world.provider.fail_payment(sub_id)  # it set the card first, then refused
    view = await world.provider.customer_view("ws_world")
    assert view is not None
    assert view.card_works
    with pytest.raises(PaymentProviderRejectedError):
        await world.provider.renew("ws_nobody")
