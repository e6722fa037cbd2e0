"""Deliveries, the suppression list and the provider event log, on SQL.

Each store works in the transaction of the ``AsyncSession`` it is given (the caller's
unit of work) and never commits. ``add`` and ``record`` are
``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL and report whether a row
was inserted: a duplicate is an answer, never an error, so it cannot put the caller's
transaction in an error state on PostgreSQL (see ``outbox.py`` for the reasoning).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.tables import (
    check_lengths,
    deliveries,
    provider_events,
    suppressions,
)
from core.notifications import Channel
from core.notifications.deliveries import (
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    ProviderEvent,
    StoredProviderEvent,
    Suppression,
    SuppressionReason,
    normalize_address,
)


async def insert_unless_exists(
    session: AsyncSession, table: Table, row: dict[str, Any], key: Sequence[str]
) -> bool:
    """Insert ``row`` unless one with the same ``key`` columns exists; whether it was."""
    dialect = session.get_bind().dialect.name
    columns = [table.c[name] for name in key]
    statement: Insert
    if dialect == "sqlite":
        statement = sqlite.insert(table).values(row).on_conflict_do_nothing(index_elements=columns)
    elif dialect == "postgresql":
        statement = (
            postgresql.insert(table).values(row).on_conflict_do_nothing(index_elements=columns)
        )
    else:
        raise NotImplementedError(f"{table.name} supports SQLite and PostgreSQL, not {dialect}")
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1")


def _delivery_row(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "idempotency_key": delivery.idempotency_key,
        "notification_type": delivery.notification_type,
        "category": delivery.category,
        "channel": delivery.channel.value,
        "user_id": delivery.user_id,
        "workspace_id": delivery.workspace_id,
        "address": delivery.address,
        "status": delivery.status.value,
        "provider": delivery.provider,
        "provider_message_id": delivery.provider_message_id,
        "error": delivery.error,
        "queued_at": delivery.queued_at,
        "sent_at": delivery.sent_at,
        "delivered_at": delivery.delivered_at,
        "bounced_at": delivery.bounced_at,
        "complained_at": delivery.complained_at,
        "failed_at": delivery.failed_at,
        "suppressed_at": delivery.suppressed_at,
        "updated_at": delivery.updated_at,
    }


def _delivery(row: Any) -> Delivery:
    fields = dict(row._mapping)
    fields["channel"] = Channel(fields["channel"])
    fields["status"] = DeliveryStatus(fields["status"])
    return Delivery(**fields)


class SqlDeliveryStore:
    """``DeliveryStore`` on ``notifications_deliveries``."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, delivery: Delivery) -> bool:
        row = _delivery_row(delivery)
        check_lengths(deliveries, row, "delivery")
        return await insert_unless_exists(self._session, deliveries, row, ["idempotency_key"])

    async def _one(self, *conditions: ColumnElement[bool]) -> Delivery | None:
        row = (await self._session.execute(select(deliveries).where(*conditions))).first()
        return None if row is None else _delivery(row)

    async def get(self, delivery_id: str) -> Delivery | None:
        return await self._one(deliveries.c.id == delivery_id)

    async def by_key(self, idempotency_key: str) -> Delivery | None:
        return await self._one(deliveries.c.idempotency_key == idempotency_key)

    async def by_provider_message(self, provider: str, message_id: str) -> Delivery | None:
        return await self._one(
            deliveries.c.provider == provider, deliveries.c.provider_message_id == message_id
        )

    async def save(self, delivery: Delivery) -> None:
        """Store every field of ``delivery`` on its row; ``LookupError`` when no delivery
        has its id."""
        row = _delivery_row(delivery)
        check_lengths(deliveries, row, "delivery")
        del row["id"]
        result = await self._session.execute(
            update(deliveries).where(deliveries.c.id == delivery.id).values(row)
        )
        if not getattr(result, "rowcount", 0):
            raise LookupError(f"no delivery {delivery.id} to save")

    async def page(
        self, query: DeliveryFilter, *, before: str | None, limit: int
    ) -> Sequence[Delivery]:
        _check_limit(limit)
        statement = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if before is not None:
            statement = statement.where(deliveries.c.id < before)
        for name in ("channel", "status", "address", "user_id", "notification_type"):
            value = getattr(query, name)
            if value is not None:
                statement = statement.where(deliveries.c[name] == str(value))
        return [_delivery(row) for row in await self._session.execute(statement)]


