"""The Dodo Payments adapter, with the real ``dodopayments`` SDK, against the local
stand-in: the PaymentProvider conformance suite, then what is Dodo's own."""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pydantic
import pytest
import standardwebhooks
from dodopayments import DodoPayments
from dodopayments.types import UnwrapWebhookEvent

from adapters.dodo import DodoPaymentProvider, DodoWebhookVerifier
from contracts.ports.payment_provider import (
    BUSINESS_MONTH,
    CREDITS,
    PRO_MONTH,
    SPECS,
    Delivery,
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
    InvoiceStatus,
    PaymentProvider,
    UsageRecord,
    WebhookKind,
)
from entrypoints.testing.dodo_standin import DEFAULT_WEBHOOK_SECRET, DodoStandin

API_KEY = "dodo_test_Sup3rSecretKeyThatMustNeverLeak"
OTHER_SECRET = "whsec_" + base64.b64encode(b"the-secret-before-the-rotation").decode()


class DodoHarness:
    """The ``PaymentHarness`` over the stand-in: it plays Dodo's back office."""

    def __init__(self, standin: DodoStandin, provider: DodoPaymentProvider) -> None:
        self.standin = standin
        self._provider = provider

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
        return self.standin.sign(body, at=at, msg_id=event_id)

    def unknown_event(self) -> bytes:
        return self.standin.webhook_body(
            "license_key.created",
            {
                "id": "lic_standin",
                "business_id": "bus_standin",
                "created_at": "2026-01-01T00:00:00Z",
                "customer_id": "cus_standin",
                "instances_count": 0,
                "key": "LK-0000",
                "payment_id": "pay_standin",
                "product_id": "pdt_standin",
                "status": "active",
            },
            "LicenseKey",
        )

    def usage_total(self, customer_id: str, meter: str) -> int:
        return self.standin.usage_total(customer_id, meter)

    def fail_next(self, status: int) -> None:
        self.standin.fail_next(status)


@pytest.fixture
def standin() -> Iterator[DodoStandin]:
    with DodoStandin(api_key=API_KEY, now=datetime.now(UTC).replace(microsecond=0)) as running:
        yield running


@pytest.fixture
def provider(standin: DodoStandin) -> DodoPaymentProvider:
    return DodoPaymentProvider(
        api_key=API_KEY,
        webhook_secret=DEFAULT_WEBHOOK_SECRET,
        base_url=standin.url,
        clock=lambda: standin.now,
    )


@pytest.fixture
def payments(standin: DodoStandin, provider: DodoPaymentProvider) -> DodoHarness:
    return DodoHarness(standin, provider)


class TestDodoPaymentProvider(PaymentProviderContract):
    pass


# Dodo's own


def bodies(standin: DodoStandin, path: str) -> list[dict[str, object]]:
    """The JSON bodies sent to ``path`` (POST and PATCH), oldest first."""
    return [
        json.loads(r.body)
        for r in standin.requests
        if r.path.split("?")[0] == path and r.method in ("POST", "PATCH")
    ]


