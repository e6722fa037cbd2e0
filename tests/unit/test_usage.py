"""Metered usage: checking events, deduplication, lateness, limits and every aggregation,
on the in-memory store; and the ``UsageStore`` conformance suite run on that store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from adapters.memory.billing_usage import InMemoryUsageStore
from contracts.ports.billing_usage import UsageStoreContract
from core.billing.errors import (
    InvalidUsageEventError,
    InvalidUsagePeriodError,
    UnknownMeterError,
    UsageBatchTooLargeError,
    UsageLimitExceededError,
)
from core.billing.usage import (
    MAX_BATCH,
    Aggregation,
    EventResult,
    EventStatus,
    MeterSpec,
    NewUsageEvent,
    PropertyValue,
    RejectReason,
    UsageLimits,
    UsageService,
    distinct_value,
    lock_key,
)
from core.kernel import FixedClock, TenantContext

NOW = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)
MONTH_START, MONTH_END = datetime(2030, 3, 1, tzinfo=UTC), datetime(2030, 4, 1, tzinfo=UTC)
WS = TenantContext("ws_usage_one")
OTHER = TenantContext("ws_usage_two")

METERS = {
    meter.name: meter
    for meter in (
        MeterSpec("api_calls", Aggregation.COUNT),
        MeterSpec("tokens", Aggregation.SUM, property="tokens"),
        MeterSpec("storage_gb", Aggregation.SUM),  # no property: sums quantity
        MeterSpec("peak_memory", Aggregation.MAX, property="mb"),
        MeterSpec("active_users", Aggregation.UNIQUE_COUNT, property="user"),
        MeterSpec("seats", Aggregation.LATEST, property="seats"),
        MeterSpec("temperature", Aggregation.MAX, property="celsius"),
    )
}


class TestInMemoryUsageStore(UsageStoreContract):
    @pytest.fixture
    def usage_store(self) -> InMemoryUsageStore:
        return InMemoryUsageStore()


def event(
    event_id: str = "evt-1",
    meter: str = "api_calls",
    *,
    at: datetime = NOW,
    quantity: float = 1,
    **properties: PropertyValue,
) -> NewUsageEvent:
    return NewUsageEvent(
        id=event_id, meter=meter, timestamp=at, quantity=quantity, properties=properties
    )


def statuses(results: list[EventResult]) -> list[str]:
    return [str(r.reason) if r.reason else str(r.status) for r in results]


class Limits:
    """A fake ``limits_for``: monthly periods, limits per meter; records its calls."""

    def __init__(self, **limits: tuple[float | None, float | None]) -> None:
        self.limits = limits
        self.calls: list[tuple[str, str, datetime]] = []

    async def __call__(self, workspace_id: str, meter: str, at: datetime) -> UsageLimits | None:
        self.calls.append((workspace_id, meter, at))
        if meter not in self.limits:
            return None
        start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        hard, soft = self.limits[meter]
        return UsageLimits(period_start=start, period_end=end, hard=hard, soft=soft)


@pytest.fixture
def store() -> InMemoryUsageStore:
    return InMemoryUsageStore()


@pytest.fixture
def service(store: InMemoryUsageStore) -> UsageService:
    return UsageService(store, METERS, FixedClock(NOW))


def limited(store: InMemoryUsageStore, limits: Limits) -> UsageService:
    return UsageService(store, METERS, FixedClock(NOW), limits_for=limits)


async def total(service: UsageService, meter: str, tenant: TenantContext = WS) -> float:
    return (await service.aggregate(tenant, meter, MONTH_START, MONTH_END)).value


# -- accepting and recording ------------------------------------------------------------


async def test_valid_events_are_accepted_in_order(service: UsageService) -> None:
    results = await service.ingest(WS, [event("a"), event("b", "tokens", tokens=5)])

    assert results == [
        EventResult(id="a", status=EventStatus.ACCEPTED),
        EventResult(id="b", status=EventStatus.ACCEPTED),
    ]


async def test_an_empty_batch_records_nothing(
    service: UsageService, store: InMemoryUsageStore
) -> None:
    assert await service.ingest(WS, []) == []
    assert store.events == {}


async def test_the_recorded_event_carries_what_its_meter_aggregates(
    service: UsageService, store: InMemoryUsageStore
) -> None:
    at = datetime(2030, 3, 15, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    await service.ingest(
        WS,
        [
            event("sum", "tokens", at=at, quantity=9, tokens=40, model="small"),
            event("quantity", "storage_gb", quantity=2.5),
            event("count", "api_calls", tokens=3),
            event("unique", "active_users", user="usr_1"),
        ],
    )

    recorded = await store.get(WS, "sum")
    assert recorded is not None
    assert (recorded.value, recorded.quantity, recorded.distinct_value) == (40, 9, None)
    assert recorded.properties == {"tokens": 40, "model": "small"}
    assert recorded.timestamp == at
    assert recorded.timestamp.tzinfo == UTC
    assert (recorded.workspace_id, recorded.received_at) == (WS.workspace_id, NOW)
    by_quantity = await store.get(WS, "quantity")
    assert by_quantity is not None
    assert by_quantity.value == 2.5
    counted = await store.get(WS, "count")
    assert counted is not None
    assert (counted.value, counted.distinct_value) == (None, None)
    unique = await store.get(WS, "unique")
    assert unique is not None
    assert unique.distinct_value == '"usr_1"'


async def test_the_time_of_the_call_is_the_clock_unless_given(store: InMemoryUsageStore) -> None:
    clock = FixedClock(NOW)
    service = UsageService(store, METERS, clock)
    later = NOW + timedelta(days=3)

    (result,) = await service.ingest(WS, [event(at=later)])
    assert result.reason is RejectReason.IN_FUTURE

    (result,) = await service.ingest(WS, [event(at=later)], now=later)
    assert result.status is EventStatus.ACCEPTED
    recorded = await store.get(WS, "evt-1")
    assert recorded is not None
    assert recorded.received_at == later


# -- rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_id", ["", "x" * 101, " padded", "padded ", "tab\there", "new\nline", "nul\x00"]
)
async def test_a_bad_id_is_rejected(service: UsageService, event_id: str) -> None:
    (result,) = await service.ingest(WS, [event(event_id)])

    assert result.status is EventStatus.REJECTED
    assert result.reason is RejectReason.INVALID_ID


@pytest.mark.parametrize("event_id", ["x", "x" * 100, "order 42 / line 3", "é-ü-ß", "550e8400-e2"])
async def test_ids_of_1_to_100_printable_characters_are_fine(
    service: UsageService, event_id: str
) -> None:
    (result,) = await service.ingest(WS, [event(event_id)])

    assert result.status is EventStatus.ACCEPTED


async def test_an_unknown_meter_is_rejected(service: UsageService) -> None:
    (result,) = await service.ingest(WS, [event(meter="nope")])

    assert result.reason is RejectReason.UNKNOWN_METER
    assert result.detail is not None
    assert "nope" in result.detail


async def test_a_timestamp_without_a_zone_is_rejected(service: UsageService) -> None:
    (result,) = await service.ingest(WS, [event(at=NOW.replace(tzinfo=None))])

    assert result.reason is RejectReason.INVALID_TIMESTAMP


async def test_an_event_older_than_the_allowed_lateness_is_too_late(
    service: UsageService,
) -> None:
    results = await service.ingest(
        WS,
        [
            event("on-the-edge", at=NOW - timedelta(hours=24)),
            event("too-late", at=NOW - timedelta(hours=24, microseconds=1)),
        ],
    )

    assert statuses(results) == ["accepted", "too_late"]
    assert results[1].detail is not None
    assert "lateness" in results[1].detail


async def test_the_allowed_lateness_is_a_parameter(store: InMemoryUsageStore) -> None:
    service = UsageService(store, METERS, FixedClock(NOW), lateness=timedelta(days=3))

    results = await service.ingest(
        WS, [event("two-days", at=NOW - timedelta(days=2)), event("four", at=NOW - 4 * DAY)]
    )

    assert statuses(results) == ["accepted", "too_late"]


DAY = timedelta(days=1)


async def test_an_event_more_than_five_minutes_ahead_is_rejected(service: UsageService) -> None:
    results = await service.ingest(
        WS,
        [
            event("clock-skew", at=NOW + timedelta(minutes=5)),
            event("future", at=NOW + timedelta(minutes=5, seconds=1)),
        ],
    )

    assert statuses(results) == ["accepted", "in_future"]


@pytest.mark.parametrize("quantity", [-1, -0.5, float("nan"), float("inf"), True, "3"])
async def test_a_quantity_must_be_a_finite_number_not_below_zero(
    service: UsageService, quantity: object
) -> None:
    (result,) = await service.ingest(WS, [event(quantity=quantity)])  # type: ignore[arg-type]

    assert result.reason is RejectReason.INVALID_QUANTITY


@pytest.mark.parametrize(
    "properties",
    [
        {f"p{i}": i for i in range(51)},
        {"": 1},
        {"k" * 101: 1},
        {"text": "x" * 256},
        {"nested": [1, 2]},
        {"nested": {"a": 1}},
        {"none": None},
        {"nan": float("nan")},
    ],
)
async def test_properties_are_bounded_scalars(
    service: UsageService, properties: dict[str, object]
) -> None:
    reported = NewUsageEvent(
        id="p",
        meter="api_calls",
        timestamp=NOW,
        properties=properties,  # type: ignore[arg-type]
    )

    (result,) = await service.ingest(WS, [reported])

    assert result.reason is RejectReason.INVALID_PROPERTIES


async def test_fifty_properties_within_bounds_are_fine(service: UsageService) -> None:
    properties: dict[str, PropertyValue] = {f"p{i}": i for i in range(49)}
    properties["k" * 100] = "x" * 255

    reported = NewUsageEvent(id="p", meter="api_calls", timestamp=NOW, properties=properties)

    (result,) = await service.ingest(WS, [reported])

    assert result.status is EventStatus.ACCEPTED


async def test_the_meters_property_must_be_there(service: UsageService) -> None:
    results = await service.ingest(
        WS,
        [event("a", "tokens", other=3), event("b", "active_users"), event("c", "seats")],
    )

    assert statuses(results) == ["missing_property"] * 3


@pytest.mark.parametrize("meter", ["tokens", "peak_memory", "seats"])
@pytest.mark.parametrize("value", ["12", True])
async def test_sum_max_and_latest_need_a_number(
    service: UsageService, meter: str, value: PropertyValue
) -> None:
    prop = METERS[meter].property
    assert prop is not None

    reported = NewUsageEvent(id="x", meter=meter, timestamp=NOW, properties={prop: value})

    (result,) = await service.ingest(WS, [reported])

    assert result.reason is RejectReason.NOT_NUMERIC


async def test_a_sum_takes_no_negative_value_a_max_does(service: UsageService) -> None:
    results = await service.ingest(
        WS, [event("a", "tokens", tokens=-3), event("b", "temperature", celsius=-12.5)]
    )

    assert statuses(results) == ["negative_value", "accepted"]
    assert await total(service, "temperature") == -12.5


async def test_the_first_failing_check_is_the_reason(service: UsageService) -> None:
    (result,) = await service.ingest(
        WS, [event("", "nope", at=NOW - 10 * DAY, quantity=-1, tokens="x")]
    )

    assert result.reason is RejectReason.INVALID_ID


async def test_a_rejected_event_is_not_recorded(
    service: UsageService, store: InMemoryUsageStore
) -> None:
    await service.ingest(WS, [event("late", at=NOW - 2 * DAY), event("ok")])

    assert set(store.events) == {(WS.workspace_id, "ok")}


# -- batches and duplicates -------------------------------------------------------------


async def test_a_batch_of_1000_is_taken(service: UsageService) -> None:
    results = await service.ingest(WS, [event(f"e{i}") for i in range(MAX_BATCH)])

    assert len(results) == MAX_BATCH
    assert await total(service, "api_calls") == MAX_BATCH


async def test_a_larger_batch_is_refused_whole(
    service: UsageService, store: InMemoryUsageStore
) -> None:
    with pytest.raises(UsageBatchTooLargeError) as raised:
        await service.ingest(WS, [event(f"e{i}") for i in range(MAX_BATCH + 1)])

    assert raised.value.status == 413
    assert raised.value.type == "billing/usage-batch-too-large"
    assert raised.value.extra == {"size": 1001, "limit": 1000}
    assert store.events == {}


async def test_an_event_reported_again_is_a_duplicate_counted_once(
    service: UsageService,
) -> None:
    await service.ingest(WS, [event("a", "tokens", tokens=5)])

    results = await service.ingest(
        WS, [event("a", "tokens", tokens=500), event("b", "tokens", tokens=1)]
    )

    assert statuses(results) == ["duplicate", "accepted"]
    assert await total(service, "tokens") == 6


async def test_a_duplicate_within_a_batch_counts_once_and_the_first_wins(
    service: UsageService,
) -> None:
    results = await service.ingest(
        WS,
        [
            event("a", "tokens", tokens=5),
            event("b", "tokens", tokens=1),
            event("a", "tokens", tokens=700),
            event("a", "tokens", tokens=5),
        ],
    )

    assert statuses(results) == ["accepted", "accepted", "duplicate", "duplicate"]
    assert await total(service, "tokens") == 6


async def test_a_rejected_event_does_not_take_its_id(service: UsageService) -> None:
    results = await service.ingest(
        WS, [event("a", "tokens", tokens="x"), event("a", "tokens", tokens=2)]
    )

    assert statuses(results) == ["not_numeric", "accepted"]


async def test_the_same_id_in_two_workspaces_is_two_events(service: UsageService) -> None:
    await service.ingest(WS, [event("a")])

    (result,) = await service.ingest(OTHER, [event("a")])

    assert result.status is EventStatus.ACCEPTED
    assert await total(service, "api_calls", OTHER) == 1


# -- aggregations through the service ---------------------------------------------------


async def test_every_aggregation_over_a_period(service: UsageService) -> None:
    earlier = NOW - timedelta(hours=3)
    await service.ingest(
        WS,
        [
            event("c1", "api_calls"),
            event("c2", "api_calls", at=earlier),
            event("t1", "tokens", tokens=100),
            event("t2", "tokens", tokens=23.5, at=earlier),
            event("s1", "storage_gb", quantity=1.5),
            event("s2", "storage_gb"),
            event("m1", "peak_memory", mb=512),
            event("m2", "peak_memory", mb=4096, at=earlier),
            event("u1", "active_users", user="usr_1"),
            event("u2", "active_users", user="usr_2"),
            event("u3", "active_users", user="usr_1", at=earlier),
            event("l1", "seats", seats=7, at=earlier),
            event("l2", "seats", seats=4),
        ],
    )

    assert await total(service, "api_calls") == 2
    assert await total(service, "tokens") == 123.5
    assert await total(service, "storage_gb") == 2.5
    assert await total(service, "peak_memory") == 4096
    assert await total(service, "active_users") == 2
    assert await total(service, "seats") == 4
    other_period = await service.aggregate(WS, "tokens", MONTH_END, MONTH_END + DAY)
    assert (other_period.value, other_period.events) == (0, 0)


async def test_aggregating_an_unknown_meter_is_not_found(service: UsageService) -> None:
    with pytest.raises(UnknownMeterError) as raised:
        await service.aggregate(WS, "nope", MONTH_START, MONTH_END)

    assert raised.value.status == 404


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (MONTH_END, MONTH_START),
        (MONTH_START, MONTH_START),
        (MONTH_START.replace(tzinfo=None), MONTH_END),
    ],
)
async def test_a_period_runs_forward_between_aware_instants(
    service: UsageService, start: datetime, end: datetime
) -> None:
    with pytest.raises(InvalidUsagePeriodError):
        await service.aggregate(WS, "api_calls", start, end)


# -- limits -----------------------------------------------------------------------------


async def test_an_event_that_would_exceed_a_hard_limit_is_rejected(
    store: InMemoryUsageStore,
) -> None:
    service = limited(store, Limits(tokens=(100, None)))
    await service.ingest(WS, [event("a", "tokens", tokens=90)])

    results = await service.ingest(
        WS,
        [
            event("too-much", "tokens", tokens=11),
            event("fits", "tokens", tokens=10),
            event("over", "tokens", tokens=1),
            event("nothing", "tokens", tokens=0),
        ],
    )

    assert statuses(results) == ["limit_exceeded", "accepted", "limit_exceeded", "accepted"]
    assert results[0].limit == 100
    assert results[0].detail is not None
    assert "tokens" in results[0].detail
    assert await total(service, "tokens") == 100


async def test_a_count_limit_counts_events(store: InMemoryUsageStore) -> None:
    service = limited(store, Limits(api_calls=(2, None)))

    results = await service.ingest(WS, [event("a"), event("b"), event("c")])

    assert statuses(results) == ["accepted", "accepted", "limit_exceeded"]


async def test_a_unique_count_limit_lets_known_values_in(store: InMemoryUsageStore) -> None:
    service = limited(store, Limits(active_users=(2, None)))
    await service.ingest(WS, [event("a", "active_users", user="usr_1")])

    results = await service.ingest(
        WS,
        [
            event("b", "active_users", user="usr_2"),
            event("c", "active_users", user="usr_3"),
            event("d", "active_users", user="usr_1"),
            event("e", "active_users", user="usr_2"),
        ],
    )

    assert statuses(results) == ["accepted", "limit_exceeded", "accepted", "accepted"]
    assert await total(service, "active_users") == 2


async def test_max_and_latest_limits_refuse_a_value_above_them(
    store: InMemoryUsageStore,
) -> None:
    service = limited(store, Limits(peak_memory=(1024, None), seats=(10, None)))

    results = await service.ingest(
        WS,
        [
            event("m1", "peak_memory", mb=1024),
            event("m2", "peak_memory", mb=1025),
            event("s1", "seats", seats=12),
            event("s2", "seats", seats=9),
            event("s3", "seats", seats=3, at=NOW - timedelta(hours=1)),
        ],
    )

    assert statuses(results) == [
        "accepted",
        "limit_exceeded",
        "limit_exceeded",
        "accepted",
        "accepted",
    ]
    assert await total(service, "seats") == 9


async def test_a_limit_lowered_below_the_usage_still_takes_what_does_not_raise_it(
    store: InMemoryUsageStore,
) -> None:
    await UsageService(store, METERS, FixedClock(NOW)).ingest(
        WS, [event("s1", "seats", seats=20), event("t1", "tokens", tokens=50)]
    )
    service = limited(store, Limits(seats=(10, None), tokens=(10, None)))

    results = await service.ingest(
        WS,
        [
            event("fewer", "seats", seats=15),
            event("zero", "tokens", tokens=0),
            event("more", "tokens", tokens=1),
        ],
    )

    assert statuses(results) == ["accepted", "accepted", "limit_exceeded"]


async def test_a_duplicate_at_the_limit_is_still_a_duplicate(store: InMemoryUsageStore) -> None:
    service = limited(store, Limits(tokens=(10, None)))
    first = await service.ingest(WS, [event("a", "tokens", tokens=10)])

    retried = await service.ingest(
        WS, [event("a", "tokens", tokens=10), event("b", "tokens", tokens=1)]
    )

    assert statuses(first) == ["accepted"]
    assert statuses(retried) == ["duplicate", "limit_exceeded"]


async def test_a_repeat_of_a_refused_event_in_the_batch_is_refused_too(
    store: InMemoryUsageStore,
) -> None:
    service = limited(store, Limits(tokens=(10, None)))

    results = await service.ingest(
        WS, [event("a", "tokens", tokens=11), event("a", "tokens", tokens=11)]
    )

    assert statuses(results) == ["limit_exceeded", "limit_exceeded"]


async def test_crossing_a_soft_limit_is_accepted_and_reported_once(
    store: InMemoryUsageStore,
) -> None:
    service = limited(store, Limits(tokens=(None, 80)))
    before = await service.ingest(WS, [event("a", "tokens", tokens=70)])

    results = await service.ingest(
        WS,
        [
            event("b", "tokens", tokens=5),
            event("c", "tokens", tokens=5),
            event("d", "tokens", tokens=50),
        ],
    )
    after = await service.ingest(WS, [event("e", "tokens", tokens=1)])

    assert [r.soft_limit_crossed for r in [*before, *results, *after]] == [
        False,
        False,
        True,
        False,
        False,
    ]
    assert results[1] == EventResult(
        id="c", status=EventStatus.ACCEPTED, limit=80, soft_limit_crossed=True
    )


async def test_hard_and_soft_limits_together(store: InMemoryUsageStore) -> None:
    service = limited(store, Limits(api_calls=(3, 2)))

    results = await service.ingest(WS, [event(f"e{i}") for i in range(4)])

    assert statuses(results) == ["accepted", "accepted", "accepted", "limit_exceeded"]
    assert [r.soft_limit_crossed for r in results] == [False, True, False, False]


async def test_a_late_event_counts_against_its_own_periods_limit(
    store: InMemoryUsageStore,
) -> None:
    limits = Limits(tokens=(10, None))
    service = UsageService(store, METERS, FixedClock(NOW), limits_for=limits)
    start_of_april = datetime(2030, 4, 1, 0, 30, tzinfo=UTC)
    await service.ingest(WS, [event("march", "tokens", tokens=10)])

    results = await service.ingest(
        WS,
        [
            event("late-march", "tokens", tokens=1, at=MONTH_END - timedelta(hours=1)),
            event("april", "tokens", tokens=10, at=start_of_april),
        ],
        now=start_of_april,
    )

    assert statuses(results) == ["limit_exceeded", "accepted"]
    assert [at for *_, at in limits.calls][-2:] == [MONTH_END - timedelta(hours=1), start_of_april]


async def test_limits_are_asked_once_per_meter_and_period(store: InMemoryUsageStore) -> None:
    limits = Limits(tokens=(1000, None))
    service = limited(store, limits)

    await service.ingest(
        WS,
        [event(f"t{i}", "tokens", tokens=1) for i in range(5)] + [event(f"c{i}") for i in range(5)],
    )

    assert [(meter, at) for _, meter, at in limits.calls] == [("tokens", NOW), ("api_calls", NOW)]


async def test_limited_meters_are_locked_in_name_order_unlimited_ones_never(
    store: InMemoryUsageStore,
) -> None:
    service = limited(store, Limits(tokens=(100, None), api_calls=(None, 5)))

    await service.ingest(
        WS, [event("t", "tokens", tokens=1), event("s", "storage_gb"), event("c", "api_calls")]
    )
    await service.ingest(WS, [event("s2", "storage_gb")])

    assert store.locks == [(WS.workspace_id, "api_calls"), (WS.workspace_id, "tokens")]


def test_a_lock_key_is_a_stable_signed_64_bit_number() -> None:
    key = lock_key("ws_1", "tokens")

    assert key == lock_key("ws_1", "tokens")
    assert key != lock_key("ws_1", "tokens2")
    assert key != lock_key("ws_2", "tokens")
    assert -(2**63) <= key < 2**63


# -- one event at a time ----------------------------------------------------------------


async def test_one_event_is_recorded_or_raises_its_problem(store: InMemoryUsageStore) -> None:
    service = limited(store, Limits(tokens=(10, None)))

    accepted = await service.ingest_one(WS, event("a", "tokens", tokens=10))
    again = await service.ingest_one(WS, event("a", "tokens", tokens=10))
    with pytest.raises(UsageLimitExceededError) as over:
        await service.ingest_one(WS, event("b", "tokens", tokens=1))
    with pytest.raises(InvalidUsageEventError) as invalid:
        await service.ingest_one(WS, event("c", "tokens"))

    assert (accepted.status, again.status) == (EventStatus.ACCEPTED, EventStatus.DUPLICATE)
    assert over.value.status == 409
    assert over.value.type == "billing/usage-limit-exceeded"
    assert over.value.extra == {"event_id": "b", "meter": "tokens", "limit": 10}
    assert invalid.value.status == 422
    assert invalid.value.reason == "missing_property"


# -- values -----------------------------------------------------------------------------


def test_a_unique_count_meter_names_its_property() -> None:
    with pytest.raises(ValueError, match="unique_count"):
        MeterSpec("users", Aggregation.UNIQUE_COUNT)


def test_distinct_values_are_canonical_json() -> None:
    assert distinct_value("usr_1") == '"usr_1"'
    assert distinct_value(5) == distinct_value(5.0) == "5"
    assert distinct_value("5") == '"5"'
    assert distinct_value(True) == "true"
    assert distinct_value(0.5) == "0.5"


def test_a_result_as_json_leaves_out_what_does_not_apply() -> None:
    accepted = EventResult(id="a", status=EventStatus.ACCEPTED)
    rejected = EventResult(
        id="b", status=EventStatus.REJECTED, reason=RejectReason.TOO_LATE, detail="late"
    )

    assert msgspec.json.decode(msgspec.json.encode(accepted)) == {"id": "a", "status": "accepted"}
    assert msgspec.json.decode(msgspec.json.encode(rejected)) == {
        "id": "b",
        "status": "rejected",
        "reason": "too_late",
        "detail": "late",
    }
