"""The outbox in SQL: written by the unit of work, read and settled by the relay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.workflows.tables import outbox
from core.kernel import DomainEvent, IdGenerator, encode_event
from core.workflows import OutboxMessage

ERROR_MAX_LENGTH = 2000


def outbox_rows(
    events: Sequence[DomainEvent], ids: IdGenerator, now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "id": ids.new("evt", now),
            "name": event.name,
            "payload": encode_event(event).decode(),
            "workspace_id": event.workspace_id,
            "occurred_at": event.occurred_at,
            "created_at": now,
            "attempts": 0,
        }
        for event in events
    ]


async def store_events(
    session: AsyncSession, events: Sequence[DomainEvent], ids: IdGenerator, now: datetime
) -> None:
    """Insert events into the outbox within the session's transaction."""
    if events:
        await session.execute(insert(outbox), outbox_rows(events, ids, now))


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        name=row.name,
        payload=row.payload.encode(),
        occurred_at=row.occurred_at,
        workspace_id=row.workspace_id,
        attempts=row.attempts,
        last_error=row.last_error,
        published_at=row.published_at,
    )


class SqlOutboxStore:
    """``OutboxStore`` on the application's database."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(
        self, limit: int, now: datetime, lease_until: datetime
    ) -> Sequence[OutboxMessage]:
        pending = (
            select(outbox.c.id)
            .where(outbox.c.published_at.is_(None))
            .where(or_(outbox.c.locked_until.is_(None), outbox.c.locked_until <= now))
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's writer lock suffices
        )
        ids = list((await self._session.execute(pending)).scalars())
        if not ids:
            return []
        await self._session.execute(
            update(outbox).where(outbox.c.id.in_(ids)).values(locked_until=lease_until)
        )
        rows = await self._session.execute(
            select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)
        )
        return [_message(row) for row in rows]

    async def mark_published(self, message_id: str, at: datetime) -> None:
        await self._session.execute(
            update(outbox)
            .where(outbox.c.id == message_id)
            .values(published_at=at, locked_until=None, attempts=outbox.c.attempts + 1)
        )

    async def mark_failed(self, message_id: str, error: str, retry_at: datetime) -> None:
        await self._session.execute(
            update(outbox)
            .where(outbox.c.id == message_id)
            .values(
                last_error=error[:ERROR_MAX_LENGTH],
                locked_until=retry_at,
                attempts=outbox.c.attempts + 1,
            )
        )

    async def pending_count(self) -> int:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int((await self._session.execute(query)).scalar_one())


async def prune_published(session: AsyncSession, before: datetime) -> int:
    """Delete messages published before ``before``; returns how many went."""
    result = await session.execute(
        delete(outbox)
        .where(outbox.c.published_at.is_not(None))
        .where(outbox.c.published_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
