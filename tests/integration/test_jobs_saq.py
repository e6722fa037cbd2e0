"""The SAQ job engine passes the job engine conformance suite on Redis and on PostgreSQL.

Enqueues travel as they do in the app: through a unit of work's outbox (in memory
here) and the relay, which hands them to SAQ after the commit; a rolled-back enqueue
never reaches SAQ. Each test has a Redis key prefix or a PostgreSQL database of its
own, removed afterwards.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta

import msgspec
import pytest
from saq.job import Job as SaqJob
from saq.queue import Queue
from sqlalchemy.engine import make_url

from adapters.memory.jobs import InMemoryJobStore
from adapters.saq import SaqJobStore
from adapters.saq.moving import move_queued_jobs
from contracts.ports.jobs import JobEngineContract
from core.kernel import FixedClock
from core.workflows import (
    JobContext,
    JobFilter,
    JobRegistry,
    JobRunner,
    JobState,
    JobType,
    make_request,
)
from entrypoints.testing.databases import PostgresTemplate
from entrypoints.testing.jobs import OutboxCarriedJobEngine
from entrypoints.testing.redis import count_keys, delete_keys


@pytest.fixture
def saq_postgres_url(postgres_template: PostgresTemplate) -> Iterator[str]:
    """An empty database of this test's own (SAQ creates its tables), dropped after."""
    name, url = postgres_template.new_empty_database()
    yield make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    postgres_template.drop(name)


@pytest.fixture
async def redis_store(redis_url: str, redis_key_prefix: str) -> AsyncIterator[SaqJobStore]:
    store = SaqJobStore(redis_url, prefix=redis_key_prefix)
    yield store
    await store.close()
    await delete_keys(redis_url, f"saq:job:{redis_key_prefix}.*")  # SAQ's own records
    await delete_keys(redis_url, f"saq:{redis_key_prefix}.*")


@pytest.fixture
async def postgres_store(saq_postgres_url: str) -> AsyncIterator[SaqJobStore]:
    store = SaqJobStore(saq_postgres_url, pool_size=4)
    yield store
    await store.close()


BROKERS = [
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BROKERS)
def saq_store(request: pytest.FixtureRequest) -> SaqJobStore:
    store: SaqJobStore = request.getfixturevalue(f"{request.param}_store")
    return store


@pytest.fixture
def job_engine(saq_store: SaqJobStore, clock: FixedClock) -> OutboxCarriedJobEngine:
    return OutboxCarriedJobEngine(saq_store, clock)


class TestOutboxCarriedJobEngine(JobEngineContract):
    pass


# -- beyond the contract: what is particular to SAQ ---------------------------------


class Item(msgspec.Struct, frozen=True):
    n: int


ITEM = JobType("saqtests.item", Item)


async def test_saq_reads_our_jobs_as_its_own(job_engine: OutboxCarriedJobEngine) -> None:
    async with job_engine.open_queue() as queue:
        job = await queue.enqueue(ITEM, Item(1), priority=7, concurrency_key="ws_1")

    record = await _saq_record(job_engine.store, "default", job.id)
    assert record.function == ITEM.name
    assert record.status == "queued"
    assert record.priority == 93  # SAQ runs the lowest number first
    assert record.group_key == "ws_1"
    assert record.retries == ITEM.retry.max_attempts
    assert record.timeout == ITEM.timeout
    assert record.ttl == 0  # kept until prune, never expired by SAQ
    assert record.kwargs == {"payload": '{"n":1}'}


