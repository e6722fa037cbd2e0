"""Conformance of a ``UsageStore``: where metered usage events are kept and aggregated.

Provide a fixture ``usage_store``: the adapter, bound to one open unit of work (for SQL,
a session that is never committed: everything is read back in it).

The store keeps the first event recorded under a workspace's id and ignores later ones;
it aggregates what each event carries for its meter (``value``, ``distinct_value``)
over ``[start, end)`` on the events' timestamps. Numbers come back as ``int`` when they
are whole, times in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.billing.usage import (
    Aggregation,
    MeterSpec,
    PropertyValue,
    UsageAggregate,
    UsageEvent,
    UsageStore,
    distinct_value,
)
from core.kernel import TenantContext

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
WS1, WS2 = TenantContext("ws_usage_contract_one"), TenantContext("ws_usage_contract_two")

CALLS = MeterSpec("api_calls", Aggregation.COUNT)
TOKENS = MeterSpec("tokens", Aggregation.SUM, property="tokens")
PEAK = MeterSpec("peak_memory", Aggregation.MAX, property="mb")
USERS = MeterSpec("active_users", Aggregation.UNIQUE_COUNT, property="user")
SEATS = MeterSpec("seats", Aggregation.LATEST, property="seats")


def an_event(
    event_id: str,
    meter: MeterSpec = CALLS,
    *,
    tenant: TenantContext = WS1,
    at: datetime = T0,
    value: float | None = None,
    distinct: PropertyValue | None = None,
    quantity: float = 1,
    properties: dict[str, PropertyValue] | None = None,
    received_at: datetime | None = None,
) -> UsageEvent:
    """An event as the service records it (``value``/``distinct`` already derived)."""
    return UsageEvent(
        id=event_id,
        workspace_id=tenant.workspace_id,
        meter=meter.name,
        timestamp=at,
        quantity=quantity,
        properties=properties or {},
        received_at=received_at or at,
        value=value,
        distinct_value=None if distinct is None else distinct_value(distinct),
    )


def at(clock_time: str) -> datetime:
    """A time of the day of ``T0``: ``"10:15"``, ``"09:59:59.999999"``."""
    return datetime.fromisoformat(f"2030-01-02T{clock_time}+00:00")


async def aggregate_of(
    store: UsageStore,
    meter: MeterSpec,
    start: datetime = T0,
    end: datetime = T0 + timedelta(days=1),
    tenant: TenantContext = WS1,
) -> UsageAggregate:
    return await store.aggregate(tenant, meter, start, end)


class UsageStoreContract:
    async def test_an_event_comes_back_whole(self, usage_store: UsageStore) -> None:
        properties: dict[str, PropertyValue] = {"tokens": 12, "ratio": 0.5, "ok": True, "m": "x"}
        at = datetime(2030, 1, 2, 5, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
        event = an_event("evt-1", TOKENS, value=12, quantity=2.5, properties=properties, at=at)

        assert await usage_store.append(WS1, [event]) == {"evt-1"}

        stored = await usage_store.get(WS1, "evt-1")
        assert stored == event
        assert stored is not None
        assert stored.timestamp.utcoffset() == timedelta(0)
        assert type(stored.value) is int
        assert type(stored.quantity) is float
        assert stored.properties == properties
        assert type(stored.properties["ok"]) is bool
        assert type(stored.properties["tokens"]) is int

    async def test_a_recorded_id_is_not_recorded_again(self, usage_store: UsageStore) -> None:
        first = an_event("evt-1", TOKENS, value=5)
        await usage_store.append(WS1, [first])

        again = await usage_store.append(WS1, [an_event("evt-1", TOKENS, value=500)])

        assert again == set()
        assert await usage_store.get(WS1, "evt-1") == first

    async def test_a_batch_answers_only_the_ids_it_recorded(self, usage_store: UsageStore) -> None:
        await usage_store.append(WS1, [an_event("old")])

        recorded = await usage_store.append(
            WS1, [an_event("new-1"), an_event("old"), an_event("new-2")]
        )

        assert recorded == {"new-1", "new-2"}
        assert await usage_store.existing_ids(WS1, ["old", "new-1", "new-2", "never"]) == {
            "old",
            "new-1",
            "new-2",
        }

    async def test_an_id_repeated_in_one_append_is_recorded_once(
        self, usage_store: UsageStore
    ) -> None:
        first = an_event("twice", TOKENS, value=1)

        recorded = await usage_store.append(WS1, [first, an_event("twice", TOKENS, value=2)])

        assert recorded == {"twice"}
        assert (await aggregate_of(usage_store, TOKENS)).value == 1

    async def test_workspaces_have_their_own_ids_and_events(self, usage_store: UsageStore) -> None:
        await usage_store.append(WS1, [an_event("same", TOKENS, value=3)])

        recorded = await usage_store.append(WS2, [an_event("same", TOKENS, tenant=WS2, value=4)])

        assert recorded == {"same"}
        assert await usage_store.existing_ids(WS2, ["same"]) == {"same"}
        assert (await aggregate_of(usage_store, TOKENS)).value == 3
        assert (await aggregate_of(usage_store, TOKENS, tenant=WS2)).value == 4
        assert await usage_store.get(WS2, "missing") is None

    async def test_an_event_of_another_workspace_is_refused(self, usage_store: UsageStore) -> None:
        with pytest.raises(ValueError, match="workspace"):
            await usage_store.append(WS1, [an_event("foreign", tenant=WS2)])

    async def test_nothing_recorded_aggregates_to_zero(self, usage_store: UsageStore) -> None:
        for meter in (CALLS, TOKENS, PEAK, USERS, SEATS):
            aggregate = await aggregate_of(usage_store, meter)

            assert aggregate == UsageAggregate(
                workspace_id=WS1.workspace_id,
                meter=meter.name,
                aggregation=meter.aggregation,
                period_start=T0,
                period_end=T0 + timedelta(days=1),
                value=0,
                events=0,
                last_event_at=None,
            )

    async def test_count_counts_the_events_of_the_period(self, usage_store: UsageStore) -> None:
        await usage_store.append(
            WS1,
            [
                an_event("before", at=T0 - timedelta(microseconds=1)),
                an_event("at-start", at=T0),
                an_event("inside", at=T0 + MINUTE),
                an_event("at-end", at=T0 + timedelta(days=1)),
                an_event("other-meter", TOKENS, at=T0, value=1),
            ],
        )
        await usage_store.append(WS2, [an_event("other-workspace", tenant=WS2)])

        aggregate = await aggregate_of(usage_store, CALLS)

        assert (aggregate.value, aggregate.events) == (2, 2)
        assert aggregate.last_event_at == T0 + MINUTE

    async def test_sum_adds_the_values(self, usage_store: UsageStore) -> None:
        await usage_store.append(
            WS1,
            [
                an_event("a", TOKENS, value=10),
                an_event("b", TOKENS, value=0.5, at=T0 + MINUTE),
                an_event("c", TOKENS, value=0.25, at=T0 + 2 * MINUTE),
            ],
        )

        aggregate = await aggregate_of(usage_store, TOKENS)

        assert (aggregate.value, aggregate.events) == (10.75, 3)

    async def test_whole_sums_come_back_as_integers(self, usage_store: UsageStore) -> None:
        await usage_store.append(
            WS1, [an_event("a", TOKENS, value=2**40), an_event("b", TOKENS, value=7)]
        )

        value = (await aggregate_of(usage_store, TOKENS)).value

        assert value == 2**40 + 7
        assert type(value) is int

    async def test_max_takes_the_largest_value(self, usage_store: UsageStore) -> None:
        await usage_store.append(
            WS1,
            [
                an_event("a", PEAK, value=512),
                an_event("b", PEAK, value=2048.5, at=T0 + MINUTE),
                an_event("c", PEAK, value=1024, at=T0 + 2 * MINUTE),
            ],
        )

        assert (await aggregate_of(usage_store, PEAK)).value == 2048.5

    async def test_unique_count_counts_distinct_values(self, usage_store: UsageStore) -> None:
        await usage_store.append(
            WS1,
            [
                an_event("a", USERS, distinct="usr_1"),
                an_event("b", USERS, distinct="usr_2"),
                an_event("c", USERS, distinct="usr_1"),
                an_event("d", USERS, distinct=7),
                an_event("e", USERS, distinct="7"),
                an_event("f", USERS, distinct=7.0),
            ],
        )

        aggregate = await aggregate_of(usage_store, USERS)

        assert (aggregate.value, aggregate.events) == (4, 6)

    async def test_the_distinct_values_present_in_a_period(self, usage_store: UsageStore) -> None:
        await usage_store.append(
            WS1,
            [
                an_event("a", USERS, distinct="usr_1"),
                an_event("b", USERS, distinct="usr_2", at=T0 - MINUTE),
                an_event("c", USERS, distinct="usr_3", tenant=WS1, at=T0 + MINUTE),
            ],
        )
        wanted = [distinct_value(v) for v in ("usr_1", "usr_2", "usr_4")]

        present = await usage_store.distinct_values_present(
            WS1, USERS.name, T0, T0 + timedelta(days=1), wanted
        )

        assert present == {distinct_value("usr_1")}
        assert await usage_store.distinct_values_present(WS1, USERS.name, T0, T0 + MINUTE, []) == (
            set()
        )

    async def test_latest_takes_the_value_of_the_latest_timestamp(
        self, usage_store: UsageStore
    ) -> None:
        await usage_store.append(
            WS1,
            [
                an_event("late-arrival", SEATS, value=3, at=T0 + MINUTE, received_at=T0 + MINUTE),
                an_event("first", SEATS, value=5, at=T0, received_at=T0 + 2 * MINUTE),
            ],
        )

        aggregate = await aggregate_of(usage_store, SEATS)

        assert aggregate.value == 3
        assert aggregate.last_event_at == T0 + MINUTE

    async def test_latest_breaks_ties_by_arrival_then_id(self, usage_store: UsageStore) -> None:
        at = T0 + MINUTE
        await usage_store.append(
            WS1,
            [
                an_event("b", SEATS, value=1, at=at, received_at=at),
                an_event("a", SEATS, value=2, at=at, received_at=at + MINUTE),
            ],
        )
        assert (await aggregate_of(usage_store, SEATS)).value == 2

        await usage_store.append(WS1, [an_event("c", SEATS, value=9, at=at, received_at=at)])
        await usage_store.append(WS1, [an_event("d", SEATS, value=4, at=at, received_at=at)])

        assert (await aggregate_of(usage_store, SEATS)).value == 2
        await usage_store.append(
            WS1, [an_event("e", SEATS, value=8, at=at, received_at=at + MINUTE)]
        )
        assert (await aggregate_of(usage_store, SEATS)).value == 8

    @pytest.mark.parametrize(
        ("start", "end", "count", "total", "largest"),
        [
            ("09:00", "14:00", 7, 127, 64),  # whole hours
            ("10:00", "11:00", 2, 6, 4),
            ("10:15", "12:30", 3, 28, 16),  # cuts hours at both ends
            ("10:30", "10:45", 1, 4, 4),  # within one hour
            ("10:45", "11:15", 0, 0, 0),  # across an hour, nothing inside
            ("09:59:59.999999", "13:00:00.000001", 7, 127, 64),
            ("10:00:00.000001", "13:00", 4, 60, 32),
        ],
    )
    async def test_count_sum_and_max_over_periods_that_cut_hours(
        self,
        usage_store: UsageStore,
        *,
        start: str,
        end: str,
        count: int,
        total: int,
        largest: int,
    ) -> None:
        times = ["09:59:59.999999", "10:00", "10:30", "11:30", "12:15", "12:59", "13:00"]
        await usage_store.append(
            WS1,
            [an_event(f"c{i}", CALLS, at=at(t)) for i, t in enumerate(times)]
            + [an_event(f"t{i}", TOKENS, at=at(t), value=2**i) for i, t in enumerate(times)]
            + [an_event(f"m{i}", PEAK, at=at(t), value=2**i) for i, t in enumerate(times)],
        )
        await usage_store.append(WS1, [an_event("later", TOKENS, at=at("10:05"), value=0.5)])

        calls = await aggregate_of(usage_store, CALLS, at(start), at(end))
        tokens = await aggregate_of(usage_store, TOKENS, at(start), at(end))
        peak = await aggregate_of(usage_store, PEAK, at(start), at(end))

        extra = 0.5 if at(start) <= at("10:05") < at(end) else 0
        assert (calls.value, calls.events) == (count, count)
        assert (tokens.value, tokens.events) == (total + extra, count + (extra > 0))
        assert (peak.value, peak.events) == (largest, count)

    async def test_a_meter_can_be_locked_more_than_once(self, usage_store: UsageStore) -> None:
        await usage_store.lock(WS1, TOKENS.name)
        await usage_store.lock(WS1, TOKENS.name)
        await usage_store.lock(WS1, CALLS.name)

        assert await usage_store.append(WS1, [an_event("after-lock")]) == {"after-lock"}
