"""The declared breakers, this process's breakers, and the staff overrides every process
obeys.

Each provider port has one named breaker (``BREAKERS``). A process builds its breakers
from the declarations (``BreakerRegistry``); their runtime state (windows, counts, open
or closed) is the process's own. What staff force (open, closed) or reset is stored in
the shared database and reaches every process through the breakers' snapshot
(``Topic.BREAKERS``, ``snapshots.py``): the registry applies an override the first time
it sees it, so a breaker forced open through one process refuses calls in all of them
within the snapshot poll interval.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from core.kernel import (
    Clock,
    ConflictError,
    DomainEvent,
    IdGenerator,
    NotFoundError,
    UnitOfWork,
    ValidationError,
)
from core.kernel.events import AwareDatetime
from core.safety.breakers import (
    BreakerConfig,
    BreakerState,
    BreakerTransition,
    CircuitBreaker,
    Listener,
    WindowKind,
)
from core.safety.snapshots import Topic, VersionStore

logger = logging.getLogger("ninefold.safety.breakers")

REASON_MAX = 500


class BreakerSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A declared breaker: the provider calls it guards, its configuration, what counts
    as a failure (in words, for staff), and its runbook (under docs/runbooks/)."""

    name: str
    description: str
    config: BreakerConfig = BreakerConfig()
    failures: str
    runbook: str
    wired: bool = True  # False: declared for a port whose adapters do not exist yet


BREAKERS: tuple[BreakerSpec, ...] = (
    BreakerSpec(
        name="payments",
        description="Every call to the payment provider (sandbox, Stripe, Dodo Payments) "
        "but webhook verification",
        config=BreakerConfig(
            window_size=20,
            minimum_calls=10,
            failure_rate_threshold=50,
            slow_call_seconds=10,
            slow_call_rate_threshold=80,
            wait_in_open_seconds=30,
            permitted_calls_in_half_open=3,
        ),
        failures="the provider unreachable, timing out, rate-limiting or failing with 5xx "
        "(PaymentProviderUnavailableError); a refusal (4xx) shows the provider is up",
        runbook="breakers/payments.md",
    ),
    BreakerSpec(
        name="email",
        description="Handing email to the email provider (Resend) in the delivery jobs",
        config=BreakerConfig(
            window_size=20,
            minimum_calls=10,
            failure_rate_threshold=50,
            slow_call_seconds=10,
            slow_call_rate_threshold=80,
            wait_in_open_seconds=60,
            permitted_calls_in_half_open=2,
        ),
        failures="the provider unreachable, rate-limiting, failing with 5xx or refusing "
        "our key (EmailProviderUnavailableError); a refused message does not count",
        runbook="breakers/email.md",
    ),
    BreakerSpec(
        name="media",
        description="Media storage (ImageKit) calls, when its adapter comes",
        config=BreakerConfig(slow_call_seconds=30, slow_call_rate_threshold=80),
        failures="the storage provider unreachable or failing with 5xx",
        runbook="breakers/media.md",
        wired=False,
    ),
    BreakerSpec(
        name="analytics",
        description="Product analytics (PostHog) calls, when its adapter comes",
        config=BreakerConfig(
            window=WindowKind.TIME, window_size=60, minimum_calls=20, wait_in_open_seconds=60
        ),
        failures="the analytics provider unreachable or failing with 5xx",
        runbook="breakers/analytics.md",
        wired=False,
    ),
    BreakerSpec(
        name="error-tracking",
        description="Error tracking (Sentry) calls, when its adapter comes",
        config=BreakerConfig(
            window=WindowKind.TIME, window_size=60, minimum_calls=20, wait_in_open_seconds=60
        ),
        failures="the error tracker unreachable or failing with 5xx",
        runbook="breakers/error-tracking.md",
        wired=False,
    ),
)


class OverrideKind(enum.StrEnum):
    FORCED_OPEN = "forced_open"
    FORCED_CLOSED = "forced_closed"
    NONE = "none"  # reset: back to the automatic states, starting closed and empty


class BreakerOverride(msgspec.Struct, frozen=True, kw_only=True):
    """Staff's latest word on a breaker. ``change_id`` identifies the change, so a
    process applies each change once (a reset is a change too)."""

    name: str
    kind: OverrideKind
    reason: str
    changed_by: str | None = None
    changed_at: AwareDatetime
    change_id: str


class BreakerForcedOpen(DomainEvent, frozen=True, kw_only=True):
    """Staff forced a breaker open: calls to its provider are refused (audit entry)."""

    name = "safety.breaker_forced_open"
    audit_action = "breaker.forced_open"
    audit_target = ("breaker", "breaker")

    breaker: str
    reason: str
    before: dict[str, str]
    after: dict[str, str]


class BreakerForcedClosed(DomainEvent, frozen=True, kw_only=True):
    """Staff forced a breaker closed: calls always go, it never trips (audit entry)."""

    name = "safety.breaker_forced_closed"
    audit_action = "breaker.forced_closed"
    audit_target = ("breaker", "breaker")

    breaker: str
    reason: str
    before: dict[str, str]
    after: dict[str, str]


class BreakerReset(DomainEvent, frozen=True, kw_only=True):
    """Staff reset a breaker: no override, closed with an empty window (audit entry)."""

    name = "safety.breaker_reset"
    audit_action = "breaker.reset"
    audit_target = ("breaker", "breaker")

    breaker: str
    reason: str
    before: dict[str, str]
    after: dict[str, str]


EVENTS: dict[OverrideKind, type[BreakerForcedOpen | BreakerForcedClosed | BreakerReset]] = {
    OverrideKind.FORCED_OPEN: BreakerForcedOpen,
    OverrideKind.FORCED_CLOSED: BreakerForcedClosed,
    OverrideKind.NONE: BreakerReset,
}


