"""Entitlements: what a workspace may use now, the question other systems ask billing.

``may_use(tenant, feature)`` and ``limit(tenant, name)`` are cheap: the access a
workspace has (its plan in effect, with the grace period) is cached in the process for
a few seconds and dropped at once when billing changes the workspace's subscription in
this process (``AccessCache.invalidate``, called after commit); other processes see the
change when their entry expires (``ttl``). An entry never outlives the end of a grace
period, so access falls back exactly on time. Meter usage is read when asked for
(``entitlements(with_usage=True)``), not cached.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import msgspec

from core.billing.access import Access, access
from core.billing.catalog import Catalog, Plan
from core.billing.periods import Period, usage_period
from core.billing.ports import SubscriptionStore
from core.billing.usage import Aggregation, UsageLimits, UsageService
from core.kernel import Clock, TenantContext
from core.kernel.events import AwareDatetime

Number = int | float


class MeterEntitlement(msgspec.Struct, frozen=True, kw_only=True):
    """A meter's terms in the plan in effect and its use in the current period.
    ``remaining`` is what the hard limit still allows (``None``: no hard limit)."""

    meter: str
    aggregation: Aggregation
    unit: str
    included: int
    used: Number
    hard_limit: int | None
    soft_limit: int | None
    remaining: Number | None
    period_start: AwareDatetime
    period_end: AwareDatetime


class Entitlements(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: str
    plan: str
    plan_name: str
    access: Access
    features: list[str]
    limits: dict[str, int | None]
    meters: list[MeterEntitlement] = msgspec.field(default_factory=list)

    def may_use(self, feature: str) -> bool:
        return feature in self.features


class _Cached(msgspec.Struct, frozen=True):
    access: Access
    period: Period
    expires_at: datetime


class AccessCache:
    """Each workspace's access and usage period, for ``ttl`` at most (thread-safe)."""

    def __init__(self, ttl: timedelta = timedelta(seconds=10), max_entries: int = 10_000):
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def get(self, workspace_id: str, now: datetime) -> tuple[Access, Period] | None:
        with self._lock:
            entry = self._entries.get(workspace_id)
        if entry is None or now >= entry.expires_at:
            return None
        return entry.access, entry.period

    def put(self, workspace_id: str, granted: Access, period: Period, now: datetime) -> None:
        expires = now + self._ttl
        if granted.until is not None:
            expires = min(expires, granted.until)
        expires = min(expires, period.end)
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[workspace_id] = _Cached(granted, period, expires)

    def invalidate(self, workspace_id: str) -> None:
        with self._lock:
            self._entries.pop(workspace_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class EntitlementService:
    def __init__(
        self,
        *,
        subscriptions: SubscriptionStore,
        usage: UsageService | None,
        catalog: Catalog,
        clock: Clock,
        grace_days: int,
        cache: AccessCache,
    ) -> None:
        self._subscriptions = subscriptions
        self.usage = usage
        self._catalog = catalog
        self._clock = clock
        self._grace_days = grace_days
        self._cache = cache

    async def access(
        self, tenant: TenantContext, now: datetime | None = None
    ) -> tuple[Access, Period]:
        """The access the workspace has at ``now`` and its current usage period."""
        now = now or self._clock.now()
        cached = self._cache.get(tenant.workspace_id, now)
        if cached is not None:
            return cached
        sub = await self._subscriptions.current(tenant)
        granted = access(sub, now, self._grace_days, self._catalog.fallback)
        period = usage_period(sub, now, paid=granted.plan == (sub.plan if sub else None))
        self._cache.put(tenant.workspace_id, granted, period, now)
        return granted, period

    async def plan(self, tenant: TenantContext) -> Plan:
        granted, _ = await self.access(tenant)
        return self._catalog.plan(granted.plan)

    async def may_use(self, tenant: TenantContext, feature: str) -> bool:
        """Whether the plan in effect has ``feature``."""
        return (await self.plan(tenant)).has_feature(feature)

    async def limit(self, tenant: TenantContext, name: str) -> int | None:
        """The plan in effect's limit ``name`` (``None``: unlimited)."""
        return (await self.plan(tenant)).limit(name)

    async def remaining(self, tenant: TenantContext, name: str, used: int) -> int | None:
        """How much of limit ``name`` is left when ``used`` is in use (never below 0;
        ``None``: unlimited). Callers count their own things (projects, seats)."""
        cap = await self.limit(tenant, name)
        return None if cap is None else max(cap - used, 0)

    async def entitlements(self, tenant: TenantContext, *, with_usage: bool = True) -> Entitlements:
        granted, period = await self.access(tenant)
        plan = self._catalog.plan(granted.plan)
        meters: list[MeterEntitlement] = []
        if with_usage and self.usage is not None:
            for name, meter in self._catalog.meters.items():
                terms = plan.meter(name)
                aggregate = await self.usage.aggregate(tenant, name, period.start, period.end)
                hard = terms.limit.hard
                meters.append(
                    MeterEntitlement(
                        meter=name,
                        aggregation=meter.aggregation,
                        unit=meter.unit,
                        included=terms.included,
                        used=aggregate.value,
                        hard_limit=hard,
                        soft_limit=terms.limit.soft,
                        remaining=None if hard is None else max(hard - aggregate.value, 0),
                        period_start=period.start,
                        period_end=period.end,
                    )
                )
        return Entitlements(
            workspace_id=tenant.workspace_id,
            plan=plan.key,
            plan_name=plan.name,
            access=granted,
            features=sorted(plan.features),
            limits=dict(plan.limits),
            meters=meters,
        )

    async def limits_for(self, workspace_id: str, meter: str, at: datetime) -> UsageLimits | None:
        """``UsageService``'s ``limits_for``: the plan in effect's limits on ``meter`` in
        the period holding ``at`` (the current period's plan decides)."""
        granted, period = await self.access(TenantContext(workspace_id))
        if not period.covers(at):
            return None
        terms = self._catalog.plan(granted.plan).meter(meter)
        if terms.limit.hard is None and terms.limit.soft is None:
            return None
        return UsageLimits(
            period_start=period.start,
            period_end=period.end,
            hard=terms.limit.hard,
            soft=terms.limit.soft,
        )
