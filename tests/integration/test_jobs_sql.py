"""The SQL job engine passes the job engine conformance suite on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from adapters.cronsim.cron import CronsimEvaluator
from adapters.sql.workflows.jobs import SqlJobStore, sql_job_store
from contracts.ports.jobs import JobEngineContract
from core.kernel import FixedClock
from core.workflows import JobQueue
from entrypoints.containers import ApplicationContainer


class SqlJobEngine:
    def __init__(self, container: ApplicationContainer, clock: FixedClock) -> None:
        self.clock = clock
        self._container = container

    def open_store(self) -> AbstractAsyncContextManager[SqlJobStore]:
        return sql_job_store(self._container.database.session_factory())

    @asynccontextmanager
    async def open_queue(self, *, commit: bool = True) -> AsyncIterator[JobQueue]:
        async with self._container.unit_of_work() as uow:
            yield JobQueue(
                uow=uow,
                store=SqlJobStore(uow.session),
                store_in_transaction=True,
                clock=self.clock,
                ids=self._container.kernel.ids(),
            )
            if commit:
                await uow.commit()

    def cron(self) -> CronsimEvaluator:
        return CronsimEvaluator()


class TestSqlJobEngine(JobEngineContract):
    @pytest.fixture
    def job_engine(self, container: ApplicationContainer, clock: FixedClock) -> SqlJobEngine:
        return SqlJobEngine(container, clock)
