"""The background worker: the outbox relay, the job runner and the scheduler.

``ninefold serve`` runs it inside the app process (the single-box mode); ``ninefold
worker`` runs it alone, and any number of workers may share one database (or SAQ):
the relay and the runner lease what they take, and the scheduler's ticks are
idempotent, so nothing runs twice at once and no tick runs twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from adapters.sql.database import is_sqlite
from adapters.sql.workflows.listen import listen_for_jobs
from core.workflows import JobQueue, JobRunner, Scheduler
from entrypoints.containers import ApplicationContainer
from entrypoints.jobs import register_jobs, schedules

logger = logging.getLogger("ninefold.worker")


def open_queue_for(
    container: ApplicationContainer,
) -> Callable[[], AbstractAsyncContextManager[JobQueue]]:
    """A ``JobQueue`` in a unit of work of its own, committed when the block exits."""

    @asynccontextmanager
    async def open_queue() -> AsyncIterator[JobQueue]:
        async with container.unit_of_work() as uow:
            yield container.workflows.job_queue(uow=uow)
            await uow.commit()

    return open_queue


def build_scheduler(container: ApplicationContainer) -> Scheduler:
    return Scheduler(
        schedules(),
        cron=container.workflows.cron(),
        open_queue=open_queue_for(container),
        clock=container.kernel.clock(),
    )


class Worker:
    """Runs the relay, the runner and the scheduler as tasks of the current event loop.

    ``stop`` is graceful: the relay and the scheduler finish the pass under way, the
    runner stops claiming and gives running jobs its grace period, then releases the
    ones still running (they are queued again, the attempt not counted).
    """

    def __init__(
        self,
        container: ApplicationContainer,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        grace: float = 10.0,
    ) -> None:
        register_jobs(container)
        self._container = container
        self._grace = grace
        self.runner: JobRunner = container.workflows.job_runner(
            queues=tuple(queues) if queues else None, concurrency=concurrency
        )
        self.scheduler = build_scheduler(container)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._stopping.clear()
        relay = self._container.workflows.outbox_relay()
        self._spawn("outbox.relay", relay.run_forever(stop=self._stopping))
        self._spawn("jobs.runner", self.runner.run_forever(stop=self._stopping))
        self._spawn("jobs.scheduler", self.scheduler.run_forever(stop=self._stopping))
        settings = self._container.settings()
        if settings.jobs_backend == "sql" and not is_sqlite(settings.effective_database_url):
            wakeup = self._container.workflows.jobs_wakeup()
            listener = listen_for_jobs(settings.effective_database_url, wakeup, self._stopping)
            self._spawn("jobs.listener", listener)
        logger.info(
            "worker %s started: %s",
            self.runner.worker,
            ", ".join(t.get_name() for t in self._tasks),
        )

    def _spawn(self, name: str, work: Coroutine[object, object, None]) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def stop(self) -> None:
        if not self._tasks:
            return
        self._stopping.set()
        _, busy = await asyncio.wait(self._tasks, timeout=self._grace + 5)
        for task in busy:
            logger.warning("worker task %s did not stop in time; cancelling it", task.get_name())
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def run_until_stopped(self, stop: asyncio.Event) -> None:
        self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
