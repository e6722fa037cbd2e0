"""Metered usage on SQL: ``UsageStore`` on ``billing_usage_events`` and its hourly
totals ``billing_usage_hourly`` (SQLite and PostgreSQL). Works in the transaction of the
``AsyncSession`` it is given; never commits.

A batch is one statement: ``INSERT … ON CONFLICT (workspace_id, event_id) DO NOTHING
RETURNING event_id``, so the rows inserted and the duplicates are known from the one
round trip (SQLite >= 3.35 has ``RETURNING``). On PostgreSQL the rows travel as one array
per column (``INSERT … SELECT * FROM unnest(…)``): one small statement with nine
parameters whatever the batch size, prepared once per connection. On SQLite they are one
multi-row ``VALUES`` (SQLAlchemy's "insertmanyvalues"). A second statement adds the
events recorded to their hours' totals (an upsert, one row per meter and hour).

Aggregations run in the database: count, sum and max add up the whole hours of the
period from the totals and the partial hours at its ends from the events; latest and
the last timestamp are one probe of the index on ``(workspace_id, meter, timestamp)``;
unique count is a ``COUNT(DISTINCT …)`` over the period's events. ``lock`` takes a
transaction-scoped advisory lock on PostgreSQL; SQLite needs none, as the application
begins every writing transaction ``IMMEDIATE`` and writers queue.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import (
    Double,
    String,
    Text,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.usage_tables import usage_events, usage_hourly
from core.billing.usage import (
    Aggregation,
    MeterSpec,
    PropertyValue,
    UsageAggregate,
    UsageEvent,
    lock_key,
    number,
)
from core.kernel import TenantContext

_U, _H = usage_events.c, usage_hourly.c
HOUR = timedelta(hours=1)
_COLUMNS = (
    "workspace_id",
    "event_id",
    "meter",
    "timestamp",
    "quantity",
    "value",
    "distinct_value",
    "properties",
    "received_at",
)
_encode = msgspec.json.Encoder().encode
_decode_properties = msgspec.json.Decoder(dict[str, PropertyValue]).decode

# PostgreSQL: the whole batch as one array per column. ``ON CONFLICT DO NOTHING`` skips
# ids already stored and an id repeated in the batch after its first row.
_PG_INSERT = text(
    """
    INSERT INTO billing_usage_events (
        workspace_id, event_id, meter, timestamp, quantity, value,
        distinct_value, properties, received_at
    )
    SELECT * FROM unnest(
        :workspace_id, :event_id, :meter, :timestamp, :quantity, :value,
        :distinct_value, :properties, :received_at
    )
    ON CONFLICT (workspace_id, event_id) DO NOTHING
    RETURNING event_id
    """
).bindparams(
    bindparam("workspace_id", type_=postgresql.ARRAY(String())),
    bindparam("event_id", type_=postgresql.ARRAY(String())),
    bindparam("meter", type_=postgresql.ARRAY(String())),
    bindparam("timestamp", type_=postgresql.ARRAY(postgresql.TIMESTAMP(timezone=True))),
    bindparam("quantity", type_=postgresql.ARRAY(Double())),
    bindparam("value", type_=postgresql.ARRAY(Double())),
    bindparam("distinct_value", type_=postgresql.ARRAY(Text())),
    bindparam("properties", type_=postgresql.ARRAY(Text())),
    bindparam("received_at", type_=postgresql.ARRAY(postgresql.TIMESTAMP(timezone=True))),
)

# SQLite: an executemany that SQLAlchemy's "insertmanyvalues" sends as one multi-row
# VALUES statement per 1,000 rows (9 parameters each, under SQLite's 32,766), compiled
# once and cached; a ``.values([...])`` statement would be compiled anew for every batch.
_SQLITE_INSERT = (
    sqlite.insert(usage_events)
    .on_conflict_do_nothing(index_elements=["workspace_id", "event_id"])
    .returning(_U.event_id)
)


def _add_to_hours(dialect: Any) -> Any:
    """The upsert adding an hour's new events to its totals (an executemany)."""
    insert = dialect.insert(usage_hourly)
    new = insert.excluded
    larger = case(
        (new.maximum.is_(None), _H.maximum),
        (or_(_H.maximum.is_(None), new.maximum > _H.maximum), new.maximum),
        else_=_H.maximum,
    )
    return insert.on_conflict_do_update(
        index_elements=["workspace_id", "meter", "hour"],
        set_={"events": _H.events + new.events, "total": _H.total + new.total, "maximum": larger},
    )


