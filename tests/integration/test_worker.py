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
