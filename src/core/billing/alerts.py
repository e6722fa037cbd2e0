"""Threshold alerts: usage at 80 % and 100 % of a limit, credits below a threshold.
Each is raised once per workspace, threshold and period (the ``AlertLog`` remembers),
as an event that notifications turn into a message. A failed payment is announced by the
subscription's own ``PaymentFailed`` event (one per failed attempt: dunning)."""

from __future__ import annotations

from collections.abc import Iterable

from core.billing.entitlements import MeterEntitlement
from core.billing.events import CreditsLow, UsageThresholdReached
from core.billing.ports import AlertLog
from core.kernel import Clock, TenantContext, UnitOfWork
from core.kernel.events import AwareDatetime

USAGE_THRESHOLDS = (80, 100)
LOW_CREDITS_SHARE = 10  # percent of the plan's allocation


def low_credits_threshold(allocation: int) -> int:
    """The balance below which a workspace hears its credits run low."""
    return allocation * LOW_CREDITS_SHARE // 100


class Alerts:
    def __init__(self, log: AlertLog, uow: UnitOfWork, clock: Clock) -> None:
        self._log = log
        self._uow = uow
        self._clock = clock

    async def usage(
        self, tenant: TenantContext, meters: Iterable[MeterEntitlement]
    ) -> list[UsageThresholdReached]:
        """Raise what the meters' use reached and was not announced in this period."""
        raised: list[UsageThresholdReached] = []
        now = self._clock.now()
        for meter in meters:
            limit = meter.hard_limit if meter.hard_limit is not None else meter.soft_limit
            if not limit:
                continue
            for percent in USAGE_THRESHOLDS:
                if meter.used * 100 < limit * percent:
                    break
                key = f"usage:{meter.meter}:{percent}"
                if not await self._log.first(tenant.workspace_id, key, meter.period_start, at=now):
                    continue
                event = UsageThresholdReached(
                    occurred_at=now,
                    workspace_id=tenant.workspace_id,
                    meter=meter.meter,
                    percent=percent,
                    limit=limit,
                    value=float(meter.used),
                    hard=meter.hard_limit is not None,
                    period_start=meter.period_start,
                    period_end=meter.period_end,
                )
                self._uow.raise_event(event)
                raised.append(event)
        return raised

    async def credits(
        self, tenant: TenantContext, *, balance: int, threshold: int, window_start: AwareDatetime
    ) -> CreditsLow | None:
        if threshold <= 0 or balance >= threshold:
            return None
        now = self._clock.now()
        if not await self._log.first(tenant.workspace_id, "credits:low", window_start, at=now):
            return None
        event = CreditsLow(
            occurred_at=now,
            workspace_id=tenant.workspace_id,
            balance=balance,
            threshold=threshold,
            period_start=window_start,
        )
        self._uow.raise_event(event)
        return event
