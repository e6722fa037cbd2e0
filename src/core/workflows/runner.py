"""The job runner: claims due jobs from an engine and runs their handlers.

The runner owns what happens to a job; the engine (``JobStore``) only stores it, so the
SQL queue, SAQ and the fake behave the same:

- an attempt holds a lease that a heartbeat extends; a worker that dies (SIGKILL)
  stops extending it, and once it has passed any worker's recovery pass counts the
  attempt as lost and queues the job again (or dead-letters it);
- a handler that raises, or runs past its timeout, fails the attempt; the job waits
  ``RetryPolicy.delay`` and is tried again, until its attempts are spent and it is
  dead-lettered with its last error and its attempt history;
- a payload that no longer decodes, or a job no handler is registered for, is
  dead-lettered at once with the reason, never retried in a loop;
- stopping is graceful: no new claims, running jobs get ``grace`` seconds to finish,
  and those still running are released (queued again, the attempt not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

import msgspec

from core.kernel import Clock
from core.workflows.errors import PermanentJobError, RetryJobLaterError
from core.workflows.jobs import JobContext, JobHandler, JobMetrics, JobRegistry
from core.workflows.model import Job, JobState, Outcome, Settlement
from core.workflows.ports import JobStore
from core.workflows.waiting import first_of

logger = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 2000
MAX_PASS_BACKOFF_SECONDS = 60.0

OpenJobStore = Callable[[], AbstractAsyncContextManager[JobStore]]


def worker_name() -> str:
    """A name unique to this worker: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class _Running:
    __slots__ = ("job", "stop_reason", "task")

    def __init__(self, job: Job, task: asyncio.Task[None]) -> None:
        self.job = job
        self.task = task
        self.stop_reason: str | None = None  # "cancelled" (by staff) or "shutdown"


