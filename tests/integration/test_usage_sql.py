"""Metered usage on SQL: the ``UsageStore`` conformance suite on SQLite and PostgreSQL,
then what only SQL shows: one statement per batch, committed batches, concurrent limit
checks, and the rows themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from adapters.sql.billing.usage import SqlUsageStore
from adapters.sql.billing.usage_tables import usage_events, usage_hourly
from adapters.sql.uow import SqlUnitOfWork
from contracts.ports.billing_usage import UsageStoreContract
from core.billing.usage import (
    Aggregation,
    MeterSpec,
    NewUsageEvent,
    UsageLimits,
    UsageService,
)
from core.kernel import FixedClock, TenantContext
from entrypoints.containers import ApplicationContainer

NOW = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)
WS = TenantContext("ws_usage_sql")
TOKENS = MeterSpec("tokens", Aggregation.SUM, property="tokens")
CALLS = MeterSpec("api_calls", Aggregation.COUNT)
METERS = {TOKENS.name: TOKENS, CALLS.name: CALLS}


@pytest.fixture
async def uow(container: ApplicationContainer) -> AsyncIterator[SqlUnitOfWork]:
    """One open unit of work, never committed."""
    async with container.unit_of_work() as opened:
        yield opened


class TestSqlUsageStore(UsageStoreContract):
    @pytest.fixture
    def usage_store(self, uow: SqlUnitOfWork) -> SqlUsageStore:
        return SqlUsageStore(uow.session)


def tokens(event_id: str, amount: float, at: datetime = NOW) -> NewUsageEvent:
    return NewUsageEvent(id=event_id, meter="tokens", timestamp=at, properties={"tokens": amount})


async def ingest(
    container: ApplicationContainer,
    events: list[NewUsageEvent],
    *,
    hard: float | None = None,
    soft: float | None = None,
) -> list[str]:
    """One batch in a unit of work of its own, committed; the statuses."""

    async def limits_for(workspace_id: str, meter: str, at: datetime) -> UsageLimits | None:
        if hard is None and soft is None:
            return None
        start = datetime(2030, 3, 1, tzinfo=UTC)
        return UsageLimits(period_start=start, period_end=start + timedelta(days=31), hard=hard)

    async with container.unit_of_work() as uow:
        service = UsageService(
            SqlUsageStore(uow.session), METERS, FixedClock(NOW), limits_for=limits_for
        )
        results = await service.ingest(WS, events)
        await uow.commit()
    return [str(r.reason or r.status) for r in results]


async def total(container: ApplicationContainer, meter: MeterSpec = TOKENS) -> float:
    async with container.unit_of_work() as uow:
        store = SqlUsageStore(uow.session)
        start = datetime(2030, 3, 1, tzinfo=UTC)
        return (await store.aggregate(WS, meter, start, start + timedelta(days=31))).value


async def test_a_batch_is_one_insert_statement(container: ApplicationContainer) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "INSERT" in statement.upper():
            statements.append(statement)

    engine = container.database.engine().sync_engine
    await ingest(container, [tokens("seed", 1)])
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        results = await ingest(
            container, [tokens(f"e{i}", 1) for i in range(999)] + [tokens("seed", 1)]
        )
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)

    usage_inserts = [s for s in statements if "billing_usage_events" in s]
    assert len(usage_inserts) == 1
    assert results.count("accepted") == 999
    assert results[-1] == "duplicate"


async def test_batches_committed_one_after_another_count_each_event_once(
    container: ApplicationContainer,
) -> None:
    first = await ingest(container, [tokens("a", 2), tokens("b", 3)])
    second = await ingest(container, [tokens("b", 3), tokens("c", 0.5), tokens("c", 0.5)])

    assert first == ["accepted", "accepted"]
    assert second == ["duplicate", "accepted", "duplicate"]
    assert await total(container) == 5.5


async def test_the_row_holds_the_event_and_what_its_meter_aggregates(
    container: ApplicationContainer,
) -> None:
    event = NewUsageEvent(
        id="row",
        meter="tokens",
        timestamp=NOW,
        quantity=3,
        properties={"tokens": 40, "model": "small", "cached": False},
    )
    await ingest(container, [event])

    async with container.unit_of_work() as uow:
        row = (await uow.session.execute(select(usage_events))).one()

    assert (row.workspace_id, row.event_id, row.meter) == (WS.workspace_id, "row", "tokens")
    assert (row.quantity, row.value, row.distinct_value) == (3, 40, None)
    assert row.properties == '{"tokens":40,"model":"small","cached":false}'
    assert (row.timestamp, row.received_at) == (NOW, NOW)


async def test_the_hourly_totals_add_up_the_events_recorded(
    container: ApplicationContainer,
) -> None:
    hour = timedelta(hours=1)
    await ingest(container, [tokens("a", 2, NOW - 2 * hour), tokens("b", 3.5, NOW - hour)])
    await ingest(
        container,
        [
            tokens("b", 100, NOW - hour),  # a duplicate: not added again
            tokens("c", 7, NOW - hour + timedelta(minutes=59)),
            tokens("c", 9, NOW),  # repeated in the batch: the first counts
            tokens("d", 1, NOW - timedelta(microseconds=1)),
            NewUsageEvent(id="e", meter="api_calls", timestamp=NOW),
        ],
    )

    async with container.unit_of_work() as uow:
        hours = (
            await uow.session.execute(
                select(usage_hourly.c.meter, usage_hourly.c.hour, usage_hourly.c.events)
                .add_columns(usage_hourly.c.total, usage_hourly.c.maximum)
                .order_by(usage_hourly.c.meter, usage_hourly.c.hour)
            )
        ).all()
        events = await uow.session.scalar(select(func.count()).select_from(usage_events))

    assert [tuple(row) for row in hours] == [
        ("api_calls", NOW, 1, 0, None),
        ("tokens", NOW - 2 * hour, 1, 2, 2),
        ("tokens", NOW - hour, 3, 11.5, 7),  # b, c and d
    ]
    assert events == 5


async def test_concurrent_batches_cannot_pass_a_hard_limit_together(
    container: ApplicationContainer,
) -> None:
    """Ten units of work at once, each with 10 tokens, against a limit of 55: the lock
    makes each check see what the others committed, so exactly five get in."""
    results = await asyncio.gather(
        *(ingest(container, [tokens(f"t{i}", 10)], hard=55) for i in range(10))
    )

    statuses = sorted(status for (status,) in results)
    assert statuses == ["accepted"] * 5 + ["limit_exceeded"] * 5
    assert await total(container) == 50


async def test_a_rolled_back_batch_leaves_nothing(container: ApplicationContainer) -> None:
    async with container.unit_of_work() as uow:
        service = UsageService(SqlUsageStore(uow.session), METERS, FixedClock(NOW))
        await service.ingest(WS, [tokens("gone", 5)])
        await uow.rollback()

    assert await ingest(container, [tokens("gone", 7)]) == ["accepted"]
    assert await total(container) == 7