_ADD_TO_HOURS = {"postgresql": _add_to_hours(postgresql), "sqlite": _add_to_hours(sqlite)}


def _hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_rows(tenant: TenantContext, events: Sequence[UsageEvent]) -> list[dict[str, Any]]:
    """``events`` added up per meter and hour, as rows of ``billing_usage_hourly``."""
    hours: dict[tuple[str, datetime], dict[str, Any]] = {}
    for event in events:
        key = (event.meter, _hour_of(event.timestamp))
        row = hours.get(key)
        if row is None:
            row = hours[key] = {
                "workspace_id": tenant.workspace_id,
                "meter": key[0],
                "hour": key[1],
                "events": 0,
                "total": 0.0,
                "maximum": None,
            }
        row["events"] += 1
        if event.value is not None:
            row["total"] += event.value
            if row["maximum"] is None or event.value > row["maximum"]:
                row["maximum"] = float(event.value)
    return list(hours.values())


def _row(event: UsageEvent) -> dict[str, Any]:
    return {
        "workspace_id": event.workspace_id,
        "event_id": event.id,
        "meter": event.meter,
        "timestamp": event.timestamp,
        "quantity": event.quantity,
        "value": event.value,
        "distinct_value": event.distinct_value,
        "properties": _encode(event.properties).decode(),
        "received_at": event.received_at,
    }


def _event(row: Any) -> UsageEvent:
    return UsageEvent(
        id=row.event_id,
        workspace_id=row.workspace_id,
        meter=row.meter,
        timestamp=row.timestamp,
        quantity=number(float(row.quantity)),
        properties=_decode_properties(row.properties),
        received_at=row.received_at,
        value=None if row.value is None else number(float(row.value)),
        distinct_value=row.distinct_value,
    )


