"""The sandbox payment processor's logic, pure Python over a ``SandboxStore``.

One ``SandboxProcessor`` serves one call, in one store transaction, at one instant
(``now``). Every change of state appends an outgoing webhook (``wire`` lists the
vocabulary); the provider delivers them after the transaction commits.

Money: a period costs the price's ``amount`` x the subscription's ``quantity``.

- **Checkout** (open 24 hours): paying it makes the customer's card work, then creates
  the subscription (active, its first invoice paid at once) or, with ``trial_days``,
  a trialing subscription whose period is the trial (no invoice until it ends); in
  ``payment`` mode it pays a one-off purchase (a paid invoice and a payment).
  Declining it leaves nothing but the declined session.
- **Renewal**: when a period ends (``tick`` at or after its end, or ``renew``), the next
  period starts where it ended and its invoice is charged. The end of a trial is
  charged the same way (the first invoice).
- **A declined charge**: the invoice stays open, the subscription is ``past_due`` (from
  the failed attempt's instant) and the charge is retried 1, 3 and 5 days after the
  first failure; when the last retry fails it is ``unpaid`` (no more retries; the
  invoice stays open until ``recover_payment`` pays it). Catching up after the clock
  jumped replays each step at the instant it was due.
- **Cancellation** at the period's end ends it at that end (status ``canceled``);
  cancelling now ends it at once and voids its open invoices.
- **Plan and quantity changes** apply at once. An increase with ``prorate`` (an
  upgrade; ``set_quantity`` always prorates) is invoiced and charged at once:
  ``(new total - old total) x the fraction of the period left``, rounded; a decrease is
  not credited, the lower price is simply charged from the next renewal. A change of
  interval with ``prorate`` restarts the period now and charges the new price less the
  unused part of the old one. Nothing is charged while trialing.
- **Usage** records are counted once per idempotency key (no usage pricing: the
  catalog's overage prices do not reach providers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from adapters.sandbox import wire
from adapters.sandbox.model import (
    CheckoutStatus,
    InvoiceLine,
    SandboxCheckout,
    SandboxCustomer,
    SandboxEvent,
    SandboxInvoice,
    SandboxPayment,
    SandboxPrice,
    SandboxRequest,
    SandboxStore,
    SandboxSubscription,
    SandboxUsage,
)
from adapters.sandbox.objects import (
    CHARGEABLE,
    CHECKOUT_LIFETIME,
    FINAL,
    MAX_STEPS,
    MAX_TRIAL_DAYS,
    MAX_USAGE_RECORDS,
    OWING,
    RETRY_DAYS,
    TickReport,
    capability_id,
    checkout_data,
    customer_data,
    due_at,
    invoice_line,
    one_off_payment,
    provider_invoice,
    provider_price,
    rejected,
    subscription_state,
)
from core.billing.catalog import BillingInterval
from core.billing.payments import (
    CheckoutMode,
    CheckoutRequest,
    CheckoutSession,
    InvoiceStatus,
    PortalSession,
    PriceSpec,
    ProviderInvoice,
    ProviderPrice,
    SubscriptionState,
    UsageRecord,
)
from core.billing.subscriptions import SubscriptionStatus, add_interval
from core.kernel import IdGenerator

_S = SubscriptionStatus


class SandboxProcessor:
    """The processor at ``now`` over one store transaction."""

    def __init__(
        self, store: SandboxStore, *, now: datetime, ids: IdGenerator, public_url: str
    ) -> None:
        self.store = store
        self.now = now
        self.ids = ids
        self.public_url = public_url.rstrip("/")
        self.report = TickReport()

    # --- helpers ----------------------------------------------------------------------

    async def emit(self, event_type: str, data: Mapping[str, Any]) -> None:
        event_id = self.ids.new("evt", self.now)
        body = wire.event_body(event_id, event_type, self.now, data)
        await self.store.add(
            SandboxEvent(id=event_id, type=event_type, body=body, created_at=self.now)
        )

    async def customer(self, customer_id: str, *, lock: bool = False) -> SandboxCustomer:
        customer = await self.store.get(SandboxCustomer, customer_id, lock=lock)
        if customer is None:
            raise rejected(f"no such customer: {customer_id}")
        return customer

    async def price(self, price_id: str) -> SandboxPrice:
        price = await self.store.get(SandboxPrice, price_id)
        if price is None:
            raise rejected(f"no such price: {price_id}")
        return price

    async def subscription(self, sub_id: str, *, lock: bool = False) -> SandboxSubscription:
        sub = await self.store.get(SandboxSubscription, sub_id, lock=lock)
        if sub is None:
            raise rejected(f"no such subscription: {sub_id}")
        return sub

    async def save_subscription(
        self, sub: SandboxSubscription, event_type: str = wire.SUBSCRIPTION_UPDATED
    ) -> SandboxSubscription:
        """Save a change of ``sub`` as its next version and announce it."""
        sub = msgspec.structs.replace(sub, version=sub.version + 1)
        sub = msgspec.structs.replace(sub, due_at=due_at(sub))
        await self.store.save(sub)
        await self.emit(event_type, wire.object_data("subscription", subscription_state(sub)))
        return sub

    async def _once(self, operation: str, key: str, work: Callable[[], Awaitable[str]]) -> str:
        """``work``'s answer, remembered under ``key``: the same key again answers the
        first answer and does nothing."""
        request_id = f"{operation}:{key}"
        done = await self.store.get(SandboxRequest, request_id)
        if done is not None:
            return done.result
        result = await work()
        await self.store.add(SandboxRequest(id=request_id, result=result, created_at=self.now))
        return result

    async def change(
        self,
        operation: str,
        key: str,
        sub_id: str,
        change: Callable[[SandboxSubscription], Awaitable[SandboxSubscription]],
    ) -> SubscriptionState:
        sub = await self.subscription(sub_id, lock=True)

        async def work() -> str:
            changed = await change(sub)
            return msgspec.json.encode(subscription_state(changed)).decode()

        return msgspec.json.decode(await self._once(operation, key, work), type=SubscriptionState)

    # --- the catalog and customers ----------------------------------------------------

    async def sync_prices(
        self, specs: Sequence[PriceSpec], known: Mapping[str, ProviderPrice]
    ) -> list[ProviderPrice]:
        synced: list[ProviderPrice] = []
        for spec in specs:
            recorded = known.get(spec.key)
            if recorded is not None and recorded.fingerprint == spec.fingerprint:
                stored = await self.store.get(SandboxPrice, recorded.provider_price_id)
                if stored is not None and stored.active:
                    synced.append(recorded)
                    continue
            synced.append(provider_price(await self._price_for(spec)))
        return synced

    async def _price_for(self, spec: PriceSpec) -> SandboxPrice:
        same_key = await self.store.find(SandboxPrice, "key", spec.key)
        for price in same_key:
            if price.active and price.fingerprint == spec.fingerprint:
                return price
        for price in same_key:
            if price.active:
                await self.store.save(msgspec.structs.replace(price, active=False))
        product_id = same_key[0].product_id if same_key else self.ids.new("prod", self.now)
        price = SandboxPrice(
            id=self.ids.new("price", self.now),
            product_id=product_id,
            key=spec.key,
            name=spec.name,
            description=spec.description,
            amount=spec.amount,
            currency=spec.currency.upper(),
            interval=None if spec.interval is None else BillingInterval(spec.interval).value,
            per_seat=spec.per_seat,
            fingerprint=spec.fingerprint,
            created_at=self.now,
        )
        await self.store.add(price)
        return price

    async def create_customer(
        self, workspace_id: str, *, name: str, email: str | None, idempotency_key: str
    ) -> str:
        async def work() -> str:
            customer = SandboxCustomer(
                id=capability_id("cus"),
                workspace_id=workspace_id,
                name=name,
                email=email,
                created_at=self.now,
            )
            await self.store.add(customer)
            await self.emit(wire.CUSTOMER_CREATED, customer_data(customer))
            return customer.id

        return await self._once("customer", idempotency_key, work)

    async def set_card(self, target: str, *, works: bool) -> SandboxCustomer:
        """Make the card of a customer (by customer, workspace or subscription id) work
        or decline."""
        customer = await self.customer(await self.resolve_customer(target), lock=True)
        if customer.card_works != works:
            customer = msgspec.structs.replace(customer, card_works=works)
            await self.store.save(customer)
            await self.emit(wire.CUSTOMER_UPDATED, customer_data(customer))
        return customer

    async def resolve_customer(self, target: str) -> str:
        """A customer id from a customer, subscription or workspace id."""
        if await self.store.get(SandboxCustomer, target) is not None:
            return target
        sub = await self.store.get(SandboxSubscription, target)
        if sub is not None:
            return sub.customer_id
        customers = await self.store.find(SandboxCustomer, "workspace_id", target)
        if not customers:
            raise rejected(f"no customer, subscription or workspace {target}")
        return max(customers, key=lambda c: (c.created_at, c.id)).id

    async def resolve_subscription(self, target: str) -> str:
        """A subscription id from a subscription or workspace id (the workspace's live
        subscription, else its latest)."""
        if await self.store.get(SandboxSubscription, target) is not None:
            return target
        subs = await self.store.find(SandboxSubscription, "workspace_id", target)
        if not subs:
            raise rejected(f"no subscription {target}, nor any of a workspace {target}")
        live = [s for s in subs if s.status not in FINAL] or subs
        return max(live, key=lambda s: (s.created_at, s.id)).id

    # --- checkout -------------------------------------------------------------------------

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        async def work() -> str:
            customer = await self.customer(request.customer_id)
            if customer.workspace_id != request.workspace_id:
                raise rejected("the customer belongs to another workspace")
            price = await self.price(request.price.provider_price_id)
            if not price.active:
                raise rejected(f"the price {price.id} is archived")
            recurring = request.mode is CheckoutMode.SUBSCRIPTION
            if recurring != (price.interval is not None):
                raise rejected(f"a {request.mode.value} checkout of the price {price.id}")
            if request.quantity < 1:
                raise rejected("the quantity must be at least 1")
            if not 0 <= request.trial_days <= MAX_TRIAL_DAYS or (
                request.trial_days and not recurring
            ):
                raise rejected(f"trial_days {request.trial_days} is not allowed")
            checkout = SandboxCheckout(
                id=capability_id("cs"),
                customer_id=customer.id,
                workspace_id=request.workspace_id,
                mode=request.mode.value,
                price_id=price.id,
                quantity=request.quantity,
                trial_days=request.trial_days,
                success_url=request.success_url,
                cancel_url=request.cancel_url,
                metadata={**request.metadata, "workspace_id": request.workspace_id},
                created_at=self.now,
                expires_at=self.now + CHECKOUT_LIFETIME,
                due_at=self.now + CHECKOUT_LIFETIME,
            )
            await self.store.add(checkout)
            return checkout.id

        checkout_id = await self._once("checkout", request.idempotency_key, work)
        checkout = await self.checkout(checkout_id)
        return CheckoutSession(
            id=checkout.id,
            url=f"{self.public_url}/billing/sandbox/checkout/{checkout.id}",
            expires_at=checkout.expires_at,
        )

    async def checkout(self, checkout_id: str, *, lock: bool = False) -> SandboxCheckout:
        checkout = await self.store.get(SandboxCheckout, checkout_id, lock=lock)
        if checkout is None:
            raise rejected(f"no such checkout session: {checkout_id}")
        return checkout

    async def pay(self, checkout_id: str) -> str:
        """The customer pays with a card that works; answers the success URL. Paying a
        paid session again changes nothing; a declined or expired one is refused."""
        checkout = await self._expire_if_due(await self.checkout(checkout_id, lock=True))
        if checkout.status is CheckoutStatus.PAID:
            return checkout.success_url
        if checkout.status is not CheckoutStatus.OPEN:
            raise rejected(f"the checkout session is {checkout.status.value}")
        await self.set_card(checkout.customer_id, works=True)
        price = await self.price(checkout.price_id)
        if checkout.mode == CheckoutMode.PAYMENT.value:
            payment = await self._pay_once(checkout, price)
            checkout = msgspec.structs.replace(checkout, payment_id=payment.id)
        else:
            sub = await self._start_subscription(checkout, price)
            checkout = msgspec.structs.replace(checkout, subscription_id=sub.id)
        checkout = msgspec.structs.replace(
            checkout, status=CheckoutStatus.PAID, completed_at=self.now, due_at=None
        )
        await self.store.save(checkout)
        await self.emit(wire.CHECKOUT_COMPLETED, checkout_data(checkout))
        return checkout.success_url

    async def decline(self, checkout_id: str) -> str:
        """The card is declined or the customer gives up; answers the cancel URL."""
        checkout = await self._expire_if_due(await self.checkout(checkout_id, lock=True))
        if checkout.status is CheckoutStatus.OPEN:
            checkout = msgspec.structs.replace(
                checkout, status=CheckoutStatus.DECLINED, completed_at=self.now, due_at=None
            )
            await self.store.save(checkout)
            await self.emit(wire.CHECKOUT_DECLINED, checkout_data(checkout))
        elif checkout.status is CheckoutStatus.PAID:
            raise rejected("the checkout session is paid already")
        return checkout.cancel_url

    async def _expire_if_due(self, checkout: SandboxCheckout) -> SandboxCheckout:
        if checkout.status is CheckoutStatus.OPEN and checkout.expires_at <= self.now:
            checkout = msgspec.structs.replace(checkout, status=CheckoutStatus.EXPIRED, due_at=None)
            await self.store.save(checkout)
            await self.emit(wire.CHECKOUT_EXPIRED, checkout_data(checkout))
            self.report.checkouts_expired += 1
        return checkout

    async def _pay_once(self, checkout: SandboxCheckout, price: SandboxPrice) -> SandboxPayment:
        payment_id = self.ids.new("pay", self.now)
        invoice = await self.new_invoice(
            customer_id=checkout.customer_id,
            workspace_id=checkout.workspace_id,
            subscription_id=None,
            reason="payment",
            currency=price.currency,
            lines=[invoice_line(price.name, price.amount, checkout.quantity)],
            period=None,
        )
        await self.charge(invoice, self.now)
        payment = SandboxPayment(
            id=payment_id,
            customer_id=checkout.customer_id,
            workspace_id=checkout.workspace_id,
            price_id=price.id,
            quantity=checkout.quantity,
            amount=price.amount * checkout.quantity,
            currency=price.currency,
            invoice_id=invoice.id,
            paid_at=self.now,
        )
        await self.store.add(payment)
        await self.emit(
            wire.PAYMENT_SUCCEEDED, wire.object_data("payment", one_off_payment(payment))
        )
        return payment

    async def _start_subscription(
        self, checkout: SandboxCheckout, price: SandboxPrice
    ) -> SandboxSubscription:
        assert price.interval is not None  # create_checkout checked it
        trial_end = self.now + timedelta(days=checkout.trial_days) if checkout.trial_days else None
        sub = SandboxSubscription(
            id=self.ids.new("sub", self.now),
            customer_id=checkout.customer_id,
            workspace_id=checkout.workspace_id,
            price_id=price.id,
            currency=price.currency,
            quantity=checkout.quantity,
            status=_S.TRIALING if trial_end else _S.ACTIVE,
            current_period_start=self.now,
            current_period_end=trial_end or add_interval(self.now, price.interval),
            trial_end=trial_end,
            metadata=checkout.metadata,
            version=1,
            created_at=self.now,
        )
        sub = msgspec.structs.replace(sub, due_at=due_at(sub))
        await self.store.add(sub)
        await self.emit(
            wire.SUBSCRIPTION_CREATED, wire.object_data("subscription", subscription_state(sub))
        )
        if trial_end is None:
            invoice = await self.new_invoice(
                customer_id=sub.customer_id,
                workspace_id=sub.workspace_id,
                subscription_id=sub.id,
                reason="subscription_create",
                currency=price.currency,
                lines=[invoice_line(price.name, price.amount, sub.quantity)],
                period=(sub.current_period_start, sub.current_period_end),
            )
            await self.charge(invoice, self.now)  # the card works: pay() set it
        return sub

    # --- invoices and charges ---------------------------------------------------------

    async def new_invoice(
        self,
        *,
        customer_id: str,
        workspace_id: str,
        subscription_id: str | None,
        reason: str,
        currency: str,
        lines: list[InvoiceLine],
        period: tuple[datetime, datetime] | None,
        at: datetime | None = None,
    ) -> SandboxInvoice:
        total = sum(line.amount for line in lines)
        number = await self.store.next_number("invoice")
        invoice = SandboxInvoice(
            id=capability_id("in"),
            number=f"SBX-{number:06d}",
            customer_id=customer_id,
            workspace_id=workspace_id,
            subscription_id=subscription_id,
            reason=reason,
            status=InvoiceStatus.OPEN,
            currency=currency,
            subtotal=total,
            total=total,
            amount_due=total,
            lines=lines,
            period_start=period[0] if period else None,
            period_end=period[1] if period else None,
            issued_at=at or self.now,
        )
        await self.store.add(invoice)
        return invoice

    async def charge(self, invoice: SandboxInvoice, at: datetime) -> bool:
        """Charge an open invoice to its customer's card: paid (``True``) or failed."""
        customer = await self.customer(invoice.customer_id)
        works = customer.card_works or invoice.amount_due == 0
        invoice = msgspec.structs.replace(
            invoice, attempts=invoice.attempts + 1, version=invoice.version + 1
        )
        if works:
            invoice = msgspec.structs.replace(
                invoice,
                status=InvoiceStatus.PAID,
                amount_paid=invoice.total,
                amount_due=0,
                paid_at=at,
            )
        await self.store.save(invoice)
        await self.emit(
            wire.INVOICE_PAID if works else wire.INVOICE_PAYMENT_FAILED,
            wire.object_data("invoice", provider_invoice(invoice, self.public_url)),
        )
        return works

    async def open_invoices(self, sub_id: str) -> list[SandboxInvoice]:
        invoices = await self.store.find(SandboxInvoice, "subscription_id", sub_id)
        return sorted(
            (i for i in invoices if i.status is InvoiceStatus.OPEN),
            key=lambda i: (i.issued_at, i.number),
        )

    def failed(self, sub: SandboxSubscription, at: datetime) -> SandboxSubscription:
        """``sub`` after a failed charge at ``at``: past due, retried on schedule, unpaid
        after the last retry."""
        since = sub.past_due_since or at
        attempts = sub.failed_attempts + 1
        self.report.payments_failed += 1
        if attempts > len(RETRY_DAYS):
            self.report.became_unpaid += 1
            return msgspec.structs.replace(
                sub,
                status=_S.UNPAID,
                past_due_since=since,
                failed_attempts=attempts,
                next_retry_at=None,
            )
        return msgspec.structs.replace(
            sub,
            status=_S.PAST_DUE,
            past_due_since=since,
            failed_attempts=attempts,
            next_retry_at=since + timedelta(days=RETRY_DAYS[attempts - 1]),
        )

    @staticmethod
    def paid_up(sub: SandboxSubscription) -> SandboxSubscription:
        return msgspec.structs.replace(
            sub, status=_S.ACTIVE, past_due_since=None, failed_attempts=0, next_retry_at=None
        )

    # --- time ---------------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """Everything due at ``now``: checkouts expire, periods end (renewed, or ended
        by a scheduled cancellation), trials end, failed charges are retried."""
        for checkout_id in await self.store.due(SandboxCheckout, self.now):
            await self._expire_if_due(await self.checkout(checkout_id, lock=True))
        for sub_id in await self.store.due(SandboxSubscription, self.now):
            sub = await self.subscription(sub_id, lock=True)  # re-read: another tick?
            await self._catch_up(sub)
        return self.report

    async def _catch_up(self, sub: SandboxSubscription) -> SandboxSubscription:
        for _ in range(MAX_STEPS):
            if sub.due_at is None or sub.due_at > self.now:
                break
            sub = await self._step(sub, sub.due_at)
        return sub

    async def _step(self, sub: SandboxSubscription, at: datetime) -> SandboxSubscription:
        """What is due on ``sub`` at ``at``."""
        period_over = sub.current_period_end <= at
        if sub.status not in FINAL and sub.cancel_at_period_end and period_over:
            self.report.ended += 1
            return await self.save_subscription(
                msgspec.structs.replace(
                    sub,
                    status=_S.CANCELED,
                    ended_at=sub.current_period_end,
                    next_retry_at=None,
                ),
                wire.SUBSCRIPTION_CANCELED,
            )
        if sub.status is _S.PAST_DUE and sub.next_retry_at is not None and sub.next_retry_at <= at:
            return await self._retry(sub, at)
        if sub.status in CHARGEABLE and period_over:
            return await self._renew(sub, at)
        # Nothing to do after all: make sure it is not due again at once.
        fixed = msgspec.structs.replace(sub, due_at=due_at(sub))
        if fixed.due_at is not None and fixed.due_at <= at:
            fixed = msgspec.structs.replace(fixed, due_at=None)
        await self.store.save(fixed)
        return fixed

    async def _renew(self, sub: SandboxSubscription, at: datetime) -> SandboxSubscription:
        """The period ended: the next starts where it ended, and its invoice is charged."""
        price = await self.price(sub.price_id)
        assert price.interval is not None
        start = sub.current_period_end
        end = add_interval(start, price.interval)
        invoice = await self.new_invoice(
            customer_id=sub.customer_id,
            workspace_id=sub.workspace_id,
            subscription_id=sub.id,
            reason="subscription_create" if sub.status is _S.TRIALING else "subscription_cycle",
            currency=price.currency,
            lines=[invoice_line(price.name, price.amount, sub.quantity)],
            period=(start, end),
            at=at,
        )
        renewed = msgspec.structs.replace(sub, current_period_start=start, current_period_end=end)
        if await self.charge(invoice, at):
            self.report.renewed += 1
            renewed = self.paid_up(renewed)
        else:
            renewed = self.failed(renewed, at)
        return await self.save_subscription(renewed)

    async def _retry(self, sub: SandboxSubscription, at: datetime) -> SandboxSubscription:
        owed = await self.open_invoices(sub.id)
        for invoice in owed:
            if not await self.charge(invoice, at):
                return await self.save_subscription(self.failed(sub, at))
        self.report.payments_recovered += 1
        return await self.save_subscription(self.paid_up(sub))

    # --- back-office commands ---------------------------------------------------------

    async def fail_payment(self, target: str) -> SubscriptionState:
        """The card declines from now on, and the subscription's next charge is made now
        and fails: an active or trialing subscription's period ends now (it renews
        into past_due); a past-due one's next retry is made now."""
        sub = await self.subscription(await self.resolve_subscription(target), lock=True)
        await self.set_card(sub.customer_id, works=False)
        if sub.cancel_at_period_end:
            raise rejected("the subscription ends at its period's end: no charge to fail")
        if sub.status in CHARGEABLE:
            sub = msgspec.structs.replace(sub, current_period_end=self.now)
        elif sub.status is _S.PAST_DUE:
            sub = msgspec.structs.replace(sub, next_retry_at=self.now)
        else:
            raise rejected(f"the subscription is {sub.status.value}: no charge to fail")
        return subscription_state(await self._step(sub, self.now))

    async def recover_payment(self, target: str) -> SubscriptionState:
        """The card works from now on and what the subscription owes is paid now."""
        sub = await self.subscription(await self.resolve_subscription(target), lock=True)
        if sub.status in FINAL:
            raise rejected(f"the subscription is {sub.status.value}")
        await self.set_card(sub.customer_id, works=True)
        if sub.status in OWING or await self.open_invoices(sub.id):
            sub = await self._retry(sub, self.now)
        return subscription_state(sub)

    async def renew(self, target: str) -> SubscriptionState:
        """The period (or the trial) ends now and the next one is charged, with the card
        as it is."""
        sub = await self.subscription(await self.resolve_subscription(target), lock=True)
        if sub.status not in CHARGEABLE:
            raise rejected(f"the subscription is {sub.status.value}: it cannot renew now")
        if sub.cancel_at_period_end:
            raise rejected("the subscription ends at its period's end: resume it first")
        sub = msgspec.structs.replace(sub, current_period_end=self.now)
        return subscription_state(await self._renew(sub, self.now))

    # --- the subscription API ---------------------------------------------------------

    async def fetch_subscription(self, sub_id: str) -> SubscriptionState:
        return subscription_state(await self.subscription(sub_id))

    # --- usage and invoices -----------------------------------------------------------

    async def report_usage(self, records: Sequence[UsageRecord]) -> None:
        if len(records) > MAX_USAGE_RECORDS:
            raise rejected(f"at most {MAX_USAGE_RECORDS} usage records a call")
        for record in records:
            await self.customer(record.customer_id)
            if record.provider_subscription_id is not None:
                await self.subscription(record.provider_subscription_id)
            if record.quantity < 0:
                raise rejected(f"a negative usage quantity: {record.quantity}")
        seen: set[str] = set()
        for record in records:
            if record.idempotency_key in seen:
                continue
            seen.add(record.idempotency_key)
            if await self.store.get(SandboxUsage, record.idempotency_key) is not None:
                continue
            await self.store.add(
                SandboxUsage(
                    id=record.idempotency_key,
                    customer_id=record.customer_id,
                    subscription_id=record.provider_subscription_id,
                    meter=record.meter,
                    quantity=record.quantity,
                    timestamp=record.timestamp,
                    received_at=self.now,
                )
            )

    async def usage_totals(self, customer_id: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        for usage in await self.store.find(SandboxUsage, "customer_id", customer_id):
            totals[usage.meter] = totals.get(usage.meter, 0) + usage.quantity
        return totals

    async def invoices_of(self, customer_id: str) -> list[SandboxInvoice]:
        invoices = await self.store.find(SandboxInvoice, "customer_id", customer_id)
        return sorted(invoices, key=lambda i: (i.issued_at, i.number), reverse=True)

    async def list_invoices(self, customer_id: str, *, limit: int) -> list[ProviderInvoice]:
        await self.customer(customer_id)
        invoices = (await self.invoices_of(customer_id))[: max(0, limit)]
        return [provider_invoice(invoice, self.public_url) for invoice in invoices]

    async def portal(self, customer_id: str) -> PortalSession:
        await self.customer(customer_id)
        return PortalSession(url=f"{self.public_url}/billing/sandbox/portal/{customer_id}")
