"""The Stripe adapter, with the real ``stripe`` SDK, against the local Stripe stand-in:
the ``PaymentProvider`` conformance suite, then what is particular to Stripe."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest
import stripe

from adapters.stripe import StripePaymentProvider, StripeWebhookVerifier, read_event
from contracts.ports.payment_provider import (
    CREDITS,
    PRO_MONTH,
    SPECS,
    Delivery,
    PaymentHarness,
    PaymentProviderContract,
)
from core.billing import SubscriptionStatus
from core.billing.errors import (
    InvalidBillingWebhookError,
    PaymentProviderRejectedError,
    PaymentProviderUnavailableError,
)
from core.billing.payments import (
    CheckoutMode,
    CheckoutSession,
    PaymentProvider,
    WebhookKind,
)
from entrypoints.testing.stripe_standin import DEFAULT_WEBHOOK_SECRET, StripeStandin

# stripe 16.1's HTTPXClient posts its form body with httpx's deprecated ``data=<str>``.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

API_KEY = "sk_test_51NinefoldSup3rSecretKeyThatMustNeverLeak0000"
OTHER_SECRET = "whsec_anotherEndpointSecretThatIsNotOurs"


class StripeHarness:
    """``PaymentHarness`` over the stand-in: the stand-in is Stripe's back office."""

    def __init__(self, standin: StripeStandin) -> None:
        self.standin = standin
        self._provider = StripePaymentProvider(
            api_key=API_KEY,
            webhook_secret=standin.webhook_secret,
            base_url=standin.url,
            clock=lambda: standin.now,
        )

    @property
    def provider(self) -> PaymentProvider:
        return self._provider

    @property
    def now(self) -> datetime:
        return self.standin.now

    async def pay(self, session: CheckoutSession) -> None:
        self.standin.pay(session.id)

    async def decline(self, session: CheckoutSession) -> None:
        self.standin.decline(session.id)

    async def fail_payment(self, provider_subscription_id: str) -> None:
        self.standin.fail_payment(provider_subscription_id)

    async def recover_payment(self, provider_subscription_id: str) -> None:
        self.standin.recover_payment(provider_subscription_id)

    async def renew(self, provider_subscription_id: str) -> None:
        self.standin.renew(provider_subscription_id)

    def webhooks(self) -> list[Delivery]:
        return self.standin.webhooks()

    def sign(self, body: bytes, *, at: datetime, event_id: str = "evt_contract") -> dict[str, str]:
        return self.standin.sign(body, at)

    def unknown_event(self) -> bytes:
        return self.standin.event_body(
            "customer.tax_id.created",
            {"id": "txi_contract", "object": "tax_id", "type": "eu_vat", "value": "DE123456789"},
        )

    def usage_total(self, customer_id: str, meter: str) -> int:
        return self.standin.usage_total(customer_id, meter)

    def fail_next(self, status: int) -> None:
        self.standin.fail_next(status)


@pytest.fixture
def standin() -> Iterator[StripeStandin]:
    with StripeStandin(api_key=API_KEY) as running:
        yield running


@pytest.fixture
def harness(standin: StripeStandin) -> StripeHarness:
    return StripeHarness(standin)


@pytest.fixture
async def provider(harness: StripeHarness) -> AsyncIterator[StripePaymentProvider]:
    yield harness._provider
    await harness._provider.aclose()


class TestStripePaymentProvider(PaymentProviderContract):
    @pytest.fixture
    def payments(self, harness: StripeHarness) -> PaymentHarness:
        return harness


# Signatures, with the SDK's own signer


def stripe_header(body: bytes, secret: str, at: datetime) -> str:
    header: str = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=int(at.timestamp())
    )
    return header


