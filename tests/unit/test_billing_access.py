"""Access: which plan's entitlements a workspace has, given its subscription and the time.
Paid-up and trialing subscriptions get their plan; a failed payment keeps the plan for the
grace period; everything else falls back to the free plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from core.billing import (
    Access,
    AccessReason,
    AccessState,
    BillingInterval,
    Subscription,
    SubscriptionStatus,
    access,
)
from core.kernel import FixedClock

T0 = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
GRACE_DAYS = 7
FREE = "free"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def active(clock: FixedClock) -> Subscription:
    sub, _ = Subscription.create(
        id="sub_access",
        workspace_id="ws_access",
        plan="pro",
        interval=BillingInterval.MONTH,
        currency="USD",
        provider="sandbox",
        now=clock.now(),
    )
    paid, _ = sub.activate(clock.now())
    return paid


def test_a_workspace_without_a_subscription_is_on_the_fallback_plan(clock: FixedClock) -> None:
    assert access(None, clock.now(), GRACE_DAYS, FREE) == Access(
        plan=FREE, state=AccessState.FALLBACK, reason=AccessReason.NO_SUBSCRIPTION
    )


def test_an_active_subscription_has_its_plan_in_full(
    active: Subscription, clock: FixedClock
) -> None:
    assert access(active, clock.now(), GRACE_DAYS, FREE) == Access(
        plan="pro", state=AccessState.FULL, reason=AccessReason.ACTIVE
    )


def test_a_trial_has_the_plan_in_full(clock: FixedClock) -> None:
    sub, _ = Subscription.create(
        id="sub_trial",
        workspace_id="ws_access",
        plan="pro",
        interval=BillingInterval.MONTH,
        currency="USD",
        provider="sandbox",
        now=clock.now(),
    )
    trial, _ = sub.start_trial(clock.now(), trial_end=clock.now() + 14 * DAY)

    granted = access(trial, clock.now(), GRACE_DAYS, FREE)

    assert (granted.plan, granted.state, granted.reason) == (
        "pro",
        AccessState.FULL,
        AccessReason.TRIALING,
    )


def test_a_failed_payment_keeps_the_plan_until_the_grace_period_ends(
    active: Subscription, clock: FixedClock
) -> None:
    clock.advance(3 * DAY)
    past_due, _ = active.payment_failed(clock.now())
    grace_end = clock.now() + GRACE_DAYS * DAY

    at_failure = access(past_due, clock.now(), GRACE_DAYS, FREE)
    clock.set(grace_end - TICK)
    last_moment = access(past_due, clock.now(), GRACE_DAYS, FREE)

    expected = Access(
        plan="pro", state=AccessState.GRACE, until=grace_end, reason=AccessReason.PAST_DUE
    )
    assert at_failure == last_moment == expected


def test_when_the_grace_period_ends_the_workspace_falls_to_the_fallback_plan(
    active: Subscription, clock: FixedClock
) -> None:
    past_due, _ = active.payment_failed(clock.now())

    clock.advance(GRACE_DAYS * DAY)

    assert access(past_due, clock.now(), GRACE_DAYS, FREE) == Access(
        plan=FREE, state=AccessState.FALLBACK, reason=AccessReason.GRACE_ENDED
    )


def test_retries_failing_again_do_not_extend_the_grace_period(
    active: Subscription, clock: FixedClock
) -> None:
    past_due, _ = active.payment_failed(clock.now())
    clock.advance(5 * DAY)
    still_past_due, _ = past_due.payment_failed(clock.now())

    clock.advance(2 * DAY)

    assert access(still_past_due, clock.now(), GRACE_DAYS, FREE).state is AccessState.FALLBACK


def test_no_grace_period_means_fallback_at_the_first_failure(
    active: Subscription, clock: FixedClock
) -> None:
    past_due, _ = active.payment_failed(clock.now())

    assert access(past_due, clock.now(), 0, FREE).state is AccessState.FALLBACK


def test_recovery_restores_the_plan_after_the_grace_period(
    active: Subscription, clock: FixedClock
) -> None:
    past_due, _ = active.payment_failed(clock.now())
    clock.advance(10 * DAY)
    unpaid, _ = past_due.mark_unpaid(clock.now())
    assert access(unpaid, clock.now(), GRACE_DAYS, FREE).plan == FREE

    recovered, _ = unpaid.recover(clock.now())

    assert access(recovered, clock.now(), GRACE_DAYS, FREE) == Access(
        plan="pro", state=AccessState.FULL, reason=AccessReason.ACTIVE
    )


def test_an_unpaid_subscription_falls_back_even_inside_the_grace_days(
    active: Subscription, clock: FixedClock
) -> None:
    past_due, _ = active.payment_failed(clock.now())
    unpaid, _ = past_due.mark_unpaid(clock.now() + DAY)

    assert access(unpaid, clock.now() + DAY, GRACE_DAYS, FREE) == Access(
        plan=FREE, state=AccessState.FALLBACK, reason=AccessReason.UNPAID
    )


@pytest.mark.parametrize(
    ("transition", "reason"),
    [
        ("pause", AccessReason.PAUSED),
        ("cancel_now", AccessReason.CANCELED),
    ],
)
def test_paused_and_canceled_subscriptions_fall_back(
    active: Subscription, clock: FixedClock, transition: str, reason: AccessReason
) -> None:
    after, _ = getattr(active, transition)(clock.now())

    assert access(after, clock.now(), GRACE_DAYS, FREE) == Access(
        plan=FREE, state=AccessState.FALLBACK, reason=reason
    )


def test_an_unpaid_checkout_and_an_expired_one_fall_back(clock: FixedClock) -> None:
    incomplete, _ = Subscription.create(
        id="sub_checkout",
        workspace_id="ws_access",
        plan="pro",
        interval=BillingInterval.MONTH,
        currency="USD",
        provider="sandbox",
        now=clock.now(),
    )
    expired, _ = incomplete.expire_incomplete(clock.now() + DAY)

    assert access(incomplete, clock.now(), GRACE_DAYS, FREE).reason is AccessReason.INCOMPLETE
    assert access(expired, clock.now() + DAY, GRACE_DAYS, FREE) == Access(
        plan=FREE, state=AccessState.FALLBACK, reason=AccessReason.INCOMPLETE_EXPIRED
    )


def test_a_scheduled_cancellation_keeps_full_access_until_the_period_ends(
    active: Subscription, clock: FixedClock
) -> None:
    scheduled, _ = active.schedule_cancel(clock.now())
    assert active.current_period_end is not None

    before_end = access(scheduled, active.current_period_end - TICK, GRACE_DAYS, FREE)
    canceled, _ = scheduled.end_period(active.current_period_end)
    after_end = access(canceled, active.current_period_end, GRACE_DAYS, FREE)

    assert (before_end.plan, before_end.state) == ("pro", AccessState.FULL)
    assert (after_end.plan, after_end.state) == (FREE, AccessState.FALLBACK)


@pytest.mark.parametrize("status", list(SubscriptionStatus), ids=str)
def test_only_active_trialing_and_past_due_subscriptions_keep_their_plan(
    active: Subscription, clock: FixedClock, status: SubscriptionStatus
) -> None:
    owing = status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID)
    sub = msgspec.structs.replace(
        active, status=status, past_due_since=clock.now() if owing else None
    )

    granted = access(sub, clock.now(), GRACE_DAYS, FREE)

    keeps = status in (
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.TRIALING,
        SubscriptionStatus.PAST_DUE,
    )
    assert granted.plan == ("pro" if keeps else FREE)
    assert granted.reason == status.value


def test_a_negative_grace_period_is_refused(active: Subscription, clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="grace"):
        access(active, clock.now(), -1, FREE)


def test_access_needs_a_timezone_aware_time(active: Subscription) -> None:
    with pytest.raises(ValueError, match="timezone"):
        access(active, datetime(2030, 6, 1), GRACE_DAYS, FREE)
