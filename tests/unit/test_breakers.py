"""Circuit breakers as pure logic: a ``FixedClock`` for the windows and the open and
half-open deadlines, a hand-moved timer for call durations."""

from __future__ import annotations

import itertools
from datetime import timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.kernel import FixedClock
from core.safety.breaker_registry import (
    BREAKERS,
    BreakerOverride,
    BreakerRegistry,
    BreakerSpec,
    OverrideKind,
    UnknownBreakerError,
)
from core.safety.breakers import (
    BreakerConfig,
    BreakerState,
    BreakerTransition,
    CircuitBreaker,
    CircuitOpenError,
    WindowKind,
)

SMALL = BreakerConfig(
    window_size=4,
    minimum_calls=4,
    failure_rate_threshold=50,
    slow_call_seconds=2,
    slow_call_rate_threshold=75,
    wait_in_open_seconds=30,
    permitted_calls_in_half_open=2,
    max_wait_in_half_open_seconds=10,
)


class Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Unavailable(Exception):
    pass


class Refused(Exception):
    pass


def breaker(
    clock: FixedClock, config: BreakerConfig = SMALL, timer: Timer | None = None
) -> tuple[CircuitBreaker, list[BreakerTransition]]:
    seen: list[BreakerTransition] = []
    made = CircuitBreaker(
        "payments",
        config,
        clock,
        timer=timer or Timer(),
        runbook="breakers/payments.md",
        listeners=[seen.append],
    )
    return made, seen


def outcomes(b: CircuitBreaker, pattern: str, duration: float = 0.1) -> None:
    """``s`` a success, ``f`` a failure, each acquired first."""
    for outcome in pattern:
        b.acquire()
        (b.on_success if outcome == "s" else b.on_failure)(duration)


def trip(b: CircuitBreaker) -> None:
    outcomes(b, "ffff")
    assert b.state is BreakerState.OPEN


# -- closed -> open ----------------------------------------------------------------------


def test_a_new_breaker_is_closed_and_lets_calls_go() -> None:
    b, seen = breaker(FixedClock())

    b.acquire()

    assert b.state is BreakerState.CLOSED
    assert seen == []


def test_it_trips_when_the_failure_rate_reaches_the_threshold() -> None:
    b, seen = breaker(FixedClock())

    outcomes(b, "ssff")

    assert b.state is BreakerState.OPEN
    [transition] = seen
    assert (transition.from_state, transition.to_state) == (BreakerState.CLOSED, BreakerState.OPEN)
    assert "failure rate 50% >= 50%" in transition.reason


def test_below_the_threshold_it_stays_closed() -> None:
    b, _ = breaker(FixedClock())

    outcomes(b, "sssf")

    assert b.state is BreakerState.CLOSED
    assert b.stats().failure_rate == 25.0


def test_it_waits_for_the_minimum_number_of_calls_before_judging() -> None:
    b, _ = breaker(FixedClock())

    outcomes(b, "fff")

    assert b.state is BreakerState.CLOSED
    outcomes(b, "s")
    assert b.state is BreakerState.OPEN


def test_a_count_window_forgets_calls_older_than_its_size() -> None:
    b, _ = breaker(FixedClock())

    outcomes(b, "fsss")  # 25%
    outcomes(b, "s")  # the failure slides out

    assert b.stats() == msgspec.structs.replace(b.stats(), calls=4, failed=0)


def test_slow_calls_trip_it_even_when_they_succeed() -> None:
    b, seen = breaker(FixedClock())

    outcomes(b, "s", duration=0.5)
    outcomes(b, "sss", duration=2.0)  # 3 of 4 slow: 75%

    assert b.state is BreakerState.OPEN
    assert "slow-call rate 75%" in seen[-1].reason
    assert b.counters["slow"] == 3


def test_a_time_window_counts_only_the_calls_of_its_last_seconds() -> None:
    clock = FixedClock()
    config = BreakerConfig(window=WindowKind.TIME, window_size=10, minimum_calls=3)
    b, _ = breaker(clock, config)

    outcomes(b, "ff")
    clock.advance(timedelta(seconds=10))  # those two are out of the window now
    outcomes(b, "ss")

    assert b.stats().calls == 2
    outcomes(b, "f")
    assert b.state is BreakerState.CLOSED  # 1 of 3 failed


def test_a_time_window_sums_the_seconds_within_it() -> None:
    clock = FixedClock()
    config = BreakerConfig(window=WindowKind.TIME, window_size=10, minimum_calls=4)
    b, _ = breaker(clock, config)

    for _ in range(4):
        outcomes(b, "f")
        clock.advance(timedelta(seconds=3))  # 0, 3, 6, 9: all inside ten seconds

    assert b.state is BreakerState.OPEN


def test_a_count_window_cannot_be_smaller_than_the_minimum_calls() -> None:
    with pytest.raises(ValueError, match="minimum_calls"):
        BreakerConfig(window_size=5, minimum_calls=6)


# -- open ----------------------------------------------------------------------------------