async def test_a_standardwebhooks_signature_verifies(payments: DodoHarness) -> None:
    body = payments.unknown_event()
    at = payments.now
    signature = standardwebhooks.Webhook(DEFAULT_WEBHOOK_SECRET).sign(
        "msg_std_1", at, body.decode()
    )
    headers = {
        "webhook-id": "msg_std_1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    event = payments.provider.parse_webhook(headers, body, now=at)
    assert (event.event_id, event.kind) == ("msg_std_1", WebhookKind.IGNORED)


async def test_the_sdk_unwraps_what_the_standin_signs(payments: DodoHarness) -> None:
    contract = PaymentProviderContract()
    await contract.subscribed(payments)  # takes the checkout's webhooks
    sub_id = next(iter(payments.standin.subscriptions))
    await payments.provider.cancel(sub_id, at_period_end=True, idempotency_key="c")
    session = await payments.provider.create_checkout(
        contract.request(
            await contract.customer(payments),
            (await contract.prices(payments))[CREDITS],
            mode=CheckoutMode.PAYMENT,
            key="one-off",
        )
    )
    await payments.pay(session)
    deliveries = payments.standin.deliveries
    client = DodoPayments(bearer_token=API_KEY, base_url=payments.standin.url, max_retries=0)
    types = []
    for headers, body in deliveries:
        event = client.webhooks.unwrap(body.decode(), headers=headers, key=DEFAULT_WEBHOOK_SECRET)
        types.append(event.type)
        assert event.business_id
    assert {"subscription.active", "payment.succeeded", "subscription.updated"} <= set(types)
    headers, body = deliveries[0]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        client.webhooks.unwrap(body.decode() + " ", headers=headers, key=DEFAULT_WEBHOOK_SECRET)


def rotated_headers(body: bytes, at: datetime) -> dict[str, str]:
    old = standardwebhooks.Webhook(OTHER_SECRET).sign("msg_rot", at, body.decode())
    new = standardwebhooks.Webhook(DEFAULT_WEBHOOK_SECRET).sign("msg_rot", at, body.decode())
    return {
        "webhook-id": "msg_rot",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": f"{old} {new}",
    }


async def test_a_rotated_secret_with_several_signatures_verifies(payments: DodoHarness) -> None:
    body = payments.unknown_event()
    headers = rotated_headers(body, payments.now)
    assert payments.provider.parse_webhook(headers, body, now=payments.now).event_id == "msg_rot"
    old = DodoWebhookVerifier(OTHER_SECRET)
    assert old.parse(headers, body, now=payments.now).event_id == "msg_rot"
    standardwebhooks.Webhook(DEFAULT_WEBHOOK_SECRET).verify(body.decode(), headers)
    stranger = DodoWebhookVerifier("whsec_" + base64.b64encode(b"someone else").decode())
    with pytest.raises(InvalidBillingWebhookError) as refused:
        stranger.parse(headers, body, now=payments.now)
    assert refused.value.reason == "bad-signature"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-id": ""}, "missing-header"),
        ({"webhook-timestamp": "12:00"}, "malformed"),
        ({"webhook-signature": "v1a,abc"}, "bad-signature"),
        ({"webhook-signature": "v1,not-base64!"}, "bad-signature"),
    ],
)
async def test_refusals_carry_a_reason(
    payments: DodoHarness, change: dict[str, str], reason: str
) -> None:
    body = payments.unknown_event()
    headers = {**payments.sign(body, at=payments.now), **change}
    with pytest.raises(InvalidBillingWebhookError) as refused:
        payments.provider.parse_webhook(headers, body, now=payments.now)
    assert refused.value.reason == reason


async def test_a_signature_from_the_future_is_stale_and_a_bad_body_malformed(
    payments: DodoHarness,
) -> None:
    body = payments.unknown_event()
    ahead = payments.sign(body, at=payments.now + timedelta(minutes=6))
    with pytest.raises(InvalidBillingWebhookError) as refused:
        payments.provider.parse_webhook(ahead, body, now=payments.now)
    assert refused.value.reason == "stale"
    close = payments.sign(body, at=payments.now + timedelta(minutes=4))
    assert payments.provider.parse_webhook(close, body, now=payments.now).event_id
    for bad in (b"not json", b"[]", b'{"type": "payment.succeeded", "data": {}}'):
        with pytest.raises(InvalidBillingWebhookError) as refused:
            payments.provider.parse_webhook(
                payments.sign(bad, at=payments.now), bad, now=payments.now
            )
        assert refused.value.reason == "malformed"


def test_a_secret_that_is_not_base64_stops_the_start() -> None:
    with pytest.raises(ValueError, match="whsec_") as refused:
        DodoPaymentProvider(api_key=API_KEY, webhook_secret="whsec_***not base64***")
    assert "not base64" not in str(refused.value)


