"""BillingService and WebhookProcessor on the in-memory fakes: the payment provider (the
sandbox's processor in memory), billing's stores and the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.billing_ledger import InMemoryLedgerStore
from adapters.memory.billing_stores import InMemoryBillingStores
from adapters.memory.payments import InMemoryPaymentProvider
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from core.billing import CreditLedger, SubscriptionStatus, load_catalog, prorated_allocation
from core.billing.errors import (
    InvalidSubscriptionChangeError,
    InvalidSubscriptionTransitionError,
    NoSubscriptionError,
    SubscriptionExistsError,
    UnknownPriceError,
)
from core.billing.payments import BillingWebhook, CheckoutSession, WebhookKind
from core.billing.ports import WebhookEventStatus
from core.billing.service import BillingService
from core.billing.webhooks import WebhookProcessor
from core.kernel import FixedClock, IdGenerator, TenantContext

WS = TenantContext("ws_service_test")
T0 = datetime(2030, 3, 1, 12, tzinfo=UTC)


class World:
    """A billing service over fakes, with the provider's webhooks applied on demand."""

    def __init__(self) -> None:
        self.clock = FixedClock(T0)
        self.ids = IdGenerator()
        self.provider = InMemoryPaymentProvider(clock=self.clock)
        self.stores = InMemoryBillingStores()
        self.ledger_store = InMemoryLedgerStore()
        self.outbox = InMemoryOutbox()
        self.uow = InMemoryUnitOfWork(self.outbox, self.clock, self.ids)
        self.catalog = load_catalog()
        self.service = BillingService(
            stores=self.stores,
            provider=self.provider,
            catalog=self.catalog,
            ledger=CreditLedger(self.ledger_store, self.clock, self.ids),
            uow=self.uow,
            clock=self.clock,
            ids=self.ids,
            grace_days=7,
        )
        self.processor = WebhookProcessor(self.service, self.uow)
        self.delivered: list[tuple[dict[str, str], bytes]] = []

        async def collect(headers: dict[str, str], body: bytes) -> None:
            self.delivered.append((headers, body))

        self.provider.set_webhook_sink(collect)

    async def checkout(
        self, plan: str = "pro", *, trial: bool = False, seats: int = 3
    ) -> CheckoutSession:
        return await self.service.checkout(
            WS,
            plan=plan,
            interval="month",
            currency=None,
            seats=seats,
            success_url="http://127.0.0.1:8000/ok",
            cancel_url="http://127.0.0.1:8000/no",
            customer_name="Acme",
            customer_email="owner@example.com",
            idempotency_key=f"checkout-{self.ids.new('key', self.clock.now())}",
            trial=trial,
        )

    async def webhooks(self) -> list[BillingWebhook]:
        """The provider's pending webhooks, verified and read, oldest first."""
        await self.provider.flush_webhooks()
        delivered, self.delivered = self.delivered, []
        now = self.clock.now()
        return [self.provider.parse_webhook(h, body, now=now) for h, body in delivered]

    async def apply_webhooks(self) -> list[tuple[WebhookEventStatus, str]]:
        return [await self.processor.apply(webhook) for webhook in await self.webhooks()]

    async def subscribed(self, plan: str = "pro", *, trial: bool = False) -> None:
        session = await self.checkout(plan, trial=trial)
        await self.provider.pay(session.id)
        await self.apply_webhooks()

    def events(self) -> list[str]:
        return [message.name for message in self.outbox.messages.values()]


@pytest.fixture
async def world() -> World:
    return World()


async def test_a_paid_checkout_creates_an_active_subscription_with_its_credits(
    world: World,
) -> None:
    await world.subscribed()
    sub = await world.service.subscription(WS)
    assert sub is not None
    assert sub.status is SubscriptionStatus.ACTIVE
    assert (sub.plan, sub.seats, sub.provider) == ("pro", 3, "sandbox")
    balance, grants = await world.service.credits(WS)
    assert balance.available == 1_000
    assert [g.grant.source.value for g in grants] == ["plan_allocation"]
    await world.uow.commit()
    assert "billing.subscription_created" in world.events()
    assert "billing.subscription_activated" in world.events()


async def test_a_trial_is_offered_to_the_first_subscription_only(world: World) -> None:
    await world.subscribed(trial=True)
    sub = await world.service.subscription(WS)
    assert sub is not None
    assert sub.status is SubscriptionStatus.TRIALING
    await world.service.cancel(WS, at_period_end=False, idempotency_key="end")
    await world.apply_webhooks()
    second = await world.checkout(trial=True)
    await world.provider.pay(second.id)
    await world.apply_webhooks()
    again = await world.service.subscription(WS)
    assert again is not None
    assert again.status is SubscriptionStatus.ACTIVE  # no second trial


async def test_checkout_refuses_the_free_plan_and_a_second_live_subscription(
    world: World,
) -> None:
    with pytest.raises(InvalidSubscriptionChangeError):
        await world.checkout("free")
    await world.subscribed()
    with pytest.raises(SubscriptionExistsError):
        await world.checkout("business")


async def test_changes_need_a_subscription(world: World) -> None:
    with pytest.raises(NoSubscriptionError):
        await world.service.cancel(WS, at_period_end=True, idempotency_key="c")
    with pytest.raises(NoSubscriptionError):
        await world.service.change_plan(WS, plan="business", interval=None, idempotency_key="x")


