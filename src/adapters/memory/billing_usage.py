"""In-memory fake of billing's ``UsageStore``."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime

import msgspec

from core.billing.usage import Aggregation, MeterSpec, UsageAggregate, UsageEvent, number
from core.kernel import TenantContext


class InMemoryUsageStore:
    """Keeps events in a dictionary by ``(workspace_id, id)`` and aggregates in Python.

    Like the other fakes it ignores transactions: what was appended in a unit of work
    that is rolled back stays. ``lock`` only records the workspace and meter (one event
    loop needs no lock between awaits that never yield)."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], UsageEvent] = {}
        self.locks: list[tuple[str, str]] = []

    async def lock(self, tenant: TenantContext, meter: str) -> None:
        self.locks.append((tenant.workspace_id, meter))

    async def existing_ids(self, tenant: TenantContext, event_ids: Collection[str]) -> set[str]:
        return {i for i in event_ids if (tenant.workspace_id, i) in self.events}

    async def append(self, tenant: TenantContext, events: Sequence[UsageEvent]) -> set[str]:
        stored: set[str] = set()
        for event in events:
            if event.workspace_id != tenant.workspace_id:
                raise ValueError(f"event {event.id} belongs to another workspace")
            key = (tenant.workspace_id, event.id)
            if key not in self.events:
                self.events[key] = msgspec.structs.replace(
                    event,
                    timestamp=event.timestamp.astimezone(UTC),
                    received_at=event.received_at.astimezone(UTC),
                )
                stored.add(event.id)
        return stored

    async def get(self, tenant: TenantContext, event_id: str) -> UsageEvent | None:
        return self.events.get((tenant.workspace_id, event_id))

    def _in_period(
        self, tenant: TenantContext, meter: str, start: datetime, end: datetime
    ) -> Iterator[UsageEvent]:
        for event in self.events.values():
            if (
                event.workspace_id == tenant.workspace_id
                and event.meter == meter
                and start <= event.timestamp < end
            ):
                yield event

    async def aggregate(
        self, tenant: TenantContext, meter: MeterSpec, start: datetime, end: datetime
    ) -> UsageAggregate:
        events = list(self._in_period(tenant, meter.name, start, end))
        values = [float(e.value) for e in events if e.value is not None]
        value: float = 0
        match meter.aggregation:
            case Aggregation.COUNT:
                value = len(events)
            case Aggregation.SUM:
                value = sum(values)
            case Aggregation.MAX:
                value = max(values, default=0)
            case Aggregation.UNIQUE_COUNT:
                value = len({e.distinct_value for e in events if e.distinct_value is not None})
            case Aggregation.LATEST:
                latest = max(events, key=lambda e: (e.timestamp, e.received_at, e.id), default=None)
                value = latest.value if latest is not None and latest.value is not None else 0
        return UsageAggregate(
            workspace_id=tenant.workspace_id,
            meter=meter.name,
            aggregation=meter.aggregation,
            period_start=start,
            period_end=end,
            value=number(float(value)),
            events=len(events),
            last_event_at=max((e.timestamp for e in events), default=None),
        )

    async def distinct_values_present(
        self,
        tenant: TenantContext,
        meter: str,
        start: datetime,
        end: datetime,
        values: Collection[str],
    ) -> set[str]:
        wanted = set(values)
        return {
            e.distinct_value
            for e in self._in_period(tenant, meter, start, end)
            if e.distinct_value in wanted and e.distinct_value is not None
        }