class UnknownBreakerError(NotFoundError):
    type = "safety/unknown-breaker"
    title = "There is no such circuit breaker."


class BreakerReasonError(ValidationError):
    type = "safety/reason-required"
    title = "Say why: a reason is required."


class BreakerUnchangedError(ConflictError):
    type = "safety/breaker-unchanged"
    title = "The circuit breaker is already forced that way."


class BreakerStore(Protocol):
    async def overrides(self) -> dict[str, BreakerOverride]:
        """Each breaker's latest override (none for a breaker never changed)."""
        ...

    async def set(self, override: BreakerOverride) -> None:
        """Store ``override`` as the breaker's current one and append it to its history."""
        ...

    async def history(self, name: str, *, limit: int = 50) -> list[BreakerOverride]:
        """The breaker's changes, newest first."""
        ...


def log_transition(transition: BreakerTransition) -> None:
    """Every transition in the log: a warning when calls start being refused."""
    refusing = transition.to_state in (BreakerState.OPEN, BreakerState.FORCED_OPEN)
    logger.log(
        logging.WARNING if refusing else logging.INFO,
        "circuit breaker %s: %s -> %s (%s)",
        transition.breaker,
        transition.from_state.value,
        transition.to_state.value,
        transition.reason,
    )


Overrides = Callable[[], Mapping[str, BreakerOverride]]


class BreakerRegistry:
    """This process's breaker of each declared name. ``overrides`` answers the latest
    staff overrides (the snapshot); each is applied once, when first seen."""

    def __init__(
        self,
        specs: Iterable[BreakerSpec],
        clock: Clock,
        *,
        overrides: Overrides | None = None,
        timer: Callable[[], float] = time.perf_counter,
        listeners: Sequence[Listener] = (log_transition,),
    ) -> None:
        self.specs: dict[str, BreakerSpec] = {spec.name: spec for spec in specs}
        self._overrides = overrides or dict
        self._applied: dict[str, str] = {}
        self._breakers = {
            spec.name: CircuitBreaker(
                spec.name,
                spec.config,
                clock,
                timer=timer,
                runbook=spec.runbook,
                listeners=listeners,
            )
            for spec in self.specs.values()
        }

    def spec(self, name: str) -> BreakerSpec:
        found = self.specs.get(name)
        if found is None:
            raise UnknownBreakerError(
                f"no circuit breaker {name!r} (there are: {', '.join(self.specs)})", name=name
            )
        return found

    def breaker(self, name: str) -> CircuitBreaker:
        """The breaker ``name``, with the latest staff override applied."""
        self.spec(name)
        breaker = self._breakers[name]
        override = self._overrides().get(name)
        if override is not None and self._applied.get(name) != override.change_id:
            self._applied[name] = override.change_id
            apply_override(breaker, override)
        return breaker

    def all(self) -> list[CircuitBreaker]:
        return [self.breaker(name) for name in self.specs]

    def override(self, name: str) -> BreakerOverride | None:
        return self._overrides().get(name)

    def metrics(self) -> dict[str, dict[str, object]]:
        """Per breaker: its state, call counters and transition counts in this process."""
        return {
            b.name: {"state": b.state.value, **b.counters, "transitions": dict(b.transitions)}
            for b in self.all()
        }


def apply_override(breaker: CircuitBreaker, override: BreakerOverride) -> None:
    by = f" by {override.changed_by}" if override.changed_by else ""
    why = f"staff{by}: {override.reason}"
    if override.kind is OverrideKind.FORCED_OPEN:
        breaker.force_open(f"forced open, {why}")
    elif override.kind is OverrideKind.FORCED_CLOSED:
        breaker.disable(f"forced closed, {why}")
    else:
        breaker.reset(f"reset, {why}")


class BreakerService:
    """Staff force a breaker open or closed, or reset it, with a reason, in the caller's
    unit of work: the override is stored, the breakers' version bumped (every process
    reloads) and an audit event raised; all committed together or not at all."""

    def __init__(
        self,
        specs: Iterable[BreakerSpec],
        store: BreakerStore,
        versions: VersionStore,
        uow: UnitOfWork,
        ids: IdGenerator,
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.store = store
        self._versions = versions
        self._uow = uow
        self._ids = ids

    async def change(
        self, name: str, kind: OverrideKind, *, reason: str, actor: str | None, now: datetime
    ) -> BreakerOverride:
        if name not in self.specs:
            raise UnknownBreakerError(
                f"no circuit breaker {name!r} (there are: {', '.join(self.specs)})", name=name
            )
        reason = reason.strip()
        verb = {"forced_open": "force open", "forced_closed": "force closed", "none": "reset"}
        if not reason:
            raise BreakerReasonError(f"say why you {verb[kind.value]} {name!r} (--reason)")
        if len(reason) > REASON_MAX:
            raise BreakerReasonError(f"a reason is at most {REASON_MAX} characters")
        current = (await self.store.overrides()).get(name)
        before = current.kind if current is not None else OverrideKind.NONE
        if kind is not OverrideKind.NONE and before is kind:
            raise BreakerUnchangedError(f"{name!r} is already {kind.value.replace('_', ' ')}")
        override = BreakerOverride(
            name=name,
            kind=kind,
            reason=reason,
            changed_by=actor,
            changed_at=now,
            change_id=self._ids.new("brk", now),
        )
        await self.store.set(override)
        await self._versions.bump(Topic.BREAKERS, now)
        self._uow.raise_event(
            EVENTS[kind](
                occurred_at=now,
                breaker=name,
                reason=reason,
                before={"override": before.value},
                after={"override": kind.value},
            )
        )
        return override
