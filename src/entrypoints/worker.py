"""The background worker: the outbox relay and the periodic tasks of the scheduler.

``ninefold serve`` runs it inside the app process (the single-box mode); ``ninefold
worker`` runs it alone. Several workers may run at once: the relay leases messages, so
each is delivered by one worker at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
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

    async def loop(self) -> None:
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("scheduled task %s failed", self.name)
            await asyncio.sleep(self.every)


def scheduled_tasks(container: ApplicationContainer) -> list[IntervalTask]:
    async def prune_outbox() -> None:
        async with container.unit_of_work() as uow:
            before = container.kernel.clock().now() - OUTBOX_RETENTION
            removed = await prune_published(uow.session, before)
            await uow.commit()
        if removed:
            logger.info("pruned %d published outbox messages", removed)

    return [IntervalTask("outbox.prune", 3600, prune_outbox)]


class Worker:
    """Runs the relay and the scheduler as tasks of the current event loop."""

    def __init__(self, container: ApplicationContainer) -> None:
        self._container = container
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        relay = self._container.workflows.outbox_relay()
        self._tasks.append(asyncio.create_task(relay.run_forever(), name="outbox.relay"))
        for task in scheduled_tasks(self._container):
            self._tasks.append(asyncio.create_task(task.loop(), name=task.name))
        logger.info("worker started: %s", ", ".join(t.get_name() for t in self._tasks))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def run_until_stopped(self, stop: asyncio.Event) -> None:
        self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
