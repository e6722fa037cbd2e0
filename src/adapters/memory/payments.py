"""``InMemoryPaymentProvider``: the fake ``PaymentProvider`` every unit test can use.

It is the sandbox (``adapters.sandbox``: the same processor, the same webhooks, the same
back office: ``pay``, ``decline``, ``tick``, ``fail_payment``, ``recover_payment``,
``renew``, ``set_card`` …) over ``InMemorySandboxStore``, a store in dictionaries. Each
call is a transaction: when it raises, the store is put back as it was before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeVar

import msgspec

from adapters.sandbox import RECORD_KINDS, Record, SandboxEvent, SandboxPaymentProvider
from core.kernel import Clock, FixedClock, IdGenerator

R = TypeVar("R", bound=Record)
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_WEBHOOK_SECRET = "whsec_" + "c2FuZGJveC1mYWtlLXdlYmhvb2stc2VjcmV0LTMyYg=="


class InMemorySandboxStore:
    """``SandboxStore`` in one dictionary per record kind. Locks are no-ops: one event
    loop runs one call's awaits without another call's store work in between only if
    the caller serializes calls, which is what a test does."""

    def __init__(self) -> None:
        self.records: dict[type[Record], dict[str, Record]] = {k: {} for k in RECORD_KINDS}
        self.sequences: dict[str, int] = {}

    def snapshot(self) -> tuple[dict[type[Record], dict[str, Record]], dict[str, int]]:
        return {k: dict(v) for k, v in self.records.items()}, dict(self.sequences)

    def restore(self, saved: tuple[dict[type[Record], dict[str, Record]], dict[str, int]]) -> None:
        self.records, self.sequences = saved

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InMemorySandboxStore]:
        saved = self.snapshot()
        try:
            yield self
        except BaseException:
            self.restore(saved)
            raise

    def _table(self, kind: type[Record]) -> dict[str, Record]:
        return self.records[kind]

    async def get(self, kind: type[R], record_id: str, *, lock: bool = False) -> R | None:
        found = self._table(kind).get(record_id)
        return found if isinstance(found, kind) else None

    async def find(self, kind: type[R], field: str, value: str) -> list[R]:
        return [
            record
            for _, record in sorted(self._table(kind).items())
            if isinstance(record, kind) and getattr(record, field) == value
        ]

    async def due(self, kind: type[R], now: datetime) -> list[str]:
        due = [
            (at, record.id)
            for record in self._table(kind).values()
            if (at := getattr(record, "due_at", None)) is not None and at <= now
        ]
        return [record_id for _, record_id in sorted(due)]

    async def add(self, record: Record) -> None:
        table = self._table(type(record))
        if record.id in table:
            raise ValueError(f"{type(record).__name__} {record.id} exists already")
        table[record.id] = record

    async def save(self, record: Record) -> None:
        table = self._table(type(record))
        if record.id not in table:
            raise ValueError(f"no {type(record).__name__} {record.id} to save over")
        table[record.id] = record

    async def next_number(self, sequence: str) -> int:
        self.sequences[sequence] = self.sequences.get(sequence, 0) + 1
        return self.sequences[sequence]

    async def undelivered(self, limit: int) -> list[SandboxEvent]:
        events = [
            e
            for e in self._table(SandboxEvent).values()
            if isinstance(e, SandboxEvent) and e.delivered_at is None
        ]
        return sorted(events, key=lambda e: (e.created_at, e.id))[:limit]

    async def mark_delivered(self, event_id: str, at: datetime) -> None:
        event = self._table(SandboxEvent).get(event_id)
        if isinstance(event, SandboxEvent) and event.delivered_at is None:
            self._table(SandboxEvent)[event_id] = msgspec.structs.replace(event, delivered_at=at)


class InMemoryPaymentProvider(SandboxPaymentProvider):
    """The sandbox over an ``InMemorySandboxStore`` (``store``), on ``clock`` (a
    ``FixedClock`` of its own by default, so tests move time)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        public_url: str = DEFAULT_PUBLIC_URL,
        store: InMemorySandboxStore | None = None,
    ) -> None:
        self.store = store or InMemorySandboxStore()
        self.clock = clock or FixedClock()
        super().__init__(
            open_store=self.store.transaction,
            clock=self.clock,
            ids=ids or IdGenerator(),
            webhook_secret=webhook_secret,
            public_url=public_url,
        )
