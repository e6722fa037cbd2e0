"""What the billing routes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from core.billing import Access, CreditBalance, GrantBalance, LedgerTransaction, Subscription
from core.billing.catalog import BillingInterval
from core.billing.entitlements import Entitlements, MeterEntitlement
from core.billing.ports import Invoice, StoredWebhookEvent
from core.billing.usage import EventResult, Number, PropertyValue, UsageAggregate

# A plan's or product's key, as the catalog spells them (core.billing.catalog._SLUG).
Key = Annotated[
    str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
]
Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2_000)]


class CheckoutIn(msgspec.Struct, forbid_unknown_fields=True):
    """A subscription (``plan`` and ``interval``) or a one-off purchase (``product`` and
    ``quantity``). The URLs default to the workspace's billing page; given, they must be
    on the app's own address (or an allowed CORS origin)."""

    plan: Key | None = None
    interval: BillingInterval = BillingInterval.MONTH
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")] | None = None
    seats: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    product: Key | None = None
    quantity: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    trial: bool = True
    """``false``: pay now instead of starting the plan's free trial (a workspace's
    first subscription only ever gets one)."""
    success_url: Url | None = None
    cancel_url: Url | None = None


class CheckoutOut(msgspec.Struct):
    id: str
    url: str
    """Send the customer here: the provider's hosted checkout page."""
    expires_at: datetime | None


class PortalIn(msgspec.Struct, forbid_unknown_fields=True):
    return_url: Url | None = None


class PortalOut(msgspec.Struct):
    url: str


class ChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    plan: Key
    interval: BillingInterval | None = None


class CancelIn(msgspec.Struct, forbid_unknown_fields=True):
    at_period_end: bool = True
    """``false`` ends the subscription at once (no refund for the rest of the period)."""


class AccessOut(msgspec.Struct):
    plan: str
    state: str
    """``full`` (paid up or trialing), ``grace`` (a payment failed; the plan lasts until
    ``until``) or ``fallback`` (the free plan)."""
    reason: str
    until: datetime | None

    @classmethod
    def of(cls, granted: Access) -> AccessOut:
        return cls(granted.plan, granted.state.value, granted.reason.value, granted.until)


class SubscriptionOut(msgspec.Struct):
    id: str
    plan: str
    interval: str
    currency: str
    seats: int
    status: str
    cancel_at_period_end: bool
    current_period_start: datetime | None
    current_period_end: datetime | None
    trial_end: datetime | None
    canceled_at: datetime | None
    ended_at: datetime | None
    past_due_since: datetime | None
    pending_plan: str | None
    """A downgrade that takes effect when the period ends."""
    pending_interval: str | None
    provider: str
    created_at: datetime

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionOut:
        return cls(
            id=sub.id,
            plan=sub.plan,
            interval=sub.interval.value,
            currency=sub.currency,
            seats=sub.seats,
            status=sub.status.value,
            cancel_at_period_end=sub.cancel_at_period_end,
            current_period_start=sub.current_period_start,
            current_period_end=sub.current_period_end,
            trial_end=sub.trial_end,
            canceled_at=sub.canceled_at,
            ended_at=sub.ended_at,
            past_due_since=sub.past_due_since,
            pending_plan=sub.pending_plan,
            pending_interval=sub.pending_interval.value if sub.pending_interval else None,
            provider=sub.provider,
            created_at=sub.created_at,
        )


class BillingStateOut(msgspec.Struct):
    subscription: SubscriptionOut | None
    """``null``: the workspace never subscribed (it is on the free plan)."""
    access: AccessOut


class MeterOut(msgspec.Struct):
    meter: str
    aggregation: str
    unit: str
    included: int
    used: Number
    hard_limit: int | None
    soft_limit: int | None
    remaining: Number | None
    period_start: datetime
    period_end: datetime

    @classmethod
    def of(cls, meter: MeterEntitlement) -> MeterOut:
        return cls(
            meter.meter,
            meter.aggregation.value,
            meter.unit,
            meter.included,
            meter.used,
            meter.hard_limit,
            meter.soft_limit,
            meter.remaining,
            meter.period_start,
            meter.period_end,
        )


class EntitlementsOut(msgspec.Struct):
    plan: str
    plan_name: str
    access: AccessOut
    features: list[str]
    limits: dict[str, int | None]
    """``null``: unlimited."""
    meters: list[MeterOut]

    @classmethod
    def of(cls, found: Entitlements) -> EntitlementsOut:
        return cls(
            plan=found.plan,
            plan_name=found.plan_name,
            access=AccessOut.of(found.access),
            features=found.features,
            limits=found.limits,
            meters=[MeterOut.of(m) for m in found.meters],
        )


