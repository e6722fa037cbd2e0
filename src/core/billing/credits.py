"""A workspace's credits as its plan gives them: the plan's allocation for the current
window (lazily, idempotently, prorated), rollover into the next window, spending with
the plan's overdraft, and the low-credits alert. The ledger itself (entries, grants,
expiry) is ``ledger.py``."""

from __future__ import annotations

from datetime import datetime

from core.billing.access import Access, AccessState, access
from core.billing.alerts import Alerts, low_credits_threshold
from core.billing.catalog import Catalog, Plan
from core.billing.ledger import CreditLedger
from core.billing.ledger_model import CreditBalance, GrantBalance, LedgerTransaction
from core.billing.periods import Period, calendar_month, credit_window
from core.billing.ports import AlertLog, SubscriptionStore
from core.billing.subscriptions import Subscription
from core.kernel import Clock, TenantContext, UnitOfWork

FALLBACK_ALLOCATION = "fallback"  # the "subscription id" of fallback-plan allocations
ALL = 2**62  # a rollover cap of "every credit"


class PlanCredits:
    def __init__(
        self,
        *,
        catalog: Catalog,
        ledger: CreditLedger,
        subscriptions: SubscriptionStore,
        alerts: AlertLog,
        uow: UnitOfWork,
        clock: Clock,
        grace_days: int,
    ) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._subscriptions = subscriptions
        self._alerts = alerts
        self._uow = uow
        self._clock = clock
        self._grace_days = grace_days

    def _access(self, sub: Subscription | None, now: datetime) -> Access:
        return access(sub, now, self._grace_days, self._catalog.fallback)

    async def allocate(
        self, tenant: TenantContext, sub: Subscription | None, now: datetime
    ) -> None:
        """The credits of the plan in effect for the window holding ``now``; rolls the
        previous window over first. Idempotent."""
        granted = self._access(sub, now)
        plan = self._catalog.plan(granted.plan)
        if plan.credits is None:
            return
        window, owner = self.credit_window(sub, granted, plan, now)
        cap = plan.credits.rollover_cap
        if cap != 0:  # None: every unused credit rolls over
            await self._ledger.rollover(
                tenant, window.start, ALL if cap is None else cap, expires_at=window.end, at=now
            )
        await self._ledger.allocate(
            tenant,
            subscription_id=owner,
            amount=plan.credits.amount,
            period_start=window.start,
            period_end=window.end,
            at=now,
        )

    async def balance(self, tenant: TenantContext) -> tuple[CreditBalance, list[GrantBalance]]:
        """The balance and grants, after allocating the current window's credits if
        that has not happened yet (allocation is lazy and idempotent)."""
        now = self._clock.now()
        sub = await self._subscriptions.current(tenant)
        await self.allocate(tenant, sub, now)
        balance = await self._ledger.balance(tenant)
        await self._check_low(tenant, sub, balance, now)
        return balance, list(await self._ledger.grants(tenant))

    async def consume(self, tenant: TenantContext, amount: int, *, key: str) -> LedgerTransaction:
        """Spend ``amount`` credits (all or nothing; ``InsufficientCreditsError`` past
        the balance and the plan's overdraft). ``key`` makes it idempotent. The public
        API other systems spend credits through."""
        now = self._clock.now()
        sub = await self._subscriptions.current(tenant)
        await self.allocate(tenant, sub, now)
        plan = self._catalog.plan(self._access(sub, now).plan)
        overdraft = plan.credits.overdraft if plan.credits is not None else 0
        posted = await self._ledger.consume(tenant, amount, key, now, overdraft_limit=overdraft)
        await self._check_low(tenant, sub, await self._ledger.balance(tenant), now)
        return posted

    async def _check_low(
        self, tenant: TenantContext, sub: Subscription | None, balance: CreditBalance, now: datetime
    ) -> None:
        granted = self._access(sub, now)
        plan = self._catalog.plan(granted.plan)
        if plan.credits is None:
            return
        window, _owner = self.credit_window(sub, granted, plan, now)
        await Alerts(self._alerts, self._uow, self._clock).credits(
            tenant,
            balance=balance.available - balance.overdraft,
            threshold=low_credits_threshold(plan.credits.amount),
            window_start=window.start,
        )

    def credit_window(
        self, sub: Subscription | None, granted: Access, plan: Plan, now: datetime
    ) -> tuple[Period, str]:
        """The allocation window holding ``now`` and whose allocation it is."""
        if (
            sub is not None
            and granted.state is not AccessState.FALLBACK
            and sub.current_period_start is not None
            and sub.current_period_end is not None
            and sub.current_period_start <= now < sub.current_period_end
        ):
            billing = Period(sub.current_period_start, sub.current_period_end)
            return credit_window(plan, billing, now), sub.id
        return calendar_month(now), FALLBACK_ALLOCATION