async def test_usage_above_1000_goes_in_calls_of_at_most_1000(payments: DodoHarness) -> None:
    customer = await PaymentProviderContract().customer(payments)
    at = payments.now - timedelta(minutes=2)
    records = [
        UsageRecord(
            idempotency_key=f"u-{n}",
            customer_id=customer,
            meter="api_calls",
            quantity=1 + n % 3,
            timestamp=at,
        )
        for n in range(2_500)
    ]
    await payments.provider.report_usage([*records, records[0]])  # a repeated key: once
    sizes = [len(b["events"]) for b in bodies(payments.standin, "/events/ingest")]  # type: ignore[arg-type]
    assert sizes == [1_000, 1_000, 500]
    assert payments.usage_total(customer, "api_calls") == sum(r.quantity for r in records)
    await payments.provider.report_usage(records)  # a retried job counts nothing twice
    assert payments.usage_total(customer, "api_calls") == sum(r.quantity for r in records)


async def test_usage_outside_dodos_time_window_is_sent_without_its_timestamp(
    payments: DodoHarness,
) -> None:
    customer = await PaymentProviderContract().customer(payments)
    now = payments.now
    record = UsageRecord(
        idempotency_key="u-late",
        customer_id=customer,
        meter="api_calls",
        quantity=5,
        timestamp=now - timedelta(hours=2),
    )
    ahead = msgspec.structs.replace(
        record, idempotency_key="u-ahead", timestamp=now + timedelta(minutes=10)
    )
    fresh = msgspec.structs.replace(
        record, idempotency_key="u-fresh", timestamp=now - timedelta(minutes=30)
    )
    await payments.provider.report_usage([record, ahead, fresh])
    [sent] = bodies(payments.standin, "/events/ingest")
    events = {e["event_id"]: e for e in sent["events"]}  # type: ignore[attr-defined]
    assert "timestamp" not in events["u-late"]
    assert events["u-late"]["metadata"]["occurred_at"] == record.timestamp.isoformat()
    assert "timestamp" not in events["u-ahead"]
    assert "timestamp" in events["u-fresh"]
    assert payments.usage_total(customer, "api_calls") == 15
    # and the stand-in refuses, as Dodo does, what the adapter avoids sending
    raw = {
        "event_id": "raw",
        "customer_id": customer,
        "event_name": "x",
        "timestamp": (now - timedelta(hours=2)).isoformat(),
    }
    async with httpx.AsyncClient(base_url=payments.standin.url) as http:
        answer = await http.post(
            "/events/ingest",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={"events": [raw]},
        )
    assert answer.status_code == 422


async def test_plan_changes_use_dodos_proration_modes(payments: DodoHarness) -> None:
    contract = PaymentProviderContract()
    _, sub_id, prices = await contract.subscribed(payments)
    await payments.provider.change_plan(
        sub_id, prices[BUSINESS_MONTH], quantity=3, prorate=True, idempotency_key="up"
    )
    await payments.provider.change_plan(
        sub_id, prices[PRO_MONTH], quantity=3, prorate=False, idempotency_key="down"
    )
    state = await payments.provider.set_quantity(sub_id, 5, idempotency_key="seats")
    await payments.provider.set_quantity(sub_id, 5, idempotency_key="seats")
    modes = [
        b["proration_billing_mode"]
        for b in bodies(payments.standin, f"/subscriptions/{sub_id}/change-plan")
    ]
    assert modes == ["prorated_immediately", "do_not_bill", "prorated_immediately"]
    assert (state.price_id, state.quantity) == (prices[PRO_MONTH].provider_price_id, 5)
    events = contract.parsed(payments)
    assert [e.type for e in events if e.kind is WebhookKind.SUBSCRIPTION].count(
        "subscription.plan_changed"
    ) == 3