class JobRunner:
    """Runs jobs of ``queues`` (all when ``None``), at most ``concurrency`` at a time."""

    def __init__(
        self,
        *,
        registry: JobRegistry,
        open_store: OpenJobStore,
        clock: Clock,
        queues: Sequence[str] | None = None,
        concurrency: int = 4,
        lease: timedelta = timedelta(seconds=30),
        heartbeat_every: float = 10.0,
        poll_interval: float = 1.0,
        grace: float = 10.0,
        worker: str | None = None,
        wakeup: asyncio.Event | None = None,
        metrics: JobMetrics | None = None,
        rand: random.Random | None = None,
        paused: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency is at least 1")
        self._registry = registry
        self._open_store = open_store
        self._clock = clock
        self._queues = tuple(queues) if queues else None
        self._concurrency = concurrency
        self._lease = lease
        self._heartbeat_every = heartbeat_every
        self._poll_interval = poll_interval
        self._grace = grace
        self.worker = worker or worker_name()
        self._wake = wakeup or asyncio.Event()
        self.metrics = metrics or JobMetrics()
        self._rand = rand or random.Random()  # noqa: S311 - retry jitter, not a secret
        # Queues not to claim from for now (kill switches): their jobs wait, due.
        self._paused = paused
        self._running: dict[str, _Running] = {}
        self._slot_freed = asyncio.Event()

    @property
    def running(self) -> int:
        return len(self._running)

    def wake(self) -> None:
        """Look for due jobs now (called after a commit that enqueued one)."""
        self._wake.set()

    # -- one step at a time (tests and the bench drive these directly) ---------------

    async def claim(self, limit: int | None = None) -> list[Job]:
        free = self._concurrency - len(self._running)
        limit = free if limit is None else min(limit, free)
        if limit <= 0:
            return []
        queues = self._queues
        paused = self._paused() if self._paused is not None else frozenset()
        if paused:
            base = queues if queues is not None else self._registry.queues()
            queues = tuple(queue for queue in base if queue not in paused)
            if not queues:
                return []
        now = self._clock.now()
        async with self._open_store() as store:
            jobs = await store.claim(queues, limit, now, now + self._lease, self.worker)
        for job in jobs:
            self.metrics.count(job.queue, "started")
        return list(jobs)

    def start(self, job: Job) -> asyncio.Task[None]:
        """Run a claimed job in a task of its own."""
        task = asyncio.create_task(self._execute(job), name=f"job:{job.name}:{job.id}")
        self._running[job.id] = _Running(job, task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        for job_id, running in list(self._running.items()):
            if running.task is task:
                del self._running[job_id]
        self._slot_freed.set()

    async def run_once(self) -> int:
        """Claim what is due (up to the free slots), run it to the end; returns how many
        jobs were run."""
        jobs = await self.claim()
        if jobs:
            await asyncio.gather(*(self.start(job) for job in jobs))
        return len(jobs)

    async def drain(self, max_jobs: int = 100_000) -> int:
        """Run due jobs until none is left (or ``max_jobs`` ran); returns the count."""
        total = 0
        while total < max_jobs and (count := await self.run_once()):
            total += count
        return total

    async def heartbeat(self) -> None:
        """Extend the leases of running jobs; stop those that were cancelled or taken
        away (recovered by another worker after a stall)."""
        if not self._running:
            return
        held = [(r.job.id, r.job.attempts) for r in self._running.values()]
        now = self._clock.now()
        async with self._open_store() as store:
            still_held = await store.extend(held, self.worker, now + self._lease)
        for job_id, _attempt in held:
            running = self._running.get(job_id)
            if job_id not in still_held and running is not None and not running.task.done():
                logger.warning("job %s is no longer held by this worker; stopping it", job_id)
                running.stop_reason = "cancelled"
                running.task.cancel()

    async def recover(self, limit: int = 100) -> int:
        """Settle jobs whose worker's lease passed (it died or stalled): the attempt
        counts as lost. Returns how many were recovered."""
        now = self._clock.now()
        async with self._open_store() as store:
            expired = await store.expired(now, limit)
        recovered = 0
        for job in expired:
            error = f"worker {job.worker} stopped renewing its lease (crashed or stalled)"
            settlement = self._failure(job, Outcome.LOST, error, now, worker=job.worker or "")
            async with self._open_store() as store:
                if await store.settle(settlement, job):
                    recovered += 1
                    logger.warning("recovered job %s (%s) from %s", job.id, job.name, job.worker)
        return recovered

    # -- running for real ------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Claim and run jobs until ``stop`` is set, then stop gracefully."""
        stop = stop or asyncio.Event()
        keeper = asyncio.create_task(self._keep_leases(stop), name="jobs.heartbeat")
        failures = 0
        try:
            while not stop.is_set():
                wait = self._poll_interval
                try:
                    claimed = await self.claim()
                    for job in claimed:
                        self.start(job)
                    failures = 0
                    if claimed and len(self._running) < self._concurrency:
                        continue  # there may be more due: look again at once
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    wait = min(self._poll_interval * 2**failures, MAX_PASS_BACKOFF_SECONDS)
                    logger.warning("job claim failed (%r); next try in %.0fs", exc, wait)
                self._wake.clear()
                self._slot_freed.clear()
                waiters: tuple[asyncio.Event, ...] = (stop, self._slot_freed)
                if len(self._running) < self._concurrency:
                    waiters = (*waiters, self._wake)
                await first_of(*waiters, at_most=wait)
        finally:
            await self._shutdown()
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep_leases(self, stop: asyncio.Event) -> None:
        """Heartbeat running jobs, and recover other workers' lost ones."""
        while True:
            for step in (self.heartbeat, self.recover):
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    logger.warning("job lease upkeep failed: %r", exc)
            await asyncio.sleep(self._heartbeat_every)

    async def _shutdown(self) -> None:
        if not self._running:
            return
        tasks = [r.task for r in self._running.values()]
        logger.info("waiting up to %.0fs for %d running jobs", self._grace, len(tasks))
        _, busy = await asyncio.wait(tasks, timeout=self._grace)
        for running in list(self._running.values()):
            if running.task in busy:
                running.stop_reason = "shutdown"
                running.task.cancel()
        await asyncio.gather(*busy, return_exceptions=True)

    # -- one job ---------------------------------------------------------------------

    async def _execute(self, job: Job) -> None:
        started = self._clock.now()
        settlement = await self._attempt(job, started)
        if settlement is None:
            return
        try:
            async with self._open_store() as store:
                applied = await store.settle(settlement, job)
        except Exception:
            # The lease runs out and recovery counts the attempt as lost: at least once.
            logger.exception("could not record the outcome of job %s", job.id)
            return
        if not applied:
            logger.warning("job %s was taken from this worker before it finished", job.id)
            return
        self._count(job, settlement, started)

    async def _attempt(self, job: Job, started: datetime) -> Settlement | None:
        prepared = self._prepare(job)
        if isinstance(prepared, Settlement):
            return prepared
        handler, payload, context = prepared
        try:
            async with asyncio.timeout(job.timeout):
                await handler(payload, context)
        except TimeoutError:
            error = f"timed out after {job.timeout:g}s"
            return self._failure(job, Outcome.TIMED_OUT, error, self._clock.now())
        except asyncio.CancelledError:
            if (running := self._running.get(job.id)) is None or running.stop_reason is None:
                raise  # not ours: the event loop itself is going away
            return self._interrupted(job, running.stop_reason)
        except PermanentJobError as exc:
            return self._dead(job, _describe(exc))
        except Exception as exc:
            logger.warning("job %s (%s) attempt %d failed: %r", job.id, job.name, job.attempts, exc)
            at_least = exc.delay if isinstance(exc, RetryJobLaterError) else None
            now = self._clock.now()
            return self._failure(job, Outcome.FAILED, _describe(exc), now, at_least=at_least)
        return self._settlement(job, Outcome.SUCCEEDED, JobState.SUCCEEDED)

    def _prepare(self, job: Job) -> tuple[JobHandler, msgspec.Struct, JobContext] | Settlement:
        """The handler, decoded payload and context; or, when the job can never run
        here, its dead-letter settlement."""
        registered = self._registry.get(job.name)
        if registered is None:
            return self._dead(job, f"no handler is registered for job {job.name!r}")
        job_type, handler = registered
        try:
            payload = msgspec.json.decode(job.payload, type=job_type.payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            reason = f"the payload no longer decodes as {job_type.payload.__name__}: {exc}"
            return self._dead(job, reason)
        context = JobContext(
            job_id=job.id,
            name=job.name,
            queue=job.queue,
            attempt=job.attempts,
            max_attempts=job.retry.max_attempts,
            workspace_id=job.workspace_id,
            scheduled_for=job.run_at,
        )
        return handler, payload, context

    def _interrupted(self, job: Job, reason: str) -> Settlement | None:
        """The job's task was cancelled: by a cancel seen at a heartbeat (the store says
        so already), or by a shutdown (the job is released, the attempt not counted)."""
        if reason == "cancelled":
            return None
        now = self._clock.now()
        return self._settlement(job, Outcome.RELEASED, JobState.QUEUED, retry_at=now)

    def _settlement(
        self,
        job: Job,
        outcome: Outcome,
        state: JobState,
        *,
        retry_at: datetime | None = None,
        error: str | None = None,
        worker: str | None = None,
    ) -> Settlement:
        return Settlement(
            job_id=job.id,
            worker=worker or self.worker,
            attempt=job.attempts,
            outcome=outcome,
            at=self._clock.now(),
            state=state,
            retry_at=retry_at,
            error=None if error is None else error[:ERROR_MAX_LENGTH],
        )

    def _dead(self, job: Job, reason: str) -> Settlement:
        logger.error("job %s (%s) dead-lettered: %s", job.id, job.name, reason)
        return self._settlement(job, Outcome.FAILED, JobState.DEAD, error=reason)

    def _failure(
        self,
        job: Job,
        outcome: Outcome,
        error: str,
        now: datetime,
        *,
        worker: str | None = None,
        at_least: timedelta | None = None,
    ) -> Settlement:
        if job.attempts >= job.retry.max_attempts:
            logger.error(
                "job %s (%s) dead-lettered after %d attempts: %s",
                job.id, job.name, job.attempts, error,
            )  # fmt: skip
            return self._settlement(job, outcome, JobState.DEAD, error=error, worker=worker)
        retry_at = now + max(job.retry.delay(job.attempts, self._rand), at_least or timedelta(0))
        return self._settlement(
            job, outcome, JobState.QUEUED, retry_at=retry_at, error=error, worker=worker
        )

    def _count(self, job: Job, settlement: Settlement, started: datetime) -> None:
        queue = job.queue
        if settlement.outcome is Outcome.RELEASED:
            self.metrics.count(queue, "released")
            return
        if settlement.state is JobState.SUCCEEDED:
            self.metrics.count(queue, "succeeded")
        else:
            self.metrics.count(queue, "failed")
            if settlement.state is JobState.DEAD:
                self.metrics.count(queue, "dead")
        self.metrics.observe(
            queue,
            waited=(started - job.run_at).total_seconds(),
            ran=(settlement.at - started).total_seconds(),
        )


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if str(exc) else type(exc).__name__
