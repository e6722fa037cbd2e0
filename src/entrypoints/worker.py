"""The background worker: the outbox relay and the periodic tasks of the scheduler.

``ninefold serve`` runs it inside the app process (the single-box mode); ``ninefold
worker`` runs it alone. Several workers may run at once: the relay leases messages, so
each is delivered by one worker at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta

from adapters.sql.workflows.outbox import prune_published
from entrypoints.containers import ApplicationContainer

logger = logging.getLogger("ninefold.worker")

OUTBOX_RETENTION = timedelta(days=7)


class IntervalTask:
    """A task the scheduler runs every ``every`` seconds; failures are logged and
    retried at the next tick."""

    def __init__(self, name: str, every: float, run: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.every = every
        self.run = run

    async def loop(self, stop: asyncio.Event | None = None) -> None:
        """Run now and then every ``every`` seconds until ``stop`` is set."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("scheduled task %s failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)


def scheduled_tasks(container: ApplicationContainer) -> list[IntervalTask]:
    async def prune_outbox() -> None:
        async with container.unit_of_work() as uow:
            before = container.kernel.clock().now() - OUTBOX_RETENTION
            removed = await prune_published(uow.session, before)
            await uow.commit()
        if removed:
            logger.info("pruned %d published outbox messages", removed)

    async def purge_workspaces() -> None:
        async with container.unit_of_work() as uow:
            purged = await container.identity.workspaces(uow=uow).purge_due()
            await uow.commit()
        if purged:
            logger.info("purged %d deleted workspaces past their grace period", purged)

    return [
        IntervalTask("outbox.prune", 3600, prune_outbox),
        IntervalTask("identity.purge_workspaces", 3600, purge_workspaces),
    ]


class Worker:
    """Runs the relay and the scheduler as tasks of the current event loop.

    ``stop`` is graceful: each task finishes the pass under way (a delivery, a prune)
    and exits; only a task still busy after ``grace`` seconds is cancelled. Whatever a
    cancelled relay had claimed is delivered again once its lease passes.
    """

    def __init__(self, container: ApplicationContainer, grace: float = 10.0) -> None:
        self._container = container
        self._grace = grace
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._stopping.clear()
        relay = self._container.workflows.outbox_relay()
        self._spawn("outbox.relay", relay.run_forever(stop=self._stopping))
        for task in scheduled_tasks(self._container):
            self._spawn(task.name, task.loop(stop=self._stopping))
        logger.info("worker started: %s", ", ".join(t.get_name() for t in self._tasks))

    def _spawn(self, name: str, work: Coroutine[object, object, None]) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def stop(self) -> None:
        if not self._tasks:
            return
        self._stopping.set()
        _, busy = await asyncio.wait(self._tasks, timeout=self._grace)
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
