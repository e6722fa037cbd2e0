"""The ``limits`` rate limiter passes the port's contract on memory storage always and on
Redis on the Redis leg; an unreachable Redis fails open (logging) or closed, as chosen.

Its clock is the wall clock: the contract's time-moving tests really sleep (about three
seconds per storage).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest

from adapters.limits.limiter import LimitsRateLimiter, memory_rate_limiter, redis_rate_limiter
from contracts.ports.ratelimit import Advance, RateLimiterContract
from core.kernel.ratelimit import Rate, RateLimiterUnavailableError
from entrypoints.testing.redis import count_keys

# Enough over the wait for Redis's millisecond TTLs and the event loop's timer slack.
SLEEP_MARGIN_SECONDS = 0.1
RATE = Rate(limit=2, per_seconds=3600)


async def _sleep(seconds: int) -> None:
    await asyncio.sleep(seconds + SLEEP_MARGIN_SECONDS)


@pytest.fixture
def advance() -> Advance:
    return _sleep


class TestLimitsOnMemoryStorage(RateLimiterContract):
    @pytest.fixture
    async def rate_limiter(self) -> AsyncIterator[LimitsRateLimiter]:
        limiter = memory_rate_limiter()
        yield limiter
        await limiter.close()


@pytest.mark.redis
class TestLimitsOnRedis(RateLimiterContract):
    @pytest.fixture
    async def rate_limiter(
        self, redis_url: str, redis_key_prefix: str
    ) -> AsyncIterator[LimitsRateLimiter]:
        limiter = redis_rate_limiter(redis_url, key_prefix=redis_key_prefix)
        yield limiter
        await limiter.close()


@pytest.mark.redis
async def test_processes_sharing_redis_and_prefix_share_counts(
    redis_url: str, redis_key_prefix: str
) -> None:
    first = redis_rate_limiter(redis_url, key_prefix=redis_key_prefix)
    second = redis_rate_limiter(redis_url, key_prefix=redis_key_prefix)
    try:
        assert (await first.hit("signin:ip:203.0.113.9", RATE)).allowed
        assert (await second.hit("signin:ip:203.0.113.9", RATE)).allowed
        assert not (await first.hit("signin:ip:203.0.113.9", RATE)).allowed
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
async def test_another_prefix_counts_apart_and_every_key_sits_under_the_prefix(
    redis_url: str, redis_key_prefix: str
) -> None:
    ours = redis_rate_limiter(redis_url, key_prefix=redis_key_prefix)
    theirs = redis_rate_limiter(redis_url, key_prefix=f"{redis_key_prefix}-other")
    try:
        for _ in range(RATE.limit):
            await ours.hit("signin:ip:203.0.113.9", RATE)

        assert (await theirs.hit("signin:ip:203.0.113.9", RATE)).allowed
        assert await count_keys(redis_url, f"{redis_key_prefix}:*") > 0
        await theirs.reset("signin:ip:203.0.113.9", RATE)
        assert await count_keys(redis_url, f"{redis_key_prefix}-other:*") == 0
    finally:
        await ours.close()
        await theirs.close()


@pytest.mark.redis
async def test_a_reachable_redis_is_healthy(redis_url: str, redis_key_prefix: str) -> None:
    limiter = redis_rate_limiter(redis_url, key_prefix=redis_key_prefix)
    try:
        assert await limiter.healthy()
    finally:
        await limiter.close()


def _closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable_url() -> str:
    return f"redis://127.0.0.1:{_closed_port()}/0"


async def test_an_unreachable_redis_fails_open_and_says_so(
    unreachable_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = redis_rate_limiter(unreachable_url, key_prefix="ninefold-test:down")
    caplog.set_level(logging.WARNING, logger="adapters.limits.limiter")
    try:
        hits = [await limiter.hit("signin:ip:203.0.113.9", RATE) for _ in range(3)]
        peek = await limiter.peek("signin:ip:203.0.113.9", RATE)
        await limiter.reset("signin:ip:203.0.113.9", RATE)
        healthy = await limiter.healthy()
    finally:
        await limiter.close()

    assert all(d.allowed and d.remaining == RATE.limit for d in [*hits, peek])
    assert not healthy
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # the first failure; the next ones wait for the interval
    assert "failing open" in warnings[0].getMessage()
    assert "ConnectionError" in warnings[0].getMessage()


async def test_failing_open_warns_again_after_the_interval_with_a_count(
    unreachable_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = redis_rate_limiter(
        unreachable_url, key_prefix="ninefold-test:down", warn_every_seconds=0
    )
    caplog.set_level(logging.WARNING, logger="adapters.limits.limiter")
    try:
        await limiter.hit("k", RATE)
        await limiter.hit("k", RATE)
    finally:
        await limiter.close()

    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 2
    assert all("1 failure(s)" in m for m in messages)


async def test_an_unreachable_redis_fails_closed_when_told_to(unreachable_url: str) -> None:
    limiter = redis_rate_limiter(unreachable_url, key_prefix="ninefold-test:down", fail_open=False)
    try:
        with pytest.raises(RateLimiterUnavailableError, match="unreachable"):
            await limiter.hit("k", RATE)
        with pytest.raises(RateLimiterUnavailableError):
            await limiter.peek("k", RATE)
        with pytest.raises(RateLimiterUnavailableError):
            await limiter.reset("k", RATE)
    finally:
        await limiter.close()


def test_a_redis_url_must_name_redis() -> None:
    with pytest.raises(ValueError, match="redis://"):
        redis_rate_limiter("http://127.0.0.1:6379/0")