class UsageEventIn(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    """Your id for the event: sending it again is accepted and counted once."""
    meter: str
    timestamp: datetime | None = None
    """When it happened (default: now); older than the allowed lateness is rejected."""
    quantity: Number = 1
    properties: dict[str, PropertyValue] = msgspec.field(default_factory=dict)


class UsageBatchIn(msgspec.Struct, forbid_unknown_fields=True):
    events: list[UsageEventIn]


class UsageBatchOut(msgspec.Struct):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]
    """One per event, in order."""


class UsageOut(msgspec.Struct):
    meter: str
    aggregation: str
    value: Number
    events: int
    period_start: datetime
    period_end: datetime
    last_event_at: datetime | None

    @classmethod
    def of(cls, found: UsageAggregate) -> UsageOut:
        return cls(
            found.meter,
            found.aggregation.value,
            found.value,
            found.events,
            found.period_start,
            found.period_end,
            found.last_event_at,
        )


class GrantOut(msgspec.Struct):
    id: str
    source: str
    amount: int
    remaining: int
    expired: int
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    reason: str | None

    @classmethod
    def of(cls, item: GrantBalance) -> GrantOut:
        grant = item.grant
        return cls(
            grant.id,
            grant.source.value,
            grant.amount,
            item.remaining,
            item.expired,
            grant.priority,
            grant.effective_at,
            grant.expires_at,
            grant.reason,
        )


class CreditsOut(msgspec.Struct):
    available: int
    overdraft: int
    """Credits owed (spent beyond zero where the plan allows it)."""
    balance: int
    """``available - overdraft``."""
    grants: list[GrantOut]

    @classmethod
    def of(cls, balance: CreditBalance, grants: list[GrantBalance]) -> CreditsOut:
        return cls(
            balance.available,
            balance.overdraft,
            balance.available - balance.overdraft,
            [GrantOut.of(g) for g in grants],
        )


class EntryOut(msgspec.Struct):
    account: str
    amount: int
    grant_id: str | None


class TransactionOut(msgspec.Struct):
    id: str
    kind: str
    amount: int
    occurred_at: datetime
    reason: str | None
    reverses: str | None
    entries: list[EntryOut]

    @classmethod
    def of(cls, tx: LedgerTransaction) -> TransactionOut:
        return cls(
            tx.id,
            tx.kind.value,
            tx.amount,
            tx.occurred_at,
            tx.reason,
            tx.reverses,
            [EntryOut(e.account, e.amount, e.grant_id) for e in tx.entries],
        )


class TransactionsOut(msgspec.Struct):
    transactions: list[TransactionOut]
    next_cursor: str | None


class InvoiceOut(msgspec.Struct):
    id: str
    number: str | None
    status: str
    currency: str
    subtotal: int
    tax: int
    total: int
    amount_paid: int
    amount_due: int
    period_start: datetime | None
    period_end: datetime | None
    issued_at: datetime
    hosted_url: str | None
    pdf_url: str | None

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls(
            invoice.provider_invoice_id,
            invoice.number,
            invoice.status.value,
            invoice.currency,
            invoice.subtotal,
            invoice.tax,
            invoice.total,
            invoice.amount_paid,
            invoice.amount_due,
            invoice.period_start,
            invoice.period_end,
            invoice.issued_at,
            invoice.hosted_url,
            invoice.pdf_url,
        )


class InvoicesOut(msgspec.Struct):
    invoices: list[InvoiceOut]
    next_cursor: str | None


class WebhookEventOut(msgspec.Struct):
    provider: str
    event_id: str
    type: str
    kind: str
    workspace_id: str | None
    received_at: datetime
    status: str
    processed_at: datetime | None
    attempts: int
    detail: str

    @classmethod
    def of(cls, event: StoredWebhookEvent) -> WebhookEventOut:
        return cls(
            event.provider,
            event.event_id,
            event.type,
            event.kind.value,
            event.workspace_id,
            event.received_at,
            event.status.value,
            event.processed_at,
            event.attempts,
            event.detail,
        )


class WebhookEventDetailOut(WebhookEventOut):
    body: str
    """The body as received."""


class WebhookReceivedOut(msgspec.Struct):
    received: bool
    duplicate: bool
