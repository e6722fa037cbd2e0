"""Billing periods: the window usage is counted and limited in, and the window a plan's
credits are allocated for.

A workspace with a subscription counts usage over the subscription's current period. A
workspace on the fallback plan (no subscription, or one that grants no access) counts
over the calendar month (UTC). Credits follow the plan's ``CreditPeriod``: per billing
interval, or every month also on an annual plan (months counted from the period's
start, so Jan 31 -> Feb 28 -> Mar 31 as ``add_interval`` does).
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from core.billing.catalog import BillingInterval, CreditPeriod, Plan
from core.billing.subscriptions import Subscription, add_interval


class Period(msgspec.Struct, frozen=True):
    start: datetime
    end: datetime

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def calendar_month(at: datetime) -> Period:
    """The UTC calendar month holding ``at``."""
    at = at.astimezone(UTC)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Period(start, add_interval(start, BillingInterval.MONTH))


def usage_period(subscription: Subscription | None, at: datetime, *, paid: bool) -> Period:
    """The period usage at ``at`` counts in: the subscription's current period when it
    grants its plan (``paid``) and covers ``at``, else the calendar month."""
    if (
        paid
        and subscription is not None
        and subscription.current_period_start is not None
        and subscription.current_period_end is not None
        and subscription.current_period_start <= at < subscription.current_period_end
    ):
        return Period(subscription.current_period_start, subscription.current_period_end)
    return calendar_month(at)


def credit_window(plan: Plan, billing: Period, at: datetime) -> Period:
    """The window of ``plan``'s credit allocation holding ``at`` within the billing
    period ``billing``: the period itself, or with monthly credits the month of it that
    holds ``at`` (the last month ends with the period)."""
    if plan.credits is None or plan.credits.period is CreditPeriod.INTERVAL:
        return billing
    start = billing.start
    months = 0
    while True:
        end = min(add_interval(billing.start, BillingInterval.MONTH, months + 1), billing.end)
        if at < end or end >= billing.end:
            return Period(start, end)
        start, months = end, months + 1
