"""Conformance of a ``PaymentProvider`` (``core.billing.payments``).

Provide a fixture ``payments``: a ``PaymentHarness`` around the adapter under test and
whatever it talks to (a local stand-in speaking the provider's wire format, or the
adapter's own state). The harness plays the customer and the provider's back office:
it pays or declines a checkout, fails and recovers payments, ends periods, and hands
over the webhooks the provider sent, signed with the provider's scheme.

Every test starts from an empty provider; prices come from ``sync_prices`` on ``SPECS``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import msgspec
import pytest

from core.billing import BillingInterval, SubscriptionStatus
from core.billing.errors import (
    InvalidBillingWebhookError,
    PaymentProviderRejectedError,
    PaymentProviderUnavailableError,
)
from core.billing.payments import (
    BillingWebhook,
    CheckoutMode,
    CheckoutRequest,
    CheckoutSession,
    InvoiceStatus,
    PaymentProvider,
    PriceSpec,
    ProviderPrice,
    UsageRecord,
    WebhookKind,
    plan_price_key,
    product_price_key,
)

Delivery = tuple[dict[str, str], bytes]  # a webhook as sent: headers and body


class PaymentHarness(Protocol):
    @property
    def provider(self) -> PaymentProvider: ...

    @property
    def now(self) -> datetime:
        """The time the harness's provider lives at (webhooks are verified at it)."""
        ...

    async def pay(self, session: CheckoutSession) -> None:
        """The customer completes the checkout with a card that works."""
        ...

    async def decline(self, session: CheckoutSession) -> None:
        """The customer's card is declined (or they abandon the checkout)."""
        ...

    async def fail_payment(self, provider_subscription_id: str) -> None:
        """The subscription's next charge fails: its period ends now, the renewal
        invoice's payment fails and the subscription becomes past_due."""
        ...

    async def recover_payment(self, provider_subscription_id: str) -> None:
        """The owed invoice is paid: the subscription is active again."""
        ...

    async def renew(self, provider_subscription_id: str) -> None:
        """The period ends now and the renewal is paid."""
        ...

    def webhooks(self) -> list[Delivery]:
        """Every webhook the provider sent since the last call, oldest first."""
        ...

    def sign(self, body: bytes, *, at: datetime, event_id: str = "evt_contract") -> dict[str, str]:
        """Headers signing ``body`` as the provider would at ``at``."""
        ...

    def unknown_event(self) -> bytes:
        """A well-formed event body of a type billing does not use."""
        ...

    def usage_total(self, customer_id: str, meter: str) -> int:
        """The quantity of ``meter`` the provider has counted for the customer."""
        ...

    def fail_next(self, status: int) -> None:
        """The provider answers the next API call with HTTP ``status``."""
        ...


def _spec(key: str, amount: int, interval: BillingInterval | None, per_seat: bool) -> PriceSpec:
    return PriceSpec(
        key=key,
        name=key.split(":")[1].title(),
        amount=amount,
        currency="USD",
        interval=interval,
        per_seat=per_seat,
        fingerprint=f"{amount}:{interval}:{per_seat}",
    )


PRO_MONTH = plan_price_key("pro", "month", "USD")
PRO_YEAR = plan_price_key("pro", "year", "USD")
BUSINESS_MONTH = plan_price_key("business", "month", "USD")
CREDITS = product_price_key("credits_1000", "USD")
SPECS = [
    _spec(PRO_MONTH, 1_500, BillingInterval.MONTH, True),
    _spec(PRO_YEAR, 15_000, BillingInterval.YEAR, True),
    _spec(BUSINESS_MONTH, 4_000, BillingInterval.MONTH, True),
    _spec(CREDITS, 1_000, None, False),
]