def test_an_open_breaker_refuses_at_once_with_retry_after() -> None:
    clock = FixedClock()
    b, _ = breaker(clock)
    trip(b)
    clock.advance(timedelta(seconds=12))

    with pytest.raises(CircuitOpenError) as refused:
        b.acquire()

    error = refused.value
    assert (error.status, error.type) == (503, "safety/circuit-open")
    assert error.headers == {"Retry-After": "18"}
    assert error.extra["breaker"] == "payments"
    assert error.extra["runbook"] == "docs/runbooks/breakers/payments.md"
    assert b.counters["not_permitted"] == 1


def test_outcomes_of_calls_let_through_before_it_opened_are_not_counted() -> None:
    b, _ = breaker(FixedClock())
    b.acquire()  # a slow call in flight while the others fail
    trip(b)

    b.on_success(0.1)

    assert b.state is BreakerState.OPEN


# -- half-open -----------------------------------------------------------------------------


def test_after_the_wait_the_next_call_is_a_probe() -> None:
    clock = FixedClock()
    b, seen = breaker(clock)
    trip(b)
    clock.advance(timedelta(seconds=30))

    b.acquire()

    assert b.state is BreakerState.HALF_OPEN
    assert seen[-1].reason.startswith("the wait in open is over")


def test_only_the_permitted_number_of_probes_go_at_once() -> None:
    clock = FixedClock()
    b, _ = breaker(clock)
    trip(b)
    clock.advance(timedelta(seconds=30))

    b.acquire()
    b.acquire()
    with pytest.raises(CircuitOpenError):
        b.acquire()


def test_probes_that_succeed_close_it_with_an_empty_window() -> None:
    clock = FixedClock()
    b, seen = breaker(clock)
    trip(b)
    clock.advance(timedelta(seconds=30))

    outcomes(b, "ss")

    assert b.state is BreakerState.CLOSED
    assert b.stats().calls == 0
    assert [t.to_state for t in seen] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]
    assert b.transitions == {"closed->open": 1, "open->half_open": 1, "half_open->closed": 1}


def test_probes_that_fail_open_it_again_for_another_wait() -> None:
    clock = FixedClock()
    b, seen = breaker(clock)
    trip(b)
    clock.advance(timedelta(seconds=30))

    outcomes(b, "sf")

    assert b.state is BreakerState.OPEN
    assert seen[-1].reason.startswith("probes: failure rate 50%")
    assert b.retry_after() == 30


def test_probes_that_never_finish_open_it_again_after_the_half_open_wait() -> None:
    clock = FixedClock()
    b, seen = breaker(clock)
    trip(b)
    clock.advance(timedelta(seconds=30))
    b.acquire()
    b.acquire()  # both probes hang

    clock.advance(timedelta(seconds=10))
    with pytest.raises(CircuitOpenError):
        b.acquire()

    assert b.state is BreakerState.OPEN
    assert seen[-1].reason == "the probes did not finish within the half-open wait"


def test_a_probe_released_without_an_outcome_gives_its_slot_back() -> None:
    clock = FixedClock()
    b, _ = breaker(clock)
    trip(b)
    clock.advance(timedelta(seconds=30))
    b.acquire()
    b.acquire()

    b.release()

    b.acquire()
    assert b.state is BreakerState.HALF_OPEN


# -- staff -----------------------------------------------------------------------------


def test_forced_open_refuses_every_call_whatever_the_window_says() -> None:
    clock = FixedClock()
    b, seen = breaker(clock)

    b.force_open("provider incident")
    clock.advance(timedelta(hours=1))

    with pytest.raises(CircuitOpenError) as refused:
        b.acquire()
    assert refused.value.extra["state"] == "forced_open"
    assert seen[-1].to_state is BreakerState.FORCED_OPEN


def test_disabled_lets_every_call_go_and_never_trips_but_still_counts() -> None:
    b, _ = breaker(FixedClock())

    b.disable("the breaker misjudges this provider")
    outcomes(b, "ffffffff")

    assert b.state is BreakerState.DISABLED
    assert b.stats().failed == 4


def test_a_reset_closes_it_with_an_empty_window() -> None:
    b, seen = breaker(FixedClock())
    outcomes(b, "fff")
    b.force_open("incident")

    b.reset("incident over")

    assert b.state is BreakerState.CLOSED
    assert b.stats().calls == 0
    assert seen[-1].reason == "incident over"


# -- call() ------------------------------------------------------------------------------


async def test_call_counts_the_chosen_errors_as_failures_and_others_as_answers() -> None:
    b, _ = breaker(FixedClock())

    async def unavailable() -> None:
        raise Unavailable

    async def refused() -> None:
        raise Refused

    for fn in (unavailable, refused, unavailable):
        with pytest.raises((Unavailable, Refused)):
            await b.call(fn, failures=(Unavailable,))

    assert (b.counters["failed"], b.counters["successful"]) == (2, 1)


async def test_call_measures_the_duration_with_the_timer() -> None:
    timer = Timer()
    b, _ = breaker(FixedClock(), timer=timer)

    async def slow() -> str:
        timer.now += 2.5
        return "done"

    assert await b.call(slow) == "done"
    assert b.stats().slow == 1