def test_a_header_made_by_the_sdk_verifies_and_one_for_another_secret_does_not(
    standin: StripeStandin,
) -> None:
    verifier = StripeWebhookVerifier(DEFAULT_WEBHOOK_SECRET)
    body = standin.event_body("customer.created", {"id": "cus_1", "object": "customer"})
    now = standin.now

    ours = stripe_header(body, DEFAULT_WEBHOOK_SECRET, now)
    assert verifier.verify({"Stripe-Signature": ours}, body, now) == int(now.timestamp())
    with pytest.raises(InvalidBillingWebhookError) as refused:
        verifier.verify({"Stripe-Signature": stripe_header(body, OTHER_SECRET, now)}, body, now)
    assert refused.value.reason == "bad-signature"
    # And the SDK's verifier accepts what the stand-in signs.
    stripe.WebhookSignature.verify_header(
        body.decode(),
        standin.sign(body, now)["Stripe-Signature"],
        DEFAULT_WEBHOOK_SECRET,
        tolerance=None,
    )


def test_a_rotated_secret_sends_two_signatures_and_either_verifies(standin: StripeStandin) -> None:
    body = standin.event_body("customer.created", {"id": "cus_1", "object": "customer"})
    now = standin.now
    old, new = (
        stripe_header(body, OTHER_SECRET, now),
        stripe_header(body, DEFAULT_WEBHOOK_SECRET, now),
    )
    both = f"{old},{new.split(',', 1)[1]}"
    assert both.count("v1=") == 2

    assert StripeWebhookVerifier(DEFAULT_WEBHOOK_SECRET).verify(
        {"stripe-signature": both}, body, now
    )
    assert StripeWebhookVerifier(OTHER_SECRET).verify({"stripe-signature": both}, body, now)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("", "missing-header"),
        ("v1=abc", "malformed"),
        ("t=soon,v1=abc", "malformed"),
        ("t=1,t=2,v1=abc", "malformed"),
    ],
)
def test_unreadable_headers_are_refused_with_their_reason(header: str, reason: str) -> None:
    verifier = StripeWebhookVerifier(DEFAULT_WEBHOOK_SECRET)
    headers = {"Stripe-Signature": header} if header else {}
    with pytest.raises(InvalidBillingWebhookError) as refused:
        verifier.verify(headers, b"{}", datetime.now().astimezone())
    assert refused.value.reason == reason


def test_a_signature_from_the_future_is_refused_as_stale(standin: StripeStandin) -> None:
    body = standin.event_body("customer.created", {"id": "cus_1", "object": "customer"})
    later = standin.now + timedelta(minutes=6)
    with pytest.raises(InvalidBillingWebhookError) as refused:
        StripeWebhookVerifier(DEFAULT_WEBHOOK_SECRET).verify(
            standin.sign(body, later), body, standin.now
        )
    assert refused.value.reason == "stale"
    assert StripeWebhookVerifier(DEFAULT_WEBHOOK_SECRET).verify(
        standin.sign(body, standin.now + timedelta(minutes=4)), body, standin.now
    )


def test_a_verified_body_that_is_not_an_event_is_malformed(standin: StripeStandin) -> None:
    provider = StripeHarness(standin).provider
    body = b'{"hello": "world"}'
    with pytest.raises(InvalidBillingWebhookError) as refused:
        provider.parse_webhook(standin.sign(body, standin.now), body, now=standin.now)
    assert refused.value.reason == "malformed"


def test_a_secret_without_its_prefix_stops_the_start() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        StripePaymentProvider(api_key=API_KEY, webhook_secret="not-a-secret")


# What goes over the wire