async def test_a_scheduled_cancel_ends_at_the_renewal(payments: DodoHarness) -> None:
    contract = PaymentProviderContract()
    _, sub_id, _ = await contract.subscribed(payments)
    scheduled = await payments.provider.cancel(sub_id, at_period_end=True, idempotency_key="c")
    again = await payments.provider.cancel(sub_id, at_period_end=True, idempotency_key="c")
    assert again.cancel_at_period_end
    [updated] = contract.parsed(payments)  # delivered when it happened
    assert updated.subscription is not None
    assert updated.subscription.cancel_at_period_end
    await payments.renew(sub_id)
    states = [e.subscription for e in contract.parsed(payments) if e.subscription]
    latest = max(states, key=lambda s: s.provider_version)
    assert latest.status is SubscriptionStatus.CANCELED
    assert latest.ended_at is not None
    assert latest.provider_version > scheduled.provider_version
    assert [
        b.get("cancel_at_next_billing_date")
        for b in bodies(payments.standin, f"/subscriptions/{sub_id}")
    ] == [True]


async def test_a_declined_checkout_reads_as_never_paid(payments: DodoHarness) -> None:
    contract = PaymentProviderContract()
    prices = await contract.prices(payments)
    session = await payments.provider.create_checkout(
        contract.request(await contract.customer(payments), prices[PRO_MONTH])
    )
    await payments.decline(session)
    events = contract.parsed(payments)
    assert [e.type for e in events] == ["payment.failed", "subscription.failed"]
    assert all(e.payment_failed for e in events)
    failed = events[1].subscription
    assert failed is not None
    assert failed.status is SubscriptionStatus.INCOMPLETE_EXPIRED
    invoice = events[0].invoice
    assert invoice is not None
    assert invoice.status is InvoiceStatus.VOID


async def test_checkout_carries_the_customer_the_workspace_and_the_urls(
    payments: DodoHarness,
) -> None:
    contract = PaymentProviderContract()
    prices = await contract.prices(payments)
    customer = await contract.customer(payments)
    request = contract.request(customer, prices[PRO_MONTH], quantity=2)
    first = await payments.provider.create_checkout(request)
    assert await payments.provider.create_checkout(request) == first
    [sent] = bodies(payments.standin, "/checkouts")
    assert sent["customer"] == {"customer_id": customer}
    assert sent["product_cart"] == [
        {"product_id": prices[PRO_MONTH].provider_price_id, "quantity": 2}
    ]
    assert sent["metadata"] == {"workspace_id": "ws_contract"}
    assert (sent["return_url"], sent["cancel_url"]) == (request.success_url, request.cancel_url)
    assert "idempotency-key" not in payments.standin.requests[-1].headers


async def test_a_changed_price_archives_the_old_product_and_a_rerun_reuses_products(
    payments: DodoHarness,
) -> None:
    first = {p.key: p for p in await payments.provider.sync_prices(SPECS, {})}
    again = {p.key: p for p in await payments.provider.sync_prices(SPECS, {})}  # lost records
    assert again == first
    assert len(payments.standin.products) == len(SPECS)
    dearer = [
        msgspec.structs.replace(s, amount=1_900, fingerprint="1900") if s.key == PRO_MONTH else s
        for s in SPECS
    ]
    second = {p.key: p for p in await payments.provider.sync_prices(dearer, first)}
    assert first[PRO_MONTH].provider_product_id in payments.standin.archived
    product = payments.standin.products[second[PRO_MONTH].provider_product_id]
    assert product["price"]["price"] == 1_900
    assert product["price"]["payment_frequency_interval"] == "Month"
    assert product["metadata"]["ninefold_price_key"] == PRO_MONTH


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_rate_limits_and_server_errors_are_unavailable(
    payments: DodoHarness, status: int
) -> None:
    payments.fail_next(status)
    with pytest.raises(PaymentProviderUnavailableError) as raised:
        await payments.provider.fetch_subscription("sub_x")
    assert raised.value.extra["provider_status"] == status


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_rejected(payments: DodoHarness, status: int) -> None:
    payments.fail_next(status)
    with pytest.raises(PaymentProviderRejectedError) as raised:
        await payments.provider.create_portal("cus_x", return_url="http://127.0.0.1/x")
    assert raised.value.extra["provider_status"] == status
    assert "stand-in was told" in raised.value.detail


