"""In the single-box mode the app process runs the worker: events reach subscribers."""

from __future__ import annotations

import asyncio

from core.identity import UserRegistered
from entrypoints.containers import ApplicationContainer
from entrypoints.http.app import create_app
from entrypoints.testing.plugin import serve_in_process
from entrypoints.worker import Worker


async def test_the_app_process_delivers_committed_events_while_it_serves(
    container: ApplicationContainer,
) -> None:
    delivered = asyncio.Event()

    async def on_registered(event: UserRegistered) -> None:
        delivered.set()

    container.workflows.event_bus().subscribe(UserRegistered, on_registered)
    app = create_app(container, run_worker=True)

    async with serve_in_process(app):
        async with container.unit_of_work() as uow:
            await container.identity.service(uow=uow).register_user("a@example.com", "", "x" * 12)
            await uow.commit()
        await asyncio.wait_for(delivered.wait(), timeout=5)


async def test_a_stopped_worker_leaves_no_task_running(container: ApplicationContainer) -> None:
    worker = Worker(container)
    before = asyncio.all_tasks()

    worker.start()
    await asyncio.sleep(0)
    await worker.stop()

    assert asyncio.all_tasks() - before == set()


async def test_stopping_lets_the_relay_finish_the_delivery_under_way(
    container: ApplicationContainer,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow_subscriber(event: UserRegistered) -> None:
        entered.set()
        await release.wait()
        finished.append(event.email)

    container.workflows.event_bus().subscribe(UserRegistered, slow_subscriber)
    async with container.unit_of_work() as uow:
        await container.identity.service(uow=uow).register_user("a@example.com", "", "x" * 12)
        await uow.commit()
    worker = Worker(container)
    worker.start()
    await asyncio.wait_for(entered.wait(), timeout=5)

    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done(), "stop waits for the delivery under way"
    release.set()
    await asyncio.wait_for(stopping, timeout=5)

    assert finished == ["a@example.com"]
    async with container.unit_of_work() as uow:
        assert await uow.outbox.pending_count() == 0