async def test_mutating_calls_send_our_idempotency_key_the_api_version_and_the_key(
    harness: StripeHarness, standin: StripeStandin, provider: StripePaymentProvider
) -> None:
    prices = {p.key: p for p in await provider.sync_prices(SPECS, {})}
    customer = await provider.create_customer(
        "ws_1", name="Ada", email="ada@example.com", idempotency_key="customer-ws_1"
    )
    session = await provider.create_checkout(
        PaymentProviderContract().request(customer, prices[PRO_MONTH], quantity=2, key="co-1")
    )
    standin.pay(session.id)
    sub_id = [e for e in harness.webhooks() if b'"customer.subscription.created"' in e[1]]
    assert sub_id
    sub = json.loads(sub_id[0][1])["data"]["object"]["id"]
    await provider.set_quantity(sub, 4, idempotency_key="seats-1")
    await provider.cancel(sub, at_period_end=False, idempotency_key="cancel-1")

    sent = {
        (r.method, r.path): r.headers.get("idempotency-key")
        for r in standin.requests
        if r.method != "GET"
    }
    assert sent[("POST", "/v1/customers")] == "customer-ws_1"
    assert sent[("POST", "/v1/checkout/sessions")] == "co-1"
    assert sent[("POST", f"/v1/subscriptions/{sub}")] == "seats-1"
    assert sent[("DELETE", f"/v1/subscriptions/{sub}")] == "cancel-1"
    assert sent[("POST", "/v1/prices")] == f"ninefold-price-{CREDITS}-1000:None:False"
    assert all(r.headers["stripe-version"] == stripe.api_version for r in standin.requests)
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in standin.requests)
    checkout = next(r for r in standin.requests if r.path == "/v1/checkout/sessions")
    assert checkout.params["line_items"] == [
        {"price": prices[PRO_MONTH].provider_price_id, "quantity": "2"}
    ]
    assert checkout.params["client_reference_id"] == "ws_contract"
    assert checkout.params["subscription_data"]["metadata"]["workspace_id"] == "ws_contract"
    assert checkout.params["metadata"]["ninefold_quantity"] == "2"


async def test_prices_carry_lookup_keys_and_a_replaced_price_is_archived(
    standin: StripeStandin, provider: StripePaymentProvider
) -> None:
    first = {p.key: p for p in await provider.sync_prices(SPECS, {})}
    price = standin.objects[first[PRO_MONTH].provider_price_id]
    assert price["lookup_key"] == PRO_MONTH
    assert price["recurring"]["interval"] == "month"
    assert (price["unit_amount"], price["currency"]) == (1_500, "usd")
    assert standin.objects[first[CREDITS].provider_price_id]["recurring"] is None
    assert (
        first[PRO_MONTH].provider_product_id
        == first[PRO_MONTH.replace("month", "year")].provider_product_id
    )

    dearer = [
        s
        if s.key != PRO_MONTH
        else type(s)(
            **{
                **{f: getattr(s, f) for f in s.__struct_fields__},
                "amount": 1_900,
                "fingerprint": "1900",
            }
        )
        for s in SPECS
    ]
    second = {p.key: p for p in await provider.sync_prices(dearer, first)}
    new = standin.objects[second[PRO_MONTH].provider_price_id]
    assert (new["lookup_key"], new["unit_amount"]) == (PRO_MONTH, 1_900)
    assert standin.objects[first[PRO_MONTH].provider_price_id]["active"] is False
    assert standin.objects[first[PRO_MONTH].provider_price_id]["lookup_key"] is None


async def test_a_sync_whose_result_was_lost_adopts_what_stripe_has(
    standin: StripeStandin, provider: StripePaymentProvider
) -> None:
    first = await provider.sync_prices(SPECS, {})
    again = await provider.sync_prices(SPECS, {})  # nothing recorded: found by lookup key
    assert [p.provider_price_id for p in again] == [p.provider_price_id for p in first]
    assert sum(1 for o in standin.objects.values() if o["object"] == "price") == len(SPECS)


