"""Rate limits: the ``RateLimiter`` port, the values it speaks in, and the domain error a
use case raises when a limit refuses it.

A use case names what it limits with a key it builds itself, namespaced by purpose
(``"signin:account:<email-hash>"``, ``"signin:ip:<ip>"``, ``"export:workspace:<id>"``),
and a ``Rate``. The same key under two rates counts separately, so one action can carry a
burst limit and a daily quota at once::

    await enforce(limiter, f"signin:account:{digest}", Rate(limit=5, per_seconds=300))

Adapters: ``adapters.memory.ratelimit`` (exact sliding log on a ``Clock``, for tests) and
``adapters.limits`` (the ``limits`` package's sliding-window counter on process memory or
Redis). ``contracts.ports.ratelimit`` holds what every adapter must do.
"""

from __future__ import annotations

import re
from typing import Protocol

import msgspec

from core.kernel.errors import DomainError

_RATE_TEXT = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*s\s*")


class Rate(msgspec.Struct, frozen=True, kw_only=True):
    """At most ``limit`` units per ``per_seconds`` seconds (a hit costs one unit unless
    told otherwise). Written ``"5/60s"``; ``Rate.parse`` reads that form back."""

    limit: int
    per_seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"a rate allows at least one unit, not {self.limit}")
        if self.per_seconds < 1:
            raise ValueError(f"a rate's window is at least one second, not {self.per_seconds}")

    def __str__(self) -> str:
        return f"{self.limit}/{self.per_seconds}s"

    def check_cost(self, cost: int) -> None:
        """``ValueError`` unless a hit of ``cost`` could ever pass this rate."""
        if cost < 1:
            raise ValueError(f"a hit costs at least 1, not {cost}")
        if cost > self.limit:
            raise ValueError(f"a hit of cost {cost} can never pass the rate {self}")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"5/60s"`` -> ``Rate(limit=5, per_seconds=60)``; for rates in configuration."""
        match = _RATE_TEXT.fullmatch(text)
        if match is None:
            raise ValueError(f"not a rate: {text!r} (write it as LIMIT/SECONDSs, e.g. 5/60s)")
        return cls(limit=int(match[1]), per_seconds=int(match[2]))


class RateDecision(msgspec.Struct, frozen=True, kw_only=True):
    """What a limiter answered for one key under one rate.

    - ``allowed``: the hit may go ahead (``hit`` has then consumed it).
    - ``limit``: the rate's limit, for ``RateLimit-Limit``-style headers.
    - ``remaining``: units still free now (after this hit, when it was consumed).
    - ``retry_after_seconds``: 0 when allowed; otherwise whole seconds, at least 1 and at
      most the window, after which a hit of cost 1 is allowed again. For a refused hit of
      a larger cost it is a lower bound: a retry may be refused once more, with a new
      wait.
    - ``reset_after_seconds``: whole seconds until ``remaining`` grows; 0 exactly when
      nothing counts against the key (``remaining == limit``).
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: int
    reset_after_seconds: int


class RateLimiter(Protocol):
    """Counts hits per key and rate over a sliding window.

    Every method raises ``ValueError`` for a cost below 1 or above the rate's limit: such
    a hit could never pass, and a caller meaning it should split the work instead.

    An adapter whose storage is out of reach either answers as if the key were unused
    (fails open, logging a warning) or raises ``RateLimiterUnavailableError``; which one is
    the adapter's configuration, documented there.
    """

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        """Consume ``cost`` units of ``key``'s allowance under ``rate`` if they are all
        free; consume nothing otherwise."""
        ...

    async def peek(self, key: str, rate: Rate, cost: int = 1) -> RateDecision:
        """What ``hit`` would answer now, consuming nothing."""
        ...

    async def reset(self, key: str, rate: Rate) -> None:
        """Forget every hit counted for ``key`` under ``rate`` (e.g. after a successful
        sign-in, the failed attempts of that account)."""
        ...


class RateLimiterUnavailableError(Exception):
    """The limiter's storage could not be reached and the adapter is set to fail closed.

    Not a ``DomainError``: it is an outage, not an answer about the caller's request.
    """


class RateLimitedError(DomainError):
    """Refused by a rate limit. Carries ``retry_after_seconds``; the HTTP layer sends it
    as the ``Retry-After`` header and as a member of the problem details."""

    type = "rate-limited"
    status = 429
    title = "Too many requests; try again later."

    def __init__(self, retry_after_seconds: int, detail: str | None = None) -> None:
        retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(
            detail,
            headers={"Retry-After": str(retry_after_seconds)},
            retry_after_seconds=retry_after_seconds,
        )
        self.retry_after_seconds = retry_after_seconds

    @classmethod
    def from_decision(cls, decision: RateDecision, detail: str | None = None) -> RateLimitedError:
        return cls(decision.retry_after_seconds, detail)


async def enforce(
    limiter: RateLimiter, key: str, rate: Rate, cost: int = 1, *, detail: str | None = None
) -> RateDecision:
    """``limiter.hit``, raising ``RateLimitedError`` when the hit is refused."""
    decision = await limiter.hit(key, rate, cost)
    if not decision.allowed:
        raise RateLimitedError.from_decision(decision, detail)
    return decision