class SqlUsageStore:
    """``UsageStore`` on the session's database."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def lock(self, tenant: TenantContext, meter: str) -> None:
        if self._dialect == "postgresql":
            await self._session.execute(
                select(func.pg_advisory_xact_lock(lock_key(tenant.workspace_id, meter)))
            )

    async def existing_ids(self, tenant: TenantContext, event_ids: Collection[str]) -> set[str]:
        return await self._present(
            _U.event_id, event_ids, String(), _U.workspace_id == tenant.workspace_id
        )

    async def _present(
        self, column: Any, values: Collection[str], type_: Any, *where: Any
    ) -> set[str]:
        """Which of ``values`` a row matching ``where`` has in ``column``.

        On PostgreSQL the values drive: ``SELECT v.value FROM unnest(:array) v WHERE
        EXISTS (…)``, one index probe (or one hash) per value. The prepared ``column IN
        ($1, …, $n)`` is slow there once PostgreSQL switches to its generic plan (from
        the sixth execution): while the table has no statistics yet, that plan compares
        every row of the period with every value, hundreds of milliseconds a batch."""
        if not values:
            return set()
        if self._dialect == "postgresql":
            array = bindparam(None, list(values), type_=postgresql.ARRAY(type_))
            given = func.unnest(array).table_valued("value").render_derived(name="v")
            found = select(literal_column("1")).where(*where, column == given.c.value).exists()
            query = select(given.c.value).where(found)
        else:
            query = select(column).where(*where, column.in_(list(values))).distinct()
        return {value for value in await self._session.scalars(query) if value is not None}

    async def append(self, tenant: TenantContext, events: Sequence[UsageEvent]) -> set[str]:
        if any(event.workspace_id != tenant.workspace_id for event in events):
            raise ValueError("every event of a batch belongs to the tenant's workspace")
        if not events:
            return set()
        dialect = self._dialect
        if dialect not in _ADD_TO_HOURS:
            raise NotImplementedError(f"usage supports SQLite and PostgreSQL, not {dialect}")
        rows = [_row(event) for event in events]
        if dialect == "postgresql":
            columns = {name: [row[name] for row in rows] for name in _COLUMNS}
            stored = set((await self._session.execute(_PG_INSERT, columns)).scalars())
        else:
            stored = set((await self._session.execute(_SQLITE_INSERT, rows)).scalars())
        if stored:
            recorded: dict[str, UsageEvent] = {}
            for event in events:  # of an id given twice, the first was recorded
                if event.id in stored:
                    recorded.setdefault(event.id, event)
            hours = _hour_rows(tenant, list(recorded.values()))
            await self._session.execute(_ADD_TO_HOURS[dialect], hours)
        return stored

    async def get(self, tenant: TenantContext, event_id: str) -> UsageEvent | None:
        row = (
            await self._session.execute(
                select(usage_events).where(
                    _U.workspace_id == tenant.workspace_id, _U.event_id == event_id
                )
            )
        ).one_or_none()
        return None if row is None else _event(row)

    def _period(self, tenant: TenantContext, meter: str, start: datetime, end: datetime) -> Any:
        return (
            _U.workspace_id == tenant.workspace_id,
            _U.meter == meter,
            _U.timestamp >= start,
            _U.timestamp < end,
        )

    async def aggregate(
        self, tenant: TenantContext, meter: MeterSpec, start: datetime, end: datetime
    ) -> UsageAggregate:
        """One statement: the whole hours' totals, the events of the partial hours at
        the two ends (two index ranges), and the last event (an index probe)."""
        mine = (_U.workspace_id == tenant.workspace_id, _U.meter == meter.name)
        first_hour = _hour_of(start + HOUR - timedelta(microseconds=1))  # start, rounded up
        last_hour = _hour_of(end)
        ranges = [(start, first_hour), (last_hour, end)]
        if first_hour >= last_hour:  # no whole hour inside
            first_hour = last_hour = start
            ranges = [(start, end)]
        hours = (
            select(
                func.coalesce(func.sum(_H.events), 0).label("events"),
                func.coalesce(func.sum(_H.total), 0).label("total"),
                func.max(_H.maximum).label("maximum"),
            )
            .where(
                _H.workspace_id == tenant.workspace_id,
                _H.meter == meter.name,
                _H.hour >= first_hour,
                _H.hour < last_hour,
            )
            .subquery()
        )
        edge_rows = union_all(
            *(select(_U.value).where(*mine, _U.timestamp >= a, _U.timestamp < b) for a, b in ranges)
        ).subquery()
        ends = select(
            func.count().label("events"),
            func.coalesce(func.sum(edge_rows.c.value), 0).label("total"),
            func.max(edge_rows.c.value).label("maximum"),
        ).subquery()
        period = self._period(tenant, meter.name, start, end)
        # ``max(timestamp)`` as the one index probe it should be, whatever the planner
        # thinks of a table it has no statistics of yet.
        last_at = (
            select(_U.timestamp)
            .where(*period)
            .order_by(_U.timestamp.desc())
            .limit(1)
            .scalar_subquery()
        )
        columns: list[Any] = [hours, ends, last_at.label("last_at")]
        if meter.aggregation is Aggregation.LATEST:  # ties: the later arrival, the higher id
            latest = (
                select(_U.value)
                .where(*mine, _U.timestamp == last_at)
                .order_by(_U.received_at.desc(), _U.event_id.desc())
                .limit(1)
            )
            columns.append(latest.scalar_subquery().label("measure"))
        if meter.aggregation is Aggregation.UNIQUE_COUNT:
            values = select(_U.distinct_value).where(*period).distinct().subquery()
            distinct_count = select(func.count()).select_from(values)
            columns.append(distinct_count.scalar_subquery().label("measure"))
        row = (
            await self._session.execute(
                select(
                    hours.c.events.label("hour_events"),
                    hours.c.total.label("hour_total"),
                    hours.c.maximum.label("hour_maximum"),
                    ends.c.events.label("end_events"),
                    ends.c.total.label("end_total"),
                    ends.c.maximum.label("end_maximum"),
                    *columns[2:],
                ).select_from(hours.join(ends, true()))
            )
        ).one()
        events = int(row.hour_events) + int(row.end_events)
        maxima = [float(m) for m in (row.hour_maximum, row.end_maximum) if m is not None]
        value = {
            Aggregation.COUNT: events,
            Aggregation.SUM: float(row.hour_total) + float(row.end_total),
            Aggregation.MAX: max(maxima, default=0.0),
            Aggregation.UNIQUE_COUNT: getattr(row, "measure", 0),
            Aggregation.LATEST: getattr(row, "measure", 0),
        }[meter.aggregation]
        return UsageAggregate(
            workspace_id=tenant.workspace_id,
            meter=meter.name,
            aggregation=meter.aggregation,
            period_start=start,
            period_end=end,
            value=number(float(value or 0)),
            events=events,
            last_event_at=row.last_at,
        )

    async def distinct_values_present(
        self,
        tenant: TenantContext,
        meter: str,
        start: datetime,
        end: datetime,
        values: Collection[str],
    ) -> set[str]:
        period = self._period(tenant, meter, start, end)
        return await self._present(_U.distinct_value, values, Text(), *period)