async def test_a_one_off_checkout_puts_the_metadata_on_the_payment(
    harness: StripeHarness, standin: StripeStandin, provider: StripePaymentProvider
) -> None:
    prices = {p.key: p for p in await provider.sync_prices(SPECS, {})}
    customer = await provider.create_customer("ws_1", name="Ada", email=None, idempotency_key="k")
    request = PaymentProviderContract().request(
        customer, prices[CREDITS], quantity=3, mode=CheckoutMode.PAYMENT
    )
    session = await provider.create_checkout(request)
    standin.pay(session.id)
    events = [provider.parse_webhook(h, b, now=standin.now) for h, b in harness.webhooks()]
    [payment] = [e.payment for e in events if e.payment is not None]
    assert (payment.quantity, payment.amount, payment.currency) == (3, 3_000, "USD")
    assert payment.provider_payment_id.startswith("pi_")
    intent = next(o for o in standin.objects.values() if o["object"] == "payment_intent")
    assert intent["metadata"]["workspace_id"] == "ws_contract"


async def test_subscription_events_read_the_period_invoice_and_workspace(
    harness: StripeHarness, standin: StripeStandin, provider: StripePaymentProvider
) -> None:
    _, sub_id, _ = await PaymentProviderContract().subscribed(harness)
    await harness.fail_payment(sub_id)
    events = [provider.parse_webhook(h, b, now=standin.now) for h, b in harness.webhooks()]
    [failed] = [e for e in events if e.payment_failed]
    assert failed.kind is WebhookKind.INVOICE
    assert failed.invoice is not None
    assert failed.invoice.provider_subscription_id == sub_id
    assert failed.invoice.workspace_id == failed.workspace_id == "ws_contract"
    assert (failed.invoice.amount_due, failed.invoice.amount_paid) == (4_500, 0)
    assert failed.invoice.hosted_url
    assert failed.invoice.pdf_url
    assert failed.invoice.number
    assert failed.invoice.period_start is not None
    assert failed.invoice.period_end is not None
    [state] = [e.subscription for e in events if e.subscription is not None]
    assert state.status is SubscriptionStatus.PAST_DUE
    assert state.current_period_start == failed.invoice.period_start


def test_an_unreadable_subscription_event_is_kept_as_ignored(standin: StripeStandin) -> None:
    body = standin.event_body(
        "customer.subscription.updated",
        {"id": "sub_1", "object": "subscription", "status": "a_status_stripe_adds_later"},
    )
    event = read_event(body)
    assert event.kind is WebhookKind.IGNORED
    assert event.type == "customer.subscription.updated"


def test_older_api_versions_are_read_too(standin: StripeStandin) -> None:
    """Before 2025-03-31 the period was on the subscription and an invoice named its
    subscription at the top level."""
    subscription = {
        "id": "sub_1", "object": "subscription", "status": "past_due", "customer": "cus_1",
        "currency": "usd", "current_period_start": 1_700_000_000,
        "current_period_end": 1_702_592_000, "cancel_at_period_end": False,
        "metadata": {"workspace_id": "ws_1"},
        "items": {"data": [{"price": {"id": "price_1", "currency": "usd"}, "quantity": 2}]},
    }  # fmt: skip
    state = read_event(
        standin.event_body("customer.subscription.updated", subscription)
    ).subscription
    assert state is not None
    assert state.current_period_end is not None
    assert state.current_period_end.timestamp() == 1_702_592_000
    assert (state.status, state.quantity, state.workspace_id) == (
        SubscriptionStatus.PAST_DUE, 2, "ws_1",
    )  # fmt: skip
    invoice = {
        "id": "in_1", "object": "invoice", "status": "paid", "customer": "cus_1",
        "subscription": "sub_1", "currency": "eur", "subtotal": 1000, "tax": 190,
        "total": 1190, "amount_paid": 1190, "amount_due": 1190, "created": 1_700_000_000,
        "period_start": 1_700_000_000, "period_end": 1_702_592_000,
        "subscription_details": {"metadata": {"workspace_id": "ws_1"}},
    }  # fmt: skip
    event = read_event(standin.event_body("invoice.paid", invoice))
    assert event.invoice is not None
    assert event.invoice.provider_subscription_id == "sub_1"
    assert (event.invoice.tax, event.invoice.currency, event.workspace_id) == (190, "EUR", "ws_1")
    assert event.invoice.issued_at.timestamp() == 1_700_000_000


