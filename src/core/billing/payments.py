"""The ``PaymentProvider`` port: what billing needs from a payment processor, in
provider-neutral terms, and the values that cross it.

An adapter (the sandbox, Stripe, Dodo Payments, the in-memory fake) turns these calls
into its provider's API and its provider's webhooks into ``BillingWebhook``s. Our plans
and products reach the provider as prices that ``sync_prices`` creates once and that
``ProviderPrice`` maps back (``price_key``); every other call names the provider's ids.

Rules every adapter keeps (``contracts/ports/payment_provider.py`` checks them):

- Calls that create or change something take an ``idempotency_key``; the same key again
  returns the first result and changes nothing twice.
- A provider that cannot be reached, times out, rate-limits or fails with a 5xx raises
  ``PaymentProviderUnavailableError`` (retry later); a request it refuses (4xx) raises
  ``PaymentProviderRejectedError`` (retrying the same request will not help).
- ``parse_webhook`` verifies the signature with the provider's own scheme before reading
  anything; a bad, missing or stale signature raises ``InvalidBillingWebhookError``. A
  verified event of a type the adapter does not use is returned with kind ``IGNORED``
  (it is kept, not applied). ``event_id`` is the provider's id of the event, the same on
  every redelivery.
- ``SubscriptionState.provider_version`` orders the provider's views of one
  subscription (higher is newer), so an out-of-order webhook never moves it backwards.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Protocol

import msgspec

from core.billing.catalog import BillingInterval
from core.billing.subscriptions import SubscriptionStatus
from core.kernel.events import AwareDatetime


def plan_price_key(plan: str, interval: BillingInterval | str, currency: str) -> str:
    """Our key of a plan's price: ``plan:pro:month:USD``."""
    return f"plan:{plan}:{BillingInterval(interval).value}:{currency.upper()}"


def product_price_key(product: str, currency: str) -> str:
    """Our key of a one-off product's price: ``product:credits_1000:USD``."""
    return f"product:{product}:{currency.upper()}"


class PriceSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A price as our catalog declares it, for ``sync_prices``. ``interval`` is ``None``
    for a one-off product. A per-seat price is billed per unit of quantity (the
    billable seats); a flat one with quantity 1. ``fingerprint`` changes whenever
    anything the provider must know changes (amount, currency, interval, per-seat):
    providers' prices are immutable, so a new fingerprint means a new price."""

    key: str
    name: str
    description: str = ""
    amount: int
    currency: str
    interval: BillingInterval | None = None
    per_seat: bool = False
    fingerprint: str


class ProviderPrice(msgspec.Struct, frozen=True, kw_only=True):
    """Where one of our prices lives at a provider."""

    provider: str
    key: str
    provider_product_id: str
    provider_price_id: str
    fingerprint: str


class CheckoutMode(enum.StrEnum):
    SUBSCRIPTION = "subscription"
    PAYMENT = "payment"  # a one-off purchase (a credit pack)


class CheckoutRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A hosted checkout for ``workspace_id`` (whose provider customer is
    ``customer_id``): a subscription to ``price`` for ``quantity`` billable seats, or a
    one-off purchase of ``quantity`` units of a product. ``metadata`` is echoed on the
    provider's objects (the workspace id always is) so webhooks can be matched."""

    workspace_id: str
    customer_id: str
    mode: CheckoutMode
    price: ProviderPrice
    quantity: int = 1
    trial_days: int = 0
    success_url: str
    cancel_url: str
    idempotency_key: str
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class CheckoutSession(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    url: str
    expires_at: AwareDatetime | None = None


class PortalSession(msgspec.Struct, frozen=True, kw_only=True):
    url: str


class SubscriptionState(msgspec.Struct, frozen=True, kw_only=True):
    """The provider's view of a subscription, before its price is read as our plan
    (billing maps ``price_id`` through the prices ``sync_prices`` recorded).
    ``quantity`` is the billed quantity of the price; ``past_due_since`` when the
    failing payment first failed, if the provider says."""

    provider_subscription_id: str
    customer_id: str
    workspace_id: str | None = None
    status: SubscriptionStatus
    price_id: str
    currency: str
    quantity: int = 1
    current_period_start: AwareDatetime | None = None
    current_period_end: AwareDatetime | None = None
    trial_end: AwareDatetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    past_due_since: AwareDatetime | None = None
    provider_version: int


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class ProviderInvoice(msgspec.Struct, frozen=True, kw_only=True):
    """An invoice as the provider issued it (amounts in minor units of ``currency``)."""

    provider_invoice_id: str
    customer_id: str
    workspace_id: str | None = None
    provider_subscription_id: str | None = None
    number: str | None = None
    status: InvoiceStatus
    currency: str
    subtotal: int
    tax: int = 0
    total: int
    amount_paid: int = 0
    amount_due: int = 0
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None
    issued_at: AwareDatetime
    hosted_url: str | None = None
    pdf_url: str | None = None
    provider_version: int


class OneOffPayment(msgspec.Struct, frozen=True, kw_only=True):
    """A paid one-off purchase: ``quantity`` units of the product priced ``price_id``."""

    provider_payment_id: str
    customer_id: str
    workspace_id: str | None = None
    price_id: str
    quantity: int = 1
    amount: int
    currency: str
    paid_at: AwareDatetime


class WebhookKind(enum.StrEnum):
    SUBSCRIPTION = "subscription"  # a subscription was created or changed
    INVOICE = "invoice"  # an invoice was issued, paid, failed, voided
    PAYMENT = "payment"  # a one-off purchase was paid
    IGNORED = "ignored"  # verified, kept, not applied (a type billing does not use)


class BillingWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """A verified provider event, normalized. ``type`` is the provider's own name for
    it (``customer.subscription.updated``); one of ``subscription``, ``invoice`` or
    ``payment`` is set, as ``kind`` says. An invoice whose payment failed comes with
    ``payment_failed``; the subscription it belongs to may come in the same event (Dodo)
    or in its own (Stripe)."""

    provider: str
    event_id: str
    type: str
    kind: WebhookKind
    occurred_at: AwareDatetime
    workspace_id: str | None = None
    subscription: SubscriptionState | None = None
    invoice: ProviderInvoice | None = None
    payment: OneOffPayment | None = None
    payment_failed: bool = False


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Usage to bill: ``quantity`` units of our meter ``meter`` for the customer's
    subscription, at ``timestamp``. The provider counts one record per
    ``idempotency_key`` however often it is sent."""

    idempotency_key: str
    customer_id: str
    provider_subscription_id: str | None = None
    meter: str
    quantity: int
    timestamp: AwareDatetime


class PaymentProvider(Protocol):
    """A payment processor. ``name`` is the setting that selects it and the
    ``{provider}`` of ``/webhooks/billing/{provider}``."""

    @property
    def name(self) -> str: ...

    async def sync_prices(
        self, specs: Sequence[PriceSpec], known: Mapping[str, ProviderPrice]
    ) -> list[ProviderPrice]:
        """Every spec's price at the provider, creating products and prices as needed.
        ``known`` maps keys to what an earlier sync recorded: a known price with the
        same fingerprint is returned as it is (no call); a changed one gets a new price
        (and the old one is archived where the provider can). Idempotent."""
        ...

    async def create_customer(
        self, workspace_id: str, *, name: str, email: str | None, idempotency_key: str
    ) -> str:
        """A customer for the workspace; returns the provider's customer id."""
        ...

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...

    async def create_portal(self, customer_id: str, *, return_url: str) -> PortalSession:
        """A hosted page where the customer manages payment methods and invoices."""
        ...

    async def fetch_subscription(self, provider_subscription_id: str) -> SubscriptionState: ...

    async def change_plan(
        self,
        provider_subscription_id: str,
        price: ProviderPrice,
        *,
        quantity: int,
        prorate: bool,
        idempotency_key: str,
    ) -> SubscriptionState:
        """Move the subscription to ``price``: an upgrade is charged at once with
        proration (``prorate``); a downgrade (``prorate=False``) charges the new price
        from the next period on, with no credit for the current one."""
        ...

    async def cancel(
        self, provider_subscription_id: str, *, at_period_end: bool, idempotency_key: str
    ) -> SubscriptionState: ...

    async def resume(
        self, provider_subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionState:
        """Withdraw a scheduled cancellation."""
        ...

    async def set_quantity(
        self, provider_subscription_id: str, quantity: int, *, idempotency_key: str
    ) -> SubscriptionState:
        """Bill ``quantity`` units (billable seats) from now on, prorated."""
        ...

    async def report_usage(self, records: Sequence[UsageRecord]) -> None:
        """Send usage; at most 1,000 records a call (the caller splits)."""
        ...

    async def list_invoices(self, customer_id: str, *, limit: int = 100) -> list[ProviderInvoice]:
        """The customer's invoices, newest first."""
        ...

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: AwareDatetime
    ) -> BillingWebhook:
        """Verify (``InvalidBillingWebhookError``) and read one delivery. Header names
        are matched case-insensitively."""
        ...
