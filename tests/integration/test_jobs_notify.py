"""On PostgreSQL, a job committed in one process wakes the workers of every other."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from adapters.sql.database import is_sqlite
from adapters.sql.workflows.listen import listen_for_jobs
from core.workflows import JobType
from entrypoints.containers import ApplicationContainer
from entrypoints.settings import Settings


class Ping(msgspec.Struct, frozen=True):
    pass


PING = JobType("notifytest.ping", Ping)


async def test_a_committed_job_wakes_a_listening_worker(
    container: ApplicationContainer, settings: Settings
) -> None:
    if is_sqlite(settings.database_url):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite runs in one process")
    wake, stop = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(listen_for_jobs(settings.database_url, wake, stop))
    try:
        await asyncio.wait_for(wake.wait(), timeout=10)  # connected (it wakes once then)
        wake.clear()
        async with container.unit_of_work() as uow:
            await container.workflows.job_queue(uow=uow).enqueue(PING, Ping())
            await asyncio.sleep(0.2)
            assert not wake.is_set(), "nothing is announced before the commit"
            await uow.commit()
        await asyncio.wait_for(wake.wait(), timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(listener, timeout=10)


async def test_a_rolled_back_job_wakes_no_one(
    container: ApplicationContainer, settings: Settings
) -> None:
    if is_sqlite(settings.database_url):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    wake, stop = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(listen_for_jobs(settings.database_url, wake, stop))
    try:
        await asyncio.wait_for(wake.wait(), timeout=10)
        wake.clear()
        async with container.unit_of_work() as uow:
            await container.workflows.job_queue(uow=uow).enqueue(PING, Ping())
            await uow.rollback()
        await asyncio.sleep(0.5)
        assert not wake.is_set()
    finally:
        stop.set()
        await asyncio.wait_for(listener, timeout=10)