def test_events_of_one_second_order_created_updated_deleted(standin: StripeStandin) -> None:
    def version(event_type: str) -> int:
        sub = {
            "id": "sub_1", "object": "subscription", "status": "active", "customer": "cus_1",
            "currency": "usd", "items": {"data": [{"price": {"id": "price_1"}, "quantity": 1}]},
        }  # fmt: skip
        state = read_event(standin.event_body(event_type, sub)).subscription
        assert state is not None
        return state.provider_version

    assert version("customer.subscription.created") < version("customer.subscription.updated")
    assert version("customer.subscription.updated") < version("customer.subscription.deleted")


def test_one_provider_serves_one_event_loop_after_another(standin: StripeStandin) -> None:
    """The composition root keeps one provider per process; CLI commands and test apps
    run one event loop after another."""
    provider = StripeHarness(standin).provider
    customer = asyncio.run(
        provider.create_customer("ws_1", name="A", email=None, idempotency_key="loop-1")
    )
    for _ in range(2):
        portal = asyncio.run(provider.create_portal(customer, return_url="http://127.0.0.1/x"))
        assert portal.url.startswith(standin.url)


# Failures


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_retryable_answers_are_unavailable_with_retry_after(
    standin: StripeStandin, provider: StripePaymentProvider, status: int
) -> None:
    standin.fail_next(status, headers={"Retry-After": "7"})
    with pytest.raises(PaymentProviderUnavailableError) as raised:
        await provider.fetch_subscription("sub_x")
    assert raised.value.retry_after == 7
    assert raised.value.extra["provider_status"] == status


async def test_a_conflict_or_a_should_retry_answer_is_unavailable(
    standin: StripeStandin, provider: StripePaymentProvider
) -> None:
    standin.fail_next(409)
    standin.fail_next(400, headers={"Stripe-Should-Retry": "true"})
    for _ in range(2):
        with pytest.raises(PaymentProviderUnavailableError):
            await provider.create_portal("cus_x", return_url="http://127.0.0.1/x")


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404])
async def test_refusals_are_rejected(
    standin: StripeStandin, provider: StripePaymentProvider, status: int
) -> None:
    standin.fail_next(status)
    with pytest.raises(PaymentProviderRejectedError) as raised:
        await provider.create_portal("cus_x", return_url="http://127.0.0.1/x")
    assert raised.value.extra["provider_status"] == status


async def test_an_idempotency_key_reused_for_another_request_is_rejected(
    provider: StripePaymentProvider,
) -> None:
    await provider.create_customer("ws_1", name="A", email=None, idempotency_key="same")
    with pytest.raises(PaymentProviderRejectedError, match="idempotency_error"):
        await provider.create_customer("ws_2", name="B", email=None, idempotency_key="same")


async def test_an_unreachable_stripe_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = StripePaymentProvider(
        api_key=API_KEY, webhook_secret=DEFAULT_WEBHOOK_SECRET, base_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(PaymentProviderUnavailableError, match="could not be reached"):
        await provider.create_portal("cus_x", return_url="http://127.0.0.1/x")


async def test_the_secret_key_never_appears_in_errors_or_logs(
    standin: StripeStandin, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = API_KEY[:-4] + "WXYZ"
    provider = StripePaymentProvider(
        api_key=wrong, webhook_secret=DEFAULT_WEBHOOK_SECRET, base_url=standin.url
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PaymentProviderRejectedError) as raised:
        await provider.create_customer("ws_1", name="A", email=None, idempotency_key="k")
    error = raised.value
    shown = " ".join(
        [str(error), repr(error), str(error.detail), repr(error.extra), repr(provider)]
    )
    assert "Invalid API Key" in shown
    for secret in (wrong, API_KEY, wrong[8:-4]):
        assert secret not in shown
        assert secret not in caplog.text
    assert error.__cause__ is None
    assert error.__suppress_context__
