"""The in-memory job engine passes the job engine conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from adapters.cronsim.cron import CronsimEvaluator
from adapters.memory.jobs import InMemoryJobStore
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from contracts.ports.jobs import JobEngineContract
from core.kernel import FixedClock, IdGenerator
from core.workflows import EventBus, JobQueue, OutboxRelay


class MemoryJobEngine:
    """The fake engine, with enqueues carried through the outbox like SAQ's."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.store = InMemoryJobStore()
        self._outbox = InMemoryOutbox()
        self._ids = IdGenerator()
        self._relay = OutboxRelay(
            bus=EventBus(),
            open_session=self._uow,
            jobs_for=lambda _session: self.store,
            clock=clock,
            ids=self._ids,
        )

    def _uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self._outbox, self.clock, self._ids)

    @asynccontextmanager
    async def open_store(self) -> AsyncIterator[InMemoryJobStore]:
        yield self.store

    @asynccontextmanager
    async def open_queue(self, *, commit: bool = True) -> AsyncIterator[JobQueue]:
        uow = self._uow()
        async with uow:
            yield JobQueue(
                uow=uow,
                store=self.store,
                store_in_transaction=False,
                clock=self.clock,
                ids=self._ids,
            )
            if commit:
                await uow.commit()
        await self._relay.drain()

    def cron(self) -> CronsimEvaluator:
        return CronsimEvaluator()


class TestInMemoryJobEngine(JobEngineContract):
    @pytest.fixture
    def job_engine(self, clock: FixedClock) -> MemoryJobEngine:
        return MemoryJobEngine(clock)
