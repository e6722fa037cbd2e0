"""Conformance of a job engine (``JobStore``) run by core's ``JobRunner``.

Every engine (the in-memory fake, the SQL queue on SQLite and PostgreSQL, SAQ on Redis
and PostgreSQL) passes this class. Provide a fixture ``job_engine``: a ``JobEngine``
(below) on a fresh, empty engine whose time is the ``FixedClock`` it exposes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any, Protocol

import msgspec
import pytest

from core.kernel import FixedClock
from core.workflows import (
    Job,
    JobContext,
    JobFilter,
    JobQueue,
    JobRegistry,
    JobRunner,
    JobState,
    JobStore,
    JobType,
    PermanentJobError,
    RetryPolicy,
    Schedule,
    Scheduler,
    make_request,
)
from core.workflows.schedules import CronEvaluator

LEASE = timedelta(seconds=30)


class JobEngine(Protocol):
    """What the suite needs from an engine under test."""

    clock: FixedClock

    def open_store(self) -> AbstractAsyncContextManager[JobStore]:
        """The store for one atomic step (a short transaction on SQL)."""
        ...

    def open_queue(self, *, commit: bool = True) -> AbstractAsyncContextManager[JobQueue]:
        """A ``JobQueue`` in a fresh unit of work, committed at the end (or rolled back
        with ``commit=False``); jobs it enqueued are in the engine once it exits."""
        ...

    def cron(self) -> CronEvaluator: ...


class Note(msgspec.Struct, frozen=True):
    text: str


class Other(msgspec.Struct, frozen=True):
    number: int


NOTE = JobType("contracts.note", Note, retry=RetryPolicy(max_attempts=3, base_delay=10.0))
OTHER = JobType("contracts.other", Other)

Record = list[tuple[str, int]]


def _recording(seen: Record, fail_first: int = 0) -> Callable[[Note, JobContext], Awaitable[None]]:
    async def handle(payload: Note, context: JobContext) -> None:
        seen.append((payload.text, context.attempt))
        if context.attempt <= fail_first:
            raise RuntimeError(f"failure {context.attempt}")

    return handle


def _runner(engine: JobEngine, registry: JobRegistry, **options: Any) -> JobRunner:
    return JobRunner(
        registry=registry,
        open_store=engine.open_store,
        clock=engine.clock,
        lease=LEASE,
        **options,
    )


async def _enqueue(engine: JobEngine, text: str = "hello", **options: Any) -> Job:
    async with engine.open_queue() as queue:
        return await queue.enqueue(NOTE, Note(text), **options)


async def _get(engine: JobEngine, job_id: str) -> Job:
    async with engine.open_store() as store:
        job = await store.get(job_id)
    assert job is not None, f"job {job_id} is gone"
    return job


def _registry(handler: Callable[[Note, JobContext], Awaitable[None]]) -> JobRegistry:
    registry = JobRegistry()
    registry.register(NOTE, handler)
    return registry


class JobEngineContract:
    # -- enqueueing --------------------------------------------------------------------

    async def test_a_committed_enqueue_is_stored_queued(self, job_engine: JobEngine) -> None:
        job = await _enqueue(job_engine, "hi")

        stored = await _get(job_engine, job.id)
        assert stored.state is JobState.QUEUED
        assert stored.name == NOTE.name
        assert msgspec.json.decode(stored.payload, type=Note) == Note("hi")
        assert stored.attempts == 0
        assert stored.retry == NOTE.retry

    async def test_a_rolled_back_enqueue_never_exists(self, job_engine: JobEngine) -> None:
        async with job_engine.open_queue(commit=False) as queue:
            job = await queue.enqueue(NOTE, Note("never"))

        async with job_engine.open_store() as store:
            assert await store.get(job.id) is None
            assert await store.list(JobFilter()) == []

    async def test_the_same_idempotency_key_yields_one_job(self, job_engine: JobEngine) -> None:
        first = await _enqueue(job_engine, "once", idempotency_key="k-1")
        again = await _enqueue(job_engine, "twice", idempotency_key="k-1")
        async with job_engine.open_queue() as queue:
            other = await queue.enqueue(OTHER, Other(1), idempotency_key="k-1")

        assert again.id == first.id
        assert other.id != first.id
        async with job_engine.open_store() as store:
            listed = await store.list(JobFilter(name=NOTE.name))
        assert [job.id for job in listed] == [first.id]
        assert msgspec.json.decode(listed[0].payload, type=Note) == Note("once")

    async def test_list_filters_and_pages_newest_first(self, job_engine: JobEngine) -> None:
        ids = [(await _enqueue(job_engine, str(n))).id for n in range(5)]
        async with job_engine.open_queue() as queue:
            await queue.enqueue(OTHER, Other(1), queue="other")

        async with job_engine.open_store() as store:
            page = await store.list(JobFilter(name=NOTE.name, limit=3))
            rest = await store.list(JobFilter(name=NOTE.name, limit=3, after=page[-1].id))
            other = await store.list(JobFilter(queue="other"))
        assert [job.id for job in page] == ids[::-1][:3]
        assert [job.id for job in rest] == ids[::-1][3:]
        assert [job.name for job in other] == [OTHER.name]

    # -- running -----------------------------------------------------------------------

    async def test_a_job_runs_once_with_its_typed_payload(self, job_engine: JobEngine) -> None:
        seen: Record = []
        runner = _runner(job_engine, _registry(_recording(seen)))
        job = await _enqueue(job_engine, "payload")

        assert await runner.drain() == 1
        assert await runner.drain() == 0

        assert seen == [("payload", 1)]
        done = await _get(job_engine, job.id)
        assert done.state is JobState.SUCCEEDED
        assert done.finished_at == job_engine.clock.now()
        assert [(a.number, a.outcome) for a in done.history] == [(1, "succeeded")]

    async def test_a_delayed_job_waits_for_its_time(self, job_engine: JobEngine) -> None:
        seen: Record = []
        runner = _runner(job_engine, _registry(_recording(seen)))
        await _enqueue(job_engine, "later", delay=timedelta(minutes=5))

        assert await runner.drain() == 0
        job_engine.clock.advance(timedelta(minutes=5))
        assert await runner.drain() == 1
        assert seen == [("later", 1)]

    async def test_higher_priority_runs_first(self, job_engine: JobEngine) -> None:
        seen: Record = []
        runner = _runner(job_engine, _registry(_recording(seen)), concurrency=1)
        await _enqueue(job_engine, "low", priority=-5)
        await _enqueue(job_engine, "normal")
        await _enqueue(job_engine, "urgent", priority=50)

        await runner.drain()
        assert [text for text, _ in seen] == ["urgent", "normal", "low"]

    async def test_a_worker_takes_only_its_queues(self, job_engine: JobEngine) -> None:
        seen: Record = []
        runner = _runner(job_engine, _registry(_recording(seen)), queues=["mail"])
        await _enqueue(job_engine, "elsewhere")
        await _enqueue(job_engine, "mine", queue="mail")

        await runner.drain()
        assert seen == [("mine", 1)]

    async def test_failures_retry_with_backoff_then_succeed(self, job_engine: JobEngine) -> None:
        seen: Record = []
        runner = _runner(job_engine, _registry(_recording(seen, fail_first=2)))
        job = await _enqueue(job_engine, "flaky")

        assert await runner.drain() == 1
        waiting = await _get(job_engine, job.id)
        assert waiting.state is JobState.QUEUED
        assert waiting.last_error == "RuntimeError: failure 1"
        wait = waiting.run_at - job_engine.clock.now()
        assert timedelta(seconds=5) <= wait <= timedelta(seconds=10)  # base 10 s, jittered
        assert await runner.drain() == 0  # not before its time

        job_engine.clock.advance(timedelta(seconds=10))
        await runner.drain()
        second = await _get(job_engine, job.id)
        assert (
            timedelta(seconds=10) <= second.run_at - job_engine.clock.now() <= timedelta(seconds=20)
        )
        job_engine.clock.advance(timedelta(seconds=20))
        await runner.drain()

        assert seen == [("flaky", 1), ("flaky", 2), ("flaky", 3)]
        done = await _get(job_engine, job.id)
        assert done.state is JobState.SUCCEEDED
        assert [a.outcome for a in done.history] == ["failed", "failed", "succeeded"]

    async def test_spent_attempts_dead_letter_the_job_with_its_history(
        self, job_engine: JobEngine
    ) -> None:
        seen: Record = []
        runner = _runner(job_engine, _registry(_recording(seen, fail_first=99)))
        job = await _enqueue(job_engine, "doomed")

        for _ in range(5):
            await runner.drain()
            job_engine.clock.advance(timedelta(minutes=1))

        dead = await _get(job_engine, job.id)
        assert dead.state is JobState.DEAD
        assert dead.attempts == 3
        assert dead.last_error == "RuntimeError: failure 3"
        assert [(a.number, a.error) for a in dead.history] == [
            (1, "RuntimeError: failure 1"),
            (2, "RuntimeError: failure 2"),
            (3, "RuntimeError: failure 3"),
        ]
        assert dead.finished_at is not None
        assert len(seen) == 3

    async def test_a_permanent_error_dead_letters_at_once(self, job_engine: JobEngine) -> None:
        async def refuse(payload: Note, context: JobContext) -> None:
            raise PermanentJobError("the account is gone")

        job = await _enqueue(job_engine)
        await _runner(job_engine, _registry(refuse)).drain()

        dead = await _get(job_engine, job.id)
        assert dead.state is JobState.DEAD
        assert dead.attempts == 1
        assert dead.last_error is not None
        assert "the account is gone" in dead.last_error

    async def test_a_payload_that_no_longer_decodes_is_dead_lettered(
        self, job_engine: JobEngine
    ) -> None:
        seen: Record = []
        registry = JobRegistry()
        registry.register(JobType("contracts.note", Other), _recording(seen))  # type: ignore[arg-type]
        job = await _enqueue(job_engine, "text, not a number")

        await _runner(job_engine, registry).drain()

        dead = await _get(job_engine, job.id)
        assert dead.state is JobState.DEAD
        assert dead.last_error is not None
        assert "no longer decodes" in dead.last_error
        assert seen == []

    async def test_a_job_without_a_handler_is_dead_lettered(self, job_engine: JobEngine) -> None:
        async with job_engine.open_queue() as queue:
            job = await queue.enqueue(OTHER, Other(7))
        await _runner(job_engine, _registry(_recording([]))).drain()

        dead = await _get(job_engine, job.id)
        assert dead.state is JobState.DEAD
        assert dead.last_error is not None
        assert "no handler" in dead.last_error

    async def test_a_timeout_fails_the_attempt(self, job_engine: JobEngine) -> None:
        async def stuck(payload: Note, context: JobContext) -> None:
            await asyncio.sleep(30)

        job = await _enqueue(job_engine, timeout=0.05)
        await _runner(job_engine, _registry(stuck)).drain()

        after = await _get(job_engine, job.id)
        assert after.state is JobState.QUEUED
        assert after.attempts == 1
        assert after.last_error == "timed out after 0.05s"
        assert after.history[-1].outcome == "timed_out"

    # -- crashes, leases, cancellation, shutdown -----------------------------------------

    async def test_a_lost_worker_s_job_is_recovered_after_its_lease(
        self, job_engine: JobEngine
    ) -> None:
        seen: Record = []
        registry = _registry(_recording(seen))
        crashed = _runner(job_engine, registry, worker="crashed")
        survivor = _runner(job_engine, registry, worker="survivor")
        job = await _enqueue(job_engine, "orphan")

        assert [j.id for j in await crashed.claim()] == [job.id]  # claimed, never run
        assert await survivor.recover() == 0  # the lease still holds
        assert await survivor.drain() == 0

        job_engine.clock.advance(LEASE + timedelta(seconds=1))
        assert await survivor.recover() == 1
        job_engine.clock.advance(timedelta(minutes=1))  # past the retry delay
        assert await survivor.drain() == 1

        done = await _get(job_engine, job.id)
        assert done.state is JobState.SUCCEEDED
        assert seen == [("orphan", 2)]
        assert [a.outcome for a in done.history] == ["lost", "succeeded"]
        assert done.history[0].worker == "crashed"

    async def test_a_heartbeat_keeps_the_lease(self, job_engine: JobEngine) -> None:
        started, release = asyncio.Event(), asyncio.Event()

        async def slow(payload: Note, context: JobContext) -> None:
            started.set()
            await release.wait()

        worker = _runner(job_engine, _registry(slow), worker="busy")
        other = _runner(job_engine, _registry(slow), worker="other")
        job = await _enqueue(job_engine)
        task = worker.start((await worker.claim())[0])
        await started.wait()

        job_engine.clock.advance(LEASE - timedelta(seconds=5))
        await worker.heartbeat()
        job_engine.clock.advance(timedelta(seconds=10))  # past the first lease
        assert await other.recover() == 0

        release.set()
        await task
        assert (await _get(job_engine, job.id)).state is JobState.SUCCEEDED

    async def test_a_late_worker_cannot_settle_a_recovered_job(self, job_engine: JobEngine) -> None:
        started, release = asyncio.Event(), asyncio.Event()

        async def slow(payload: Note, context: JobContext) -> None:
            started.set()
            await release.wait()

        stalled = _runner(job_engine, _registry(slow), worker="stalled")
        other = _runner(job_engine, _registry(_recording([])), worker="other")
        job = await _enqueue(job_engine)
        task = stalled.start((await stalled.claim())[0])
        await started.wait()
        job_engine.clock.advance(LEASE + timedelta(seconds=1))
        assert await other.recover() == 1

        release.set()
        await task  # its success is not recorded: the job was taken from it
        after = await _get(job_engine, job.id)
        assert after.state is JobState.QUEUED
        assert after.history[-1].outcome == "lost"

    async def test_cancel_stops_a_queued_job_and_a_running_one(self, job_engine: JobEngine) -> None:
        started = asyncio.Event()

        async def forever(payload: Note, context: JobContext) -> None:
            started.set()
            await asyncio.sleep(60)

        runner = _runner(job_engine, _registry(forever))
        waiting = await _enqueue(job_engine, "waiting", delay=timedelta(hours=1))
        running = await _enqueue(job_engine, "running")
        task = runner.start((await runner.claim())[0])
        await started.wait()

        async with job_engine.open_store() as store:
            assert (await store.cancel(waiting.id, job_engine.clock.now())).state is (  # type: ignore[union-attr]
                JobState.CANCELLED
            )
            assert (await store.cancel(running.id, job_engine.clock.now())).state is (  # type: ignore[union-attr]
                JobState.CANCELLED
            )
        await runner.heartbeat()  # sees the cancel and stops the handler
        await asyncio.wait_for(task, timeout=5)

        job_engine.clock.advance(timedelta(hours=2))
        assert await runner.drain() == 0
        assert (await _get(job_engine, running.id)).state is JobState.CANCELLED
        async with job_engine.open_store() as store:
            assert await store.cancel("job_unknown", job_engine.clock.now()) is None

    async def test_shutdown_releases_running_jobs_without_counting_the_attempt(
        self, job_engine: JobEngine
    ) -> None:
        started = asyncio.Event()

        async def long(payload: Note, context: JobContext) -> None:
            started.set()
            await asyncio.sleep(60)

        runner = _runner(job_engine, _registry(long), grace=0.05, poll_interval=0.01)
        job = await _enqueue(job_engine)
        stop = asyncio.Event()
        loop = asyncio.create_task(runner.run_forever(stop))
        await asyncio.wait_for(started.wait(), timeout=5)
        stop.set()
        await asyncio.wait_for(loop, timeout=5)

        after = await _get(job_engine, job.id)
        assert after.state is JobState.QUEUED
        assert after.attempts == 0
        assert after.history[-1].outcome == "released"

    async def test_graceful_shutdown_lets_a_short_job_finish(self, job_engine: JobEngine) -> None:
        started = asyncio.Event()

        async def short(payload: Note, context: JobContext) -> None:
            started.set()
            await asyncio.sleep(0.05)

        runner = _runner(job_engine, _registry(short), grace=5, poll_interval=0.01)
        job = await _enqueue(job_engine)
        stop = asyncio.Event()
        loop = asyncio.create_task(runner.run_forever(stop))
        await asyncio.wait_for(started.wait(), timeout=5)
        stop.set()
        await asyncio.wait_for(loop, timeout=5)

        assert (await _get(job_engine, job.id)).state is JobState.SUCCEEDED

    # -- concurrency -------------------------------------------------------------------

    async def test_a_concurrency_key_limits_running_jobs(self, job_engine: JobEngine) -> None:
        first = _runner(job_engine, _registry(_recording([])), worker="a", concurrency=10)
        second = _runner(job_engine, _registry(_recording([])), worker="b", concurrency=10)
        for n in range(3):
            await _enqueue(job_engine, f"ws1-{n}", concurrency_key="ws_1", concurrency_limit=2)
        await _enqueue(job_engine, "ws2", concurrency_key="ws_2", concurrency_limit=2)

        taken = [job.concurrency_key for job in await first.claim()]
        taken += [job.concurrency_key for job in await second.claim()]
        assert sorted(taken, key=str) == ["ws_1", "ws_1", "ws_2"]  # the third ws_1 waits

    async def test_a_free_slot_lets_the_next_job_of_a_key_run(self, job_engine: JobEngine) -> None:
        seen: Record = []
        runner = _runner(job_engine, _registry(_recording(seen)), concurrency=10)
        for n in range(3):
            await _enqueue(job_engine, str(n), concurrency_key="ws_1")

        assert await runner.run_once() == 1
        assert await runner.run_once() == 1
        assert await runner.drain() == 1
        assert [text for text, _ in seen] == ["0", "1", "2"]

    # -- operating -----------------------------------------------------------------------

    async def test_dead_jobs_can_be_retried_and_replayed_in_bulk(
        self, job_engine: JobEngine
    ) -> None:
        failing = True

        async def sometimes(payload: Note, context: JobContext) -> None:
            if failing:
                raise PermanentJobError("not yet")

        runner = _runner(job_engine, _registry(sometimes))
        jobs = [await _enqueue(job_engine, str(n)) for n in range(3)]
        await runner.drain()
        failing = False
        now = job_engine.clock.now()

        async with job_engine.open_store() as store:
            one = await store.requeue(jobs[0].id, now)
            assert one is not None
            assert one.state is JobState.QUEUED
            assert one.attempts == 0
            assert await store.requeue_matching(JobFilter(state=JobState.DEAD), now) == 2
            assert await store.requeue_matching(JobFilter(state=JobState.DEAD), now) == 0
        assert await runner.drain() == 3

        for job in jobs:
            done = await _get(job_engine, job.id)
            assert done.state is JobState.SUCCEEDED
            assert [a.outcome for a in done.history] == ["failed", "succeeded"]

    async def test_only_dead_or_cancelled_jobs_are_requeued(self, job_engine: JobEngine) -> None:
        job = await _enqueue(job_engine)
        async with job_engine.open_store() as store:
            same = await store.requeue(job.id, job_engine.clock.now())
            assert same is not None
            assert same.state is JobState.QUEUED
            assert await store.requeue("job_unknown", job_engine.clock.now()) is None

    async def test_stats_describe_each_queue(self, job_engine: JobEngine) -> None:
        async def refuse(payload: Note, context: JobContext) -> None:
            raise PermanentJobError("no")

        runner = _runner(job_engine, _registry(refuse), queues=["bad"])
        await _enqueue(job_engine, "a")
        job_engine.clock.advance(timedelta(seconds=30))
        await _enqueue(job_engine, "b")
        await _enqueue(job_engine, "later", delay=timedelta(hours=1))
        await _enqueue(job_engine, "x", queue="bad")
        await runner.drain()

        async with job_engine.open_store() as store:
            stats = {s.queue: s for s in await store.stats(job_engine.clock.now())}
        assert stats["default"].waiting == 2
        assert stats["default"].scheduled == 1
        assert stats["default"].oldest_waiting_seconds == pytest.approx(30, abs=1)
        assert stats["bad"].dead == 1
        assert stats["bad"].failed_last_hour == 1
        assert stats["bad"].waiting == 0

    async def test_prune_removes_only_old_finished_jobs(self, job_engine: JobEngine) -> None:
        async def maybe(payload: Note, context: JobContext) -> None:
            if payload.text == "dead":
                raise PermanentJobError("no")

        runner = _runner(job_engine, _registry(maybe))
        done = await _enqueue(job_engine, "done")
        dead = await _enqueue(job_engine, "dead")
        waiting = await _enqueue(job_engine, "waiting", delay=timedelta(days=30))
        await runner.drain()
        job_engine.clock.advance(timedelta(days=8))
        now = job_engine.clock.now()

        async with job_engine.open_store() as store:
            assert await store.prune(now - timedelta(days=7), now - timedelta(days=30)) == 1
            assert await store.get(done.id) is None
            assert await store.get(dead.id) is not None
            assert await store.get(waiting.id) is not None
            assert await store.prune(now, now) == 1
            assert await store.get(dead.id) is None

    async def test_an_engine_keeps_a_job_added_twice_once(self, job_engine: JobEngine) -> None:
        now = job_engine.clock.now()
        request = make_request(NOTE, Note("x"), job_id="job_0000000000000000000000000a", run_at=now)
        async with job_engine.open_store() as store:
            _, created = await store.add(request, now)
            again, created_again = await store.add(request, now)
        assert (created, created_again) == (True, False)
        assert again.id == request.id

    # -- schedules -----------------------------------------------------------------------

    async def test_schedules_enqueue_each_tick_once_across_workers(
        self, job_engine: JobEngine
    ) -> None:
        schedules = [
            Schedule("contracts.every_minute", NOTE, Note("tick"), every=timedelta(minutes=1)),
            Schedule(
                "contracts.nightly", NOTE, Note("night"), cron="0 3 * * *", timezone="Europe/Berlin"
            ),
        ]
        schedulers = [
            Scheduler(
                schedules,
                cron=job_engine.cron(),
                open_queue=job_engine.open_queue,
                clock=job_engine.clock,
            )
            for _ in range(3)
        ]
        job_engine.clock.set(
            job_engine.clock.now().replace(hour=2, minute=30, second=10)
        )  # 03:30 Berlin (winter)
        for scheduler in schedulers:
            await scheduler.tick()
        job_engine.clock.advance(timedelta(seconds=30))
        for scheduler in schedulers:
            await scheduler.tick()  # same minute: nothing new
        job_engine.clock.advance(timedelta(seconds=30))
        for scheduler in schedulers:
            await scheduler.tick()

        async with job_engine.open_store() as store:
            jobs = await store.list(JobFilter(name=NOTE.name))
        keys = sorted(job.idempotency_key or "" for job in jobs)
        assert keys == [
            "schedule:contracts.every_minute:2030-01-01T02:30:00+00:00",
            "schedule:contracts.every_minute:2030-01-01T02:31:00+00:00",
            "schedule:contracts.nightly:2030-01-01T02:00:00+00:00",
        ]
