"""The subscription state machine: every (state, transition) pair, the guards that depend
on more than the state, random walks that never reach an invalid subscription, and the
reconciliation with the provider's view, whatever order its webhooks arrive in."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.billing import (
    FINAL_STATUSES,
    SUBSCRIPTION_TRANSITIONS,
    BillingInterval,
    InvalidSubscriptionChangeError,
    InvalidSubscriptionTransitionError,
    PaymentFailed,
    ProviderSubscription,
    SeatsChanged,
    Subscription,
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
    SubscriptionStatus,
    SubscriptionSynced,
    SubscriptionTrialStarted,
    SubscriptionUnpaid,
    add_interval,
    apply_provider_state,
    is_downgrade,
    load_catalog,
)

S = SubscriptionStatus
INCOMPLETE, EXPIRED, TRIALING, ACTIVE = S.INCOMPLETE, S.INCOMPLETE_EXPIRED, S.TRIALING, S.ACTIVE
PAST_DUE, UNPAID, PAUSED, CANCELED = S.PAST_DUE, S.UNPAID, S.PAUSED, S.CANCELED
NON_FINAL = (INCOMPLETE, TRIALING, ACTIVE, PAST_DUE, UNPAID, PAUSED)
CAN_BE_SCHEDULED_TO_CANCEL = (TRIALING, ACTIVE, PAST_DUE, UNPAID, PAUSED)

T0 = datetime(2030, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
NOW = T0
PERIOD_START = T0 - 10 * DAY
PERIOD_END = T0 + 20 * DAY


def subscription(status: SubscriptionStatus = ACTIVE, **changes: object) -> Subscription:
    """A subscription in ``status`` with the fields that status implies."""
    fields: dict[str, object] = {
        "id": "sub_states",
        "workspace_id": "ws_states",
        "plan": "pro",
        "interval": BillingInterval.MONTH,
        "currency": "USD",
        "seats": 3,
        "status": status,
        "provider": "sandbox",
        "provider_subscription_id": "sbx_sub_1",
        "created_at": PERIOD_START - DAY,
    }
    if status is not INCOMPLETE:
        fields["current_period_start"] = PERIOD_START
        fields["current_period_end"] = PERIOD_END
    if status is TRIALING:
        fields["trial_end"] = PERIOD_END
    if status in (PAST_DUE, UNPAID):
        fields["past_due_since"] = T0 - 2 * DAY
    if status in FINAL_STATUSES:
        fields["ended_at"] = T0 - DAY
    if status is CANCELED:
        fields["canceled_at"] = T0 - DAY
    fields.update(changes)
    return Subscription(**fields)  # type: ignore[arg-type]


Move = tuple[Subscription, tuple[SubscriptionEvent, ...]]

# How each transition is called in the table below (with arguments that suit it).
CALLS: dict[str, Callable[[Subscription], Move]] = {
    "start_trial": lambda s: s.start_trial(NOW, trial_end=NOW + 14 * DAY),
    "activate": lambda s: s.activate(NOW, period_end=NOW + 30 * DAY),
    "payment_failed": lambda s: s.payment_failed(NOW),
    "mark_unpaid": lambda s: s.mark_unpaid(NOW),
    "recover": lambda s: s.recover(NOW),
    "pause": lambda s: s.pause(NOW),
    "resume": lambda s: s.resume(NOW),
    "schedule_cancel": lambda s: s.schedule_cancel(NOW),
    "undo_cancel": lambda s: s.undo_cancel(NOW),
    "cancel_now": lambda s: s.cancel_now(NOW),
    "end_period": lambda s: s.end_period(s.current_period_end or NOW),
    "expire_incomplete": lambda s: s.expire_incomplete(NOW),
    "change_plan": lambda s: s.change_plan(NOW, plan="business"),
    "set_seats": lambda s: s.set_seats(NOW, 5),
}

# The expected table, written out independently of the implementation's: for each
# transition, the states it is allowed from, the state it leads to and the events.
# ``undo_cancel`` is tried on subscriptions whose cancellation is scheduled; every other
# transition on subscriptions without one.
EXPECTED: dict[str, dict[SubscriptionStatus, tuple[SubscriptionStatus, list[type]]]] = {
    "start_trial": {INCOMPLETE: (TRIALING, [SubscriptionTrialStarted])},
    "activate": {
        INCOMPLETE: (ACTIVE, [SubscriptionActivated]),
        TRIALING: (ACTIVE, [SubscriptionActivated]),
        PAST_DUE: (ACTIVE, [SubscriptionRecovered]),
        UNPAID: (ACTIVE, [SubscriptionRecovered]),
    },
    "payment_failed": {
        TRIALING: (PAST_DUE, [PaymentFailed, SubscriptionPastDue]),
        ACTIVE: (PAST_DUE, [PaymentFailed, SubscriptionPastDue]),
        PAST_DUE: (PAST_DUE, [PaymentFailed]),
    },
    "mark_unpaid": {PAST_DUE: (UNPAID, [SubscriptionUnpaid])},
    "recover": {
        PAST_DUE: (ACTIVE, [SubscriptionRecovered]),
        UNPAID: (ACTIVE, [SubscriptionRecovered]),
    },
    "pause": {
        TRIALING: (PAUSED, [SubscriptionPaused]),
        ACTIVE: (PAUSED, [SubscriptionPaused]),
    },
    "resume": {PAUSED: (ACTIVE, [SubscriptionResumed])},
    "schedule_cancel": {
        state: (state, [SubscriptionCancelScheduled]) for state in (TRIALING, ACTIVE, PAST_DUE)
    },
    "undo_cancel": {
        state: (state, [SubscriptionCancelUndone]) for state in CAN_BE_SCHEDULED_TO_CANCEL
    },
    "cancel_now": {state: (CANCELED, [SubscriptionCanceled]) for state in NON_FINAL},
    "end_period": {
        ACTIVE: (ACTIVE, [SubscriptionRenewed]),
        PAST_DUE: (PAST_DUE, [SubscriptionRenewed]),
        UNPAID: (UNPAID, [SubscriptionRenewed]),
    },
    "expire_incomplete": {INCOMPLETE: (EXPIRED, [SubscriptionExpired])},
    "change_plan": {
        TRIALING: (TRIALING, [SubscriptionPlanChanged]),
        ACTIVE: (ACTIVE, [SubscriptionPlanChanged]),
    },
    "set_seats": {state: (state, [SeatsChanged]) for state in NON_FINAL},
}


def subject(state: SubscriptionStatus, transition: str) -> Subscription:
    if transition == "undo_cancel" and state in CAN_BE_SCHEDULED_TO_CANCEL:
        return subscription(state, cancel_at_period_end=True)
    return subscription(state)


def test_the_expected_table_covers_every_transition() -> None:
    assert set(EXPECTED) == set(CALLS) == set(SUBSCRIPTION_TRANSITIONS)


@pytest.mark.parametrize("transition", sorted(CALLS))
@pytest.mark.parametrize("state", list(SubscriptionStatus), ids=str)
def test_every_transition_from_every_state(state: SubscriptionStatus, transition: str) -> None:
    before = subject(state, transition)
    copy = msgspec.structs.replace(before)
    allowed = EXPECTED[transition].get(state)

    if allowed is None:
        with pytest.raises(InvalidSubscriptionTransitionError) as raised:
            CALLS[transition](before)
        assert raised.value.from_status == state
        assert raised.value.transition == transition
        assert raised.value.type == "billing/invalid-subscription-transition"
        assert raised.value.status == 409
        assert before == copy
        return

    after, events = CALLS[transition](before)
    to_state, event_types = allowed
    assert after.status is to_state
    assert [type(event) for event in events] == event_types
    assert all(event.subscription_id == before.id for event in events)
    assert all(event.workspace_id == before.workspace_id for event in events)
    assert all(event.status == to_state for event in events)
    at = PERIOD_END if transition == "end_period" else NOW  # a period ends at its end
    assert all(event.occurred_at == at for event in events)
    assert before == copy  # the transition returned a new subscription


@pytest.mark.parametrize("transition", sorted(EXPECTED))
def test_the_published_table_matches_the_expected_one(transition: str) -> None:
    expected = {state: to for state, (to, _) in EXPECTED[transition].items()}

    assert dict(SUBSCRIPTION_TRANSITIONS[transition]) == expected


def test_error_names_the_states_it_moves_between() -> None:
    with pytest.raises(InvalidSubscriptionTransitionError, match=r"canceled -> paused"):
        subscription(CANCELED).pause(NOW)


# Creating


def test_a_new_subscription_is_incomplete_and_says_so() -> None:
    sub, events = Subscription.create(
        id="sub_new",
        workspace_id="ws_new",
        plan="pro",
        interval=BillingInterval.YEAR,
        currency="EUR",
        seats=4,
        provider="stripe",
        provider_subscription_id="sub_123",
        now=NOW,
    )

    assert sub.status is INCOMPLETE
    assert sub.created_at == NOW
    assert sub.version == 0
    assert sub.provider_version == 0
    assert events == (
        SubscriptionCreated(
            occurred_at=NOW,
            workspace_id="ws_new",
            subscription_id="sub_new",
            plan="pro",
            status="incomplete",
            interval="year",
            currency="EUR",
            seats=4,
        ),
    )


def test_a_subscription_needs_at_least_one_seat() -> None:
    with pytest.raises(InvalidSubscriptionChangeError):
        Subscription.create(
            id="sub_x",
            workspace_id="ws_x",
            plan="pro",
            interval=BillingInterval.MONTH,
            currency="USD",
            seats=0,
            provider="sandbox",
            now=NOW,
        )


# Trials and activation


def test_a_trial_covers_the_period_up_to_its_end() -> None:
    trial, _ = subscription(INCOMPLETE).start_trial(NOW, trial_end=NOW + 14 * DAY)

    assert trial.trial_end == NOW + 14 * DAY
    assert (trial.current_period_start, trial.current_period_end) == (NOW, NOW + 14 * DAY)


def test_a_trial_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidSubscriptionChangeError):
        subscription(INCOMPLETE).start_trial(NOW, trial_end=NOW)


def test_activation_without_a_period_starts_one_interval_long_now() -> None:
    active, (event,) = subscription(INCOMPLETE, interval=BillingInterval.YEAR).activate(NOW)

    assert (active.current_period_start, active.current_period_end) == (
        NOW,
        datetime(2031, 3, 10, 12, 0, tzinfo=UTC),
    )
    assert isinstance(event, SubscriptionActivated)
    assert event.from_status == "incomplete"


def test_a_paid_trial_becomes_active_for_a_new_period() -> None:
    active, _ = subscription(TRIALING).activate(NOW, period_end=NOW + 30 * DAY)

    assert (active.current_period_start, active.current_period_end) == (NOW, NOW + 30 * DAY)
    assert active.trial_end == PERIOD_END  # kept: when the trial ended


def test_a_period_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidSubscriptionChangeError):
        subscription(INCOMPLETE).activate(NOW, period_end=NOW - DAY)


# Failed payments, dunning and recovery


def test_a_failed_payment_records_when_the_grace_period_starts() -> None:
    past_due, events = subscription(ACTIVE).payment_failed(NOW)

    assert past_due.past_due_since == NOW
    assert [type(event) for event in events] == [PaymentFailed, SubscriptionPastDue]


def test_a_failed_retry_keeps_the_first_failure_time() -> None:
    past_due, _ = subscription(ACTIVE).payment_failed(NOW)

    again, (event,) = past_due.payment_failed(NOW + 3 * DAY)

    assert again.past_due_since == NOW
    assert isinstance(event, PaymentFailed)
    assert event.past_due_since == NOW


@pytest.mark.parametrize("state", [PAST_DUE, UNPAID])
def test_recovery_clears_the_failure(state: SubscriptionStatus) -> None:
    active, (event,) = subscription(state).recover(NOW)

    assert active.past_due_since is None
    assert isinstance(event, SubscriptionRecovered)
    assert event.from_status == state


def test_an_unpaid_subscription_keeps_its_first_failure_time() -> None:
    unpaid, _ = subscription(PAST_DUE).mark_unpaid(NOW)

    assert unpaid.past_due_since == T0 - 2 * DAY


# Cancellation


def test_scheduling_a_cancellation_keeps_the_state_until_the_period_ends() -> None:
    scheduled, (event,) = subscription(ACTIVE).schedule_cancel(NOW)

    assert scheduled.status is ACTIVE
    assert scheduled.cancel_at_period_end
    assert isinstance(event, SubscriptionCancelScheduled)
    assert event.cancel_at == PERIOD_END


def test_a_cancellation_cannot_be_scheduled_twice() -> None:
    scheduled = subscription(ACTIVE, cancel_at_period_end=True)

    with pytest.raises(InvalidSubscriptionTransitionError, match="already scheduled"):
        scheduled.schedule_cancel(NOW)


def test_only_a_scheduled_cancellation_can_be_undone() -> None:
    with pytest.raises(InvalidSubscriptionTransitionError, match="no cancellation"):
        subscription(ACTIVE).undo_cancel(NOW)


def test_a_cancellation_cannot_be_undone_once_the_period_has_ended() -> None:
    scheduled = subscription(ACTIVE, cancel_at_period_end=True)

    undone, _ = scheduled.undo_cancel(PERIOD_END - timedelta(seconds=1))
    with pytest.raises(InvalidSubscriptionTransitionError, match="period"):
        scheduled.undo_cancel(PERIOD_END)

    assert not undone.cancel_at_period_end


def test_canceling_now_ends_the_subscription_and_its_pending_changes() -> None:
    sub = subscription(PAST_DUE, cancel_at_period_end=True, pending_plan="free")

    canceled, (event,) = sub.cancel_now(NOW)

    assert (canceled.canceled_at, canceled.ended_at) == (NOW, NOW)
    assert not canceled.cancel_at_period_end
    assert canceled.pending_plan is None
    assert canceled.past_due_since is None
    assert isinstance(event, SubscriptionCanceled)
    assert (event.from_status, event.at_period_end) == ("past_due", False)


@pytest.mark.parametrize("state", [TRIALING, ACTIVE, PAST_DUE, UNPAID])
def test_a_scheduled_cancellation_happens_when_the_period_ends(state: SubscriptionStatus) -> None:
    sub = subscription(state, cancel_at_period_end=True)

    canceled, (event,) = sub.end_period(PERIOD_END + DAY)

    assert canceled.status is CANCELED
    assert canceled.ended_at == PERIOD_END
    assert canceled.canceled_at == PERIOD_END
    assert not canceled.cancel_at_period_end
    assert isinstance(event, SubscriptionCanceled)
    assert event.at_period_end


def test_a_paused_subscription_keeps_its_scheduled_cancellation_but_its_period_waits() -> None:
    paused = subscription(PAUSED, cancel_at_period_end=True)

    with pytest.raises(InvalidSubscriptionTransitionError):
        paused.end_period(PERIOD_END)


# Periods and plan changes


def test_a_trial_ends_by_payment_not_by_rolling_its_period() -> None:
    with pytest.raises(InvalidSubscriptionTransitionError, match="trial"):
        subscription(TRIALING).end_period(PERIOD_END)


def test_a_period_cannot_end_before_its_end() -> None:
    with pytest.raises(InvalidSubscriptionTransitionError, match="before"):
        subscription(ACTIVE).end_period(PERIOD_END - timedelta(seconds=1))


def test_a_renewal_starts_the_next_period_where_the_last_ended() -> None:
    renewed, (event,) = subscription(ACTIVE).end_period(PERIOD_END + DAY)

    assert renewed.current_period_start == PERIOD_END
    assert renewed.current_period_end == datetime(2030, 4, 30, 12, 0, tzinfo=UTC)
    assert isinstance(event, SubscriptionRenewed)
    assert event.current_period_end == renewed.current_period_end


def test_a_renewal_takes_the_providers_next_period_end_when_given() -> None:
    renewed, _ = subscription(ACTIVE).end_period(PERIOD_END, next_period_end=PERIOD_END + DAY)

    assert renewed.current_period_end == PERIOD_END + DAY


def test_an_upgrade_takes_effect_at_once() -> None:
    upgraded, (event,) = subscription(ACTIVE).change_plan(
        NOW, plan="business", interval=BillingInterval.YEAR
    )

    assert (upgraded.plan, upgraded.interval) == ("business", BillingInterval.YEAR)
    assert isinstance(event, SubscriptionPlanChanged)
    assert (event.from_plan, event.plan, event.from_interval, event.interval) == (
        "pro",
        "business",
        "month",
        "year",
    )


def test_a_downgrade_waits_for_the_period_end_and_applies_at_renewal() -> None:
    scheduled, (event,) = subscription(ACTIVE).change_plan(NOW, plan="free", at_period_end=True)

    assert scheduled.plan == "pro"
    assert (scheduled.pending_plan, scheduled.pending_interval) == ("free", "month")
    assert isinstance(event, SubscriptionPlanChangeScheduled)
    assert event.effective_at == PERIOD_END

    renewed, events = scheduled.end_period(PERIOD_END)

    assert renewed.plan == "free"
    assert renewed.pending_plan is None
    assert renewed.pending_interval is None
    assert [type(e) for e in events] == [SubscriptionRenewed, SubscriptionPlanChanged]


def test_a_scheduled_downgrade_is_dropped_when_the_subscription_cancels_at_period_end() -> None:
    sub = subscription(
        ACTIVE, cancel_at_period_end=True, pending_plan="free", pending_interval="month"
    )

    canceled, _ = sub.end_period(PERIOD_END)

    assert (canceled.plan, canceled.pending_plan) == ("pro", None)


def test_choosing_the_current_plan_withdraws_a_scheduled_change() -> None:
    sub = subscription(ACTIVE, pending_plan="free", pending_interval="month")

    kept, (event,) = sub.change_plan(NOW, plan="pro")

    assert kept.pending_plan is None
    assert isinstance(event, SubscriptionPlanChangeCanceled)
    assert event.to_plan == "free"


def test_choosing_the_current_plan_with_nothing_scheduled_changes_nothing() -> None:
    sub = subscription(ACTIVE)

    assert sub.change_plan(NOW, plan="pro") == (sub, ())


def test_an_upgrade_clears_an_earlier_scheduled_downgrade() -> None:
    sub = subscription(ACTIVE, pending_plan="free", pending_interval="month")

    upgraded, _ = sub.change_plan(NOW, plan="business")

    assert (upgraded.plan, upgraded.pending_plan) == ("business", None)


def test_seats_must_be_positive_and_an_unchanged_count_is_no_change() -> None:
    sub = subscription(ACTIVE)

    with pytest.raises(InvalidSubscriptionChangeError):
        sub.set_seats(NOW, 0)
    assert sub.set_seats(NOW, sub.seats) == (sub, ())
    _, (event,) = sub.set_seats(NOW, 7)
    assert isinstance(event, SeatsChanged)
    assert (event.from_seats, event.seats) == (3, 7)


def test_expiry_ends_an_unpaid_checkout() -> None:
    expired, _ = subscription(INCOMPLETE).expire_incomplete(NOW)

    assert expired.ended_at == NOW
    assert expired.canceled_at is None


# Helpers


@pytest.mark.parametrize(
    ("start", "interval", "expected"),
    [
        (datetime(2030, 1, 31, tzinfo=UTC), "month", datetime(2030, 2, 28, tzinfo=UTC)),
        (datetime(2032, 1, 31, tzinfo=UTC), "month", datetime(2032, 2, 29, tzinfo=UTC)),
        (datetime(2030, 12, 15, tzinfo=UTC), "month", datetime(2031, 1, 15, tzinfo=UTC)),
        (datetime(2032, 2, 29, tzinfo=UTC), "year", datetime(2033, 2, 28, tzinfo=UTC)),
        (datetime(2030, 5, 1, 8, 30, tzinfo=UTC), "year", datetime(2031, 5, 1, 8, 30, tzinfo=UTC)),
    ],
)
def test_add_interval_keeps_the_day_where_the_month_has_it(
    start: datetime, interval: str, expected: datetime
) -> None:
    assert add_interval(start, BillingInterval(interval)) == expected


def test_a_cheaper_plan_or_a_shorter_interval_is_a_downgrade() -> None:
    catalog = load_catalog()
    pro_monthly = subscription(ACTIVE, plan="pro", interval=BillingInterval.MONTH, seats=3)
    business_yearly = subscription(ACTIVE, plan="business", interval=BillingInterval.YEAR)

    assert is_downgrade(catalog, pro_monthly, catalog.fallback)
    assert is_downgrade(catalog, business_yearly, "pro")
    assert is_downgrade(catalog, business_yearly, "business", BillingInterval.MONTH)
    assert not is_downgrade(catalog, pro_monthly, "business")
    assert not is_downgrade(catalog, pro_monthly, "pro", BillingInterval.YEAR)  # though cheaper
    assert not is_downgrade(catalog, pro_monthly, "pro")


# Random walks: whatever happens, the subscription stays valid.

STEP_NAMES = sorted(CALLS)


def problems(sub: Subscription) -> list[str]:
    """What is wrong with ``sub``: empty for a valid subscription."""
    found = []
    final = sub.status in FINAL_STATUSES
    if final and sub.ended_at is None:
        found.append("a final subscription has ended")
    if not final and sub.ended_at is not None:
        found.append("a live subscription has not ended")
    if (sub.status is CANCELED) != (sub.canceled_at is not None):
        found.append("canceled_at is set exactly on canceled subscriptions")
    if final and (sub.cancel_at_period_end or sub.pending_plan or sub.pending_interval):
        found.append("nothing is scheduled on a final subscription")
    if sub.cancel_at_period_end and sub.status is INCOMPLETE:
        found.append("an incomplete subscription has no period to cancel at")
    if (sub.status in (PAST_DUE, UNPAID)) != (sub.past_due_since is not None):
        found.append("past_due_since is set exactly while a payment is owed")
    if sub.status is TRIALING and sub.trial_end is None:
        found.append("a trial has an end")
    if (sub.pending_plan is None) != (sub.pending_interval is None):
        found.append("a pending change names a plan and an interval")
    if sub.status in (TRIALING, ACTIVE, PAST_DUE, UNPAID, PAUSED):
        start, end = sub.current_period_start, sub.current_period_end
        if start is None or end is None or not start < end:
            found.append("a started subscription has a period that ends after it starts")
    if sub.seats < 1:
        found.append("at least one seat")
    return found


def step(sub: Subscription, name: str, now: datetime, seed: int) -> Move:
    if name == "start_trial":
        return sub.start_trial(now, trial_end=now + 14 * DAY)
    if name == "activate":
        return sub.activate(now)
    if name == "end_period":
        return sub.end_period(now)
    if name == "change_plan":
        plan = ("free", "pro", "business")[seed % 3]
        return sub.change_plan(now, plan=plan, at_period_end=seed % 2 == 0)
    if name == "set_seats":
        return sub.set_seats(now, 1 + seed % 5)
    transition: Callable[[datetime], Move] = getattr(sub, name)
    return transition(now)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(STEP_NAMES), st.integers(0, 20), st.integers(0, 100)),
        max_size=40,
    )
)
def test_random_transitions_never_make_an_invalid_subscription(
    steps: list[tuple[str, int, int]],
) -> None:
    sub, _ = Subscription.create(
        id="sub_walk",
        workspace_id="ws_walk",
        plan="pro",
        interval=BillingInterval.MONTH,
        currency="USD",
        provider="sandbox",
        now=T0,
    )
    now = T0
    for name, days, seed in steps:
        now += days * DAY
        if name == "end_period" and seed % 4 and sub.current_period_end is not None:
            now = max(now, sub.current_period_end)  # mostly at or after the period's end
        was_final = sub.status in FINAL_STATUSES
        try:
            after, events = step(sub, name, now, seed)
        except InvalidSubscriptionTransitionError:
            continue
        assert not was_final, f"{name} moved a {sub.status} subscription"
        assert problems(after) == [], (name, sub.status, after)
        assert after == sub or events, f"{name}: a change without an event"
        assert all(event.status == after.status for event in events)
        sub = after


# Reconciling with the provider's view


def snapshot(
    version: int, status: SubscriptionStatus = ACTIVE, **changes: object
) -> ProviderSubscription:
    fields: dict[str, object] = {
        "provider_subscription_id": "sbx_sub_1",
        "status": status,
        "plan": "pro",
        "interval": BillingInterval.MONTH,
        "currency": "USD",
        "seats": 3,
        "current_period_start": PERIOD_START,
        "current_period_end": PERIOD_END,
        "cancel_at_period_end": False,
        "provider_version": version,
    }
    if status is TRIALING:
        fields["trial_end"] = PERIOD_END
    if status in FINAL_STATUSES:
        fields["ended_at"] = T0 - DAY
    if status is CANCELED:
        fields["canceled_at"] = T0 - DAY
    fields.update(changes)
    return ProviderSubscription(**fields)  # type: ignore[arg-type]


def fresh() -> Subscription:
    sub, _ = Subscription.create(
        id="sub_states",
        workspace_id="ws_states",
        plan="pro",
        interval=BillingInterval.MONTH,
        currency="USD",
        seats=3,
        provider="sandbox",
        provider_subscription_id="sbx_sub_1",
        now=PERIOD_START - DAY,
    )
    return sub


def test_a_newer_snapshot_moves_through_the_matching_transition() -> None:
    sub, events = apply_provider_state(fresh(), snapshot(1, ACTIVE), now=NOW)

    assert sub.status is ACTIVE
    assert sub.provider_version == 1
    assert (sub.current_period_start, sub.current_period_end) == (PERIOD_START, PERIOD_END)
    assert [type(event) for event in events] == [SubscriptionActivated]


def test_a_stale_or_repeated_snapshot_changes_nothing() -> None:
    sub, _ = apply_provider_state(fresh(), snapshot(5, PAST_DUE), now=NOW)

    assert apply_provider_state(sub, snapshot(4, ACTIVE), now=NOW) == (sub, ())
    assert apply_provider_state(sub, snapshot(5, CANCELED), now=NOW) == (sub, ())


def test_a_view_of_another_provider_subscription_is_refused() -> None:
    with pytest.raises(ValueError, match="sbx_other"):
        apply_provider_state(fresh(), snapshot(1, provider_subscription_id="sbx_other"), now=NOW)


def test_failure_then_exhausted_retries_arrive_as_one_snapshot() -> None:
    active, _ = apply_provider_state(fresh(), snapshot(1), now=NOW)

    unpaid, events = apply_provider_state(
        active, snapshot(2, UNPAID, past_due_since=NOW - DAY), now=NOW
    )

    assert unpaid.status is UNPAID
    assert unpaid.past_due_since == NOW - DAY
    assert [type(event) for event in events] == [
        PaymentFailed,
        SubscriptionPastDue,
        SubscriptionUnpaid,
    ]


def test_a_renewal_with_more_seats_and_a_new_plan_emits_each_change() -> None:
    active, _ = apply_provider_state(fresh(), snapshot(1), now=NOW)
    next_end = add_interval(PERIOD_END, BillingInterval.MONTH)

    renewed, events = apply_provider_state(
        active,
        snapshot(
            2,
            plan="business",
            seats=5,
            current_period_start=PERIOD_END,
            current_period_end=next_end,
        ),
        now=PERIOD_END,
    )

    assert (renewed.plan, renewed.seats, renewed.current_period_end) == ("business", 5, next_end)
    assert [type(event) for event in events] == [
        SubscriptionRenewed,
        SubscriptionPlanChanged,
        SeatsChanged,
    ]


def test_a_provider_applying_the_scheduled_downgrade_clears_it() -> None:
    active, _ = apply_provider_state(fresh(), snapshot(1), now=NOW)
    scheduled, _ = active.change_plan(NOW, plan="free", at_period_end=True)

    renewed, _ = apply_provider_state(
        scheduled,
        snapshot(
            2,
            plan="free",
            current_period_start=PERIOD_END,
            current_period_end=PERIOD_END + 30 * DAY,
        ),
        now=PERIOD_END,
    )

    assert (renewed.plan, renewed.pending_plan, renewed.pending_interval) == ("free", None, None)


def test_a_cancellation_scheduled_at_the_provider_is_mirrored() -> None:
    active, _ = apply_provider_state(fresh(), snapshot(1), now=NOW)

    scheduled, events = apply_provider_state(
        active, snapshot(2, cancel_at_period_end=True), now=NOW
    )
    undone, more = apply_provider_state(scheduled, snapshot(3), now=NOW)

    assert scheduled.cancel_at_period_end
    assert not undone.cancel_at_period_end
    assert [type(e) for e in (*events, *more)] == [
        SubscriptionCancelScheduled,
        SubscriptionCancelUndone,
    ]


def test_a_move_no_single_transition_explains_is_synced() -> None:
    paused, _ = apply_provider_state(fresh(), snapshot(1, PAUSED), now=NOW)

    past_due, events = apply_provider_state(paused, snapshot(2, PAST_DUE), now=NOW)

    assert past_due.status is PAST_DUE
    assert past_due.past_due_since == NOW
    assert problems(past_due) == []
    assert [type(event) for event in events] == [SubscriptionSynced]
    (event,) = events
    assert isinstance(event, SubscriptionSynced)
    assert event.from_status == "paused"
    assert "status" in event.changed


def test_corrected_fields_without_a_transition_are_synced() -> None:
    active, _ = apply_provider_state(fresh(), snapshot(1), now=NOW)

    corrected, (event,) = apply_provider_state(
        active, snapshot(2, current_period_end=PERIOD_END + DAY), now=NOW
    )

    assert corrected.current_period_end == PERIOD_END + DAY
    assert isinstance(event, SubscriptionSynced)
    assert event.changed == ("current_period_end",)


def test_an_identical_newer_snapshot_only_records_its_version() -> None:
    active, _ = apply_provider_state(fresh(), snapshot(1), now=NOW)

    same, events = apply_provider_state(active, snapshot(2), now=NOW)

    assert events == ()
    assert same == msgspec.structs.replace(active, provider_version=2)


@pytest.mark.parametrize("final", [CANCELED, EXPIRED])
def test_a_final_subscription_stays_final(final: SubscriptionStatus) -> None:
    ended, _ = apply_provider_state(fresh(), snapshot(3, final), now=NOW)

    assert apply_provider_state(ended, snapshot(4, ACTIVE), now=NOW) == (ended, ())
    assert ended.status is final
    assert problems(ended) == []


def test_a_cancellation_at_the_provider_keeps_its_times() -> None:
    active, _ = apply_provider_state(fresh(), snapshot(1), now=NOW)

    canceled, (event,) = apply_provider_state(
        active, snapshot(2, CANCELED, canceled_at=NOW - DAY, ended_at=NOW), now=NOW + DAY
    )

    assert (canceled.canceled_at, canceled.ended_at) == (NOW - DAY, NOW)
    assert isinstance(event, SubscriptionCanceled)


# The provider's life of one subscription, as the webhooks would report it.
TIMELINE = [
    snapshot(1, INCOMPLETE, current_period_start=None, current_period_end=None),
    snapshot(
        2, TRIALING, current_period_end=PERIOD_START + 14 * DAY, trial_end=PERIOD_START + 14 * DAY
    ),
    snapshot(3, ACTIVE, trial_end=PERIOD_START + 14 * DAY),
    snapshot(4, ACTIVE, trial_end=PERIOD_START + 14 * DAY, seats=4),
    snapshot(5, PAST_DUE, trial_end=PERIOD_START + 14 * DAY, seats=4, past_due_since=T0),
    snapshot(6, UNPAID, trial_end=PERIOD_START + 14 * DAY, seats=4, past_due_since=T0),
    snapshot(7, ACTIVE, trial_end=PERIOD_START + 14 * DAY, seats=4, plan="business"),
    snapshot(
        8,
        ACTIVE,
        trial_end=PERIOD_START + 14 * DAY,
        seats=4,
        plan="business",
        cancel_at_period_end=True,
    ),
]


def replay(snapshots: list[ProviderSubscription]) -> Subscription:
    sub = fresh()
    for snap in snapshots:
        sub, events = apply_provider_state(sub, snap, now=NOW)
        assert problems(sub) == []
        assert all(isinstance(event, SubscriptionEvent) for event in events)
    return sub


@pytest.mark.parametrize("cut", range(1, len(TIMELINE) + 1))
@pytest.mark.parametrize("seed", range(8))
def test_shuffled_webhooks_end_where_the_ordered_ones_do(cut: int, seed: int) -> None:
    delivered = TIMELINE[:cut]
    shuffled = random.Random(seed).sample(delivered, len(delivered))

    assert replay(shuffled) == replay(delivered) == replay([delivered[-1]])


def test_duplicated_webhooks_change_nothing_the_second_time() -> None:
    doubled = [snap for snap in TIMELINE for _ in range(3)]

    assert replay(doubled) == replay(TIMELINE)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TIMELINE), min_size=1, max_size=20))
def test_any_deliveries_end_where_the_newest_view_alone_does(
    delivered: list[ProviderSubscription],
) -> None:
    newest = max(delivered, key=lambda snap: snap.provider_version)

    assert replay(delivered) == replay([newest])


def test_a_renewal_whose_payment_failed_renews_before_it_falls_past_due() -> None:
    active, _ = apply_provider_state(fresh(), snapshot(1), now=NOW)
    next_end = add_interval(PERIOD_END, BillingInterval.MONTH)

    past_due, events = apply_provider_state(
        active,
        snapshot(2, PAST_DUE, current_period_start=PERIOD_END, current_period_end=next_end),
        now=PERIOD_END + DAY,
    )

    assert (past_due.current_period_start, past_due.past_due_since) == (
        PERIOD_END,
        PERIOD_END + DAY,
    )
    assert [type(event) for event in events] == [
        SubscriptionRenewed,
        PaymentFailed,
        SubscriptionPastDue,
    ]
