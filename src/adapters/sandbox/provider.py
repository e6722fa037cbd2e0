"""``SandboxPaymentProvider``: the embedded payment processor, as a ``PaymentProvider``.

Every call opens the sandbox's store (``open_store``: an async context manager yielding
a ``SandboxStore`` that commits when the block ends and rolls back when it raises), so
the sandbox's state is its own, like a real provider's, whatever happens to the
caller's transaction. The processor's logic is in ``processor.py``.

Webhooks: after each call commits, the events it produced are delivered in the
background (as a real provider's arrive after its answer: the caller's transaction may
still be open, and on SQLite the ingestion's would wait for it), oldest first, to the
sink set with ``set_webhook_sink`` (``async (headers, body) -> None``; the
application hands them to ``/webhooks/billing/sandbox``'s ingestion), each signed when
it is sent (``wire``: Standard Webhooks with ``webhook_secret``). An event is marked
delivered only when the sink returned; the first one that raises stops the round, and
it and those after it wait for the next call or ``flush_webhooks()``. Without a sink they
wait (``pending_webhooks()`` lists them). One process delivers one round at a time;
``settle()`` waits for the rounds under way and delivers what is left (tests, the CLI).

Back office (the checkout page, the portal, the invoice page, ``ninefold billing
sandbox``, tests): ``checkout_view``, ``pay``, ``decline``, ``tick``, ``set_card``,
``fail_payment``, ``recover_payment``, ``renew``, ``invoice_view``, ``customer_view``,
``usage_total``. ``fail_next(status)`` makes the next port call fail as a provider
answering HTTP ``status`` would (429 and 5xx: unavailable; another 4xx: rejected).
Unknown ids are ``PaymentProviderRejectedError``s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Final, TypeVar

from adapters.sandbox import changes, views, wire
from adapters.sandbox.model import (
    CheckoutView,
    CustomerView,
    InvoiceView,
    SandboxEvent,
    SandboxStore,
)
from adapters.sandbox.objects import TickReport
from adapters.sandbox.processor import SandboxProcessor
from core.billing.errors import PaymentProviderRejectedError, PaymentProviderUnavailableError
from core.billing.payments import (
    BillingWebhook,
    CheckoutRequest,
    CheckoutSession,
    PortalSession,
    PriceSpec,
    ProviderInvoice,
    ProviderPrice,
    SubscriptionState,
    UsageRecord,
)
from core.kernel import Clock, IdGenerator
from core.kernel.events import AwareDatetime

logger = logging.getLogger(__name__)

T = TypeVar("T")
OpenStore = Callable[[], AbstractAsyncContextManager[SandboxStore]]
WebhookSink = Callable[[dict[str, str], bytes], Awaitable[None]]
DELIVERY_BATCH: Final = 100


class SandboxPaymentProvider:
    """The sandbox (``NINEFOLD_PAYMENTS_PROVIDER=sandbox``, the default): for
    development and tests only, it moves no money."""

    def __init__(
        self,
        *,
        open_store: OpenStore,
        clock: Clock,
        ids: IdGenerator,
        webhook_secret: str,
        public_url: str,
    ) -> None:
        wire.check_secret(webhook_secret)
        self._open_store = open_store
        self._clock = clock
        self._ids = ids
        self._secret = webhook_secret
        self._public_url = public_url.rstrip("/")
        self._sink: WebhookSink | None = None
        self._failing: int | None = None
        self._delivering = asyncio.Lock()
        self._rounds: set[asyncio.Task[int]] = set()

    @property
    def name(self) -> str:
        return wire.PROVIDER

    @property
    def public_url(self) -> str:
        return self._public_url

    # --- plumbing ---------------------------------------------------------------------

    async def _run(
        self, work: Callable[[SandboxProcessor], Awaitable[T]], *, api: bool = True
    ) -> T:
        if api:
            self._fail_if_told()
        async with self._open_store() as store:
            result = await work(
                SandboxProcessor(
                    store, now=self._clock.now(), ids=self._ids, public_url=self._public_url
                )
            )
        if self._sink is not None:
            round_ = asyncio.get_running_loop().create_task(self.flush_webhooks())
            self._rounds.add(round_)
            round_.add_done_callback(self._rounds.discard)
        return result

    def fail_next(self, status: int) -> None:
        """The next port call fails as an HTTP ``status`` answer would."""
        self._failing = status

    def _fail_if_told(self) -> None:
        status, self._failing = self._failing, None
        if status is None:
            return
        if status == 429 or status >= 500:
            raise PaymentProviderUnavailableError(f"sandbox: simulated HTTP {status}")
        raise PaymentProviderRejectedError(f"sandbox: simulated HTTP {status}")

    # --- webhooks ---------------------------------------------------------------------

    def set_webhook_sink(self, sink: WebhookSink | None) -> None:
        self._sink = sink

    def sign(self, body: bytes, *, event_id: str, at: AwareDatetime) -> dict[str, str]:
        """The headers of ``body`` sent as ``event_id`` at ``at``."""
        return wire.sign(self._secret, body, event_id=event_id, at=at)

    async def pending_webhooks(self) -> list[SandboxEvent]:
        """Events not delivered yet, oldest first (at most 1,000)."""
        async with self._open_store() as store:
            return await store.undelivered(1_000)

    async def settle(self) -> int:
        """Wait for the delivery rounds under way, then deliver what is left."""
        while self._rounds:
            await asyncio.gather(*self._rounds, return_exceptions=True)
        return await self.flush_webhooks()

    async def flush_webhooks(self) -> int:
        """Deliver the waiting events to the sink (after the round under way, if any);
        how many it took."""
        sink = self._sink
        if sink is None:
            return 0
        delivered = 0
        async with self._delivering:
            while True:
                async with self._open_store() as store:
                    batch = await store.undelivered(DELIVERY_BATCH)
                if not batch:
                    return delivered
                for event in batch:
                    body = event.body.encode()
                    headers = self.sign(body, event_id=event.id, at=self._clock.now())
                    try:
                        await sink(headers, body)
                    except Exception:
                        logger.warning(
                            "the sandbox's webhook %s (%s) was not taken; it will be sent again",
                            event.id,
                            event.type,
                            exc_info=True,
                        )
                        return delivered
                    async with self._open_store() as store:
                        await store.mark_delivered(event.id, self._clock.now())
                    delivered += 1

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: AwareDatetime
    ) -> BillingWebhook:
        wire.verify(self._secret, headers, body, now=now)
        return wire.read_event(body)

    # --- the port ---------------------------------------------------------------------

    async def sync_prices(
        self, specs: Sequence[PriceSpec], known: Mapping[str, ProviderPrice]
    ) -> list[ProviderPrice]:
        return await self._run(lambda p: p.sync_prices(specs, known))

    async def create_customer(
        self, workspace_id: str, *, name: str, email: str | None, idempotency_key: str
    ) -> str:
        return await self._run(
            lambda p: p.create_customer(
                workspace_id, name=name, email=email, idempotency_key=idempotency_key
            )
        )

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        return await self._run(lambda p: p.create_checkout(request))

    async def create_portal(self, customer_id: str, *, return_url: str) -> PortalSession:
        return await self._run(lambda p: p.portal(customer_id))

    async def fetch_subscription(self, provider_subscription_id: str) -> SubscriptionState:
        return await self._run(lambda p: p.fetch_subscription(provider_subscription_id))

    async def change_plan(
        self,
        provider_subscription_id: str,
        price: ProviderPrice,
        *,
        quantity: int,
        prorate: bool,
        idempotency_key: str,
    ) -> SubscriptionState:
        return await self._run(
            lambda p: changes.change_plan(
                p,
                provider_subscription_id,
                price,
                quantity=quantity,
                prorate=prorate,
                key=idempotency_key,
            )
        )

    async def cancel(
        self, provider_subscription_id: str, *, at_period_end: bool, idempotency_key: str
    ) -> SubscriptionState:
        return await self._run(
            lambda p: changes.cancel(
                p, provider_subscription_id, at_period_end=at_period_end, key=idempotency_key
            )
        )

    async def resume(
        self, provider_subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionState:
        return await self._run(
            lambda p: changes.resume(p, provider_subscription_id, key=idempotency_key)
        )

    async def set_quantity(
        self, provider_subscription_id: str, quantity: int, *, idempotency_key: str
    ) -> SubscriptionState:
        return await self._run(
            lambda p: changes.set_quantity(
                p, provider_subscription_id, quantity, key=idempotency_key
            )
        )

    async def report_usage(self, records: Sequence[UsageRecord]) -> None:
        await self._run(lambda p: p.report_usage(records))

    async def list_invoices(self, customer_id: str, *, limit: int = 100) -> list[ProviderInvoice]:
        return await self._run(lambda p: p.list_invoices(customer_id, limit=limit))

    # --- the back office --------------------------------------------------------------

    async def checkout_view(self, session_id: str) -> CheckoutView | None:
        """What the checkout page shows; ``None`` for an unknown session."""
        return await self._run(lambda p: views.checkout_view(p, session_id), api=False)

    async def pay(self, session_id: str) -> str:
        """The customer pays with a card that works; the URL to send them to."""
        return await self._run(lambda p: p.pay(session_id), api=False)

    async def decline(self, session_id: str) -> str:
        """The card is declined (or the customer gives up); the URL to send them to."""
        return await self._run(lambda p: p.decline(session_id), api=False)

    async def tick(self) -> TickReport:
        """Do what is due at the clock's now (renewals, retries, ends, expiries)."""
        return await self._run(lambda p: p.tick(), api=False)

    async def set_card(self, target: str, *, works: bool) -> None:
        """Make the card of a customer (by customer, workspace or subscription id) work
        or decline from now on."""
        await self._run(lambda p: p.set_card(target, works=works), api=False)

    async def fail_payment(self, target: str) -> SubscriptionState:
        """The card declines and the subscription (by id or workspace) is charged now."""
        return await self._run(lambda p: p.fail_payment(target), api=False)

    async def recover_payment(self, target: str) -> SubscriptionState:
        """The card works and what the subscription owes is paid now."""
        return await self._run(lambda p: p.recover_payment(target), api=False)

    async def renew(self, target: str) -> SubscriptionState:
        """The subscription's period ends now and the next one is charged."""
        return await self._run(lambda p: p.renew(target), api=False)

    async def invoice_view(self, invoice_id: str) -> InvoiceView | None:
        return await self._run(lambda p: views.invoice_view(p, invoice_id), api=False)

    async def customer_view(self, target: str) -> CustomerView | None:
        """A customer (by customer, workspace or subscription id) with its
        subscriptions, invoices and usage; ``None`` when there is none."""
        return await self._run(lambda p: views.customer_view(p, target), api=False)

    async def usage_total(self, customer_id: str, meter: str) -> int:
        totals = await self._run(lambda p: p.usage_totals(customer_id), api=False)
        return totals.get(meter, 0)
