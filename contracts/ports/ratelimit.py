"""Conformance of a ``RateLimiter``: what every rate limit adapter promises.

Provide two fixtures:

- ``rate_limiter``: the adapter under test, with no hits counted yet;
- ``advance``: an async callable ``advance(seconds)`` that lets that much time pass for
  the adapter: ``clock.advance`` for one on a ``FixedClock``, a real sleep (with a small
  margin) for one on the wall clock. The tests that need it use one-second windows and
  wait at most two seconds each.

The promises are those an exact sliding log and a sliding-window counter both keep: a
hit stops counting at the latest two windows after it was made, and waiting out a
refusal's ``retry_after_seconds`` lets the next hit of cost 1 through. Tests that do not
move time use hour-long windows, so that no window edge falls inside them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from core.kernel.ratelimit import Rate, RateDecision, RateLimitedError, RateLimiter, enforce

Advance = Callable[[int], Awaitable[None]]

HOURLY = Rate(limit=3, per_seconds=3600)
PER_SECOND = Rate(limit=2, per_seconds=1)


async def _exhaust(limiter: RateLimiter, key: str, rate: Rate) -> RateDecision:
    """Hit until refused; return the refusal. (A sliding-window counter whose window edge
    falls between two hits may let one more through: that is for the exact-count test to
    judge, under an hour-long window; here only the refusal matters.)"""
    for _ in range(2 * rate.limit + 1):
        decision = await limiter.hit(key, rate)
        if not decision.allowed:
            return decision
    raise AssertionError(f"{key} was never refused under {rate}")


class RateLimiterContract:
    async def test_a_fresh_key_has_its_whole_allowance(self, rate_limiter: RateLimiter) -> None:
        decision = await rate_limiter.peek("contract:fresh", HOURLY)

        assert decision == RateDecision(
            allowed=True, limit=3, remaining=3, retry_after_seconds=0, reset_after_seconds=0
        )

    async def test_hits_are_allowed_up_to_the_limit_then_refused(
        self, rate_limiter: RateLimiter
    ) -> None:
        decisions = [await rate_limiter.hit("contract:user", HOURLY) for _ in range(4)]

        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        assert [d.retry_after_seconds for d in decisions[:3]] == [0, 0, 0]
        assert 0 < decisions[3].retry_after_seconds <= HOURLY.per_seconds
        assert all(d.limit == 3 for d in decisions)

    async def test_a_counted_key_says_when_its_allowance_grows(
        self, rate_limiter: RateLimiter
    ) -> None:
        decision = await rate_limiter.hit("contract:user", HOURLY)

        assert 0 < decision.reset_after_seconds <= HOURLY.per_seconds

    async def test_keys_count_separately(self, rate_limiter: RateLimiter) -> None:
        await _exhaust(rate_limiter, "signin:account:a", HOURLY)

        other = await rate_limiter.hit("signin:account:b", HOURLY)

        assert other.allowed
        assert other.remaining == 2

    async def test_one_key_under_two_rates_counts_separately(
        self, rate_limiter: RateLimiter
    ) -> None:
        burst, quota = Rate(limit=2, per_seconds=3600), Rate(limit=5, per_seconds=3600)
        await _exhaust(rate_limiter, "export:ws_1", burst)

        decision = await rate_limiter.hit("export:ws_1", quota)

        assert decision.allowed
        assert decision.remaining == 4

    async def test_a_hit_can_cost_several_units_and_a_refused_one_costs_nothing(
        self, rate_limiter: RateLimiter
    ) -> None:
        rate = Rate(limit=5, per_seconds=3600)

        first = await rate_limiter.hit("sms:ws_1", rate, cost=3)
        too_big = await rate_limiter.hit("sms:ws_1", rate, cost=3)
        fits = await rate_limiter.hit("sms:ws_1", rate, cost=2)

        assert (first.allowed, first.remaining) == (True, 2)
        assert (too_big.allowed, too_big.remaining) == (False, 2)
        assert 0 < too_big.retry_after_seconds <= rate.per_seconds
        assert (fits.allowed, fits.remaining) == (True, 0)

    @pytest.mark.parametrize("cost", [0, -1, 4])
    async def test_a_cost_that_could_never_pass_is_a_programming_error(
        self, rate_limiter: RateLimiter, cost: int
    ) -> None:
        with pytest.raises(ValueError, match="cost"):
            await rate_limiter.hit("contract:user", HOURLY, cost=cost)
        with pytest.raises(ValueError, match="cost"):
            await rate_limiter.peek("contract:user", HOURLY, cost=cost)

    async def test_peek_tells_without_consuming(self, rate_limiter: RateLimiter) -> None:
        await rate_limiter.hit("contract:user", HOURLY)
        await rate_limiter.hit("contract:user", HOURLY)

        peeks = [await rate_limiter.peek("contract:user", HOURLY) for _ in range(5)]

        assert {(d.allowed, d.remaining) for d in peeks} == {(True, 1)}
        assert (await rate_limiter.hit("contract:user", HOURLY)).allowed
        assert not (await rate_limiter.hit("contract:user", HOURLY)).allowed

    async def test_peek_weighs_the_cost_it_is_given(self, rate_limiter: RateLimiter) -> None:
        await rate_limiter.hit("contract:user", HOURLY, cost=2)

        one, two = (
            await rate_limiter.peek("contract:user", HOURLY, cost=1),
            await rate_limiter.peek("contract:user", HOURLY, cost=2),
        )

        assert (one.allowed, one.retry_after_seconds) == (True, 0)
        assert (two.allowed, two.remaining) == (False, 1)
        assert 0 < two.retry_after_seconds <= HOURLY.per_seconds

    async def test_reset_forgets_the_hits_of_that_key_and_rate_only(
        self, rate_limiter: RateLimiter
    ) -> None:
        await _exhaust(rate_limiter, "signin:account:a", HOURLY)
        await _exhaust(rate_limiter, "signin:account:b", HOURLY)

        await rate_limiter.reset("signin:account:a", HOURLY)
        await rate_limiter.reset("signin:account:never-seen", HOURLY)

        assert (await rate_limiter.peek("signin:account:a", HOURLY)).remaining == 3
        assert (await rate_limiter.hit("signin:account:a", HOURLY)).allowed
        assert not (await rate_limiter.hit("signin:account:b", HOURLY)).allowed

    async def test_enforce_raises_rate_limited_with_the_wait(
        self, rate_limiter: RateLimiter
    ) -> None:
        for _ in range(HOURLY.limit):
            await enforce(rate_limiter, "contract:user", HOURLY)

        with pytest.raises(RateLimitedError) as refused:
            await enforce(rate_limiter, "contract:user", HOURLY)

        assert 0 < refused.value.retry_after_seconds <= HOURLY.per_seconds
        assert refused.value.headers == {"Retry-After": str(refused.value.retry_after_seconds)}

    async def test_waiting_out_retry_after_lets_the_next_hit_through(
        self, rate_limiter: RateLimiter, advance: Advance
    ) -> None:
        refused = await _exhaust(rate_limiter, "contract:user", PER_SECOND)
        assert refused.retry_after_seconds == 1  # at least 1, at most the window

        await advance(refused.retry_after_seconds)

        assert (await rate_limiter.hit("contract:user", PER_SECOND)).allowed

    async def test_hits_stop_counting_within_two_windows(
        self, rate_limiter: RateLimiter, advance: Advance
    ) -> None:
        await _exhaust(rate_limiter, "contract:user", PER_SECOND)

        await advance(2 * PER_SECOND.per_seconds)

        assert await rate_limiter.peek("contract:user", PER_SECOND) == RateDecision(
            allowed=True, limit=2, remaining=2, retry_after_seconds=0, reset_after_seconds=0
        )
        assert all(
            [(await rate_limiter.hit("contract:user", PER_SECOND)).allowed for _ in range(2)]
        )