async def test_four_workers_run_each_job_once_within_the_key_limit(
    job_engine: OutboxCarriedJobEngine,
) -> None:
    ran: Counter[int] = Counter()
    running: Counter[str] = Counter()
    peak = 0

    async def handle(payload: Item, context: JobContext) -> None:
        nonlocal peak
        key = f"k{payload.n % 3}"
        running[key] += 1
        peak = max(peak, running[key])
        await asyncio.sleep(0.001)
        running[key] -= 1
        ran[payload.n] += 1

    registry = JobRegistry()
    registry.register(ITEM, handle)
    async with job_engine.open_queue() as queue:
        for n in range(60):
            await queue.enqueue(ITEM, Item(n), concurrency_key=f"k{n % 3}", concurrency_limit=2)
    workers = [
        JobRunner(
            registry=registry,
            open_store=job_engine.open_store,
            clock=job_engine.clock,
            concurrency=4,
            worker=f"w{n}",
        )
        for n in range(4)
    ]

    await asyncio.gather(*(worker.drain() for worker in workers))

    assert sorted(ran) == list(range(60))
    assert set(ran.values()) == {1}
    assert peak <= 2
    async with job_engine.open_store() as store:
        done = await store.list(JobFilter(state=JobState.SUCCEEDED, limit=100))
    assert len(done) == 60


@pytest.mark.redis
async def test_pruned_jobs_leave_nothing_behind_in_redis(
    redis_store: SaqJobStore, redis_url: str, redis_key_prefix: str, clock: FixedClock
) -> None:
    engine = OutboxCarriedJobEngine(redis_store, clock)
    registry = JobRegistry()

    async def handle(payload: Item, context: JobContext) -> None:
        return None

    registry.register(ITEM, handle)
    async with engine.open_queue() as queue:
        for n in range(3):
            await queue.enqueue(ITEM, Item(n), idempotency_key=f"i{n}", concurrency_key="k")
    runner = JobRunner(registry=registry, open_store=engine.open_store, clock=clock)
    assert await runner.drain() == 3
    clock.advance(timedelta(days=1))

    assert await redis_store.prune(clock.now(), clock.now()) == 3
    assert await count_keys(redis_url, f"saq:job:{redis_key_prefix}.*") == 0
    leftovers = await count_keys(redis_url, f"{redis_key_prefix}:jobs:*")
    assert leftovers == 1  # the set of queue names


async def _saq_record(store: SaqJobStore, queue: str, job_id: str) -> SaqJob:
    """The job as SAQ's own ``Queue.job`` reads it, on a queue of SAQ's making."""
    saq_queue = Queue.from_url(store.url, name=f"{store.prefix}.{queue}")
    await saq_queue.connect()
    try:
        record = await saq_queue.job(job_id)
    finally:
        await saq_queue.disconnect()
    assert record is not None
    return record


async def test_queued_jobs_move_from_another_engine_once(
    job_engine: OutboxCarriedJobEngine,
) -> None:
    source = InMemoryJobStore()

    @asynccontextmanager
    async def open_source() -> AsyncIterator[InMemoryJobStore]:
        yield source

    now = job_engine.clock.now()
    for n in range(3):
        request = make_request(
            ITEM,
            Item(n),
            job_id=f"job_{n:026d}",
            run_at=now + timedelta(hours=n),
            idempotency_key=f"key-{n}",
            priority=n,
        )
        await source.add(request, now)
    (running,) = await source.claim(None, 1, now, now + timedelta(minutes=1), "old-worker")

    assert await move_queued_jobs(open_source, job_engine.store, now) == 2
    assert await move_queued_jobs(open_source, job_engine.store, now) == 0

    async with job_engine.open_store() as store:
        moved = await store.list(JobFilter(state=JobState.QUEUED))
        assert await store.get(running.id) is None  # it runs where it was
        assert await store.find(ITEM.name, "key-2") is not None
    assert sorted((j.id, j.priority, j.run_at - now) for j in moved) == [
        ("job_00000000000000000000000001", 1, timedelta(hours=1)),
        ("job_00000000000000000000000002", 2, timedelta(hours=2)),
    ]
    assert {j.state for j in source.jobs.values()} == {JobState.RUNNING, JobState.CANCELLED}


async def test_the_store_says_whether_its_broker_answers(saq_store: SaqJobStore) -> None:
    assert await saq_store.ready()
    assert not await SaqJobStore("redis://127.0.0.1:1/0").ready()