async def test_call_does_not_count_ignored_errors_or_another_breakers_refusal() -> None:
    b, _ = breaker(FixedClock())

    async def ignored() -> None:
        raise Refused

    async def nested() -> None:
        raise CircuitOpenError("email", BreakerState.OPEN, 5)

    with pytest.raises(Refused):
        await b.call(ignored, ignore=(Refused,))
    with pytest.raises(CircuitOpenError):
        await b.call(nested)

    assert b.stats().calls == 0
    assert b.counters["ignored"] == 2


async def test_call_raises_the_error_class_it_is_given_when_open() -> None:
    class PortUnavailable(CircuitOpenError):
        pass

    b, _ = breaker(FixedClock())
    b.force_open("incident")

    async def never() -> None:
        raise AssertionError("an open breaker calls nothing")

    with pytest.raises(PortUnavailable):
        await b.call(never, error=PortUnavailable)


# -- the registry ----------------------------------------------------------------------------


def override(kind: OverrideKind, change: str) -> BreakerOverride:
    return BreakerOverride(
        name="payments",
        kind=kind,
        reason="incident 42",
        changed_by="usr_1",
        changed_at=FixedClock().now(),
        change_id=change,
    )


def test_every_provider_port_has_a_declared_breaker_with_a_runbook() -> None:
    names = {spec.name: spec for spec in BREAKERS}

    assert set(names) == {"payments", "email", "media", "analytics", "error-tracking"}
    assert all(spec.runbook == f"breakers/{spec.name}.md" for spec in BREAKERS)
    assert {n for n, spec in names.items() if spec.wired} == {"payments", "email"}


def test_the_registry_applies_each_staff_override_once() -> None:
    current: dict[str, BreakerOverride] = {}
    registry = BreakerRegistry(BREAKERS, FixedClock(), overrides=lambda: current)
    payments = registry.breaker("payments")

    current["payments"] = override(OverrideKind.FORCED_OPEN, "brk_1")
    assert registry.breaker("payments").state is BreakerState.FORCED_OPEN

    payments.reset("a process-local reset")  # the same override is not applied again
    assert registry.breaker("payments").state is BreakerState.CLOSED

    current["payments"] = override(OverrideKind.FORCED_CLOSED, "brk_2")
    assert registry.breaker("payments").state is BreakerState.DISABLED
    current["payments"] = override(OverrideKind.NONE, "brk_3")
    assert registry.breaker("payments").state is BreakerState.CLOSED
    assert "staff by usr_1: incident 42" in payments.history[-1].reason


def test_the_registry_names_the_breakers_there_are_for_an_unknown_one() -> None:
    registry = BreakerRegistry(BREAKERS, FixedClock())

    with pytest.raises(UnknownBreakerError, match="payments, email"):
        registry.breaker("sms")


def test_the_metrics_count_calls_and_transitions_per_breaker() -> None:
    spec = BreakerSpec(name="payments", description="", config=SMALL, failures="", runbook="x")
    registry = BreakerRegistry([spec], FixedClock())

    outcomes(registry.breaker("payments"), "ffff")

    metrics = registry.metrics()["payments"]
    assert metrics["state"] == "open"
    assert metrics["failed"] == 4
    assert metrics["transitions"] == {"closed->open": 1}


# -- invariants --------------------------------------------------------------------------------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.booleans(), st.floats(0, 5)),
        st.tuples(st.just("wait"), st.integers(0, 40), st.just(0.0)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(steps=steps, window=st.sampled_from(list(WindowKind)))
def test_invariants_hold_whatever_happens(
    steps: list[tuple[str, object, float]], window: WindowKind
) -> None:
    """Whatever the calls and waits: a closed breaker never refuses; an open one refuses
    until its wait is over; half-open never lets more than its probes go at once; the
    window never holds more than it may; every transition changes the state."""
    clock = FixedClock()
    config = msgspec.structs.replace(SMALL, window=window, window_size=4)
    b, seen = breaker(clock, config)
    in_flight_probes = 0
    for kind, value, duration in steps:
        if kind == "wait":
            clock.advance(timedelta(seconds=int(value)))  # type: ignore[call-overload]
            continue
        before = b.state
        refusal: CircuitOpenError | None = None
        try:
            b.acquire()
        except CircuitOpenError as refused:
            refusal = refused
        if refusal is not None:
            assert before is not BreakerState.CLOSED
            assert b.state in (BreakerState.OPEN, BreakerState.HALF_OPEN)
            assert refusal.retry_after >= 1
            if b.state is not BreakerState.HALF_OPEN:
                in_flight_probes = 0
            continue
        if b.state is BreakerState.HALF_OPEN:
            in_flight_probes += 1
            assert in_flight_probes <= config.permitted_calls_in_half_open
        (b.on_failure if value else b.on_success)(duration)
        if b.state is not BreakerState.HALF_OPEN:
            in_flight_probes = 0
        if window is WindowKind.COUNT:
            assert b.stats().calls <= config.window_size
    assert all(t.from_state is not t.to_state for t in seen)
    assert all(a.to_state is b.from_state for a, b in itertools.pairwise(seen))
