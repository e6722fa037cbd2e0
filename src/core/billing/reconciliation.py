"""Reconciling a subscription with the payment provider's view of it: out-of-order
and repeated webhooks never move a subscription backwards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from core.billing.catalog import BillingInterval
from core.billing.events import (
    SubscriptionSynced,
)
from core.billing.subscriptions import (
    _LIVE,
    _OWING,
    _S,
    FINAL_STATUSES,
    Events,
    Move,
    Subscription,
    SubscriptionStatus,
    _aware,
    add_interval,
)
from core.kernel.events import AwareDatetime


class ProviderSubscription(msgspec.Struct, frozen=True, kw_only=True):
    """The provider's view of a subscription, normalized by its adapter from a webhook's
    object or a refetch. ``provider_version`` orders the provider's views of this
    subscription (its ``updated`` time in microseconds, an event's ``created``, or a
    counter): higher is newer. Times the provider does not report are ``None``;
    ``past_due_since`` is when the failing invoice's first attempt failed, if known."""

    provider_subscription_id: str
    status: SubscriptionStatus
    plan: str
    interval: BillingInterval
    currency: str
    seats: int = 1
    current_period_start: AwareDatetime | None = None
    current_period_end: AwareDatetime | None = None
    trial_end: AwareDatetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    past_due_since: AwareDatetime | None = None
    provider_version: int


_Step = Callable[[Subscription, ProviderSubscription, datetime], Move]


def _plain(move: Callable[[Subscription, datetime], Move]) -> _Step:
    """A step that needs nothing from the provider's view."""
    return lambda sub, _snap, now: move(sub, now)


_unpaid, _recover = _plain(Subscription._unpaid), _plain(Subscription._recovered)
_pause, _resume = _plain(Subscription._paused), _plain(Subscription._resumed)


def _trial(sub: Subscription, snap: ProviderSubscription, now: datetime) -> Move:
    end = snap.trial_end or snap.current_period_end or add_interval(now, sub.interval)
    return sub._trial_started(now, snap.current_period_start or sub.created_at, end)


def _activate(sub: Subscription, snap: ProviderSubscription, now: datetime) -> Move:
    start = snap.current_period_start or now
    return sub._activated(now, start, snap.current_period_end or add_interval(start, sub.interval))


def _fail(sub: Subscription, snap: ProviderSubscription, now: datetime) -> Move:
    return sub._past_due(now, snap.past_due_since or sub.past_due_since or now)


def _cancel(sub: Subscription, snap: ProviderSubscription, now: datetime) -> Move:
    canceled_at = snap.canceled_at or snap.ended_at or now
    return sub._canceled(
        now,
        canceled_at=canceled_at,
        ended_at=snap.ended_at or canceled_at,
        at_period_end=sub.cancel_at_period_end,
    )


def _expire(sub: Subscription, snap: ProviderSubscription, now: datetime) -> Move:
    return sub._expired(now, snap.ended_at or now)


# The status changes a provider's view can explain with transitions (a failure and the
# end of its retries may arrive as one view). Any other change of a live subscription's
# status is adopted as it is, with ``SubscriptionSynced``.
_PATHS: dict[tuple[SubscriptionStatus, SubscriptionStatus], tuple[_Step, ...]] = {
    (_S.INCOMPLETE, _S.TRIALING): (_trial,),
    (_S.INCOMPLETE, _S.ACTIVE): (_activate,),
    (_S.INCOMPLETE, _S.INCOMPLETE_EXPIRED): (_expire,),
    (_S.TRIALING, _S.ACTIVE): (_activate,),
    (_S.TRIALING, _S.PAST_DUE): (_fail,),
    (_S.TRIALING, _S.UNPAID): (_fail, _unpaid),
    (_S.TRIALING, _S.PAUSED): (_pause,),
    (_S.ACTIVE, _S.PAST_DUE): (_fail,),
    (_S.ACTIVE, _S.UNPAID): (_fail, _unpaid),
    (_S.ACTIVE, _S.PAUSED): (_pause,),
    (_S.PAST_DUE, _S.ACTIVE): (_recover,),
    (_S.PAST_DUE, _S.UNPAID): (_unpaid,),
    (_S.UNPAID, _S.ACTIVE): (_recover,),
    (_S.PAUSED, _S.ACTIVE): (_resume,),
    **{(live, _S.CANCELED): (_cancel,) for live in _LIVE},
}
_RENEWING = frozenset({_S.ACTIVE, _S.PAST_DUE, _S.UNPAID})