async def test_an_unreachable_dodo_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = DodoPaymentProvider(
        api_key=API_KEY, webhook_secret=DEFAULT_WEBHOOK_SECRET, base_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(PaymentProviderUnavailableError):
        await provider.create_customer("ws", name="x", email=None, idempotency_key="k")


async def test_a_dodo_that_does_not_answer_in_time_is_unavailable() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        provider = DodoPaymentProvider(
            api_key=API_KEY,
            webhook_secret=DEFAULT_WEBHOOK_SECRET,
            base_url=f"http://127.0.0.1:{port}",
        )
        provider._client = provider._client.with_options(timeout=0.3)
        with pytest.raises(PaymentProviderUnavailableError, match="timed out"):
            await provider.fetch_subscription("sub_x")


async def test_the_api_key_never_appears_in_logs_or_errors(
    payments: DodoHarness, standin: DodoStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    contract = PaymentProviderContract()
    await contract.subscribed(payments)
    errors: list[Exception] = []
    for status in (400, 401, 500):
        standin.fail_next(status)
        with pytest.raises(
            (PaymentProviderRejectedError, PaymentProviderUnavailableError)
        ) as raised:
            await payments.provider.list_invoices("cus_x")
        errors.append(raised.value)
    wrong = DodoPaymentProvider(
        api_key=API_KEY[:-1], webhook_secret=DEFAULT_WEBHOOK_SECRET, base_url=standin.url
    )
    with pytest.raises(PaymentProviderRejectedError) as refused:
        await wrong.fetch_subscription("sub_x")
    errors.append(refused.value)
    assert "UNAUTHORIZED" in refused.value.detail
    texts = [caplog.text, repr(payments.provider), repr(wrong)]
    texts += [f"{e} {e.args} {getattr(e, 'extra', '')} {e.__cause__!r}" for e in errors]
    assert standin.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    for text in texts:
        assert API_KEY not in text
        assert API_KEY[:-1] not in text


async def test_the_standins_answers_and_webhooks_validate_against_the_sdks_models(
    payments: DodoHarness, standin: DodoStandin
) -> None:
    contract = PaymentProviderContract()
    customer, sub_id, prices = await contract.subscribed(payments)
    await payments.provider.change_plan(
        sub_id, prices[BUSINESS_MONTH], quantity=4, prorate=True, idempotency_key="up"
    )
    await payments.fail_payment(sub_id)
    await payments.recover_payment(sub_id)
    strict = DodoPayments(
        bearer_token=API_KEY, base_url=standin.url, max_retries=0, _strict_response_validation=True
    )
    strict.customers.retrieve(customer)
    assert strict.customers.list(email="billing@example.com").items
    strict.products.retrieve(prices[CREDITS].provider_product_id)
    assert strict.products.list().items
    strict.subscriptions.retrieve(sub_id)
    strict.subscriptions.update(sub_id, cancel_at_next_billing_date=True)
    strict.subscriptions.change_plan(
        sub_id,
        product_id=prices[PRO_MONTH].provider_price_id,
        quantity=1,
        proration_billing_mode="do_not_bill",
    )
    [payment, *_] = strict.payments.list(customer_id=customer).items
    strict.payments.retrieve(payment.payment_id)
    strict.checkout_sessions.retrieve(standin.subscriptions[sub_id]["_checkout"])
    strict.customers.customer_portal.create(customer)
    adapter = pydantic.TypeAdapter(UnwrapWebhookEvent)
    for _, body in standin.deliveries:
        adapter.validate_json(body)
