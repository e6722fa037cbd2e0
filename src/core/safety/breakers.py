"""Circuit breakers: a provider that keeps failing is not called for a while.

A ``CircuitBreaker`` watches the outcomes of calls to one provider in a sliding window
(the last N calls, or the calls of the last N seconds) and trips when, after a minimum
number of calls, the failure rate or the slow-call rate reaches its threshold:

```
            failure or slow-call rate >= threshold (after minimum_calls)
  CLOSED ───────────────────────────────────────────────────────────► OPEN
    ▲                                                                  │ wait_in_open over:
    │ probes' rates below the thresholds          probes' rates ≥     │ the next call is a probe
    └────────────────────────── HALF_OPEN ◄─── thresholds, or ─────────┘
                                     │          max wait in half-open passed ──► OPEN
  staff: FORCED_OPEN (every call refused), DISABLED ("forced closed": every call passes,
  outcomes still counted, never trips); a reset starts CLOSED with an empty window.
```

An open breaker refuses at once with ``CircuitOpenError`` (503, ``Retry-After`` the
seconds until it lets a probe through). The logic is pure: time comes from a ``Clock``
(window buckets, open and half-open deadlines), call durations from a monotonic
``timer``; both are injected, so tests move them. Behaviour follows Resilience4j's
CircuitBreaker (docs/systems/safety/breakers.md).
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

import msgspec

from core.kernel import Clock, DomainError
from core.kernel.events import AwareDatetime

T = TypeVar("T")
RUNBOOK_BASE = "docs/runbooks/"
HISTORY = 20  # the transitions each breaker keeps for staff to read


class BreakerState(enum.StrEnum):
    CLOSED = "closed"  # calls pass; outcomes counted
    OPEN = "open"  # calls refused until wait_in_open has passed
    HALF_OPEN = "half_open"  # a few probe calls pass; their outcomes decide
    FORCED_OPEN = "forced_open"  # staff: every call refused until released
    DISABLED = "disabled"  # staff "forced closed": every call passes, never trips


class WindowKind(enum.StrEnum):
    COUNT = "count"  # the last ``window_size`` calls
    TIME = "time"  # the calls of the last ``window_size`` seconds


class BreakerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """When a breaker trips and how it recovers. Rates are percentages; durations
    seconds. Which errors count as failures is the caller's (``CircuitBreaker.call``)."""

    window: WindowKind = WindowKind.COUNT
    window_size: int = 20
    minimum_calls: int = 10
    failure_rate_threshold: float = 50.0
    slow_call_seconds: float = 10.0
    slow_call_rate_threshold: float = 100.0
    wait_in_open_seconds: float = 30.0
    permitted_calls_in_half_open: int = 3
    max_wait_in_half_open_seconds: float = 60.0  # 0: wait for the probes however long

    def __post_init__(self) -> None:
        if self.window_size < 1 or self.minimum_calls < 1:
            raise ValueError("window_size and minimum_calls are at least 1")
        if self.window is WindowKind.COUNT and self.minimum_calls > self.window_size:
            raise ValueError("a count window cannot hold minimum_calls calls")
        for rate in (self.failure_rate_threshold, self.slow_call_rate_threshold):
            if not 0 < rate <= 100:
                raise ValueError("rate thresholds are percentages in (0, 100]")
        if self.slow_call_seconds <= 0 or self.wait_in_open_seconds <= 0:
            raise ValueError("slow_call_seconds and wait_in_open_seconds are positive")
        if self.permitted_calls_in_half_open < 1 or self.max_wait_in_half_open_seconds < 0:
            raise ValueError("half-open needs at least one probe and a wait >= 0")


class WindowStats(msgspec.Struct, frozen=True, kw_only=True):
    calls: int = 0
    failed: int = 0
    slow: int = 0

    @property
    def failure_rate(self) -> float:
        return 100.0 * self.failed / self.calls if self.calls else 0.0

    @property
    def slow_rate(self) -> float:
        return 100.0 * self.slow / self.calls if self.calls else 0.0


class BreakerTransition(msgspec.Struct, frozen=True, kw_only=True):
    breaker: str
    from_state: BreakerState
    to_state: BreakerState
    at: AwareDatetime
    reason: str


class CircuitOpenError(DomainError):
    """A breaker refused the call: the provider failed too often lately (or staff
    forced the breaker open). Try again after ``retry_after`` seconds."""

    type = "safety/circuit-open"
    status = 503
    title = "A service this needs is failing; calls to it are paused."

    def __init__(
        self, breaker: str, state: BreakerState, retry_after: int, runbook: str | None = None
    ) -> None:
        # DomainError's own initializer, not super(): port-specific subclasses also derive
        # from the port's "unavailable" error, whose initializer takes other arguments.
        DomainError.__init__(
            self,
            f"calls to {breaker} are paused (its circuit breaker is {state.value}); "
            f"try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            breaker=breaker,
            state=state.value,
            runbook=RUNBOOK_BASE + runbook if runbook else None,
        )
        self.breaker = breaker
        self.state = state
        self.retry_after = retry_after


