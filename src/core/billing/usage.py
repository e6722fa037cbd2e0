"""Metered usage: events a workspace reports, checked one by one, deduplicated by their
id, stored, and aggregated per meter and period (count, sum, max, unique count,
latest), with the workspace's hard and soft limits checked as they arrive.

An event is idempotent by ``(workspace, id)``: reporting it again, in the same batch or
later, is answered ``duplicate`` and counts once. The first report wins; a later one
with other values changes nothing.

What a meter aggregates is decided when the event is recorded, from the meter's
``MeterSpec``: ``value`` (sum, max, latest: the meter's property, or ``quantity`` when
the meter names none) or ``distinct_value`` (unique count: the property's value as
canonical JSON). Stores aggregate those two fields, so they need no JSON operators.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from core.billing.errors import (
    InvalidUsageEventError,
    InvalidUsagePeriodError,
    UnknownMeterError,
    UsageBatchTooLargeError,
    UsageLimitExceededError,
)
from core.billing.usage_model import (
    DEFAULT_FUTURE_TOLERANCE,
    DEFAULT_LATENESS,
    ID_MAX,
    MAX_BATCH,
    PROPERTIES_MAX,
    PROPERTY_KEY_MAX,
    PROPERTY_TEXT_MAX,
    Aggregation,
    EventResult,
    EventStatus,
    LimitsFor,
    MeterSpec,
    NewUsageEvent,
    Number,
    PropertyValue,
    RejectReason,
    UsageAggregate,
    UsageEvent,
    UsageLimits,
    UsageStore,
    distinct_value,
    lock_key,
    number,
)
from core.kernel import Clock, TenantContext

__all__ = [
    "DEFAULT_FUTURE_TOLERANCE",
    "DEFAULT_LATENESS",
    "ID_MAX",
    "MAX_BATCH",
    "PROPERTIES_MAX",
    "PROPERTY_KEY_MAX",
    "PROPERTY_TEXT_MAX",
    "Aggregation",
    "EventResult",
    "EventStatus",
    "LimitsFor",
    "MeterSpec",
    "NewUsageEvent",
    "Number",
    "PropertyValue",
    "RejectReason",
    "UsageAggregate",
    "UsageEvent",
    "UsageLimits",
    "UsageService",
    "UsageStore",
    "distinct_value",
    "lock_key",
    "number",
]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _valid_id(event_id: object) -> bool:
    return (
        isinstance(event_id, str)
        and 0 < len(event_id) <= ID_MAX
        and event_id.isprintable()
        and event_id == event_id.strip()
    )


def _properties_problem(properties: object) -> str | None:
    if not isinstance(properties, dict):
        return "properties are an object"
    if len(properties) > PROPERTIES_MAX:
        return f"at most {PROPERTIES_MAX} properties"
    for key, value in properties.items():
        if not isinstance(key, str) or not 0 < len(key) <= PROPERTY_KEY_MAX:
            return f"property names are 1 to {PROPERTY_KEY_MAX} characters"
        if isinstance(value, str):
            if len(value) > PROPERTY_TEXT_MAX:
                return f"property {key!r} is longer than {PROPERTY_TEXT_MAX} characters"
        elif not isinstance(value, bool) and not _is_number(value):
            return f"property {key!r} is not a string, a finite number or a boolean"
    return None


class _RejectedError(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        self.reason, self.detail = reason, detail


class _Tally:
    """A meter's aggregate for one limit period while a batch is checked against it."""

    def __init__(self, aggregation: Aggregation, aggregate: UsageAggregate, seen: set[str]):
        self.aggregation = aggregation
        self.value: Number | None = aggregate.value if aggregate.events else None
        self.latest_at = aggregate.last_event_at
        self.seen = seen

    def after(self, event: UsageEvent) -> Number | None:
        """The aggregate if ``event`` were recorded."""
        current, value = self.value, event.value if event.value is not None else 0
        match self.aggregation:
            case Aggregation.COUNT:
                return (current or 0) + 1
            case Aggregation.SUM:
                return (current or 0) + value
            case Aggregation.MAX:
                return value if current is None else max(current, value)
            case Aggregation.UNIQUE_COUNT:
                return (current or 0) + (event.distinct_value not in self.seen)
            case Aggregation.LATEST:
                later = self.latest_at is None or event.timestamp >= self.latest_at
                return value if later else current

    def record(self, event: UsageEvent, after: Number | None) -> None:
        self.value = after
        if self.latest_at is None or event.timestamp > self.latest_at:
            self.latest_at = event.timestamp
        if event.distinct_value is not None:
            self.seen.add(event.distinct_value)


