"""Subscriptions: one per workspace, an explicit state machine, reconciliation with the
payment provider's view, and the access a subscription grants.

Every transition is a method of ``Subscription`` that checks its guard and returns
``(new_subscription, events)``; a transition the current state does not allow raises
``InvalidSubscriptionTransitionError`` and changes nothing. ``SUBSCRIPTION_TRANSITIONS``
is the table of allowed moves (docs/systems/billing.md, "Subscriptions", draws it).
``version`` is the store's optimistic-lock counter: transitions never touch it.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

import msgspec

from core.billing.catalog import BillingInterval, Catalog
from core.billing.errors import InvalidSubscriptionChangeError, InvalidSubscriptionTransitionError
from core.billing.events import (
    PaymentFailed,
    SeatsChanged,
    SubscriptionActivated,
    SubscriptionCanceled,
    SubscriptionCancelScheduled,
    SubscriptionCancelUndone,
    SubscriptionCreated,
    SubscriptionEvent,
    SubscriptionExpired,
    SubscriptionPastDue,
    SubscriptionPaused,
    SubscriptionPlanChangeCanceled,
    SubscriptionPlanChanged,
    SubscriptionPlanChangeScheduled,
    SubscriptionRecovered,
    SubscriptionRenewed,
    SubscriptionResumed,
    SubscriptionTrialStarted,
    SubscriptionUnpaid,
)
from core.kernel.events import AwareDatetime


class SubscriptionStatus(enum.StrEnum):
    """Stripe's subscription states, which every provider's are mapped onto."""

    INCOMPLETE = "incomplete"  # created by a checkout, not paid yet
    INCOMPLETE_EXPIRED = "incomplete_expired"  # never paid (final)
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"  # a payment failed; the provider retries; grace period
    UNPAID = "unpaid"  # the retries are exhausted; access falls back
    PAUSED = "paused"
    CANCELED = "canceled"  # final


_S = SubscriptionStatus
FINAL_STATUSES = frozenset({_S.INCOMPLETE_EXPIRED, _S.CANCELED})
_LIVE = tuple(status for status in _S if status not in FINAL_STATUSES)
_OWING = frozenset({_S.PAST_DUE, _S.UNPAID})
# The states a scheduled cancellation ends when the period ends (a paused subscription's
# period waits until it resumes).
_CANCELS_AT_PERIOD_END = frozenset({_S.TRIALING, _S.ACTIVE, _S.PAST_DUE, _S.UNPAID})

# transition -> {state it is allowed from: state it leads to}. Further guards: a
# cancellation can be scheduled once and undone only while scheduled and before the
# period ends; a period ends at its end, not before, and with a cancellation scheduled it
# ends the subscription instead of renewing it (from trialing too, see
# _CANCELS_AT_PERIOD_END).
_TABLE: dict[str, dict[SubscriptionStatus, SubscriptionStatus]] = {
    "start_trial": {_S.INCOMPLETE: _S.TRIALING},
    "activate": {
        _S.INCOMPLETE: _S.ACTIVE,
        _S.TRIALING: _S.ACTIVE,
        _S.PAST_DUE: _S.ACTIVE,
        _S.UNPAID: _S.ACTIVE,
    },
    "payment_failed": {
        _S.TRIALING: _S.PAST_DUE,
        _S.ACTIVE: _S.PAST_DUE,
        _S.PAST_DUE: _S.PAST_DUE,
    },
    "mark_unpaid": {_S.PAST_DUE: _S.UNPAID},
    "recover": {_S.PAST_DUE: _S.ACTIVE, _S.UNPAID: _S.ACTIVE},
    "pause": {_S.TRIALING: _S.PAUSED, _S.ACTIVE: _S.PAUSED},
    "resume": {_S.PAUSED: _S.ACTIVE},
    "schedule_cancel": {s: s for s in (_S.TRIALING, _S.ACTIVE, _S.PAST_DUE)},
    "undo_cancel": {s: s for s in (*_CANCELS_AT_PERIOD_END, _S.PAUSED)},
    "cancel_now": dict.fromkeys(_LIVE, _S.CANCELED),
    "end_period": {s: s for s in (_S.ACTIVE, _S.PAST_DUE, _S.UNPAID)},
    "expire_incomplete": {_S.INCOMPLETE: _S.INCOMPLETE_EXPIRED},
    "change_plan": {s: s for s in (_S.TRIALING, _S.ACTIVE)},
    "set_seats": {s: s for s in _LIVE},
}
SUBSCRIPTION_TRANSITIONS: Mapping[str, Mapping[SubscriptionStatus, SubscriptionStatus]] = (
    MappingProxyType({name: MappingProxyType(moves) for name, moves in _TABLE.items()})
)
# Where a refused transition would have led (for the error's message).
_NOMINAL_TARGET = {
    "start_trial": _S.TRIALING,
    "activate": _S.ACTIVE,
    "payment_failed": _S.PAST_DUE,
    "mark_unpaid": _S.UNPAID,
    "recover": _S.ACTIVE,
    "pause": _S.PAUSED,
    "resume": _S.ACTIVE,
    "cancel_now": _S.CANCELED,
    "expire_incomplete": _S.INCOMPLETE_EXPIRED,
}

Events = tuple[SubscriptionEvent, ...]
Move = tuple["Subscription", Events]  # a transition's result
E = TypeVar("E", bound=SubscriptionEvent)


def add_interval(instant: datetime, interval: BillingInterval | str, count: int = 1) -> datetime:
    """``instant`` plus ``count`` months or years, on the same day of the month where
    that month has it, else on its last day (Jan 31 + 1 month = Feb 28 or 29)."""
    months = count * (12 if BillingInterval(interval) is BillingInterval.YEAR else 1)
    index = instant.month - 1 + months
    year, month = instant.year + index // 12, index % 12 + 1
    return instant.replace(
        year=year, month=month, day=min(instant.day, calendar.monthrange(year, month)[1])
    )


def _aware(*instants: datetime | None) -> None:
    if any(instant is not None and instant.tzinfo is None for instant in instants):
        raise InvalidSubscriptionChangeError("times must be timezone-aware (UTC)")


def _period(start: datetime, end: datetime) -> None:
    _aware(start, end)
    if not start < end:
        raise InvalidSubscriptionChangeError(f"a period must end after it starts ({start}, {end})")


def _seats(seats: int) -> None:
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise InvalidSubscriptionChangeError(f"a subscription has at least one seat: {seats!r}")


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    """A workspace's subscription to a plan, as billing keeps it.

    ``past_due_since`` is when a payment first failed (the grace period counts from it);
    ``pending_plan``/``pending_interval`` a downgrade applied when the period ends;
    ``provider_version`` the provider's own ordering of its object's states (its update
    timestamp or a counter), so that an older view never replaces a newer one."""

    id: str
    workspace_id: str
    plan: str
    interval: BillingInterval
    currency: str
    seats: int = 1
    status: SubscriptionStatus = SubscriptionStatus.INCOMPLETE
    cancel_at_period_end: bool = False
    current_period_start: AwareDatetime | None = None
    current_period_end: AwareDatetime | None = None
    trial_end: AwareDatetime | None = None
    canceled_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    past_due_since: AwareDatetime | None = None
    pending_plan: str | None = None
    pending_interval: BillingInterval | None = None
    provider: str
    provider_subscription_id: str | None = None
    provider_version: int = 0
    created_at: AwareDatetime
    version: int = 0

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def create(
        cls,
        *,
        id: str,
        workspace_id: str,
        plan: str,
        interval: BillingInterval | str,
        currency: str,
        provider: str,
        now: datetime,
        seats: int = 1,
        provider_subscription_id: str | None = None,
    ) -> Move:
        """A new subscription, ``incomplete`` until it is paid or its trial starts."""
        _aware(now)
        _seats(seats)
        sub = cls(
            id=id,
            workspace_id=workspace_id,
            plan=plan,
            interval=BillingInterval(interval),
            currency=currency,
            seats=seats,
            provider=provider,
            provider_subscription_id=provider_subscription_id,
            created_at=now,
        )
        created = sub._event(
            SubscriptionCreated, now, interval=sub.interval.value, currency=currency, seats=seats
        )
        return sub, (created,)

    # The transitions

    def start_trial(self, now: datetime, *, trial_end: datetime) -> Move:
        """incomplete -> trialing: full access until ``trial_end``, the end of the first
        period."""
        self._allowed("start_trial")
        _period(now, trial_end)
        return self._trial_started(now, now, trial_end)

    def activate(
        self,
        now: datetime,
        *,
        period_start: datetime | None = None,
        period_end: datetime | None = None,
    ) -> Move:
        """A payment succeeded: incomplete or trialing -> active for a new period (from
        ``period_start``, default now, to ``period_end``, default one interval later);
        past_due or unpaid -> active is a recovery (``recover``)."""
        self._allowed("activate")
        _aware(now, period_start, period_end)
        if self.status in _OWING:
            if period_start is None and period_end is None:
                return self._recovered(now)
            start = period_start or self.current_period_start or now
            end = period_end or add_interval(start, self.interval)
            _period(start, end)
            recovered, events = self._recovered(now)
            return recovered._with(current_period_start=start, current_period_end=end), events
        start = period_start or now
        end = period_end or add_interval(start, self.interval)
        _period(start, end)
        return self._activated(now, start, end)

    def payment_failed(self, now: datetime) -> Move:
        """A payment failed: active or trialing -> past_due (the grace period starts);
        a failed retry while past_due keeps the first failure's time."""
        self._allowed("payment_failed")
        _aware(now)
        return self._past_due(now, self.past_due_since or now)

    def mark_unpaid(self, now: datetime) -> Move:
        """past_due -> unpaid: the provider's retries are exhausted."""
        self._allowed("mark_unpaid")
        _aware(now)
        return self._unpaid(now)

    def recover(self, now: datetime) -> Move:
        """past_due or unpaid -> active: the owed payment succeeded."""
        self._allowed("recover")
        _aware(now)
        return self._recovered(now)

    def pause(self, now: datetime) -> Move:
        """active or trialing (a trial that ended without a payment method) -> paused."""
        self._allowed("pause")
        _aware(now)
        return self._paused(now)

    def resume(self, now: datetime, *, period_end: datetime | None = None) -> Move:
        """paused -> active. A period that ended while paused restarts now (to
        ``period_end``, default one interval later); one still running continues."""
        self._allowed("resume")
        _aware(now, period_end)
        resumed, events = self._resumed(now)
        if period_end is None and self.current_period_end and now < self.current_period_end:
            return resumed, events
        end = period_end or add_interval(now, self.interval)
        _period(now, end)
        return resumed._with(current_period_start=now, current_period_end=end), events

    def schedule_cancel(self, now: datetime) -> Move:
        """Cancel when the current period ends (trialing, active or past_due); the state
        and access stay until then."""
        self._allowed("schedule_cancel")
        _aware(now)
        if self.cancel_at_period_end:
            raise self._refused("schedule_cancel", "a cancellation is already scheduled")
        return self._cancel_scheduled(now)

    def undo_cancel(self, now: datetime) -> Move:
        """Withdraw a scheduled cancellation before the period ends."""
        self._allowed("undo_cancel")
        _aware(now)
        if not self.cancel_at_period_end:
            raise self._refused("undo_cancel", "no cancellation is scheduled")
        if self.current_period_end is not None and now >= self.current_period_end:
            raise self._refused("undo_cancel", f"the period ended at {self.current_period_end}")
        return self._cancel_undone(now)

    def cancel_now(self, now: datetime) -> Move:
        """Any live state -> canceled, at once. Canceled is final."""
        self._allowed("cancel_now")
        _aware(now)
        return self._canceled(now, canceled_at=now, ended_at=now, at_period_end=False)

    def end_period(self, now: datetime, *, next_period_end: datetime | None = None) -> Move:
        """The current period is over (``now`` is at or after its end). With a
        cancellation scheduled the subscription ends; otherwise it renews into the next
        period (to ``next_period_end``, default one interval later), applying a
        scheduled plan change. A trial ends by payment, failure or pause instead."""
        _aware(now, next_period_end)
        end = self.current_period_end
        if self.cancel_at_period_end and self.status in _CANCELS_AT_PERIOD_END and end:
            if now < end:
                raise self._refused("end_period", f"it ends at {end}, not before", _S.CANCELED)
            return self._canceled(now, canceled_at=end, ended_at=end, at_period_end=True)
        if self.status is _S.TRIALING:
            raise self._refused(
                "end_period", "a trial ends when it is paid, fails or is paused", _S.ACTIVE
            )
        self._allowed("end_period")
        assert end is not None  # every state end_period is allowed from has a period
        if now < end:
            raise self._refused("end_period", f"it ends at {end}, not before")
        next_end = next_period_end or add_interval(end, self.interval)
        _period(end, next_end)
        renewed, events = self._renewed(now, end, next_end)
        if renewed.pending_plan is None or renewed.pending_interval is None:
            return renewed, events
        changed, more = renewed._plan_changed(now, renewed.pending_plan, renewed.pending_interval)
        return changed, events + more

    def expire_incomplete(self, now: datetime) -> Move:
        """incomplete -> incomplete_expired: the checkout was never paid. Final."""
        self._allowed("expire_incomplete")
        _aware(now)
        return self._expired(now, now)

    def change_plan(
        self,
        now: datetime,
        *,
        plan: str,
        interval: BillingInterval | str | None = None,
        at_period_end: bool = False,
    ) -> Move:
        """Move to ``plan`` (and ``interval``): at once (an upgrade), or, with
        ``at_period_end`` (a downgrade, see ``is_downgrade``), when the period ends.
        Choosing the plan in effect withdraws a scheduled change."""
        self._allowed("change_plan")
        _aware(now)
        to_interval = BillingInterval(interval or self.interval)
        if (plan, to_interval) == (self.plan, self.interval):
            if self.pending_plan is None:
                return self, ()
            after = self._with(pending_plan=None, pending_interval=None)
            return after, (
                after._event(SubscriptionPlanChangeCanceled, now, to_plan=self.pending_plan),
            )
        if not at_period_end:
            return self._plan_changed(now, plan, to_interval)
        if (plan, to_interval) == (self.pending_plan, self.pending_interval):
            return self, ()
        after = self._with(pending_plan=plan, pending_interval=to_interval)
        event = after._event(
            SubscriptionPlanChangeScheduled,
            now,
            to_plan=plan,
            to_interval=to_interval.value,
            effective_at=self.current_period_end,
        )
        return after, (event,)

    def set_seats(self, now: datetime, seats: int) -> Move:
        """The number of seats billed (from the workspace's members); any live state."""
        self._allowed("set_seats")
        _aware(now)
        _seats(seats)
        if seats == self.seats:
            return self, ()
        return self._seats_changed(now, seats)

    # Guards and events

    def _allowed(self, transition: str) -> None:
        if self.status not in SUBSCRIPTION_TRANSITIONS[transition]:
            raise self._refused(transition)

    def _refused(
        self, transition: str, reason: str = "", to: SubscriptionStatus | None = None
    ) -> InvalidSubscriptionTransitionError:
        target = to or SUBSCRIPTION_TRANSITIONS[transition].get(self.status)
        target = target or _NOMINAL_TARGET.get(transition, self.status)
        return InvalidSubscriptionTransitionError(
            transition=transition, from_status=self.status, to_status=target, reason=reason
        )

    def _with(self, **changes: Any) -> Subscription:
        return msgspec.structs.replace(self, **changes)

    def _event(self, cls: type[E], now: datetime, **fields: Any) -> E:
        return cls(
            occurred_at=now,
            workspace_id=self.workspace_id,
            subscription_id=self.id,
            plan=self.plan,
            status=self.status.value,
            **fields,
        )

    # The moves themselves, without guards: ``apply_provider_state`` makes them with the
    # provider's values, whose times may lie before ``now``.

    def _trial_started(self, now: datetime, start: datetime, trial_end: datetime) -> Move:
        after = self._with(
            status=_S.TRIALING,
            trial_end=trial_end,
            current_period_start=start,
            current_period_end=trial_end,
        )
        return after, (after._event(SubscriptionTrialStarted, now, trial_end=trial_end),)

    def _activated(self, now: datetime, start: datetime, end: datetime) -> Move:
        after = self._with(status=_S.ACTIVE, current_period_start=start, current_period_end=end)
        event = after._event(
            SubscriptionActivated,
            now,
            from_status=self.status.value,
            current_period_start=start,
            current_period_end=end,
        )
        return after, (event,)

    def _past_due(self, now: datetime, since: datetime) -> Move:
        after = self._with(status=_S.PAST_DUE, past_due_since=since)
        failed = after._event(PaymentFailed, now, past_due_since=since)
        if self.status is _S.PAST_DUE:
            return after, (failed,)
        became = after._event(
            SubscriptionPastDue, now, from_status=self.status.value, past_due_since=since
        )
        return after, (failed, became)

    def _unpaid(self, now: datetime) -> Move:
        since = self.past_due_since or now
        after = self._with(status=_S.UNPAID, past_due_since=since)
        return after, (after._event(SubscriptionUnpaid, now, past_due_since=since),)

    def _recovered(self, now: datetime) -> Move:
        after = self._with(status=_S.ACTIVE, past_due_since=None)
        return after, (after._event(SubscriptionRecovered, now, from_status=self.status.value),)

    def _paused(self, now: datetime) -> Move:
        after = self._with(status=_S.PAUSED)
        return after, (after._event(SubscriptionPaused, now, from_status=self.status.value),)

    def _resumed(self, now: datetime) -> Move:
        after = self._with(status=_S.ACTIVE)
        return after, (after._event(SubscriptionResumed, now),)

    def _cancel_scheduled(self, now: datetime) -> Move:
        after = self._with(cancel_at_period_end=True)
        event = after._event(SubscriptionCancelScheduled, now, cancel_at=self.current_period_end)
        return after, (event,)

    def _cancel_undone(self, now: datetime) -> Move:
        after = self._with(cancel_at_period_end=False)
        return after, (after._event(SubscriptionCancelUndone, now),)

    def _canceled(
        self, now: datetime, *, canceled_at: datetime, ended_at: datetime, at_period_end: bool
    ) -> Move:
        after = self._with(
            status=_S.CANCELED,
            canceled_at=canceled_at,
            ended_at=ended_at,
            cancel_at_period_end=False,
            pending_plan=None,
            pending_interval=None,
            past_due_since=None,
        )
        event = after._event(
            SubscriptionCanceled,
            now,
            from_status=self.status.value,
            at_period_end=at_period_end,
            canceled_at=canceled_at,
            ended_at=ended_at,
        )
        return after, (event,)

    def _expired(self, now: datetime, ended_at: datetime) -> Move:
        after = self._with(
            status=_S.INCOMPLETE_EXPIRED,
            ended_at=ended_at,
            cancel_at_period_end=False,
            pending_plan=None,
            pending_interval=None,
        )
        return after, (after._event(SubscriptionExpired, now),)

    def _renewed(self, now: datetime, start: datetime, end: datetime) -> Move:
        after = self._with(current_period_start=start, current_period_end=end)
        event = after._event(
            SubscriptionRenewed, now, current_period_start=start, current_period_end=end
        )
        return after, (event,)

    def _plan_changed(self, now: datetime, plan: str, interval: BillingInterval) -> Move:
        after = self._with(plan=plan, interval=interval, pending_plan=None, pending_interval=None)
        event = after._event(
            SubscriptionPlanChanged,
            now,
            from_plan=self.plan,
            from_interval=self.interval.value,
            interval=interval.value,
        )
        return after, (event,)

    def _seats_changed(self, now: datetime, seats: int) -> Move:
        after = self._with(seats=seats)
        return after, (after._event(SeatsChanged, now, from_seats=self.seats, seats=seats),)


def is_downgrade(
    catalog: Catalog,
    subscription: Subscription,
    plan: str,
    interval: BillingInterval | str | None = None,
) -> bool:
    """Whether moving to ``plan`` (and ``interval``) is a downgrade, which waits for the
    period's end (any other change applies at once): a shorter interval (a year was paid
    for), or the same interval at a lower price for the current seats."""
    to_interval = BillingInterval(interval or subscription.interval)
    if to_interval != subscription.interval:
        return to_interval is BillingInterval.MONTH

    def charge(key: str) -> int:
        entry = catalog.plan(key)
        if not entry.prices:  # a free plan
            return 0
        price = entry.price(to_interval, subscription.currency)
        return price.charge(subscription.seats).amount

    return charge(plan) < charge(subscription.plan)
