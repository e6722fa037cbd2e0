"""Choosing SAQ in the settings: what is checked at start-up, what the container builds,
and a job enqueued in a real unit of work reaching SAQ through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from dependency_injector import providers

from adapters.saq import SaqJobStore
from adapters.sql.uow import SqlUnitOfWork
from core.workflows import JobContext, JobState, JobType
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.settings import Settings
from entrypoints.settings_checks import check_settings
from entrypoints.testing.plugin import settings_with
from entrypoints.testing.redis import delete_keys


def test_saq_needs_its_broker_url() -> None:
    problems = check_settings(Settings(jobs_backend="saq"))

    assert "NINEFOLD_JOBS_BACKEND=saq needs NINEFOLD_SAQ_URL" in problems


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://cache:6380", "postgresql://db/app"]
)
def test_saq_runs_on_redis_or_postgresql(url: str) -> None:
    problems = check_settings(Settings(jobs_backend="saq", saq_url=url))

    assert [p for p in problems if "SAQ" in p or "JOBS_BACKEND" in p] == []


@pytest.mark.parametrize("url", ["postgresql+asyncpg://db/app", "amqp://broker", "localhost:6379"])
def test_another_saq_url_is_refused_with_the_reason(url: str) -> None:
    problems = check_settings(Settings(jobs_backend="saq", saq_url=url))

    assert any(
        p.startswith("NINEFOLD_SAQ_URL must start with redis://, rediss://, postgresql://")
        for p in problems
    ), problems


async def test_the_container_picks_saq_when_configured() -> None:
    container = build_container(Settings(jobs_backend="saq", saq_url="redis://127.0.0.1:1/0"))
    workflows = container.workflows

    async with workflows.open_store()() as store:
        assert isinstance(store, SaqJobStore)
        assert store.kind == "redis"
    assert workflows.store_in()(object()) is store  # the same store in any unit of work
    assert workflows.store_in_transaction() is False  # enqueues go through the outbox
    await close_container(container)  # nothing was connected: closing costs nothing


async def test_the_sql_engine_stays_the_default() -> None:
    container = build_container(Settings())

    assert container.workflows.store_in_transaction() is True
    await close_container(container)


class Ping(msgspec.Struct, frozen=True):
    text: str


PING = JobType("saqwiring.ping", Ping)


@pytest.fixture
async def saq_container(
    settings: Settings, redis_url: str, redis_key_prefix: str
) -> AsyncIterator[ApplicationContainer]:
    container = build_container(settings_with(settings, jobs_backend="saq", saq_url=redis_url))
    container.workflows.saq_store.override(
        providers.Singleton(SaqJobStore, url=redis_url, prefix=redis_key_prefix)
    )
    yield container
    await close_container(container)
    await delete_keys(redis_url, f"saq:job:{redis_key_prefix}.*")


@pytest.mark.redis
async def test_a_job_enqueued_in_a_unit_of_work_runs_on_saq(
    saq_container: ApplicationContainer,
) -> None:
    seen: list[str] = []

    async def handle(payload: Ping, context: JobContext) -> None:
        seen.append(payload.text)

    saq_container.workflows.registry().register(PING, handle)
    async with saq_container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        job = await saq_container.workflows.job_queue(uow=uow).enqueue(PING, Ping("committed"))
        await uow.commit()
    async with saq_container.unit_of_work() as uow:
        await saq_container.workflows.job_queue(uow=uow).enqueue(PING, Ping("rolled back"))
        await uow.rollback()

    store = saq_container.workflows.saq_store()
    assert await store.get(job.id) is None  # not before the relay has carried it
    await saq_container.workflows.outbox_relay().drain()
    assert await saq_container.workflows.job_runner().drain() == 1

    assert seen == ["committed"]
    done = await store.get(job.id)
    assert done is not None
    assert done.state is JobState.SUCCEEDED