class UsageService:
    """Ingestion and aggregation of metered usage.

    ``meters`` are the catalog's meters by name. ``limits_for`` (optional) gives a
    workspace's limits on a meter. Events older than ``lateness`` or later than now
    plus ``future_tolerance`` are rejected."""

    def __init__(
        self,
        store: UsageStore,
        meters: Mapping[str, MeterSpec],
        clock: Clock,
        *,
        limits_for: LimitsFor | None = None,
        lateness: timedelta = DEFAULT_LATENESS,
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    ) -> None:
        self._store = store
        self._meters = meters
        self._clock = clock
        self._limits_for = limits_for
        self._lateness = lateness
        self._future_tolerance = future_tolerance

    async def ingest(
        self,
        tenant: TenantContext,
        events: Sequence[NewUsageEvent],
        now: datetime | None = None,
    ) -> list[EventResult]:
        """Check and record a batch of at most ``MAX_BATCH`` events; one result per
        event, in order. Raises ``UsageBatchTooLargeError`` for a larger batch."""
        if len(events) > MAX_BATCH:
            raise UsageBatchTooLargeError(size=len(events), limit=MAX_BATCH)
        now = now or self._clock.now()
        results: list[EventResult | None] = [None] * len(events)
        first: dict[str, int] = {}  # id -> index of its first valid occurrence
        repeats: list[tuple[int, int]] = []
        candidates: list[tuple[int, UsageEvent]] = []
        for index, reported in enumerate(events):
            try:
                event = self._record_of(tenant, reported, now)
            except _RejectedError as rejected:
                results[index] = _rejected(reported.id, rejected.reason, rejected.detail)
                continue
            if event.id in first:
                repeats.append((index, first[event.id]))
                continue
            first[event.id] = index
            candidates.append((index, event))

        to_store = await self._check_limits(tenant, candidates, results)
        stored = await self._store.append(tenant, [e for _, e in to_store]) if to_store else set()
        for index, event in to_store:
            held = results[index]  # a soft-limit crossing, if any
            if event.id not in stored:
                results[index] = EventResult(id=event.id, status=EventStatus.DUPLICATE)
            elif held is None:
                results[index] = EventResult(id=event.id, status=EventStatus.ACCEPTED)
        for index, first_index in repeats:
            original = results[first_index]
            assert original is not None
            if original.status is EventStatus.REJECTED:
                results[index] = original  # the same event, refused for the same limit
            else:
                results[index] = EventResult(id=original.id, status=EventStatus.DUPLICATE)
        return [result for result in results if result is not None]

    async def ingest_one(
        self, tenant: TenantContext, event: NewUsageEvent, now: datetime | None = None
    ) -> EventResult:
        """Record one event; a rejection raises ``UsageLimitExceededError`` (hard limit)
        or ``InvalidUsageEventError`` (any other reason)."""
        (result,) = await self.ingest(tenant, [event], now)
        if result.status is not EventStatus.REJECTED:
            return result
        detail = result.detail or str(result.reason)
        if result.reason is RejectReason.LIMIT_EXCEEDED and result.limit is not None:
            raise UsageLimitExceededError(
                detail, event_id=event.id, meter=event.meter, limit=result.limit
            )
        raise InvalidUsageEventError(detail, event_id=event.id, reason=str(result.reason))

    async def aggregate(
        self, tenant: TenantContext, meter: str, period_start: datetime, period_end: datetime
    ) -> UsageAggregate:
        """The meter's aggregate over ``[period_start, period_end)``."""
        spec = self._meters.get(meter)
        if spec is None:
            raise UnknownMeterError(f"no meter named {meter!r}")
        if period_start.tzinfo is None or period_end.tzinfo is None:
            raise InvalidUsagePeriodError("the period's start and end are timezone-aware")
        if period_end <= period_start:
            raise InvalidUsagePeriodError("the period ends after it starts")
        return await self._store.aggregate(tenant, spec, period_start, period_end)

    # Checking one event

    def _record_of(self, tenant: TenantContext, event: NewUsageEvent, now: datetime) -> UsageEvent:
        if not _valid_id(event.id):
            raise _RejectedError(
                RejectReason.INVALID_ID,
                f"an event id is 1 to {ID_MAX} printable characters without surrounding spaces",
            )
        meter = self._meters.get(event.meter)
        if meter is None:
            raise _RejectedError(RejectReason.UNKNOWN_METER, f"no meter named {event.meter!r}")
        if event.timestamp.tzinfo is None or event.timestamp.utcoffset() is None:
            raise _RejectedError(RejectReason.INVALID_TIMESTAMP, "the timestamp has no time zone")
        at = event.timestamp.astimezone(UTC)
        if at < now - self._lateness:
            raise _RejectedError(
                RejectReason.TOO_LATE,
                f"the event is older than the allowed lateness ({self._lateness})",
            )
        if at > now + self._future_tolerance:
            raise _RejectedError(
                RejectReason.IN_FUTURE,
                f"the event is more than {self._future_tolerance} in the future",
            )
        if not _is_number(event.quantity) or event.quantity < 0:
            raise _RejectedError(RejectReason.INVALID_QUANTITY, "quantity is a finite number >= 0")
        if problem := _properties_problem(event.properties):
            raise _RejectedError(RejectReason.INVALID_PROPERTIES, problem)
        value, distinct = _measure(meter, event)
        return UsageEvent(
            id=event.id,
            workspace_id=tenant.workspace_id,
            meter=meter.name,
            timestamp=at,
            quantity=event.quantity,
            properties=event.properties,
            received_at=now,
            value=value,
            distinct_value=distinct,
        )

    # Limits

    async def _check_limits(
        self,
        tenant: TenantContext,
        candidates: list[tuple[int, UsageEvent]],
        results: list[EventResult | None],
    ) -> list[tuple[int, UsageEvent]]:
        """The candidates to store: those of limited meters checked in order against
        the aggregates (rejections and soft-limit crossings go to ``results``)."""
        if self._limits_for is None or not candidates:
            return candidates
        limited: list[tuple[int, UsageEvent, UsageLimits]] = []
        free: list[tuple[int, UsageEvent]] = []
        cache: dict[str, list[UsageLimits] | None] = {}
        for index, event in candidates:
            limits = await self._limits_of(tenant, event, cache)
            if limits is None or (limits.hard is None and limits.soft is None):
                free.append((index, event))
            else:
                limited.append((index, event, limits))
        if not limited:
            return candidates
        for meter in sorted({event.meter for _, event, _ in limited}):
            await self._store.lock(tenant, meter)  # in one order: no deadlock
        known = await self._store.existing_ids(tenant, [event.id for _, event, _ in limited])
        tallies: dict[tuple[str, datetime], _Tally] = {}
        checked: list[tuple[int, UsageEvent]] = []
        for index, event, limits in limited:
            if event.id in known:
                results[index] = EventResult(id=event.id, status=EventStatus.DUPLICATE)
                continue
            tally = await self._tally(tenant, event, limits, tallies, limited)
            before, after = tally.value, tally.after(event)
            rising = after is not None and (before is None or after > before)
            if limits.hard is not None and rising and after is not None and after > limits.hard:
                results[index] = _rejected(
                    event.id,
                    RejectReason.LIMIT_EXCEEDED,
                    f"meter {event.meter!r} is limited to {limits.hard} until "
                    f"{limits.period_end.isoformat()} ({before or 0} used)",
                    limit=limits.hard,
                )
                continue
            tally.record(event, after)
            soft = limits.soft
            if (
                soft is not None
                and after is not None
                and after >= soft
                and (before is None or before < soft)
            ):
                results[index] = EventResult(
                    id=event.id, status=EventStatus.ACCEPTED, limit=soft, soft_limit_crossed=True
                )
            checked.append((index, event))
        return sorted([*free, *checked], key=lambda pair: pair[0])

    async def _limits_of(
        self, tenant: TenantContext, event: UsageEvent, cache: dict[str, list[UsageLimits] | None]
    ) -> UsageLimits | None:
        assert self._limits_for is not None
        known = cache.get(event.meter, [])
        if known is None:
            return None
        for limits in known:
            if limits.covers(event.timestamp):
                return limits
        found = await self._limits_for(tenant.workspace_id, event.meter, event.timestamp)
        if found is None:
            cache[event.meter] = None
            return None
        if not found.covers(event.timestamp):
            raise ValueError(f"limits_for gave a period without {event.timestamp.isoformat()}")
        cache[event.meter] = [*known, found]
        return found

    async def _tally(
        self,
        tenant: TenantContext,
        event: UsageEvent,
        limits: UsageLimits,
        tallies: dict[tuple[str, datetime], _Tally],
        limited: list[tuple[int, UsageEvent, UsageLimits]],
    ) -> _Tally:
        key = (event.meter, limits.period_start)
        if key in tallies:
            return tallies[key]
        meter = self._meters[event.meter]
        start, end = limits.period_start, limits.period_end
        aggregate = await self._store.aggregate(tenant, meter, start, end)
        seen: set[str] = set()
        if meter.aggregation is Aggregation.UNIQUE_COUNT:
            values = {
                e.distinct_value
                for _, e, other in limited
                if e.meter == event.meter and other is limits and e.distinct_value is not None
            }
            seen = await self._store.distinct_values_present(
                tenant, event.meter, start, end, values
            )
        tallies[key] = _Tally(meter.aggregation, aggregate, seen)
        return tallies[key]