def _address_order(session: AsyncSession) -> ColumnElement[str]:
    """Addresses compared byte by byte on both backends: PostgreSQL's default collation
    may sort ``a.b@…`` and ``ab@…`` otherwise than SQLite (and the in-memory list)."""
    if session.get_bind().dialect.name == "postgresql":
        return suppressions.c.address.collate("C")
    return suppressions.c.address


def _suppression(row: Any) -> Suppression:
    return Suppression(
        address=row.address,
        reason=SuppressionReason(row.reason),
        detail=row.detail,
        delivery_id=row.delivery_id,
        created_at=row.created_at,
    )


class SqlSuppressionList:
    """``SuppressionList`` on ``notifications_suppressions``; addresses are stored
    normalized (``normalize_address``) and looked up the same way."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, address: str) -> Suppression | None:
        query = select(suppressions).where(suppressions.c.address == normalize_address(address))
        row = (await self._session.execute(query)).first()
        return None if row is None else _suppression(row)

    async def add(self, suppression: Suppression) -> bool:
        row = {
            "address": normalize_address(suppression.address),
            "reason": suppression.reason.value,
            "detail": suppression.detail,
            "delivery_id": suppression.delivery_id,
            "created_at": suppression.created_at,
        }
        check_lengths(suppressions, row, "suppression")
        return await insert_unless_exists(self._session, suppressions, row, ["address"])

    async def remove(self, address: str) -> bool:
        result = await self._session.execute(
            delete(suppressions).where(suppressions.c.address == normalize_address(address))
        )
        return bool(getattr(result, "rowcount", 0))

    async def page(self, *, after: str | None, limit: int) -> Sequence[Suppression]:
        _check_limit(limit)
        address = _address_order(self._session)
        query = select(suppressions).order_by(address).limit(limit)
        if after is not None:
            query = query.where(address > normalize_address(after))
        return [_suppression(row) for row in await self._session.execute(query)]


def _stored_event(row: Any) -> StoredProviderEvent:
    return StoredProviderEvent(
        provider=row.provider,
        event_id=row.event_id,
        event_type=row.event_type,
        message_id=row.message_id,
        payload=bytes(row.payload),
        received_at=row.received_at,
        processed_at=row.processed_at,
        outcome=row.outcome,
    )


class SqlProviderEventLog:
    """``ProviderEventLog`` on ``notifications_provider_events``, keyed by
    ``(provider, event_id)``."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, event: ProviderEvent, payload: bytes, received_at: datetime) -> bool:
        row = {
            "provider": event.provider,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "message_id": event.message_id,
            "payload": payload,
            "received_at": received_at,
            "processed_at": None,
            "outcome": None,
        }
        check_lengths(provider_events, row, "provider event")
        return await insert_unless_exists(
            self._session, provider_events, row, ["provider", "event_id"]
        )

    def _key(self, provider: str, event_id: str) -> tuple[ColumnElement[bool], ...]:
        return provider_events.c.provider == provider, provider_events.c.event_id == event_id

    async def get(self, provider: str, event_id: str) -> StoredProviderEvent | None:
        query = select(provider_events).where(*self._key(provider, event_id))
        row = (await self._session.execute(query)).first()
        return None if row is None else _stored_event(row)

    async def mark_processed(
        self, provider: str, event_id: str, at: datetime, outcome: str
    ) -> None:
        """``LookupError`` when the report was never recorded."""
        check_lengths(provider_events, {"outcome": outcome}, "provider event")
        result = await self._session.execute(
            update(provider_events)
            .where(*self._key(provider, event_id))
            .values(processed_at=at, outcome=outcome)
        )
        if not getattr(result, "rowcount", 0):
            raise LookupError(f"no {provider} event {event_id} to mark processed")
