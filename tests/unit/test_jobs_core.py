"""Core pieces of the job model: retry policies, job types, enqueue checks, schedules
and the runner's metrics."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from adapters.cronsim.cron import CronsimEvaluator
from adapters.memory.jobs import InMemoryJobStore
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from contracts.ports.jobs import NOTE, Note, Other
from core.kernel import FixedClock, IdGenerator
from core.workflows import (
    InvalidJobOptionsError,
    InvalidScheduleError,
    JobContext,
    JobQueue,
    JobRegistry,
    JobRunner,
    JobType,
    RetryPolicy,
    Schedule,
    Scheduler,
)
from core.workflows.errors import DuplicateJobTypeError


def test_retry_delays_double_up_to_the_maximum_with_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=2.0, max_delay=60.0)
    rand = random.Random(7)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (9, 60)]:
        for _ in range(50):
            delay = policy.delay(attempt, rand).total_seconds()
            assert ceiling / 2 <= delay <= ceiling


def test_without_jitter_the_delay_is_exact() -> None:
    policy = RetryPolicy(base_delay=3.0, max_delay=20.0, jitter=False)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [3, 6, 12, 20]


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"base_delay": 10.0, "max_delay": 5.0}],
)
def test_a_nonsensical_retry_policy_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"retry|attempts"):
        RetryPolicy(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("no_dot", {}),
        ("Upper.case", {}),
        ("ok.name", {"queue": "Bad Queue"}),
        ("ok.name", {"priority": 101}),
        ("ok.name", {"timeout": 0}),
        ("ok.name", {"concurrency_limit": 0}),
    ],
)
def test_a_job_type_with_bad_defaults_is_refused(name: str, options: dict[str, object]) -> None:
    with pytest.raises((ValueError, InvalidJobOptionsError)):
        JobType(name, Note, **options)  # type: ignore[arg-type]


def test_a_job_type_is_registered_once() -> None:
    registry = JobRegistry()

    async def handle(payload: Note, context: JobContext) -> None:
        return None

    registry.register(NOTE, handle)
    with pytest.raises(DuplicateJobTypeError):
        registry.register(NOTE, handle)


@pytest.fixture
def queue() -> JobQueue:
    clock = FixedClock()
    uow = InMemoryUnitOfWork(InMemoryOutbox(), clock, IdGenerator())
    return JobQueue(
        uow=uow,
        store=InMemoryJobStore(),
        store_in_transaction=True,
        clock=clock,
        ids=IdGenerator(),
    )


@pytest.mark.parametrize(
    ("payload", "options", "message"),
    [
        (Other(1), {}, "takes a Note payload"),
        (Note("x"), {"delay": timedelta(1), "run_at": datetime(2030, 1, 2, tzinfo=UTC)}, "either"),
        (Note("x"), {"run_at": datetime(2030, 1, 2)}, "timezone-aware"),
        (Note("x"), {"idempotency_key": ""}, "idempotency keys"),
        (Note("x"), {"idempotency_key": "k" * 201}, "idempotency keys"),
        (Note("x"), {"concurrency_key": "k" * 201}, "concurrency keys"),
        (Note("x"), {"queue": "no spaces"}, "queue names"),
        (Note("x"), {"priority": -101}, "priority"),
        (Note("x"), {"timeout": 90_000.0}, "timeout"),
    ],
)
async def test_enqueue_refuses_bad_options_with_what_to_fix(
    queue: JobQueue, payload: msgspec.Struct, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidJobOptionsError, match=message):
        await queue.enqueue(NOTE, payload, **options)  # type: ignore[arg-type]


def test_a_schedule_needs_exactly_one_of_cron_and_every() -> None:
    with pytest.raises(InvalidScheduleError, match="either cron or every"):
        Schedule("s.both", NOTE, Note("x"), cron="* * * * *", every=timedelta(minutes=1))
    with pytest.raises(InvalidScheduleError, match="either cron or every"):
        Schedule("s.none", NOTE, Note("x"))


def test_a_schedule_names_an_unknown_time_zone() -> None:
    with pytest.raises(InvalidScheduleError, match="unknown time zone 'Mars/Olympus'"):
        Schedule("s.tz", NOTE, Note("x"), cron="0 3 * * *", timezone="Mars/Olympus")


def test_the_scheduler_refuses_a_bad_cron_expression_at_start_up() -> None:
    schedule = Schedule("s.bad", NOTE, Note("x"), cron="61 * * * *")
    with pytest.raises(InvalidScheduleError, match=r"s\.bad.*bad cron expression"):
        Scheduler([schedule], cron=CronsimEvaluator(), open_queue=None, clock=FixedClock())  # type: ignore[arg-type]


def test_the_scheduler_refuses_two_schedules_with_one_name() -> None:
    every = timedelta(minutes=1)
    twins = [Schedule("s.twin", NOTE, Note("x"), every=every) for _ in range(2)]
    with pytest.raises(InvalidScheduleError, match="share a name"):
        Scheduler(twins, cron=CronsimEvaluator(), open_queue=None, clock=FixedClock())  # type: ignore[arg-type]


def test_cron_ticks_follow_the_local_time_across_a_dst_change() -> None:
    nightly = Schedule("s.n", NOTE, Note("x"), cron="0 3 * * *", timezone="Europe/Berlin")
    cron = CronsimEvaluator()
    winter = nightly.latest_tick(datetime(2030, 3, 30, 12, tzinfo=UTC), cron)
    summer = nightly.latest_tick(datetime(2030, 3, 31, 12, tzinfo=UTC), cron)
    assert winter == datetime(2030, 3, 30, 2, tzinfo=UTC)  # 03:00 CET
    assert summer == datetime(2030, 3, 31, 1, tzinfo=UTC)  # 03:00 CEST


def test_interval_ticks_are_aligned_so_every_worker_agrees() -> None:
    every = Schedule("s.e", NOTE, Note("x"), every=timedelta(minutes=15))
    tick = every.latest_tick(datetime(2030, 1, 1, 10, 44, 59, tzinfo=UTC), CronsimEvaluator())
    assert tick == datetime(2030, 1, 1, 10, 30, tzinfo=UTC)


async def test_a_tick_missed_by_more_than_the_grace_is_skipped() -> None:
    clock = FixedClock(datetime(2030, 1, 1, 10, 0, tzinfo=UTC))
    nightly = Schedule("s.n", NOTE, Note("x"), cron="0 3 * * *")  # seven hours ago
    scheduler = Scheduler([nightly], cron=CronsimEvaluator(), open_queue=None, clock=clock)  # type: ignore[arg-type]
    assert await scheduler.tick() == 0  # nothing due: no queue is even opened


async def test_the_runner_counts_what_happens_per_queue() -> None:
    clock = FixedClock()
    store = InMemoryJobStore()
    ids = IdGenerator()
    uow = InMemoryUnitOfWork(InMemoryOutbox(), clock, ids)
    enqueue = JobQueue(uow=uow, store=store, store_in_transaction=True, clock=clock, ids=ids)
    await enqueue.enqueue(NOTE, Note("ok"))
    await enqueue.enqueue(NOTE, Note("bad"), queue="other", retry=RetryPolicy(max_attempts=1))

    async def handle(payload: Note, context: JobContext) -> None:
        if payload.text == "bad":
            raise RuntimeError("no")

    registry = JobRegistry()
    registry.register(NOTE, handle)

    class Opened:
        async def __aenter__(self) -> InMemoryJobStore:
            return store

        async def __aexit__(self, *_: object) -> None:
            return None

    runner = JobRunner(registry=registry, open_store=Opened, clock=clock)
    await runner.drain()

    snapshot = runner.metrics.snapshot()
    assert snapshot["default"]["started"] == 1
    assert snapshot["default"]["succeeded"] == 1
    assert snapshot["other"]["failed"] == 1
    assert snapshot["other"]["dead"] == 1


async def test_a_queue_limit_caps_its_running_jobs_across_workers() -> None:
    clock = FixedClock()
    store = InMemoryJobStore()
    ids = IdGenerator()
    uow = InMemoryUnitOfWork(InMemoryOutbox(), clock, ids)
    queue = JobQueue(
        uow=uow,
        store=store,
        store_in_transaction=True,
        clock=clock,
        ids=ids,
        queue_limits={"mail": 2},
    )
    for n in range(4):
        await queue.enqueue(NOTE, Note(str(n)), queue="mail")
    own_key = await queue.enqueue(NOTE, Note("own"), queue="mail", concurrency_key="ws_1")
    elsewhere = await queue.enqueue(NOTE, Note("x"))

    first, second = (
        JobRunner(registry=JobRegistry(), open_store=lambda: _opened(store), clock=clock, worker=w)
        for w in ("a", "b")
    )
    taken = [job.id for job in await first.claim()] + [job.id for job in await second.claim()]

    limited = [job for job in store.jobs.values() if job.concurrency_key == "queue:mail"]
    assert len(limited) == 4
    assert {job.concurrency_limit for job in limited} == {2}
    assert sum(1 for job in limited if job.id in taken) == 2
    assert own_key.id in taken  # its own key: the queue's limit does not count it
    assert elsewhere.id in taken


async def test_a_concurrency_key_may_not_take_a_queue_s_name(queue: JobQueue) -> None:
    with pytest.raises(InvalidJobOptionsError, match="the queues' own"):
        await queue.enqueue(NOTE, Note("x"), concurrency_key="queue:mail")


class _opened:
    def __init__(self, store: InMemoryJobStore) -> None:
        self._store = store

    async def __aenter__(self) -> InMemoryJobStore:
        return self._store

    async def __aexit__(self, *_: object) -> None:
        return None