def _measure(meter: MeterSpec, event: NewUsageEvent) -> tuple[Number | None, str | None]:
    """What ``meter`` aggregates of ``event``: ``(value, distinct_value)``."""
    if meter.aggregation is Aggregation.COUNT:
        return None, None
    if meter.property is None:
        return event.quantity, None
    if meter.property not in event.properties:
        raise _RejectedError(
            RejectReason.MISSING_PROPERTY, f"meter {meter.name!r} needs property {meter.property!r}"
        )
    raw = event.properties[meter.property]
    if meter.aggregation is Aggregation.UNIQUE_COUNT:
        return None, distinct_value(raw)
    if isinstance(raw, bool) or not _is_number(raw):
        raise _RejectedError(
            RejectReason.NOT_NUMERIC, f"property {meter.property!r} is not a finite number"
        )
    assert isinstance(raw, int | float)
    if meter.aggregation is Aggregation.SUM and raw < 0:
        raise _RejectedError(
            RejectReason.NEGATIVE_VALUE, f"property {meter.property!r} of a sum is not negative"
        )
    return raw, None


def _rejected(
    event_id: str, reason: RejectReason, detail: str, *, limit: Number | None = None
) -> EventResult:
    return EventResult(
        id=event_id, status=EventStatus.REJECTED, reason=reason, detail=detail, limit=limit
    )
