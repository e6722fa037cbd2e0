"""``RateLimiter`` on the ``limits`` package's sliding-window counter.

The counter keeps two fixed windows per key and rate and weighs the previous one by how
much of it still overlaps the sliding window: constant memory and one Redis round trip
per decision, at the price of approximating (a hit may weigh on the count for up to two
windows, and the limit may let slightly fewer hits through than an exact log would).

Storage:

- ``memory_rate_limiter()``: ``limits.aio.storage.MemoryStorage``, counts in this process
  only. The embedded default: one process, no server.
- ``redis_rate_limiter(url)``: ``limits.aio.storage.RedisStorage`` on a ``coredis``
  connection pool (the ``limits[async-redis]`` extra). Every process using the same Redis
  and ``key_prefix`` shares the counts; give each application (and each test) a prefix of
  its own.

Fail open or closed. When the storage cannot be reached (Redis down, timed out), a
limiter made with ``fail_open=True`` (the default) allows the hit, answering as if
nothing were counted, and logs a warning (the first failure, then at most one every
``warn_every_seconds``, with the number of failures in between). A rate limiter guards
against abuse; an outage of its cache should not take sign-in and the API down with it.
Where a limit protects something worth an outage (e.g. an expensive provider call billed
to us), make that limiter with ``fail_open=False``: it then raises
``RateLimiterUnavailableError``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import coredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.util import WindowStats

from core.kernel.ratelimit import Rate, RateDecision, RateLimiterUnavailableError

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "ninefold:ratelimit"
# Errors that mean "the storage is out of reach", as opposed to a bug. The storage is made
# with wrap_exceptions=True, so client errors arrive as StorageError.
_UNREACHABLE = (StorageError, OSError, TimeoutError)


def _item(rate: Rate) -> RateLimitItem:
    return RateLimitItemPerSecond(rate.limit, rate.per_seconds)


def _whole_seconds(seconds: float, rate: Rate) -> int:
    return min(rate.per_seconds, max(1, math.ceil(seconds)))


def _decision(allowed: bool, rate: Rate, stats: WindowStats) -> RateDecision:
    remaining = max(0, min(rate.limit, stats.remaining))
    # For the sliding-window counter, reset_time is when the weighted count next drops by
    # one unit: when a refused hit of cost 1 passes again, and when ``remaining`` grows.
    wait = stats.reset_time - time.time()
    return RateDecision(
        allowed=allowed,
        limit=rate.limit,
        remaining=remaining,
        retry_after_seconds=0 if allowed else _whole_seconds(wait, rate),
        reset_after_seconds=0 if remaining == rate.limit else _whole_seconds(wait, rate),
    )


class LimitsRateLimiter:
    """``RateLimiter`` over a ``limits`` async storage; see the module for fail-open."""

    def __init__(
        self,
        storage: Storage,
        *,
        fail_open: bool = True,
        warn_every_seconds: float = 30.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._storage = storage
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self.fail_open = fail_open
        self._warn_every = warn_every_seconds
        self._last_warning: float | None = None
        self._failures_since_warning = 0
        self._on_close = on_close

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        rate.check_cost(cost)
        item = _item(rate)
        try:
            # Two calls, not one atomic step: the counts read back may already include a
            # concurrent hit from elsewhere; the decision itself is atomic in the storage.
            allowed = await self._strategy.hit(item, key, cost=cost)
            stats = await self._strategy.get_window_stats(item, key)
        except _UNREACHABLE as exc:
            return self._unreachable(exc, rate)
        return _decision(allowed, rate, stats)

    async def peek(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        rate.check_cost(cost)
        item = _item(rate)
        try:
            allowed = await self._strategy.test(item, key, cost=cost)
            stats = await self._strategy.get_window_stats(item, key)
        except _UNREACHABLE as exc:
            return self._unreachable(exc, rate)
        return _decision(allowed, rate, stats)

    async def reset(self, key: str, rate: Rate) -> None:
        try:
            await self._strategy.clear(_item(rate), key)
        except _UNREACHABLE as exc:
            self._unreachable(exc, rate)

    async def healthy(self) -> bool:
        """Whether the storage answers (``PING`` on Redis); for readiness checks."""
        try:
            return await self._storage.check()
        except _UNREACHABLE:
            return False

    async def close(self) -> None:
        """Release the storage's connections (the Redis pool); call it at shutdown."""
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def _unreachable(self, exc: Exception, rate: Rate) -> RateDecision:
        cause = exc.storage_error if isinstance(exc, StorageError) else exc
        if not self.fail_open:
            raise RateLimiterUnavailableError(
                f"rate limit storage unreachable: {type(cause).__name__}: {cause}"
            ) from exc
        self._failures_since_warning += 1
        now = time.monotonic()
        if self._last_warning is None or now - self._last_warning >= self._warn_every:
            logger.warning(
                "Rate limit storage unreachable (%s: %s); failing open: allowing hits "
                "uncounted (%d failure(s) since the last warning)",
                type(cause).__name__,
                cause,
                self._failures_since_warning,
            )
            self._last_warning, self._failures_since_warning = now, 0
        return RateDecision(
            allowed=True,
            limit=rate.limit,
            remaining=rate.limit,
            retry_after_seconds=0,
            reset_after_seconds=0,
        )


def memory_rate_limiter(*, fail_open: bool = True) -> LimitsRateLimiter:
    """Counts in this process's memory: the single-box default."""
    return LimitsRateLimiter(MemoryStorage(wrap_exceptions=True), fail_open=fail_open)


def redis_rate_limiter(
    url: str,
    *,
    key_prefix: str = DEFAULT_KEY_PREFIX,
    fail_open: bool = True,
    timeout_seconds: float = 0.5,
    warn_every_seconds: float = 30.0,
) -> LimitsRateLimiter:
    """Counts in Redis at ``url`` (``redis://``, ``rediss://``, with or without limits'
    ``async+`` scheme prefix), every key under ``key_prefix:``.

    ``timeout_seconds`` bounds connecting and each command (the client retries a failed
    connection twice): a limiter sits on the request path, so an unreachable Redis must
    cost little before the limiter fails open or closed. Nothing connects until the first
    call; call ``close()`` at shutdown.
    """
    plain = url.removeprefix("async+")
    if not plain.startswith(("redis://", "rediss://")):
        raise ValueError("a Redis URL starts with redis:// or rediss://")
    pool = coredis.ConnectionPool.from_url(
        plain, connect_timeout=timeout_seconds, stream_timeout=timeout_seconds
    )
    # limits types extra options as scalars; connection_pool is a documented option.
    options: dict[str, Any] = {"connection_pool": pool}
    storage = RedisStorage(
        "async+" + plain,
        wrap_exceptions=True,
        implementation="coredis",
        key_prefix=key_prefix,
        **options,
    )
    return LimitsRateLimiter(
        storage,
        fail_open=fail_open,
        warn_every_seconds=warn_every_seconds,
        on_close=pool.disconnect,
    )
