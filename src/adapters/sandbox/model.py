"""The sandbox processor's records, the ``SandboxStore`` it keeps them in, and the views
its back office answers (the checkout page, the portal, invoices, the CLI).

Records are frozen ``msgspec`` structs; a change is a new record saved over the old
one. Every record kind has an ``id`` primary key. Money is integer minor units plus the
currency code, times are timezone-aware UTC. Fields holding a list or a dict are kept
as JSON by the SQL store.

Ids: customers (``cus_``), checkout sessions (``cs_``) and invoices (``in_``) name
pages that need no sign-in (the portal, the checkout page, the invoice page), so their
ids are capabilities: the prefix and 128 random bits, not time-ordered ids. Every other
record has a time-ordered id from the ``IdGenerator``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

import msgspec

from core.billing.payments import InvoiceStatus
from core.billing.subscriptions import SubscriptionStatus
from core.kernel.events import AwareDatetime


class CheckoutStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    DECLINED = "declined"
    EXPIRED = "expired"


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """A record of the sandbox's own state; ``id`` is its key."""

    id: str


class SandboxCustomer(Record, frozen=True, kw_only=True):
    """A customer; ``card_works`` says whether its card pays (``False``: declined)."""

    workspace_id: str
    name: str
    email: str | None = None
    card_works: bool = True
    created_at: AwareDatetime


class SandboxPrice(Record, frozen=True, kw_only=True):
    """A price (immutable, like a provider's): ``interval`` ``None`` for a one-off
    product. A new amount is a new price; the old one is kept, ``active`` false."""

    product_id: str
    key: str
    name: str
    description: str = ""
    amount: int
    currency: str
    interval: str | None = None
    per_seat: bool = False
    fingerprint: str
    active: bool = True
    created_at: AwareDatetime


class SandboxCheckout(Record, frozen=True, kw_only=True):
    """A hosted checkout session. ``due_at`` is its expiry while it is open, then
    ``None`` (what ``tick`` looks for)."""

    customer_id: str
    workspace_id: str
    mode: str  # core.billing.payments.CheckoutMode
    price_id: str
    quantity: int = 1
    trial_days: int = 0
    success_url: str
    cancel_url: str
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    status: CheckoutStatus = CheckoutStatus.OPEN
    created_at: AwareDatetime
    expires_at: AwareDatetime
    due_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    subscription_id: str | None = None
    payment_id: str | None = None


class SandboxSubscription(Record, frozen=True, kw_only=True):
    """A subscription. ``version`` goes up by one with every change (it is the
    ``provider_version`` of its webhooks). ``failed_attempts`` counts the failed charges
    of the invoice it owes; ``next_retry_at`` is the next one. ``due_at`` is when
    ``tick`` must act next (a period's end, a retry), ``None`` when nothing waits."""

    customer_id: str
    workspace_id: str
    price_id: str
    currency: str
    quantity: int = 1
    status: SubscriptionStatus
    current_period_start: AwareDatetime
    current_period_end: AwareDatetime
    trial_end: AwareDatetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    past_due_since: AwareDatetime | None = None
    failed_attempts: int = 0
    next_retry_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    version: int = 1
    created_at: AwareDatetime


class InvoiceLine(msgspec.Struct, frozen=True, kw_only=True):
    description: str
    quantity: int
    unit_amount: int
    amount: int


class SandboxInvoice(Record, frozen=True, kw_only=True):
    """An invoice: ``number`` ``SBX-000001`` and on. ``reason``: ``subscription_create``
    (the first period), ``subscription_cycle`` (a renewal), ``subscription_update`` (a
    prorated upgrade) or ``payment`` (a one-off purchase). ``version`` goes up with every
    change (the ``provider_version`` of its webhooks)."""

    number: str
    customer_id: str
    workspace_id: str
    subscription_id: str | None = None
    reason: str
    status: InvoiceStatus
    currency: str
    subtotal: int
    total: int
    amount_paid: int = 0
    amount_due: int = 0
    lines: list[InvoiceLine] = msgspec.field(default_factory=list)
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None
    issued_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    attempts: int = 0
    version: int = 1