def apply_provider_state(
    current: Subscription, snapshot: ProviderSubscription, *, now: datetime
) -> Move:
    """``current`` brought to the provider's view ``snapshot``, with the events of the
    transitions that explain the difference.

    A view no newer than the last one applied (``provider_version``) changes nothing,
    so webhooks delivered late, twice or out of order never move a subscription back;
    nor does any view of a final subscription. Otherwise, in order: a period that rolled
    over renews; the status moves through its transitions; plan, seats and a scheduled
    cancellation change with their events; whatever no transition explains is adopted
    and reported by one ``SubscriptionSynced``. ``pending_plan`` is ours: cleared when
    the plan changes or the subscription ends; a view already naming the pending plan
    leaves the current plan in effect until the period rolls over."""
    _aware(now)
    known = current.provider_subscription_id
    if known is not None and known != snapshot.provider_subscription_id:
        raise ValueError(f"{snapshot.provider_subscription_id!r} is not {current.id}'s ({known!r})")
    if snapshot.provider_version <= current.provider_version or current.is_final:
        return current, ()
    sub: Subscription = current
    events: Events = ()
    start, end = snapshot.current_period_start, snapshot.current_period_end
    renewed = (
        sub.status in _RENEWING
        and snapshot.status not in FINAL_STATUSES
        and start is not None
        and end is not None
        and sub.current_period_start is not None
        and start > sub.current_period_start
    )
    if renewed:
        assert start is not None
        assert end is not None
        sub, events = sub._renewed(now, start, end)
    # A downgrade we scheduled is billed by the provider from the next period on, but
    # its view names the new price at once: the paid-for plan stays until the period
    # rolls over.
    waiting = (
        not renewed
        and sub.pending_plan is not None
        and (snapshot.plan, snapshot.interval) == (sub.pending_plan, sub.pending_interval)
    )
    for step in _PATHS.get((sub.status, snapshot.status), ()):
        sub, more = step(sub, snapshot, now)
        events += more
    if not sub.is_final:
        if (snapshot.plan, snapshot.interval) != (sub.plan, sub.interval) and not waiting:
            sub, more = sub._plan_changed(now, snapshot.plan, snapshot.interval)
            events += more
        if snapshot.seats != sub.seats and snapshot.seats >= 1:
            sub, more = sub._seats_changed(now, snapshot.seats)
            events += more
        flagged = snapshot.cancel_at_period_end and sub.status is not _S.INCOMPLETE
        if flagged != sub.cancel_at_period_end:
            sub, more = sub._cancel_scheduled(now) if flagged else sub._cancel_undone(now)
            events += more
    adopted = _adopted(sub, snapshot, now)
    if waiting:
        adopted.update(plan=sub.plan, interval=sub.interval)
    changed = tuple(name for name, value in adopted.items() if getattr(sub, name) != value)
    synced = sub._with(
        **{name: adopted[name] for name in changed},
        provider_version=snapshot.provider_version,
        provider_subscription_id=snapshot.provider_subscription_id,
    )
    if changed:
        events += (
            synced._event(SubscriptionSynced, now, from_status=sub.status.value, changed=changed),
        )
    return synced, events


def _adopted(sub: Subscription, snap: ProviderSubscription, now: datetime) -> dict[str, Any]:
    """The provider's values of the fields it owns, with what its status implies for
    ours (an ended subscription schedules nothing; a payment is owed since a time)."""
    status = snap.status
    fields: dict[str, Any] = {
        "status": status,
        "plan": snap.plan,
        "interval": snap.interval,
        "currency": snap.currency,
    }
    if snap.seats >= 1:
        fields["seats"] = snap.seats
    for name in ("current_period_start", "current_period_end", "trial_end"):
        if getattr(snap, name) is not None:
            fields[name] = getattr(snap, name)
    if status is _S.TRIALING and sub.trial_end is None and snap.trial_end is None:
        fields["trial_end"] = snap.current_period_end or sub.current_period_end
    fields["past_due_since"] = (
        (snap.past_due_since or sub.past_due_since or now) if status in _OWING else None
    )
    if status in FINAL_STATUSES:
        ended = snap.ended_at or sub.ended_at or snap.canceled_at or now
        canceled = (snap.canceled_at or sub.canceled_at or ended) if status is _S.CANCELED else None
        fields.update(
            cancel_at_period_end=False,
            pending_plan=None,
            pending_interval=None,
            ended_at=ended,
            canceled_at=canceled,
        )
    else:
        fields.update(
            cancel_at_period_end=snap.cancel_at_period_end and status is not _S.INCOMPLETE,
            ended_at=None,
            canceled_at=None,
        )
    return fields
