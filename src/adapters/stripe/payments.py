"""``StripePaymentProvider``: the ``PaymentProvider`` port on Stripe's API, through the
official SDK's async calls (``stripe.StripeClient``, ``client.v1.…_async``, httpx).

The client: ``max_network_retries=0`` (our jobs retry, by their own policy), a
``timeout_seconds`` timeout, every base address (``api``, ``meter_events``, ``files``,
``connect``) on ``base_url`` when one is set (tests: the local stand-in,
``entrypoints.testing.stripe_standin``), the API version the SDK is pinned to unless
``api_version`` says otherwise. An httpx connection pool cannot outlive its event loop,
so the provider (a process-wide singleton) keeps one SDK client per running loop.

Errors are translated in ``adapters.stripe.errors``.

Idempotency: every call that creates or changes something sends our
``idempotency_key`` as Stripe's ``Idempotency-Key`` (Stripe keeps keys 24 hours and
answers a repeat with the first answer). ``sync_prices`` and ``report_usage`` derive
deterministic keys (``ninefold-product-…``, ``ninefold-price-{key}-{fingerprint}``,
``ninefold-usage-…``), so a retried sync or batch creates nothing twice.

``provider_version`` of a state read from an API answer is the adapter clock's ``now``
in microseconds, kept strictly increasing within one provider, so two reads in the same
instant still order.

Calls (the rest is in ``docs/providers/stripe.md``):

- ``create_checkout``: a Checkout Session (``mode``, ``customer``, one line item,
  ``client_reference_id`` = workspace, ``metadata`` with the workspace, the price and
  the quantity, ``subscription_data.metadata`` / ``trial_period_days``, or
  ``payment_intent_data.metadata`` for a one-off purchase).
- ``change_plan``: the subscription's first item moves to the price, with
  ``proration_behavior=always_invoice`` and ``payment_behavior=pending_if_incomplete``
  when prorating (an upgrade is charged now, and applied only once paid), ``none``
  otherwise (the new price is billed from the next period).
- ``set_quantity``: ``proration_behavior=create_prorations`` (the prorated difference is
  on the next invoice).
- ``cancel``: ``cancel_at_period_end=true``, or ``DELETE /v1/subscriptions/{id}`` now
  (a repeat on an already canceled subscription answers its state).
- ``report_usage``: one Billing Meter Event per record (``event_name`` = our meter,
  ``payload.stripe_customer_id``, ``payload.value``, ``identifier`` = the record's key,
  hashed when longer than Stripe's 100 characters), ``usage_concurrency`` at a time.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import stripe

from adapters.stripe.errors import translate
from adapters.stripe.objects import (
    META_PRICE,
    META_PRICE_KEY,
    META_QUANTITY,
    META_WORKSPACE,
    UnreadableObjectError,
    instant,
    read_invoice,
    read_subscription,
)
from adapters.stripe.prices import PriceSync, bounded_key
from adapters.stripe.webhooks import PROVIDER, StripeWebhookVerifier, read_event
from core.billing import SubscriptionStatus
from core.billing.errors import PaymentProviderRejectedError
from core.billing.payments import (
    BillingWebhook,
    CheckoutMode,
    CheckoutRequest,
    CheckoutSession,
    PortalSession,
    PriceSpec,
    ProviderInvoice,
    ProviderPrice,
    SubscriptionState,
    UsageRecord,
)
from core.kernel.events import AwareDatetime

T = TypeVar("T")
MAX_IDENTIFIER: Final = 100  # Stripe's limit on a meter event's identifier
MAX_LIST: Final = 100


class StripePaymentProvider:
    """Stripe behind the ``PaymentProvider`` port. ``base_url`` empty means Stripe's API."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        base_url: str = "",
        clock: Callable[[], datetime] | None = None,
        api_version: str | None = None,
        timeout_seconds: float = 30.0,
        usage_concurrency: int = 8,
    ) -> None:
        if not api_key:
            raise ValueError("StripePaymentProvider needs a secret key")
        self._api_key = api_key
        self._verifier = StripeWebhookVerifier(webhook_secret)
        self._base_url = base_url.rstrip("/")
        self._api_version = api_version
        self._timeout = timeout_seconds
        # One SDK client (and httpx pool) per event loop: a pool cannot outlive its loop.
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[stripe.StripeClient, stripe.HTTPXClient]
        ] = weakref.WeakKeyDictionary()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._last_version = 0
        self._usage_concurrency = max(1, usage_concurrency)
        self._prices = PriceSync(lambda: self._client, self._call)

    def __repr__(self) -> str:  # never the key
        return f"StripePaymentProvider(base_url={self._base_url or 'https://api.stripe.com'!r})"

    @property
    def name(self) -> str:
        return PROVIDER

    @property
    def _client(self) -> stripe.StripeClient:
        """The SDK client of the running event loop."""
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is None:
            http = stripe.HTTPXClient(timeout=self._timeout)
            addresses: Any = (
                dict.fromkeys(("api", "meter_events", "files", "connect"), self._base_url)
                if self._base_url
                else None
            )
            client = stripe.StripeClient(
                self._api_key,
                base_addresses=addresses,
                stripe_version=self._api_version,
                max_network_retries=0,
                http_client=http,
            )
            found = self._clients[loop] = (client, http)
        return found[0]

    async def aclose(self) -> None:
        """Close the running loop's HTTP connections (at shutdown)."""
        found = self._clients.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found[1].close_async()  # type: ignore[no-untyped-call]

    # Catalog and customers

    async def sync_prices(
        self, specs: Sequence[PriceSpec], known: Mapping[str, ProviderPrice]
    ) -> list[ProviderPrice]:
        return await self._prices.sync(specs, known)

    async def create_customer(
        self, workspace_id: str, *, name: str, email: str | None, idempotency_key: str
    ) -> str:
        params: dict[str, Any] = {"name": name, "metadata": {META_WORKSPACE: workspace_id}}
        if email:
            params["email"] = email
        customer = await self._call(
            "create a customer",
            self._client.v1.customers.create_async,
            params,
            {"idempotency_key": bounded_key(idempotency_key)},
        )
        return str(customer.id)

    # Checkout and portal

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        meta = {
            **request.metadata,
            META_WORKSPACE: request.workspace_id,
            META_PRICE: request.price.provider_price_id,
            META_PRICE_KEY: request.price.key,
            META_QUANTITY: str(request.quantity),
        }
        params: dict[str, Any] = {
            "mode": request.mode.value,
            "customer": request.customer_id,
            "line_items": [
                {"price": request.price.provider_price_id, "quantity": request.quantity}
            ],
            "client_reference_id": request.workspace_id,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": meta,
        }
        if request.mode is CheckoutMode.SUBSCRIPTION:
            subscription_data: dict[str, Any] = {"metadata": meta}
            if request.trial_days > 0:
                subscription_data["trial_period_days"] = request.trial_days
            params["subscription_data"] = subscription_data
        else:
            params["payment_intent_data"] = {"metadata": meta}
        session = await self._call(
            "create a checkout session",
            self._client.v1.checkout.sessions.create_async,
            params,
            {"idempotency_key": bounded_key(request.idempotency_key)},
        )
        if not session.url:
            raise PaymentProviderRejectedError("Stripe answered a checkout session without a url.")
        return CheckoutSession(
            id=str(session.id), url=str(session.url), expires_at=instant(session.expires_at)
        )

    async def create_portal(self, customer_id: str, *, return_url: str) -> PortalSession:
        portal = await self._call(
            "create a billing portal session",
            self._client.v1.billing_portal.sessions.create_async,
            {"customer": customer_id, "return_url": return_url},
        )
        return PortalSession(url=str(portal.url))

    # Subscriptions

    async def fetch_subscription(self, provider_subscription_id: str) -> SubscriptionState:
        found = await self._call(
            "read a subscription",
            self._client.v1.subscriptions.retrieve_async,
            provider_subscription_id,
        )
        return self._state(found)

    async def change_plan(
        self,
        provider_subscription_id: str,
        price: ProviderPrice,
        *,
        quantity: int,
        prorate: bool,
        idempotency_key: str,
    ) -> SubscriptionState:
        item = await self._first_item(provider_subscription_id)
        params: dict[str, Any] = {
            "items": [{"id": item, "price": price.provider_price_id, "quantity": quantity}],
            "proration_behavior": "always_invoice" if prorate else "none",
        }
        if prorate:
            params["payment_behavior"] = "pending_if_incomplete"
        return await self._update(provider_subscription_id, params, idempotency_key)

    async def cancel(
        self, provider_subscription_id: str, *, at_period_end: bool, idempotency_key: str
    ) -> SubscriptionState:
        if at_period_end:
            return await self._update(
                provider_subscription_id, {"cancel_at_period_end": True}, idempotency_key
            )
        try:
            canceled = await self._call(
                "cancel a subscription",
                self._client.v1.subscriptions.cancel_async,
                provider_subscription_id,
                None,
                {"idempotency_key": bounded_key(idempotency_key)},
            )
        except PaymentProviderRejectedError:
            state = await self.fetch_subscription(provider_subscription_id)
            if state.status is not SubscriptionStatus.CANCELED:
                raise
            return state  # canceled already (a retry after a lost answer)
        return self._state(canceled)

    async def resume(
        self, provider_subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionState:
        return await self._update(
            provider_subscription_id, {"cancel_at_period_end": False}, idempotency_key
        )

    async def set_quantity(
        self, provider_subscription_id: str, quantity: int, *, idempotency_key: str
    ) -> SubscriptionState:
        item = await self._first_item(provider_subscription_id)
        params = {
            "items": [{"id": item, "quantity": quantity}],
            "proration_behavior": "create_prorations",
        }
        return await self._update(provider_subscription_id, params, idempotency_key)

    async def _first_item(self, provider_subscription_id: str) -> str:
        found = await self._call(
            "read a subscription",
            self._client.v1.subscriptions.retrieve_async,
            provider_subscription_id,
        )
        items = found.to_dict().get("items", {}).get("data") or []
        if not items or not items[0].get("id"):
            raise PaymentProviderRejectedError(
                f"The Stripe subscription {provider_subscription_id} has no item to change."
            )
        return str(items[0]["id"])

    async def _update(
        self, provider_subscription_id: str, params: dict[str, Any], idempotency_key: str
    ) -> SubscriptionState:
        updated = await self._call(
            "change a subscription",
            self._client.v1.subscriptions.update_async,
            provider_subscription_id,
            params,
            {"idempotency_key": bounded_key(idempotency_key)},
        )
        return self._state(updated)

    # Usage and invoices

    async def report_usage(self, records: Sequence[UsageRecord]) -> None:
        slots = asyncio.Semaphore(self._usage_concurrency)
        outcomes = await asyncio.gather(
            *(self._meter_event(record, slots) for record in records), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _meter_event(self, record: UsageRecord, slots: asyncio.Semaphore) -> None:
        identifier = bounded_key(record.idempotency_key, MAX_IDENTIFIER)
        params = {
            "event_name": record.meter,
            "identifier": identifier,
            "timestamp": int(record.timestamp.timestamp()),
            "payload": {"stripe_customer_id": record.customer_id, "value": str(record.quantity)},
        }
        async with slots:
            try:
                await self._call(
                    "report usage",
                    self._client.v1.billing.meter_events.create_async,
                    params,
                    {"idempotency_key": f"ninefold-usage-{identifier}"},
                )
            except PaymentProviderRejectedError as error:
                text = str(error.detail).lower()
                if "identifier" in text and ("already" in text or "duplicate" in text):
                    return  # counted once already: what we want
                raise

    async def list_invoices(self, customer_id: str, *, limit: int = 100) -> list[ProviderInvoice]:
        found: list[ProviderInvoice] = []
        params: dict[str, Any] = {"customer": customer_id, "limit": min(limit, MAX_LIST)}
        while len(found) < limit:
            page = await self._call("list invoices", self._client.v1.invoices.list_async, params)
            data = [invoice.to_dict() for invoice in page.data]
            for invoice in data:
                try:
                    found.append(read_invoice(invoice, version=self._version()))
                except UnreadableObjectError as error:
                    raise PaymentProviderRejectedError(
                        f"A Stripe invoice could not be read: {error}"
                    ) from None
            if not page.has_more or not data:
                break
            params = {**params, "starting_after": data[-1]["id"]}
        return found[:limit]

    # Webhooks

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: AwareDatetime
    ) -> BillingWebhook:
        self._verifier.verify(headers, body, now)
        return read_event(body)

    # Plumbing

    def _version(self) -> int:
        now = self._clock()
        micros = int(now.timestamp()) * 1_000_000 + now.microsecond
        self._last_version = max(micros, self._last_version + 1)
        return self._last_version

    def _state(self, subscription: Any) -> SubscriptionState:
        try:
            return read_subscription(subscription.to_dict(), version=self._version())
        except UnreadableObjectError as error:
            raise PaymentProviderRejectedError(
                f"The Stripe subscription could not be read: {error}"
            ) from None

    async def _call(self, action: str, method: Callable[..., Awaitable[T]], *args: Any) -> T:
        try:
            return await method(*args)
        except stripe.StripeError as error:
            raise translate(error, action, api_key=self._api_key) from None
