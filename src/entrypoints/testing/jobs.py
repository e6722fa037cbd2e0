"""A harness for ``contracts.ports.jobs.JobEngineContract`` around any job engine that
lives outside the application's database (the in-memory fake, SAQ, one of your own).

Enqueues travel as they do in the app with such an engine: into a unit of work's
outbox, and from there to the engine by the relay once the unit of work commits::

    @pytest.fixture
    def job_engine(clock: FixedClock) -> OutboxCarriedJobEngine:
        return OutboxCarriedJobEngine(MyJobStore(...), clock)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.cronsim.cron import CronsimEvaluator
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from core.kernel import FixedClock, IdGenerator
from core.workflows import EventBus, JobQueue, JobStore, OutboxRelay


class OutboxCarriedJobEngine:
    """``JobEngine`` for the conformance suite: ``store`` with an in-memory outbox."""

    def __init__(self, store: JobStore, clock: FixedClock) -> None:
        self.clock = clock
        self.store = store
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
    async def open_store(self) -> AsyncIterator[JobStore]:
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
