"""``RateLimiter`` as an exact sliding log on a ``Clock``: deterministic for tests.

Each key and rate keeps the list of its hits (instant, cost); a hit counts while it is
younger than the rate's window. Move a ``FixedClock`` and the window moves with it, so a
test can walk a lock-out to its end without sleeping. Exact where the ``limits`` adapter
approximates; both pass ``contracts.ports.ratelimit``.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

import msgspec

from core.kernel import Clock
from core.kernel.ratelimit import Rate, RateDecision


def _whole_seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


class InMemoryRateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, Rate], deque[tuple[datetime, int]]] = {}

    def _log(self, key: str, rate: Rate, now: datetime) -> deque[tuple[datetime, int]]:
        log = self._hits.setdefault((key, rate), deque())
        window = timedelta(seconds=rate.per_seconds)
        while log and log[0][0] + window <= now:
            log.popleft()
        return log

    def _decide(
        self, log: deque[tuple[datetime, int]], rate: Rate, cost: int, now: datetime
    ) -> RateDecision:
        """The answer for a hit of ``cost`` against ``log`` as it stands."""
        window = timedelta(seconds=rate.per_seconds)
        used = sum(units for _, units in log)
        retry_after = 0
        if used + cost > rate.limit:
            # Wait until enough of the oldest hits have left the window.
            to_free, freed = used + cost - rate.limit, 0
            for at, units in log:
                freed += units
                if freed >= to_free:
                    retry_after = _whole_seconds(at + window - now)
                    break
        return RateDecision(
            allowed=retry_after == 0,
            limit=rate.limit,
            remaining=rate.limit - used,
            retry_after_seconds=retry_after,
            reset_after_seconds=_whole_seconds(log[0][0] + window - now) if log else 0,
        )

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        rate.check_cost(cost)
        now = self._clock.now()
        log = self._log(key, rate, now)
        decision = self._decide(log, rate, cost, now)
        if not decision.allowed:
            return decision
        log.append((now, cost))
        after = self._decide(log, rate, 1, now)
        return msgspec.structs.replace(after, allowed=True, retry_after_seconds=0)

    async def peek(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        rate.check_cost(cost)
        now = self._clock.now()
        return self._decide(self._log(key, rate, now), rate, cost, now)

    async def reset(self, key: str, rate: Rate) -> None:
        self._hits.pop((key, rate), None)
