"""Several workers on one database: each job runs once, and a concurrency key's limit
holds across all of them (SQLite's write lock; PostgreSQL's SKIP LOCKED and
per-key advisory locks)."""

from __future__ import annotations

import asyncio
from collections import Counter

import msgspec

from core.workflows import JobContext, JobRegistry, JobRunner, JobType
from entrypoints.containers import ApplicationContainer
from entrypoints.worker import open_queue_for


class Item(msgspec.Struct, frozen=True):
    n: int


ITEM = JobType("manyworkers.item", Item)


def runners(container: ApplicationContainer, registry: JobRegistry, count: int) -> list[JobRunner]:
    return [
        JobRunner(
            registry=registry,
            open_store=container.workflows.open_store(),
            clock=container.kernel.clock(),
            concurrency=5,
            worker=f"w{n}",
        )
        for n in range(count)
    ]


async def drain_together(workers: list[JobRunner]) -> None:
    await asyncio.gather(*(runner.drain() for runner in workers))


async def test_four_workers_run_each_of_200_jobs_once(container: ApplicationContainer) -> None:
    ran: Counter[int] = Counter()

    async def handle(payload: Item, context: JobContext) -> None:
        ran[payload.n] += 1
        await asyncio.sleep(0)

    registry = JobRegistry()
    registry.register(ITEM, handle)
    async with open_queue_for(container)() as queue:
        for n in range(200):
            await queue.enqueue(ITEM, Item(n))

    await drain_together(runners(container, registry, 4))

    assert sorted(ran) == list(range(200))
    assert set(ran.values()) == {1}


async def test_a_concurrency_limit_holds_across_workers(container: ApplicationContainer) -> None:
    running, peak, done = 0, 0, 0

    async def handle(payload: Item, context: JobContext) -> None:
        nonlocal running, peak, done
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        done += 1

    registry = JobRegistry()
    registry.register(ITEM, handle)
    async with open_queue_for(container)() as queue:
        for n in range(20):
            await queue.enqueue(ITEM, Item(n), concurrency_key="ws_1", concurrency_limit=2)

    await drain_together(runners(container, registry, 4))

    assert done == 20
    assert peak == 2
