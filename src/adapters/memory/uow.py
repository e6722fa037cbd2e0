"""An in-memory unit of work and outbox: events become outbox messages on commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

import msgspec

from core.kernel import AfterCommit, Clock, DomainEvent, IdGenerator, encode_event
from core.workflows import OutboxMessage


class InMemoryOutbox:
    """``OutboxStore`` over a list. Shared by every unit of work made from one fake."""

    def __init__(self) -> None:
        self.messages: dict[str, OutboxMessage] = {}
        self._leases: dict[str, datetime] = {}

    def append(self, message: OutboxMessage) -> None:
        self.messages[message.id] = message

    async def claim(
        self, limit: int, now: datetime, lease_until: datetime
    ) -> Sequence[OutboxMessage]:
        batch = [
            message
            for message in sorted(self.messages.values(), key=lambda m: m.id)
            if message.published_at is None
            and (message.id not in self._leases or self._leases[message.id] <= now)
        ][:limit]
        for message in batch:
            self._leases[message.id] = lease_until
        return batch

    async def mark_published(self, message_id: str, at: datetime) -> None:
        message = self.messages[message_id]
        self.messages[message_id] = _replace(
            message, published_at=at, attempts=message.attempts + 1
        )
        self._leases.pop(message_id, None)

    async def mark_failed(self, message_id: str, error: str, retry_at: datetime) -> None:
        message = self.messages[message_id]
        self.messages[message_id] = _replace(
            message, last_error=error, attempts=message.attempts + 1
        )
        self._leases[message_id] = retry_at

    async def pending_count(self) -> int:
        return sum(1 for m in self.messages.values() if m.published_at is None)


def _replace(message: OutboxMessage, **changes: object) -> OutboxMessage:
    return msgspec.structs.replace(message, **changes)


class InMemoryUnitOfWork:
    """``UnitOfWork`` whose commit moves raised events into an ``InMemoryOutbox``.

    Repository fakes write through at once: rollback discards events and after-commit
    callbacks, not data. Tests of rollback semantics use the SQL adapter.
    """

    def __init__(self, outbox: InMemoryOutbox, clock: Clock, ids: IdGenerator) -> None:
        self.outbox = outbox
        self._clock = clock
        self._ids = ids
        self._events: list[DomainEvent] = []
        self._after_commit: list[AfterCommit] = []
        self.committed = False

    @property
    def uow(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    def raise_event(self, event: DomainEvent) -> None:
        self._events.append(event)

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def commit(self) -> None:
        now = self._clock.now()
        for event in self._events:
            self.outbox.append(
                OutboxMessage(
                    id=self._ids.new("evt", now),
                    name=event.name,
                    payload=encode_event(event),
                    occurred_at=event.occurred_at,
                    workspace_id=event.workspace_id,
                )
            )
        self._events.clear()
        callbacks, self._after_commit = self._after_commit, []
        self.committed = True
        for callback in callbacks:
            await callback()

    async def rollback(self) -> None:
        self._events.clear()
        self._after_commit.clear()
