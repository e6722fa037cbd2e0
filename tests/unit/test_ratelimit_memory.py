"""The in-memory rate limiter passes the port's contract on a ``FixedClock``; the values
of the port (``Rate``, ``RateLimitedError``) behave as documented."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from adapters.memory.ratelimit import InMemoryRateLimiter
from contracts.ports.ratelimit import Advance, RateLimiterContract
from core.kernel import DomainError, FixedClock
from core.kernel.ratelimit import Rate, RateDecision, RateLimitedError


class TestInMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def rate_limiter(self, clock: FixedClock) -> InMemoryRateLimiter:
        return InMemoryRateLimiter(clock)

    @pytest.fixture
    def advance(self, clock: FixedClock) -> Advance:
        async def advance(seconds: int) -> None:
            clock.advance(timedelta(seconds=seconds))

        return advance


# The fake is exact: a sliding log, so these hold to the second.

RATE = Rate(limit=3, per_seconds=60)


async def test_a_hit_stops_counting_exactly_one_window_after_it_was_made(
    clock: FixedClock,
) -> None:
    limiter = InMemoryRateLimiter(clock)
    await limiter.hit("k", RATE)
    clock.advance(timedelta(seconds=20))
    await limiter.hit("k", RATE, cost=2)

    clock.advance(timedelta(seconds=39))
    assert (await limiter.peek("k", RATE)).remaining == 0
    clock.advance(timedelta(seconds=1))
    assert (await limiter.peek("k", RATE)).remaining == 1
    clock.advance(timedelta(seconds=20))
    assert (await limiter.peek("k", RATE)).remaining == 3


async def test_retry_after_is_the_wait_until_enough_old_hits_leave_the_window(
    clock: FixedClock,
) -> None:
    limiter = InMemoryRateLimiter(clock)
    await limiter.hit("k", RATE)  # t=0
    clock.advance(timedelta(seconds=10))
    await limiter.hit("k", RATE)  # t=10
    clock.advance(timedelta(seconds=10))
    await limiter.hit("k", RATE)  # t=20

    one = await limiter.hit("k", RATE)
    two = await limiter.peek("k", RATE, cost=2)

    assert (one.allowed, one.retry_after_seconds, one.reset_after_seconds) == (False, 40, 40)
    assert (two.allowed, two.retry_after_seconds) == (False, 50)
    clock.advance(timedelta(seconds=40))
    assert (await limiter.hit("k", RATE)).allowed


async def test_fractional_waits_round_up_to_whole_seconds(clock: FixedClock) -> None:
    limiter = InMemoryRateLimiter(clock)
    for _ in range(3):
        await limiter.hit("k", RATE)
    clock.advance(timedelta(seconds=59, milliseconds=500))

    refused = await limiter.hit("k", RATE)

    assert (refused.retry_after_seconds, refused.reset_after_seconds) == (1, 1)


def test_a_rate_reads_and_writes_its_short_form() -> None:
    rate = Rate(limit=5, per_seconds=60)

    assert str(rate) == "5/60s"
    assert Rate.parse("5/60s") == rate
    assert Rate.parse(" 5 / 60 s ") == rate
    assert Rate.parse(str(Rate(limit=100, per_seconds=86400))).per_seconds == 86400


@pytest.mark.parametrize("text", ["", "5", "5/60", "5/m", "-1/60s", "5/60s/2", "five/60s"])
def test_a_malformed_rate_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        Rate.parse(text)


@pytest.mark.parametrize(("limit", "per_seconds"), [(0, 60), (-1, 60), (5, 0), (5, -60)])
def test_a_rate_allows_something_over_some_time(limit: int, per_seconds: int) -> None:
    with pytest.raises(ValueError, match="at least"):
        Rate(limit=limit, per_seconds=per_seconds)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(
            msgspec.json.encode({"limit": limit, "per_seconds": per_seconds}), type=Rate
        )


def test_rates_are_values() -> None:
    assert Rate(limit=5, per_seconds=60) == Rate(limit=5, per_seconds=60)
    assert len({Rate(limit=5, per_seconds=60), Rate(limit=5, per_seconds=60)}) == 1


def test_rate_limited_is_a_429_problem_with_retry_after() -> None:
    error = RateLimitedError(30, "Too many sign-in attempts for this account.")

    assert isinstance(error, DomainError)
    assert (error.status, error.type) == (429, "rate-limited")
    assert error.type_uri().endswith("/rate-limited")
    assert error.headers == {"Retry-After": "30"}
    assert error.extra == {"retry_after_seconds": 30}
    assert error.detail == "Too many sign-in attempts for this account."
    assert RateLimitedError(0).retry_after_seconds == 1  # never "retry now"


def test_rate_limited_from_a_decision() -> None:
    decision = RateDecision(
        allowed=False, limit=5, remaining=0, retry_after_seconds=12, reset_after_seconds=12
    )

    error = RateLimitedError.from_decision(decision)

    assert error.retry_after_seconds == 12
    assert error.detail == RateLimitedError.title
