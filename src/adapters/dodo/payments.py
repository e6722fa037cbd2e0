"""``DodoPaymentProvider``: the ``PaymentProvider`` port on Dodo Payments.

Talks to Dodo with its own SDK (``dodopayments.AsyncDodoPayments``, ``max_retries=0``:
our jobs retry by their own policy). Every SDK failure becomes a port error:
connection errors, timeouts, 429 and 5xx -> ``PaymentProviderUnavailableError`` (429's
``Retry-After`` is kept); any other 4xx (400, 401, 403, 404, 409, 422) ->
``PaymentProviderRejectedError`` with Dodo's ``code`` and ``message`` (``errors.py``). The
API key is never put in a message, a log line or the ``repr``.

Prices (``sync_prices``): Dodo keeps the price on the product, so one Dodo product per
``PriceSpec``: a ``recurring_price`` (billed every 1 month / 1 year, subscription period
20 years, Dodo's "until cancelled") or a ``one_time_price``, tax category ``saas``, with
``metadata`` ``ninefold_price_key``, ``ninefold_fingerprint`` and ``ninefold_per_seat``.
``provider_product_id`` and ``provider_price_id`` are both the product id. A per-seat
price is billed per unit of the subscription's ``quantity`` (Dodo multiplies the product
price by it); a flat one is always sold with quantity 1. A known price with the same
fingerprint makes no call; a changed one gets a new product and the old one is archived
(``DELETE /products/{id}``, best effort: subscriptions on it keep it). Before creating,
the active products are listed and one already carrying the key and fingerprint is
reused, so a sync that died half-way does not create twice.

Idempotency: Dodo documents no ``Idempotency-Key`` header, so each call is made safe to
repeat by other means:

- ``create_customer``: the customer carries ``metadata.ninefold_idempotency_key``; the
  customers with the same email are listed first and one with that key is returned.
  Dodo requires an email: without one, ``{workspace_id}@customers.invalid`` is used (the
  checkout then asks the customer for theirs);
- ``create_checkout``: a repeat of a key in this process returns the same session (a
  small in-memory map); across processes a second session may be created, which is
  harmless: a session charges nothing until it is paid, and it expires unpaid;
- ``change_plan`` / ``set_quantity`` / ``cancel`` / ``resume``: the subscription is read
  first and nothing is sent when it is already as asked (or has ended), so a repeat
  answers the current state and changes nothing twice;
- ``report_usage``: ``event_id`` is Dodo's own idempotency key (see ``usage.py``).

Plan changes (``POST /subscriptions/{id}/change-plan``, effective immediately):
``prorate=True`` (an upgrade, or more seats) -> ``proration_billing_mode``
``prorated_immediately``: the prorated difference is charged now, the billing date
stays. ``prorate=False`` (a downgrade) -> ``do_not_bill``: the subscription moves to the
new product now, nothing is charged or credited for the current period, and the next
renewal charges the new price. (``effective_at=next_billing_date`` would keep the dearer
plan until the renewal, but our port moves the price now; ``difference_immediately``
would credit.) ``set_quantity`` is a change-plan to the same product with
``prorated_immediately``. Cancel now is ``PATCH status=cancelled``; cancel at period end
is ``cancel_at_next_billing_date=true`` (Dodo has no cancel call); ``resume`` sets it
back to false.

``provider_version`` of a view read from the API is our clock's now in microseconds,
made strictly increasing within this adapter instance (a view read in the same
microsecond as the previous one gets the previous version + 1), so a later read is
always newer; a webhook's is its event ``timestamp`` (``webhooks.py``).

Invoices (``list_invoices``): the customer's payments (``GET /payments?customer_id=``),
newest first, each read as an invoice (``mapping.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar, cast

import dodopayments
from dodopayments import AsyncDodoPayments

from adapters.dodo.errors import call
from adapters.dodo.mapping import (
    UnreadableObjectError,
    invoice,
    subscription_state,
    version_of,
)
from adapters.dodo.usage import batches, usage_events
from adapters.dodo.webhooks import PROVIDER, DodoWebhookVerifier
from core.billing.catalog import BillingInterval
from core.billing.errors import PaymentProviderRejectedError, PaymentProviderUnavailableError
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
from core.billing.subscriptions import SubscriptionStatus

LIVE_URL: Final = "https://live.dodopayments.com"
TIMEOUT_SECONDS: Final = 20.0
PAGE_SIZE: Final = 100
KEY_META: Final = "ninefold_price_key"
FINGERPRINT_META: Final = "ninefold_fingerprint"
PER_SEAT_META: Final = "ninefold_per_seat"
IDEMPOTENCY_META: Final = "ninefold_idempotency_key"
_INTERVALS: Final = {BillingInterval.MONTH: "Month", BillingInterval.YEAR: "Year"}
_CHECKOUT_MEMORY: Final = 1_000
_FINAL: Final = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})

log = logging.getLogger(__name__)
T = TypeVar("T")


class DodoPaymentProvider:
    """The ``PaymentProvider`` port on Dodo Payments (see the module's notes)."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        base_url: str = "",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("the Dodo Payments API key is empty")
        self._api_key = api_key
        self._webhooks = DodoWebhookVerifier(webhook_secret)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client = AsyncDodoPayments(
            bearer_token=api_key,
            base_url=base_url or LIVE_URL,
            max_retries=0,
            timeout=TIMEOUT_SECONDS,
        )
        self._last_version = 0
        self._checkouts: dict[str, CheckoutSession] = {}

    def __repr__(self) -> str:  # never the key
        return f"DodoPaymentProvider(base_url={str(self._client.base_url)!r})"

    @property
    def name(self) -> str:
        return PROVIDER

    # Catalog

    async def sync_prices(
        self, specs: Sequence[PriceSpec], known: Mapping[str, ProviderPrice]
    ) -> list[ProviderPrice]:
        result: list[ProviderPrice] = []
        existing: dict[tuple[str, str], str] | None = None
        for spec in specs:
            old = known.get(spec.key)
            if old is not None and old.fingerprint == spec.fingerprint:
                result.append(old)
                continue
            if existing is None:
                existing = await self._active_products()
            product_id = existing.get((spec.key, spec.fingerprint))
            if product_id is None:
                product_id = await self._create_product(spec)
            if old is not None and old.provider_product_id != product_id:
                await self._archive(old.provider_product_id)
            result.append(
                ProviderPrice(
                    provider=PROVIDER,
                    key=spec.key,
                    provider_product_id=product_id,
                    provider_price_id=product_id,
                    fingerprint=spec.fingerprint,
                )
            )
        return result

    async def _active_products(self) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        page_number = 0
        while True:
            page = await self._call(
                self._client.products.list(
                    archived=False, page_number=page_number, page_size=PAGE_SIZE
                )
            )
            for product in page.items:
                key = product.metadata.get(KEY_META)
                fingerprint = product.metadata.get(FINGERPRINT_META)
                if isinstance(key, str) and isinstance(fingerprint, str):
                    found.setdefault((key, fingerprint), product.product_id)
            if len(page.items) < PAGE_SIZE:
                return found
            page_number += 1

    async def _create_product(self, spec: PriceSpec) -> str:
        price: dict[str, Any]
        if spec.interval is None:
            price = {
                "type": "one_time_price",
                "currency": spec.currency.upper(),
                "price": spec.amount,
                "discount": 0,
                "purchasing_power_parity": False,
            }
        else:
            price = {
                "type": "recurring_price",
                "currency": spec.currency.upper(),
                "price": spec.amount,
                "discount": 0,
                "purchasing_power_parity": False,
                "payment_frequency_count": 1,
                "payment_frequency_interval": _INTERVALS[BillingInterval(spec.interval)],
                "subscription_period_count": 20,
                "subscription_period_interval": "Year",
                "trial_period_days": 0,
            }
        product = await self._call(
            self._client.products.create(
                name=spec.name,
                description=spec.description or None,
                price=cast("Any", price),
                tax_category="saas",
                metadata={
                    KEY_META: spec.key,
                    FINGERPRINT_META: spec.fingerprint,
                    PER_SEAT_META: spec.per_seat,
                },
            )
        )
        return product.product_id

    async def _archive(self, product_id: str) -> None:
        try:
            await self._call(self._client.products.archive(product_id))
        except (PaymentProviderRejectedError, PaymentProviderUnavailableError) as error:
            log.warning("dodo: product %s not archived: %s", product_id, error.detail)

    # Customers, checkout, portal

    async def create_customer(
        self, workspace_id: str, *, name: str, email: str | None, idempotency_key: str
    ) -> str:
        address = email or f"{workspace_id}@customers.invalid"
        page = await self._call(
            self._client.customers.list(email=address, page_size=PAGE_SIZE, page_number=0)
        )
        for customer in page.items:
            if (customer.metadata or {}).get(IDEMPOTENCY_META) == idempotency_key:
                return customer.customer_id
        created = await self._call(
            self._client.customers.create(
                email=address,
                name=name or workspace_id,
                metadata={IDEMPOTENCY_META: idempotency_key, "workspace_id": workspace_id},
            )
        )
        return created.customer_id

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        remembered = self._checkouts.get(request.idempotency_key)
        if remembered is not None:
            return remembered
        metadata: dict[str, str | float | bool] = {
            **request.metadata,
            "workspace_id": request.workspace_id,
        }
        trial = request.trial_days if request.mode is CheckoutMode.SUBSCRIPTION else 0
        response = await self._call(
            self._client.checkout_sessions.create(
                product_cart=[
                    {"product_id": request.price.provider_price_id, "quantity": request.quantity}
                ],
                customer={"customer_id": request.customer_id},
                return_url=request.success_url,
                cancel_url=request.cancel_url,
                metadata=metadata,
                subscription_data={"trial_period_days": trial} if trial else dodopayments.omit,
            )
        )
        if not response.checkout_url:
            raise PaymentProviderRejectedError("Dodo Payments answered no checkout URL.")
        session = CheckoutSession(id=response.session_id, url=response.checkout_url)
        if len(self._checkouts) >= _CHECKOUT_MEMORY:
            self._checkouts.pop(next(iter(self._checkouts)))
        self._checkouts[request.idempotency_key] = session
        return session

    async def create_portal(self, customer_id: str, *, return_url: str) -> PortalSession:
        _require(customer_id, "customer id")
        portal = await self._call(
            self._client.customers.customer_portal.create(customer_id, return_url=return_url)
        )
        return PortalSession(url=portal.link)

    # Subscriptions

    async def fetch_subscription(self, provider_subscription_id: str) -> SubscriptionState:
        _require(provider_subscription_id, "subscription id")
        found = await self._call(self._client.subscriptions.retrieve(provider_subscription_id))
        return self._state(found.to_dict(mode="json", warnings=False))

    async def change_plan(
        self,
        provider_subscription_id: str,
        price: ProviderPrice,
        *,
        quantity: int,
        prorate: bool,
        idempotency_key: str,
    ) -> SubscriptionState:
        current = await self.fetch_subscription(provider_subscription_id)
        if current.price_id == price.provider_price_id and current.quantity == quantity:
            return current
        mode = "prorated_immediately" if prorate else "do_not_bill"
        return await self._change(provider_subscription_id, price.provider_price_id, quantity, mode)

    async def set_quantity(
        self, provider_subscription_id: str, quantity: int, *, idempotency_key: str
    ) -> SubscriptionState:
        current = await self.fetch_subscription(provider_subscription_id)
        if current.quantity == quantity:
            return current
        return await self._change(
            provider_subscription_id, current.price_id, quantity, "prorated_immediately"
        )

    async def _change(
        self, subscription_id: str, product_id: str, quantity: int, mode: str
    ) -> SubscriptionState:
        if quantity < 1:
            raise PaymentProviderRejectedError("A subscription needs a quantity of at least 1.")
        await self._call(
            self._client.subscriptions.change_plan(
                subscription_id,
                product_id=product_id,
                quantity=quantity,
                proration_billing_mode=cast("Any", mode),
            )
        )
        return await self.fetch_subscription(subscription_id)

    async def cancel(
        self, provider_subscription_id: str, *, at_period_end: bool, idempotency_key: str
    ) -> SubscriptionState:
        current = await self.fetch_subscription(provider_subscription_id)
        if current.status in _FINAL or (at_period_end and current.cancel_at_period_end):
            return current
        if at_period_end:
            return await self._update(provider_subscription_id, cancel_at_next_billing_date=True)
        return await self._update(provider_subscription_id, status="cancelled")

    async def resume(
        self, provider_subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionState:
        current = await self.fetch_subscription(provider_subscription_id)
        if current.status in _FINAL or not current.cancel_at_period_end:
            return current
        return await self._update(provider_subscription_id, cancel_at_next_billing_date=False)

    async def _update(self, subscription_id: str, **changes: Any) -> SubscriptionState:
        _require(subscription_id, "subscription id")
        updated = await self._call(self._client.subscriptions.update(subscription_id, **changes))
        return self._state(updated.to_dict(mode="json", warnings=False))

    # Usage and invoices

    async def report_usage(self, records: Sequence[UsageRecord]) -> None:
        for batch in batches(usage_events(records, now=self._now())):
            await self._call(self._client.usage_events.ingest(events=cast("Any", batch)))

    async def list_invoices(self, customer_id: str, *, limit: int = 100) -> list[ProviderInvoice]:
        _require(customer_id, "customer id")
        payments: list[dict[str, Any]] = []
        page_number = 0
        while len(payments) < limit:
            page = await self._call(
                self._client.payments.list(
                    customer_id=customer_id, page_number=page_number, page_size=PAGE_SIZE
                )
            )
            payments.extend(item.to_dict(mode="json", warnings=False) for item in page.items)
            if len(page.items) < PAGE_SIZE:
                break
            page_number += 1
        version = self._version()
        try:
            invoices = [invoice(payment, version=version) for payment in payments]
        except UnreadableObjectError as error:
            raise PaymentProviderUnavailableError(
                f"Dodo answered an unreadable payment: {error}"
            ) from None
        invoices.sort(key=lambda i: (i.issued_at, i.provider_invoice_id), reverse=True)
        return invoices[:limit]

    # Webhooks

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> BillingWebhook:
        return self._webhooks.parse(headers, body, now=now)

    # Plumbing

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def _version(self) -> int:
        self._last_version = max(version_of(self._now()), self._last_version + 1)
        return self._last_version

    def _state(self, data: dict[str, Any]) -> SubscriptionState:
        try:
            return subscription_state(data, version=self._version(), at=self._now())
        except UnreadableObjectError as error:
            raise PaymentProviderUnavailableError(
                f"Dodo answered an unreadable subscription: {error}"
            ) from None

    async def _call(self, awaitable: Awaitable[T]) -> T:
        return await call(awaitable, secret=self._api_key)


def _require(value: str, what: str) -> None:
    if not value:
        raise PaymentProviderRejectedError(f"A Dodo Payments {what} is required.")
