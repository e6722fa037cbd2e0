"""The sandbox payment processor's ``SandboxStore`` on SQL (SQLite and PostgreSQL).

``sql_sandbox_store(session_factory)`` is the provider's ``open_store``: a session of
its own per call, committed when the call returns, rolled back when it raises, so the
sandbox's state never rides on the caller's unit of work (as a real provider's does
not).

Concurrency: the processor reads a subscription or checkout ``lock=True`` before
changing it (``SELECT … FOR UPDATE`` on PostgreSQL), then decides from what it read,
so two concurrent ``tick``s (or a tick and ``renew``) queue on the row and the second
sees the first's renewal: one charge, one invoice. ``tick`` takes the rows in
``due_at`` order, so concurrent ticks lock in the same order. Invoice numbers come
from an ``UPDATE … RETURNING`` on ``billing_sandbox_sequences``, which serializes too.
SQLite needs none of it: the application begins every writing transaction
``IMMEDIATE``, so writers queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.sandbox import (
    Record,
    SandboxCheckout,
    SandboxCustomer,
    SandboxEvent,
    SandboxInvoice,
    SandboxPayment,
    SandboxPrice,
    SandboxRequest,
    SandboxSubscription,
    SandboxUsage,
)
from adapters.sql.billing.sandbox_tables import (
    sandbox_checkouts,
    sandbox_customers,
    sandbox_events,
    sandbox_invoices,
    sandbox_payments,
    sandbox_prices,
    sandbox_requests,
    sandbox_sequences,
    sandbox_subscriptions,
    sandbox_usage,
)

R = TypeVar("R", bound=Record)

TABLES: Mapping[type[Record], Table] = {
    SandboxCustomer: sandbox_customers,
    SandboxPrice: sandbox_prices,
    SandboxCheckout: sandbox_checkouts,
    SandboxSubscription: sandbox_subscriptions,
    SandboxInvoice: sandbox_invoices,
    SandboxPayment: sandbox_payments,
    SandboxUsage: sandbox_usage,
    SandboxRequest: sandbox_requests,
    SandboxEvent: sandbox_events,
}
JSON_COLUMNS = frozenset({"metadata", "lines"})
_encode = msgspec.json.Encoder().encode


def _row(record: Record) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for field in msgspec.structs.fields(record):
        value = getattr(record, field.name)
        if field.name in JSON_COLUMNS:
            value = _encode(value).decode()
        elif isinstance(value, str):
            value = str(value)  # a StrEnum as its plain value
        row[field.name] = value
    return row


def _record(kind: type[R], row: Mapping[Any, Any]) -> R:
    values = {
        str(name): msgspec.json.decode(value) if name in JSON_COLUMNS else value
        for name, value in row.items()
    }
    return msgspec.convert(values, kind)


class SqlSandboxStore:
    """``SandboxStore`` in the ``billing_sandbox_*`` tables, in ``session``'s
    transaction (it never commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, kind: type[R], record_id: str, *, lock: bool = False) -> R | None:
        table = TABLES[kind]
        query = select(table).where(table.c.id == record_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _record(kind, row)

    async def find(self, kind: type[R], field: str, value: str) -> list[R]:
        table = TABLES[kind]
        query = select(table).where(table.c[field] == value).order_by(table.c.id)
        rows = (await self._session.execute(query)).mappings().all()
        return [_record(kind, row) for row in rows]

    async def due(self, kind: type[R], now: datetime) -> list[str]:
        table = TABLES[kind]
        query = (
            select(table.c.id)
            .where(table.c.due_at.is_not(None), table.c.due_at <= now)
            .order_by(table.c.due_at, table.c.id)
        )
        return list((await self._session.scalars(query)).all())

    async def add(self, record: Record) -> None:
        await self._session.execute(insert(TABLES[type(record)]).values(_row(record)))

    async def save(self, record: Record) -> None:
        table = TABLES[type(record)]
        values = _row(record)
        del values["id"]
        result = await self._session.execute(
            update(table).where(table.c.id == record.id).values(values)
        )
        if getattr(result, "rowcount", 1) != 1:
            raise LookupError(f"no {type(record).__name__} {record.id} to save over")

    async def next_number(self, sequence: str) -> int:
        bump = (
            update(sandbox_sequences)
            .where(sandbox_sequences.c.name == sequence)
            .values(value=sandbox_sequences.c.value + 1)
            .returning(sandbox_sequences.c.value)
        )
        value = (await self._session.execute(bump)).scalar()
        if value is not None:
            return int(value)
        dialect = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        await self._session.execute(
            dialect.insert(sandbox_sequences)
            .values(name=sequence, value=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return int((await self._session.execute(bump)).scalar_one())

    async def undelivered(self, limit: int) -> list[SandboxEvent]:
        query = (
            select(sandbox_events)
            .where(sandbox_events.c.delivered_at.is_(None))
            .order_by(sandbox_events.c.created_at, sandbox_events.c.id)
            .limit(limit)
        )
        rows = (await self._session.execute(query)).mappings().all()
        return [_record(SandboxEvent, row) for row in rows]

    async def mark_delivered(self, event_id: str, at: datetime) -> None:
        await self._session.execute(
            update(sandbox_events)
            .where(sandbox_events.c.id == event_id, sandbox_events.c.delivered_at.is_(None))
            .values(delivered_at=at)
        )


@asynccontextmanager
async def sql_sandbox_store(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[SqlSandboxStore]:
    """A ``SqlSandboxStore`` on a session of its own: committed at the end of the block,
    rolled back when it raises."""
    async with session_factory() as session:
        try:
            yield SqlSandboxStore(session)
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
