"""Metered usage's values: meters, events as reported and as recorded, results, limits,
aggregates, and the ``UsageStore`` port. The use cases are in ``usage.py``."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import msgspec

from core.kernel import TenantContext

MAX_BATCH = 1000
ID_MAX = 100
PROPERTIES_MAX = 50
PROPERTY_KEY_MAX = 100
PROPERTY_TEXT_MAX = 255
DEFAULT_LATENESS = timedelta(hours=24)
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)

Number = int | float
PropertyValue = str | int | float | bool


class Aggregation(enum.StrEnum):
    COUNT = "count"  # events
    SUM = "sum"  # of the values (never negative)
    MAX = "max"  # the largest value
    UNIQUE_COUNT = "unique_count"  # distinct values of the property
    LATEST = "latest"  # the value of the latest event by timestamp


class MeterSpec(msgspec.Struct, frozen=True):
    """What a meter aggregates. ``property`` names the event property aggregated by
    sum, max and latest (without it they aggregate the event's ``quantity``) and by
    unique count (which needs it); count ignores it."""

    name: str
    aggregation: Aggregation
    property: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a meter has a name")
        if self.aggregation is Aggregation.UNIQUE_COUNT and not self.property:
            raise ValueError(f"meter {self.name!r}: unique_count counts a property; name it")


class NewUsageEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as a client reports it. ``id`` is the client's idempotency id (1 to 100
    printable characters, no surrounding spaces); ``quantity`` (default 1, finite, not
    negative) is the value of sum, max and latest meters that name no property."""

    id: str
    meter: str
    timestamp: datetime
    quantity: Number = 1
    properties: dict[str, PropertyValue] = msgspec.field(default_factory=dict)


class UsageEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded event, with what its meter aggregates: ``value`` (sum, max, latest)
    or ``distinct_value`` (unique count); both ``None`` for count meters."""

    id: str
    workspace_id: str
    meter: str
    timestamp: datetime
    quantity: Number
    properties: dict[str, PropertyValue]
    received_at: datetime
    value: Number | None = None
    distinct_value: str | None = None


class EventStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # already recorded: accepted, counted once
    REJECTED = "rejected"


class RejectReason(enum.StrEnum):
    """Why an event was rejected; checked in this order, the first failing one wins."""

    INVALID_ID = "invalid_id"
    UNKNOWN_METER = "unknown_meter"
    INVALID_TIMESTAMP = "invalid_timestamp"  # not timezone-aware
    TOO_LATE = "too_late"  # older than the allowed lateness
    IN_FUTURE = "in_future"  # later than now plus the tolerance
    INVALID_QUANTITY = "invalid_quantity"  # not a finite number >= 0
    INVALID_PROPERTIES = "invalid_properties"  # too many, bad key, bad value
    MISSING_PROPERTY = "missing_property"  # the meter's property is absent
    NOT_NUMERIC = "not_numeric"  # the property of a sum, max or latest meter
    NEGATIVE_VALUE = "negative_value"  # the property of a sum meter
    LIMIT_EXCEEDED = "limit_exceeded"  # would go above a hard limit


class EventResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What became of one event. ``limit`` is the hard limit that rejected it, or the
    soft limit it crossed (``soft_limit_crossed``: the meter's aggregate for the period
    went from below the soft limit to at or above it with this event)."""

    id: str
    status: EventStatus
    reason: RejectReason | None = None
    detail: str | None = None
    limit: Number | None = None
    soft_limit_crossed: bool = False


class UsageLimits(msgspec.Struct, frozen=True, kw_only=True):
    """A workspace's limits on one meter for one period ``[period_start, period_end)``."""

    period_start: datetime
    period_end: datetime
    hard: Number | None = None
    soft: Number | None = None

    def __post_init__(self) -> None:
        if self.period_end <= self.period_start:
            raise ValueError("a limit period ends after it starts")

    def covers(self, at: datetime) -> bool:
        return self.period_start <= at < self.period_end


LimitsFor = Callable[[str, str, datetime], Awaitable[UsageLimits | None]]
"""``limits_for(workspace_id, meter, at)``: the limits of the period holding ``at``, or
``None`` when the workspace has no limit on that meter (at any time)."""


class UsageAggregate(msgspec.Struct, frozen=True, kw_only=True):
    """A meter's aggregate over ``[period_start, period_end)``: ``value`` (0 with no
    events), the number of ``events`` and the latest event's timestamp."""

    workspace_id: str
    meter: str
    aggregation: Aggregation
    period_start: datetime
    period_end: datetime
    value: Number
    events: int
    last_event_at: datetime | None = None


class UsageStore(Protocol):
    """Where usage events are kept, inside the caller's unit of work. Periods are
    ``[start, end)`` on the events' timestamps."""

    async def lock(self, tenant: TenantContext, meter: str) -> None:
        """Hold the workspace's meter until the unit of work ends, so that concurrent
        limit checks on it queue up. (SQL: a transaction-scoped advisory lock on
        PostgreSQL; SQLite's writers are serialized already.)"""
        ...

    async def existing_ids(self, tenant: TenantContext, event_ids: Collection[str]) -> set[str]:
        """Which of ``event_ids`` the workspace has recorded."""
        ...

    async def append(self, tenant: TenantContext, events: Sequence[UsageEvent]) -> set[str]:
        """Record the workspace's events whose ids it has not recorded yet (an id
        repeated in ``events`` once); answer the ids recorded now. The others were
        there already and are left as they were."""
        ...

    async def get(self, tenant: TenantContext, event_id: str) -> UsageEvent | None: ...

    async def aggregate(
        self, tenant: TenantContext, meter: MeterSpec, start: datetime, end: datetime
    ) -> UsageAggregate:
        """Latest ties on timestamp go to the later ``received_at``, then the higher id."""
        ...

    async def distinct_values_present(
        self,
        tenant: TenantContext,
        meter: str,
        start: datetime,
        end: datetime,
        values: Collection[str],
    ) -> set[str]:
        """Which of ``values`` are the ``distinct_value`` of an event in the period."""
        ...


def number(value: float) -> Number:
    """``value`` as an ``int`` when it is a whole number (stores may keep doubles)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def distinct_value(value: PropertyValue) -> str:
    """The canonical JSON of a property value: what unique count counts (``5`` and
    ``5.0`` are one value, ``"5"`` another)."""
    if isinstance(value, float):
        value = number(value)
    return msgspec.json.encode(value).decode()


def lock_key(workspace_id: str, meter: str) -> int:
    """A stable signed 64-bit key for a workspace's meter (for advisory locks)."""
    digest = hashlib.blake2b(f"{workspace_id}\x00{meter}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
