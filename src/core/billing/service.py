"""Billing's subscription use cases: checkout, portal, plan changes, cancellation,
seats, the price sync, and applying the provider's view of a subscription.

The provider is the source of truth for money: a change is made at the provider first,
and what the provider answers (a ``SubscriptionState`` with its version) is applied to
our copy through ``apply_provider_state``, exactly as a webhook would be. A webhook that
arrives later with the same or an older version changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.billing.access import Access, access
from core.billing.catalog import BillingInterval, Catalog
from core.billing.credits import PlanCredits
from core.billing.errors import (
    ConcurrentSubscriptionUpdateError,
    InvalidSubscriptionChangeError,
    NoSubscriptionError,
    SubscriptionExistsError,
    UnknownPriceError,
)
from core.billing.events import SubscriptionEvent
from core.billing.ledger import CreditLedger
from core.billing.ledger_model import CreditBalance, GrantBalance, LedgerTransaction
from core.billing.payments import (
    CheckoutMode,
    CheckoutRequest,
    CheckoutSession,
    PaymentProvider,
    PortalSession,
    ProviderPrice,
    SubscriptionState,
    plan_price_key,
    product_price_key,
)
from core.billing.ports import (
    BillingStores,
)
from core.billing.prices import price_specs, read_price_key
from core.billing.reconciliation import ProviderSubscription, apply_provider_state
from core.billing.subscriptions import Subscription, is_downgrade
from core.kernel import Clock, IdGenerator, TenantContext, UnitOfWork


class BillingService:
    """The subscription use cases of one unit of work."""

    def __init__(
        self,
        *,
        stores: BillingStores,
        provider: PaymentProvider,
        catalog: Catalog,
        ledger: CreditLedger,
        uow: UnitOfWork,
        clock: Clock,
        ids: IdGenerator,
        grace_days: int,
        default_currency: str = "USD",
    ) -> None:
        self.stores = stores
        self.provider = provider
        self.catalog = catalog
        self.ledger = ledger
        self.uow = uow
        self.clock = clock
        self._ids = ids
        self.grace_days = grace_days
        self._default_currency = default_currency.upper()
        self.plan_credits = PlanCredits(
            catalog=catalog,
            ledger=ledger,
            subscriptions=stores.subscriptions,
            alerts=stores.alerts,
            uow=uow,
            clock=clock,
            grace_days=grace_days,
        )

    # Reads

    async def subscription(self, tenant: TenantContext) -> Subscription | None:
        return await self.stores.subscriptions.current(tenant)

    async def require_subscription(self, tenant: TenantContext) -> Subscription:
        sub = await self.subscription(tenant)
        if sub is None or sub.is_final:
            raise NoSubscriptionError(
                "the workspace is on the free plan; start a subscription with a checkout"
            )
        return sub

    def access_of(self, subscription: Subscription | None, now: datetime | None = None) -> Access:
        return access(subscription, now or self.clock.now(), self.grace_days, self.catalog.fallback)

    # The catalog at the provider

    async def sync_prices(self) -> list[ProviderPrice]:
        """Create or update the provider's products and prices for the catalog and
        record the mapping (idempotent: unchanged prices make no call)."""
        known = await self.stores.prices.all(self.provider.name)
        synced = await self.provider.sync_prices(price_specs(self.catalog), known)
        await self.stores.prices.save(synced)
        return synced

    async def _price(self, key: str) -> ProviderPrice:
        """The provider's price for ``key``, syncing the catalog first if it is new."""
        prices = await self.stores.prices.all(self.provider.name)
        if key not in prices:
            prices = {price.key: price for price in await self.sync_prices()}
        if key not in prices:
            raise UnknownPriceError(f"the catalog has no price {key!r}", price=key)
        return prices[key]

    # Customers and checkout

    async def customer_id(self, tenant: TenantContext, *, name: str, email: str | None) -> str:
        """The workspace's customer at the provider, created on first use."""
        customers = self.stores.customers
        known = await customers.customer_id(self.provider.name, tenant.workspace_id)
        if known is not None:
            return known
        created = await self.provider.create_customer(
            tenant.workspace_id,
            name=name,
            email=email,
            idempotency_key=f"ninefold-customer-{tenant.workspace_id}",
        )
        await customers.add(self.provider.name, tenant.workspace_id, created)
        return created

    async def checkout(
        self,
        tenant: TenantContext,
        *,
        plan: str,
        interval: BillingInterval | str,
        currency: str | None,
        seats: int,
        success_url: str,
        cancel_url: str,
        customer_name: str,
        customer_email: str | None,
        idempotency_key: str,
        trial: bool = True,
    ) -> CheckoutSession:
        """A hosted checkout for a subscription to ``plan``. The subscription itself
        is created when the provider reports it paid (or trialing). A workspace that
        already has a live subscription changes it instead; the plan's trial is offered
        to a workspace's first subscription only (and skipped with ``trial=False``)."""
        chosen = self.catalog.plan(plan)
        if not chosen.prices:
            raise InvalidSubscriptionChangeError(
                f"{chosen.name} is free: every workspace without a subscription is on it"
            )
        if seats < 1:
            raise InvalidSubscriptionChangeError("a subscription has at least one seat")
        currency = (currency or self._default_currency).upper()
        price = chosen.price(BillingInterval(interval), currency)
        current = await self.stores.subscriptions.current(tenant)
        if current is not None and not current.is_final:
            raise SubscriptionExistsError(
                f"the workspace already has a {current.status.value} {current.plan} "
                "subscription: change, cancel or resume it instead",
                subscription_id=current.id,
            )
        customer = await self.customer_id(tenant, name=customer_name, email=customer_email)
        provider_price = await self._price(plan_price_key(plan, interval, currency))
        return await self.provider.create_checkout(
            CheckoutRequest(
                workspace_id=tenant.workspace_id,
                customer_id=customer,
                mode=CheckoutMode.SUBSCRIPTION,
                price=provider_price,
                quantity=price.billable_seats(seats),
                trial_days=chosen.trial_days if current is None and trial else 0,
                success_url=success_url,
                cancel_url=cancel_url,
                idempotency_key=idempotency_key,
                metadata={"workspace_id": tenant.workspace_id, "plan": plan},
            )
        )

    async def buy(
        self,
        tenant: TenantContext,
        *,
        product: str,
        quantity: int,
        currency: str | None,
        success_url: str,
        cancel_url: str,
        customer_name: str,
        customer_email: str | None,
        idempotency_key: str,
    ) -> CheckoutSession:
        """A hosted checkout for ``quantity`` packs of a one-off product (credits)."""
        item = self.catalog.product(product)
        currency = (currency or self._default_currency).upper()
        item.price(currency)
        if not 1 <= quantity <= 100:
            raise InvalidSubscriptionChangeError("buy between 1 and 100 packs at a time")
        customer = await self.customer_id(tenant, name=customer_name, email=customer_email)
        provider_price = await self._price(product_price_key(product, currency))
        return await self.provider.create_checkout(
            CheckoutRequest(
                workspace_id=tenant.workspace_id,
                customer_id=customer,
                mode=CheckoutMode.PAYMENT,
                price=provider_price,
                quantity=quantity,
                success_url=success_url,
                cancel_url=cancel_url,
                idempotency_key=idempotency_key,
                metadata={"workspace_id": tenant.workspace_id, "product": product},
            )
        )

    async def portal(
        self,
        tenant: TenantContext,
        *,
        return_url: str,
        customer_name: str,
        customer_email: str | None,
    ) -> PortalSession:
        customer = await self.customer_id(tenant, name=customer_name, email=customer_email)
        return await self.provider.create_portal(customer, return_url=return_url)

    # Changing the subscription (at the provider first)

    async def change_plan(
        self,
        tenant: TenantContext,
        *,
        plan: str,
        interval: BillingInterval | str | None,
        idempotency_key: str,
    ) -> Subscription:
        """Upgrade at once (prorated) or downgrade at the period's end. Moving to the
        free plan is a cancellation."""
        sub = await self.require_subscription(tenant)
        target = self.catalog.plan(plan)
        if not target.prices:
            raise InvalidSubscriptionChangeError(
                f"to move to {target.name}, cancel the subscription: it ends with the period"
            )
        to_interval = BillingInterval(interval or sub.interval)
        price = target.price(to_interval, sub.currency)
        provider_id = self._provider_id(sub)
        now = self.clock.now()
        downgrade = is_downgrade(self.catalog, sub, plan, to_interval)
        local, events = sub.change_plan(
            now, plan=plan, interval=to_interval, at_period_end=downgrade
        )
        provider_price = await self._price(plan_price_key(plan, to_interval, sub.currency))
        state = await self.provider.change_plan(
            provider_id,
            provider_price,
            quantity=price.billable_seats(sub.seats),
            prorate=not downgrade,
            idempotency_key=idempotency_key,
        )
        return await self._save_applied(local, events, state, now)

    async def cancel(
        self, tenant: TenantContext, *, at_period_end: bool, idempotency_key: str
    ) -> Subscription:
        sub = await self.require_subscription(tenant)
        now = self.clock.now()
        # The guards only: the provider's answer brings the change and its events.
        sub.schedule_cancel(now) if at_period_end else sub.cancel_now(now)
        state = await self.provider.cancel(
            self._provider_id(sub), at_period_end=at_period_end, idempotency_key=idempotency_key
        )
        return await self._save_applied(sub, (), state, now)

    async def resume(self, tenant: TenantContext, *, idempotency_key: str) -> Subscription:
        """Withdraw a scheduled cancellation."""
        sub = await self.require_subscription(tenant)
        now = self.clock.now()
        sub.undo_cancel(now)  # the guard: refuses unless a cancellation is scheduled
        state = await self.provider.resume(self._provider_id(sub), idempotency_key=idempotency_key)
        return await self._save_applied(sub, (), state, now)

    async def set_seats(self, tenant: TenantContext, seats: int) -> Subscription | None:
        """Bill ``seats`` seats (from the workspace's members). Nothing to do without a
        live subscription, or when the billed quantity does not change."""
        sub = await self.stores.subscriptions.current(tenant)
        if sub is None or sub.is_final or sub.provider_subscription_id is None:
            return None
        if sub.provider != self.provider.name:
            return sub  # another provider's subscription: this one cannot bill it
        seats = max(seats, 1)
        price = self.catalog.plan(sub.plan).price(sub.interval, sub.currency)
        if price.billable_seats(seats) == price.billable_seats(sub.seats) or not price.per_seat:
            return sub
        now = self.clock.now()
        state = await self.provider.set_quantity(
            sub.provider_subscription_id,
            price.billable_seats(seats),
            idempotency_key=f"ninefold-seats-{sub.id}-{seats}-{sub.version}",
        )
        return await self._save_applied(sub, (), state, now)

    def _provider_id(self, sub: Subscription) -> str:
        if sub.provider_subscription_id is None or sub.provider != self.provider.name:
            raise InvalidSubscriptionChangeError(
                f"the subscription is managed by {sub.provider}, not {self.provider.name}"
            )
        return sub.provider_subscription_id

    async def _save_applied(
        self,
        local: Subscription,
        events: Sequence[SubscriptionEvent],
        state: SubscriptionState,
        now: datetime,
    ) -> Subscription:
        """Apply the provider's answer to ``local`` (our change, with ``events``) and
        save."""
        snapshot = await self.snapshot(state)
        applied, more = apply_provider_state(local, snapshot, now=now)
        saved = await self.stores.subscriptions.save(applied)
        for event in (*events, *more):
            self.uow.raise_event(event)
        await self.after_change(saved, (*events, *more), now)
        return saved

    # The provider's view

    async def snapshot(self, state: SubscriptionState) -> ProviderSubscription:
        """The provider's view read as our plan, interval and seats."""
        price = await self.stores.prices.by_provider_price_id(self.provider.name, state.price_id)
        if price is None:
            raise UnknownPriceError(
                f"{self.provider.name} price {state.price_id!r} is not one of ours: "
                "run `ninefold billing sync`",
                price=state.price_id,
            )
        kind, plan, interval, _currency = read_price_key(price.key)
        if kind != "plan" or interval is None:
            raise UnknownPriceError(f"{price.key} is not a plan's price", price=price.key)
        return ProviderSubscription(
            provider_subscription_id=state.provider_subscription_id,
            status=state.status,
            plan=plan,
            interval=interval,
            currency=state.currency.upper(),
            seats=max(state.quantity, 1),
            current_period_start=state.current_period_start,
            current_period_end=state.current_period_end,
            trial_end=state.trial_end,
            cancel_at_period_end=state.cancel_at_period_end,
            canceled_at=state.canceled_at,
            ended_at=state.ended_at,
            past_due_since=state.past_due_since,
            provider_version=state.provider_version,
        )

    async def apply_state(self, state: SubscriptionState, workspace_id: str | None) -> Subscription:
        """Bring our copy of the subscription to the provider's view ``state`` (from a
        webhook or a refetch), creating it on first sight."""
        now = self.clock.now()
        snapshot = await self.snapshot(state)
        subs = self.stores.subscriptions
        sub = await subs.by_provider_id(self.provider.name, state.provider_subscription_id)
        if sub is not None:
            applied, events = apply_provider_state(sub, snapshot, now=now)
            if applied == sub:
                return sub
            saved = await subs.save(applied)
        else:
            workspace_id = (
                workspace_id
                or state.workspace_id
                or await self.stores.customers.workspace_id(self.provider.name, state.customer_id)
            )
            if workspace_id is None:
                raise NoSubscriptionError(
                    f"{self.provider.name} customer {state.customer_id} is not one of ours"
                )
            created, events = Subscription.create(
                id=self._ids.new("sub", now),
                workspace_id=workspace_id,
                plan=snapshot.plan,
                interval=snapshot.interval,
                currency=snapshot.currency,
                provider=self.provider.name,
                now=now,
                seats=snapshot.seats,
                provider_subscription_id=state.provider_subscription_id,
            )
            applied, more = apply_provider_state(created, snapshot, now=now)
            events += more
            try:
                saved = await subs.add(applied)
            except SubscriptionExistsError:
                # Two events of one new subscription applied at once: the other created
                # it. Retrying finds it and applies this view to it.
                if await subs.by_provider_id(self.provider.name, state.provider_subscription_id):
                    raise ConcurrentSubscriptionUpdateError(
                        f"{state.provider_subscription_id} was created concurrently; retry"
                    ) from None
                raise
            await self.stores.customers.add(self.provider.name, workspace_id, state.customer_id)
        for event in events:
            self.uow.raise_event(event)
        await self.after_change(saved, events, now)
        return saved

    # What follows a change: credits (core.billing.credits)

    async def after_change(
        self, sub: Subscription, events: Sequence[SubscriptionEvent], now: datetime
    ) -> None:
        """Allocate the plan's credits for the current window (prorated: an upgrade late
        in a period grants only what is left of the difference), and roll the previous
        window's unused credits over when a period renewed."""
        if events:
            await self.plan_credits.allocate(TenantContext(sub.workspace_id), sub, now)

    async def credits(self, tenant: TenantContext) -> tuple[CreditBalance, list[GrantBalance]]:
        """The balance and grants, the current window's allocation made first."""
        return await self.plan_credits.balance(tenant)

    async def consume_credits(
        self, tenant: TenantContext, amount: int, *, key: str
    ) -> LedgerTransaction:
        """Spend ``amount`` credits (all or nothing; ``InsufficientCreditsError`` past
        the balance and the plan's overdraft); ``key`` makes it idempotent. The public
        API other systems spend credits through."""
        return await self.plan_credits.consume(tenant, amount, key=key)