class SandboxPayment(Record, frozen=True, kw_only=True):
    """A paid one-off purchase."""

    customer_id: str
    workspace_id: str
    price_id: str
    quantity: int
    amount: int
    currency: str
    invoice_id: str | None = None
    paid_at: AwareDatetime


class SandboxUsage(Record, frozen=True, kw_only=True):
    """A usage record; ``id`` is the caller's idempotency key (one record per key)."""

    customer_id: str
    subscription_id: str | None = None
    meter: str
    quantity: int
    timestamp: AwareDatetime
    received_at: AwareDatetime


class SandboxRequest(Record, frozen=True, kw_only=True):
    """An idempotent request already carried out: ``id`` is ``{operation}:{key}``,
    ``result`` what it answered (an id, or a JSON document)."""

    result: str
    created_at: AwareDatetime


class SandboxEvent(Record, frozen=True, kw_only=True):
    """An outgoing webhook: ``body`` is the JSON sent, ``delivered_at`` when a sink took
    it (``None``: still to deliver)."""

    type: str
    body: str
    created_at: AwareDatetime
    delivered_at: AwareDatetime | None = None


R = TypeVar("R", bound=Record)


class SandboxStore(Protocol):
    """Where the sandbox keeps its state. One store is one transaction: the provider
    opens one per call (``open_store``), which commits when the call returns and rolls
    back when it raises.

    ``get(..., lock=True)`` keeps the record for this transaction (``SELECT … FOR
    UPDATE``): the processor locks a subscription or checkout before changing it, so two
    concurrent calls cannot both renew or charge it."""

    async def get(self, kind: type[R], record_id: str, *, lock: bool = False) -> R | None: ...

    async def find(self, kind: type[R], field: str, value: str) -> list[R]:
        """The records of ``kind`` whose ``field`` equals ``value``, in id order."""
        ...

    async def due(self, kind: type[R], now: datetime) -> list[str]:
        """The ids of the records of ``kind`` whose ``due_at`` is at or before ``now``,
        soonest first."""
        ...

    async def add(self, record: Record) -> None: ...

    async def save(self, record: Record) -> None:
        """Store ``record`` over the record with its id."""
        ...

    async def next_number(self, sequence: str) -> int:
        """The next number of ``sequence`` (1, 2, …), never given twice."""
        ...

    async def undelivered(self, limit: int) -> list[SandboxEvent]:
        """Outgoing webhooks not delivered yet, oldest first."""
        ...

    async def mark_delivered(self, event_id: str, at: datetime) -> None: ...


# --- views: what the back office shows ---------------------------------------------------


class CheckoutView(msgspec.Struct, frozen=True, kw_only=True):
    """What the checkout page shows."""

    id: str
    status: CheckoutStatus
    mode: str
    product_name: str
    description: str
    price_key: str
    interval: str | None
    unit_amount: int
    quantity: int
    amount: int  # due today (0 during a trial)
    currency: str
    trial_days: int
    customer_name: str
    customer_email: str | None
    success_url: str
    cancel_url: str
    expires_at: datetime


class SubscriptionView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    status: SubscriptionStatus
    product_name: str
    price_key: str
    quantity: int
    amount: int  # per period
    currency: str
    interval: str | None
    current_period_start: datetime
    current_period_end: datetime
    trial_end: datetime | None
    cancel_at_period_end: bool
    past_due_since: datetime | None
    failed_attempts: int
    next_retry_at: datetime | None
    ended_at: datetime | None
    version: int


class InvoiceView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    number: str
    status: InvoiceStatus
    reason: str
    customer_id: str
    customer_name: str
    workspace_id: str
    subscription_id: str | None
    currency: str
    lines: Sequence[InvoiceLine]
    subtotal: int
    total: int
    amount_paid: int
    amount_due: int
    period_start: datetime | None
    period_end: datetime | None
    issued_at: datetime
    paid_at: datetime | None
    attempts: int
    url: str


class CustomerView(msgspec.Struct, frozen=True, kw_only=True):
    """What the portal page and ``ninefold billing sandbox show`` print."""

    id: str
    workspace_id: str
    name: str
    email: str | None
    card_works: bool
    subscriptions: Sequence[SubscriptionView]
    invoices: Sequence[InvoiceView]
    usage: dict[str, int]
    portal_url: str