async def test_an_upgrade_applies_at_once_and_allocates_only_the_prorated_difference(
    world: World,
) -> None:
    await world.subscribed()
    await world.service.credits(WS)
    world.clock.advance(timedelta(days=15))
    sub = await world.service.change_plan(WS, plan="business", interval=None, idempotency_key="up")
    assert sub.plan == "business"
    assert sub.pending_plan is None
    balance, _ = await world.service.credits(WS)
    assert sub.current_period_start is not None
    assert sub.current_period_end is not None
    # What is left of business's 10,000 for the rest of the period, the 1,000 of pro
    # already given counted in: never a full second allocation.
    due = prorated_allocation(
        10_000, sub.current_period_start, sub.current_period_end, world.clock.now()
    )
    assert 1_000 < due < 10_000
    assert balance.available == due
    await world.service.change_plan(WS, plan="pro", interval=None, idempotency_key="down")
    await world.service.change_plan(WS, plan="business", interval=None, idempotency_key="up2")
    again, _ = await world.service.credits(WS)
    assert again.available == due  # switching back and forth farms nothing


async def test_a_downgrade_waits_for_the_period_end(world: World) -> None:
    await world.subscribed("business")
    sub = await world.service.change_plan(WS, plan="pro", interval=None, idempotency_key="down")
    assert sub.plan == "business"
    assert sub.pending_plan == "pro"
    await world.apply_webhooks()  # the provider's views name pro already: still business
    current = await world.service.subscription(WS)
    assert current is not None
    assert current.plan == "business"
    world.clock.advance(timedelta(days=31))
    await world.provider.renew(WS.workspace_id)
    await world.apply_webhooks()
    renewed = await world.service.subscription(WS)
    assert renewed is not None
    assert renewed.plan == "pro"
    assert renewed.pending_plan is None


async def test_moving_to_the_free_plan_is_a_cancellation(world: World) -> None:
    await world.subscribed()
    with pytest.raises(InvalidSubscriptionChangeError):
        await world.service.change_plan(WS, plan="free", interval=None, idempotency_key="f")


async def test_cancel_at_period_end_and_resume(world: World) -> None:
    await world.subscribed()
    sub = await world.service.cancel(WS, at_period_end=True, idempotency_key="c1")
    assert sub.cancel_at_period_end
    assert sub.status is SubscriptionStatus.ACTIVE
    with pytest.raises(InvalidSubscriptionTransitionError):
        await world.service.cancel(WS, at_period_end=True, idempotency_key="c2")
    resumed = await world.service.resume(WS, idempotency_key="r1")
    assert not resumed.cancel_at_period_end
    with pytest.raises(InvalidSubscriptionTransitionError):
        await world.service.resume(WS, idempotency_key="r2")


async def test_a_late_webhook_never_moves_the_subscription_back(world: World) -> None:
    await world.subscribed()
    await world.service.cancel(WS, at_period_end=True, idempotency_key="c1")
    late = await world.webhooks()  # views older than the cancellation's answer
    for webhook in late:
        await world.processor.apply(webhook)
    sub = await world.service.subscription(WS)
    assert sub is not None
    assert sub.cancel_at_period_end


async def test_seats_follow_the_billable_quantity(world: World) -> None:
    await world.subscribed()
    unchanged = await world.service.set_seats(WS, 2)  # pro includes 3 seats
    assert unchanged is not None
    assert unchanged.seats == 3
    more = await world.service.set_seats(WS, 5)
    assert more is not None
    assert more.seats == 5
    state = await world.provider.fetch_subscription(more.provider_subscription_id or "")
    assert state.quantity == 5


async def test_a_credit_pack_is_granted_once_however_often_its_webhook_is_applied(
    world: World,
) -> None:
    session = await world.service.buy(
        WS,
        product="credits-5000",
        quantity=2,
        currency=None,
        success_url="http://127.0.0.1:8000/ok",
        cancel_url="http://127.0.0.1:8000/no",
        customer_name="Acme",
        customer_email=None,
        idempotency_key="buy-1",
    )
    await world.provider.pay(session.id)
    webhooks = await world.webhooks()
    payments = [w for w in webhooks if w.kind is WebhookKind.PAYMENT]
    assert len(payments) == 1
    for _ in range(3):
        status, _detail = await world.processor.apply(payments[0])
        assert status is WebhookEventStatus.PROCESSED
    balance = await world.service.ledger.balance(WS)
    purchased = world.catalog.product("credits-5000").credits * 2
    assert balance.available == purchased
    await world.uow.commit()
    assert world.events().count("billing.credits_purchased") == 1


async def test_an_unknown_price_fails_until_the_catalog_is_synced(world: World) -> None:
    await world.subscribed()
    webhooks = await world.webhooks()
    world.stores.prices = type(world.stores.prices)()  # the mapping is lost
    await world.provider.renew(WS.workspace_id)
    renewed = [w for w in await world.webhooks() if w.subscription is not None]
    assert renewed
    del webhooks
    with pytest.raises(UnknownPriceError):
        await world.processor.apply(renewed[-1])


async def test_consuming_credits_below_the_threshold_alerts_once_per_window(
    world: World,
) -> None:
    await world.subscribed()
    await world.service.consume_credits(WS, 950, key="big")
    await world.service.consume_credits(WS, 10, key="small")
    await world.uow.commit()
    assert world.events().count("billing.credits_low") == 1


async def test_ignored_events_are_ignored(world: World) -> None:
    ignored = BillingWebhook(
        provider="sandbox",
        event_id="evt_x",
        type="customer.updated",
        kind=WebhookKind.IGNORED,
        occurred_at=T0,
    )
    status, detail = await world.processor.apply(ignored)
    assert status is WebhookEventStatus.IGNORED
    assert "customer.updated" in detail