class PaymentProviderContract:
    """Subclass with a ``payments`` fixture (a ``PaymentHarness``)."""

    # Helpers

    async def prices(self, payments: PaymentHarness) -> dict[str, ProviderPrice]:
        synced = await payments.provider.sync_prices(SPECS, {})
        return {price.key: price for price in synced}

    async def customer(self, payments: PaymentHarness, workspace: str = "ws_contract") -> str:
        return await payments.provider.create_customer(
            workspace, name="Contract Co", email="billing@example.com", idempotency_key=workspace
        )

    def parsed(self, payments: PaymentHarness) -> list[BillingWebhook]:
        provider = payments.provider
        return [
            provider.parse_webhook(headers, body, now=payments.now)
            for headers, body in payments.webhooks()
        ]

    async def subscribed(
        self, payments: PaymentHarness, *, key: str = PRO_MONTH, quantity: int = 3
    ) -> tuple[str, str, dict[str, ProviderPrice]]:
        """A paid subscription: (customer id, provider subscription id, prices)."""
        prices = await self.prices(payments)
        customer = await self.customer(payments)
        session = await payments.provider.create_checkout(
            self.request(customer, prices[key], quantity=quantity)
        )
        await payments.pay(session)
        states = [e.subscription for e in self.parsed(payments) if e.subscription is not None]
        assert states, "paying a checkout sends the subscription's webhook"
        return customer, states[-1].provider_subscription_id, prices

    def request(
        self,
        customer: str,
        price: ProviderPrice,
        *,
        quantity: int = 1,
        mode: CheckoutMode = CheckoutMode.SUBSCRIPTION,
        key: str = "checkout-1",
    ) -> CheckoutRequest:
        return CheckoutRequest(
            workspace_id="ws_contract",
            customer_id=customer,
            mode=mode,
            price=price,
            quantity=quantity,
            success_url="http://127.0.0.1:8000/billing/done",
            cancel_url="http://127.0.0.1:8000/billing/canceled",
            idempotency_key=key,
        )

    # Catalog

    async def test_sync_creates_one_price_per_spec_and_is_idempotent(
        self, payments: PaymentHarness
    ) -> None:
        first = await payments.provider.sync_prices(SPECS, {})
        assert sorted(p.key for p in first) == sorted(s.key for s in SPECS)
        assert len({p.provider_price_id for p in first}) == len(SPECS)
        known = {p.key: p for p in first}
        again = await payments.provider.sync_prices(SPECS, known)
        assert {p.key: p.provider_price_id for p in again} == {
            p.key: p.provider_price_id for p in first
        }

    async def test_a_changed_price_gets_a_new_provider_price(
        self, payments: PaymentHarness
    ) -> None:
        first = {p.key: p for p in await payments.provider.sync_prices(SPECS, {})}
        dearer = [
            msgspec.structs.replace(s, amount=1_900, fingerprint="1900")
            if s.key == PRO_MONTH
            else s
            for s in SPECS
        ]
        second = {p.key: p for p in await payments.provider.sync_prices(dearer, first)}
        assert second[PRO_MONTH].provider_price_id != first[PRO_MONTH].provider_price_id
        assert second[PRO_MONTH].fingerprint == "1900"
        assert second[PRO_YEAR].provider_price_id == first[PRO_YEAR].provider_price_id

    # Customers and checkout

    async def test_creating_a_customer_twice_with_one_key_gives_one_customer(
        self, payments: PaymentHarness
    ) -> None:
        assert await self.customer(payments) == await self.customer(payments)
        assert await self.customer(payments, "ws_other") != await self.customer(payments)

    async def test_a_paid_subscription_checkout_sends_an_active_subscription(
        self, payments: PaymentHarness
    ) -> None:
        prices = await self.prices(payments)
        customer = await self.customer(payments)
        session = await payments.provider.create_checkout(
            self.request(customer, prices[PRO_MONTH], quantity=3)
        )
        assert session.url.startswith(("http://", "https://"))
        assert session.id
        await payments.pay(session)
        events = self.parsed(payments)
        states = [e.subscription for e in events if e.subscription is not None]
        assert states
        state = max(states, key=lambda s: s.provider_version)
        assert state.status is SubscriptionStatus.ACTIVE
        assert state.price_id == prices[PRO_MONTH].provider_price_id
        assert state.quantity == 3
        assert state.customer_id == customer
        assert state.workspace_id == "ws_contract"
        assert state.current_period_start is not None
        assert state.current_period_end is not None
        assert state.current_period_end > state.current_period_start
        assert all(e.provider == payments.provider.name for e in events)
        assert len({e.event_id for e in events}) == len(events)

    async def test_a_declined_checkout_creates_no_active_subscription(
        self, payments: PaymentHarness
    ) -> None:
        prices = await self.prices(payments)
        customer = await self.customer(payments)
        session = await payments.provider.create_checkout(self.request(customer, prices[PRO_MONTH]))
        await payments.decline(session)
        states = [e.subscription for e in self.parsed(payments) if e.subscription is not None]
        assert all(state.status is not SubscriptionStatus.ACTIVE for state in states)

    async def test_a_one_off_checkout_sends_a_payment(self, payments: PaymentHarness) -> None:
        prices = await self.prices(payments)
        customer = await self.customer(payments)
        session = await payments.provider.create_checkout(
            self.request(customer, prices[CREDITS], quantity=2, mode=CheckoutMode.PAYMENT)
        )
        await payments.pay(session)
        paid = [e.payment for e in self.parsed(payments) if e.kind is WebhookKind.PAYMENT]
        assert len(paid) == 1
        payment = paid[0]
        assert payment is not None
        assert payment.price_id == prices[CREDITS].provider_price_id
        assert payment.quantity == 2
        assert (payment.amount, payment.currency) == (2_000, "USD")
        assert payment.workspace_id == "ws_contract"

    async def test_the_portal_answers_a_url(self, payments: PaymentHarness) -> None:
        customer = await self.customer(payments)
        portal = await payments.provider.create_portal(customer, return_url="http://127.0.0.1/x")
        assert portal.url.startswith(("http://", "https://"))

    # Changing a subscription

    async def test_fetch_answers_the_current_state(self, payments: PaymentHarness) -> None:
        customer, sub_id, prices = await self.subscribed(payments)
        state = await payments.provider.fetch_subscription(sub_id)
        assert state.provider_subscription_id == sub_id
        assert state.customer_id == customer
        assert state.status is SubscriptionStatus.ACTIVE
        assert state.price_id == prices[PRO_MONTH].provider_price_id

    async def test_an_upgrade_moves_the_price_and_a_later_view_is_newer(
        self, payments: PaymentHarness
    ) -> None:
        _, sub_id, prices = await self.subscribed(payments)
        before = await payments.provider.fetch_subscription(sub_id)
        after = await payments.provider.change_plan(
            sub_id, prices[BUSINESS_MONTH], quantity=10, prorate=True, idempotency_key="up-1"
        )
        assert after.price_id == prices[BUSINESS_MONTH].provider_price_id
        assert after.quantity == 10
        assert after.provider_version > before.provider_version
        again = await payments.provider.change_plan(
            sub_id, prices[BUSINESS_MONTH], quantity=10, prorate=True, idempotency_key="up-1"
        )
        assert again.price_id == after.price_id

    async def test_a_downgrade_moves_the_price_without_proration(
        self, payments: PaymentHarness
    ) -> None:
        _, sub_id, prices = await self.subscribed(payments, key=BUSINESS_MONTH, quantity=10)
        after = await payments.provider.change_plan(
            sub_id, prices[PRO_MONTH], quantity=3, prorate=False, idempotency_key="down-1"
        )
        assert after.price_id == prices[PRO_MONTH].provider_price_id
        assert after.status is SubscriptionStatus.ACTIVE

    async def test_cancel_at_period_end_then_resume(self, payments: PaymentHarness) -> None:
        _, sub_id, _ = await self.subscribed(payments)
        scheduled = await payments.provider.cancel(sub_id, at_period_end=True, idempotency_key="c1")
        assert scheduled.cancel_at_period_end
        assert scheduled.status is SubscriptionStatus.ACTIVE
        resumed = await payments.provider.resume(sub_id, idempotency_key="r1")
        assert not resumed.cancel_at_period_end
        assert resumed.provider_version > scheduled.provider_version

    async def test_cancel_now_ends_the_subscription(self, payments: PaymentHarness) -> None:
        _, sub_id, _ = await self.subscribed(payments)
        canceled = await payments.provider.cancel(sub_id, at_period_end=False, idempotency_key="c2")
        assert canceled.status is SubscriptionStatus.CANCELED
        fetched = await payments.provider.fetch_subscription(sub_id)
        assert fetched.status is SubscriptionStatus.CANCELED

    async def test_quantity_changes(self, payments: PaymentHarness) -> None:
        _, sub_id, _ = await self.subscribed(payments)
        state = await payments.provider.set_quantity(sub_id, 7, idempotency_key="q1")
        assert state.quantity == 7
        assert (await payments.provider.fetch_subscription(sub_id)).quantity == 7

    # Payments failing and recovering

    async def test_a_failed_renewal_makes_the_subscription_past_due_then_recovery(
        self, payments: PaymentHarness
    ) -> None:
        _, sub_id, _ = await self.subscribed(payments)
        await payments.fail_payment(sub_id)
        events = self.parsed(payments)
        assert any(e.payment_failed for e in events)
        states = [e.subscription for e in events if e.subscription is not None]
        if states:  # some providers put the state in the invoice event, others apart
            latest = max(states, key=lambda s: s.provider_version)
            assert latest.status is SubscriptionStatus.PAST_DUE
        assert (await payments.provider.fetch_subscription(sub_id)).status in {
            SubscriptionStatus.PAST_DUE,
            SubscriptionStatus.UNPAID,
        }
        await payments.recover_payment(sub_id)
        self.parsed(payments)
        assert (
            await payments.provider.fetch_subscription(sub_id)
        ).status is SubscriptionStatus.ACTIVE

    async def test_a_renewal_moves_the_period_on(self, payments: PaymentHarness) -> None:
        _, sub_id, _ = await self.subscribed(payments)
        before = await payments.provider.fetch_subscription(sub_id)
        await payments.renew(sub_id)
        after = await payments.provider.fetch_subscription(sub_id)
        assert after.current_period_end is not None
        assert before.current_period_end is not None
        assert after.current_period_end > before.current_period_end
        assert after.provider_version > before.provider_version

    # Invoices

    async def test_invoices_list_the_paid_first_invoice(self, payments: PaymentHarness) -> None:
        customer, sub_id, _ = await self.subscribed(payments)
        invoices = await payments.provider.list_invoices(customer)
        assert invoices
        invoice = invoices[0]
        assert invoice.customer_id == customer
        assert invoice.status is InvoiceStatus.PAID
        assert invoice.currency == "USD"
        assert invoice.total == invoice.amount_paid > 0
        assert invoice.provider_subscription_id == sub_id

    # Usage

    async def test_usage_with_one_key_is_counted_once(self, payments: PaymentHarness) -> None:
        customer, sub_id, _ = await self.subscribed(payments)
        record = UsageRecord(
            idempotency_key="usage-1",
            customer_id=customer,
            provider_subscription_id=sub_id,
            meter="api_calls",
            quantity=40,
            timestamp=payments.now - timedelta(minutes=1),
        )
        other = msgspec.structs.replace(record, idempotency_key="usage-2", quantity=2)
        await payments.provider.report_usage([record, other])
        await payments.provider.report_usage([record])
        assert payments.usage_total(customer, "api_calls") == 42

    # Webhooks

    async def test_a_delivery_verifies_and_its_redelivery_has_the_same_event_id(
        self, payments: PaymentHarness
    ) -> None:
        await self.subscribed(payments)
        await payments.renew(await self.latest_subscription_id(payments))
        deliveries = payments.webhooks()
        assert deliveries
        headers, body = deliveries[-1]
        first = payments.provider.parse_webhook(headers, body, now=payments.now)
        again = payments.provider.parse_webhook(dict(headers), body, now=payments.now)
        assert first.event_id == again.event_id

    async def latest_subscription_id(self, payments: PaymentHarness) -> str:
        customer = await self.customer(payments)
        invoices = await payments.provider.list_invoices(customer)
        sub_id = invoices[0].provider_subscription_id
        assert sub_id is not None
        return sub_id

    async def test_a_tampered_body_is_refused(self, payments: PaymentHarness) -> None:
        body = payments.unknown_event()
        headers = payments.sign(body, at=payments.now)
        with pytest.raises(InvalidBillingWebhookError):
            payments.provider.parse_webhook(headers, body + b" ", now=payments.now)

    async def test_a_wrong_signature_is_refused(self, payments: PaymentHarness) -> None:
        body = payments.unknown_event()
        headers = payments.sign(body, at=payments.now)
        other = payments.sign(body + b"x", at=payments.now)
        mixed = {**headers, **{k: v for k, v in other.items() if "signature" in k.lower()}}
        with pytest.raises(InvalidBillingWebhookError):
            payments.provider.parse_webhook(mixed, body, now=payments.now)

    async def test_missing_headers_are_refused(self, payments: PaymentHarness) -> None:
        with pytest.raises(InvalidBillingWebhookError):
            payments.provider.parse_webhook({}, payments.unknown_event(), now=payments.now)

    async def test_a_stale_signature_is_refused(self, payments: PaymentHarness) -> None:
        body = payments.unknown_event()
        headers = payments.sign(body, at=payments.now - timedelta(minutes=10))
        with pytest.raises(InvalidBillingWebhookError) as refused:
            payments.provider.parse_webhook(headers, body, now=payments.now)
        assert refused.value.reason == "stale"

    async def test_headers_are_matched_whatever_their_case(self, payments: PaymentHarness) -> None:
        body = payments.unknown_event()
        headers = {k.upper(): v for k, v in payments.sign(body, at=payments.now).items()}
        assert payments.provider.parse_webhook(headers, body, now=payments.now).event_id

    async def test_an_unknown_type_is_verified_and_ignored(self, payments: PaymentHarness) -> None:
        body = payments.unknown_event()
        event = payments.provider.parse_webhook(
            payments.sign(body, at=payments.now), body, now=payments.now
        )
        assert event.kind is WebhookKind.IGNORED
        assert event.event_id
        assert event.type

    # Failures

    @pytest.mark.parametrize("status", [429, 500, 503])
    async def test_a_provider_outage_is_unavailable(
        self, payments: PaymentHarness, status: int
    ) -> None:
        customer = await self.customer(payments)
        payments.fail_next(status)
        with pytest.raises(PaymentProviderUnavailableError):
            await payments.provider.create_portal(customer, return_url="http://127.0.0.1/x")

    async def test_a_refused_request_is_rejected(self, payments: PaymentHarness) -> None:
        customer = await self.customer(payments)
        payments.fail_next(400)
        with pytest.raises(PaymentProviderRejectedError):
            await payments.provider.create_portal(customer, return_url="http://127.0.0.1/x")

    async def test_an_unknown_subscription_is_rejected(self, payments: PaymentHarness) -> None:
        with pytest.raises(PaymentProviderRejectedError):
            await payments.provider.fetch_subscription("sub_does_not_exist")