class _CountWindow:
    def __init__(self, size: int) -> None:
        self._outcomes: deque[tuple[bool, bool]] = deque(maxlen=size)

    def record(self, failed: bool, slow: bool, at: datetime) -> None:
        self._outcomes.append((failed, slow))

    def stats(self, at: datetime) -> WindowStats:
        return WindowStats(
            calls=len(self._outcomes),
            failed=sum(1 for failed, _ in self._outcomes if failed),
            slow=sum(1 for _, slow in self._outcomes if slow),
        )


class _TimeWindow:
    """One bucket per epoch second of the clock; buckets older than the window drop."""

    def __init__(self, seconds: int) -> None:
        self._seconds = seconds
        self._buckets: deque[list[int]] = deque()  # [second, calls, failed, slow]

    def _trim(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - self._seconds:
            self._buckets.popleft()

    def record(self, failed: bool, slow: bool, at: datetime) -> None:
        second = math.floor(at.timestamp())
        self._trim(second)
        if not self._buckets or self._buckets[-1][0] < second:
            self._buckets.append([second, 0, 0, 0])
        bucket = self._buckets[-1]  # a clock set back lands in the newest bucket
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow

    def stats(self, at: datetime) -> WindowStats:
        self._trim(math.floor(at.timestamp()))
        return WindowStats(
            calls=sum(b[1] for b in self._buckets),
            failed=sum(b[2] for b in self._buckets),
            slow=sum(b[3] for b in self._buckets),
        )


def _window(config: BreakerConfig) -> _CountWindow | _TimeWindow:
    if config.window is WindowKind.COUNT:
        return _CountWindow(config.window_size)
    return _TimeWindow(config.window_size)


Listener = Callable[[BreakerTransition], None]
COUNTERS = ("successful", "failed", "slow", "ignored", "not_permitted")


class CircuitBreaker:
    """One provider's breaker, in this process. ``acquire`` before a call (it raises
    ``CircuitOpenError`` when the call may not go), then exactly one of ``on_success``,
    ``on_failure`` or ``release`` (the call ended without an outcome to count);
    ``call`` does all of it around an awaitable."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig,
        clock: Clock,
        *,
        timer: Callable[[], float] = time.perf_counter,
        runbook: str | None = None,
        listeners: Iterable[Listener] = (),
    ) -> None:
        self.name = name
        self.config = config
        self.runbook = runbook
        self._clock = clock
        self._timer = timer
        self._listeners = list(listeners)
        self._state = BreakerState.CLOSED
        self._since = clock.now()
        self._window = _window(config)
        self._probes_left = 0
        self._probes = WindowStats()
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.transitions: dict[str, int] = {}  # "closed->open": how many times
        self.history: deque[BreakerTransition] = deque(maxlen=HISTORY)  # newest last

    # -- reading ---------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def since(self) -> datetime:
        return self._since

    def stats(self) -> WindowStats:
        """The closed state's window now (the probes' while half-open)."""
        if self._state is BreakerState.HALF_OPEN:
            return self._probes
        return self._window.stats(self._clock.now())

    def retry_after(self) -> int:
        """Whole seconds until a call may go again (0 when it may now)."""
        now = self._clock.now()
        if self._state is BreakerState.OPEN:
            left = (self._open_until() - now).total_seconds()
            return max(1, math.ceil(left)) if left > 0 else 0
        if self._state is BreakerState.FORCED_OPEN:
            return math.ceil(self.config.wait_in_open_seconds)
        if self._state is BreakerState.HALF_OPEN and self._probes_left == 0:
            return max(1, math.ceil(min(self.config.wait_in_open_seconds, self._half_open_left())))
        return 0

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- the call protocol -----------------------------------------------------------

    def acquire(self, error: type[CircuitOpenError] = CircuitOpenError) -> None:
        """Let a call go, or raise ``error`` (a ``CircuitOpenError``)."""
        self._expire()
        state = self._state
        if state is BreakerState.OPEN and self._clock.now() >= self._open_until():
            self._half_open("the wait in open is over: probing")
            state = self._state
        if state in (BreakerState.CLOSED, BreakerState.DISABLED):
            return
        if state is BreakerState.HALF_OPEN and self._probes_left > 0:
            self._probes_left -= 1
            return
        self.counters["not_permitted"] += 1
        raise error(self.name, state, self.retry_after() or 1, self.runbook)

    def on_success(self, duration: float) -> None:
        self._record(False, duration)

    def on_failure(self, duration: float) -> None:
        self._record(True, duration)

    def release(self) -> None:
        """A permitted call ended with nothing to count (cancelled, or an error that
        says nothing of the provider): a half-open probe slot is given back."""
        self.counters["ignored"] += 1
        if self._state is BreakerState.HALF_OPEN:
            limit = self.config.permitted_calls_in_half_open - self._probes.calls
            self._probes_left = min(self._probes_left + 1, limit)

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        failures: tuple[type[BaseException], ...] = (Exception,),
        ignore: tuple[type[BaseException], ...] = (),
        error: type[CircuitOpenError] = CircuitOpenError,
    ) -> T:
        """``await fn()`` through the breaker. An exception of ``failures`` counts as a
        failure; one of ``ignore``, a cancellation or another breaker's refusal counts
        as nothing; any other exception as a success (the provider answered, e.g. it
        refused a bad request). Each is re-raised. Slow calls count whatever the
        outcome."""
        self.acquire(error)
        started = self._timer()
        try:
            result = await fn()
        except BaseException as exc:
            elapsed = self._timer() - started
            if not isinstance(exc, Exception) or isinstance(exc, (CircuitOpenError, *ignore)):
                self.release()
            elif isinstance(exc, failures):
                self.on_failure(elapsed)
            else:
                self.on_success(elapsed)
            raise
        self.on_success(self._timer() - started)
        return result

    # -- staff -----------------------------------------------------------------------

    def force_open(self, reason: str) -> None:
        self._move(BreakerState.FORCED_OPEN, reason)

    def disable(self, reason: str) -> None:
        """Forced closed: every call passes and the breaker never trips."""
        self._move(BreakerState.DISABLED, reason)

    def reset(self, reason: str) -> None:
        """Closed, with an empty window (counters and history stay)."""
        self._window = _window(self.config)
        self._move(BreakerState.CLOSED, reason)

    # -- inside ----------------------------------------------------------------------

    def _record(self, failed: bool, duration: float) -> None:
        slow = duration >= self.config.slow_call_seconds
        self.counters["failed" if failed else "successful"] += 1
        self.counters["slow"] += slow
        self._expire()
        now = self._clock.now()
        if self._state in (BreakerState.CLOSED, BreakerState.DISABLED):
            self._window.record(failed, slow, now)
            if self._state is BreakerState.CLOSED:
                tripped = self._tripped(self._window.stats(now))
                if tripped:
                    self._open(tripped)
        elif self._state is BreakerState.HALF_OPEN:
            probes = self._probes
            self._probes = WindowStats(
                calls=probes.calls + 1, failed=probes.failed + failed, slow=probes.slow + slow
            )
            if self._probes.calls >= self.config.permitted_calls_in_half_open:
                tripped = self._tripped(self._probes, minimum=1)
                if tripped:
                    self._open(f"probes: {tripped}")
                else:
                    self._window = _window(self.config)
                    self._move(BreakerState.CLOSED, "the probes succeeded")
        # OPEN / FORCED_OPEN: a call let through before the breaker opened; not counted.

    def _tripped(self, stats: WindowStats, minimum: int | None = None) -> str | None:
        config = self.config
        if stats.calls < (minimum or config.minimum_calls):
            return None
        if stats.failure_rate >= config.failure_rate_threshold:
            return (
                f"failure rate {stats.failure_rate:.0f}% >= "
                f"{config.failure_rate_threshold:g}% over {stats.calls} calls"
            )
        if stats.slow_rate >= config.slow_call_rate_threshold:
            return (
                f"slow-call rate {stats.slow_rate:.0f}% >= {config.slow_call_rate_threshold:g}% "
                f"(calls of {config.slow_call_seconds:g} s or more) over {stats.calls} calls"
            )
        return None

    def _expire(self) -> None:
        """A half-open breaker whose probes took too long opens again."""
        if self._state is BreakerState.HALF_OPEN and self._half_open_left() <= 0:
            self._open("the probes did not finish within the half-open wait")

    def _open_until(self) -> datetime:
        return self._since + timedelta(seconds=self.config.wait_in_open_seconds)

    def _half_open_left(self) -> float:
        limit = self.config.max_wait_in_half_open_seconds or math.inf
        return limit - (self._clock.now() - self._since).total_seconds()

    def _open(self, reason: str) -> None:
        self._move(BreakerState.OPEN, reason)

    def _half_open(self, reason: str) -> None:
        self._probes_left = self.config.permitted_calls_in_half_open
        self._probes = WindowStats()
        self._move(BreakerState.HALF_OPEN, reason)

    def _move(self, to: BreakerState, reason: str) -> None:
        before, now = self._state, self._clock.now()
        self._state, self._since = to, now
        if to is not BreakerState.HALF_OPEN:
            self._probes_left, self._probes = 0, WindowStats()
        if before is to:
            return
        transition = BreakerTransition(
            breaker=self.name, from_state=before, to_state=to, at=now, reason=reason
        )
        key = f"{before.value}->{to.value}"
        self.transitions[key] = self.transitions.get(key, 0) + 1
        self.history.append(transition)
        for listener in self._listeners:
            listener(transition)
