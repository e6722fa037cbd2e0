"""What the workflows system keeps: outbox messages and durable jobs."""

from __future__ import annotations

import enum
import random
from datetime import datetime, timedelta

import msgspec


class OutboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A domain event stored with the transaction that raised it, awaiting delivery."""

    id: str
    name: str
    payload: bytes
    occurred_at: datetime
    workspace_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    published_at: datetime | None = None


class JobState(enum.StrEnum):
    """Where a job is in its life.

    ``queued`` (waiting for its ``run_at``, or a retry) → ``running`` → ``succeeded``, or
    back to ``queued`` after a failed attempt, or ``dead`` once its attempts are spent
    (or its payload no longer decodes). ``cancelled`` is set by staff or the caller.
    ``dead`` and ``cancelled`` jobs can be retried, which queues them again.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"


FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})
RETRYABLE_STATES = frozenset({JobState.DEAD, JobState.CANCELLED})


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often a job is tried and how long it waits between tries.

    The wait before attempt ``n + 1`` is ``base * 2^(n-1)``, at most ``max_delay``, with
    "full jitter": a uniformly random fraction of it, at least half (so retries of many
    jobs that failed together spread out, and none comes back at once).
    """

    max_attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 3600.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("a job is tried at least once: max_attempts >= 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("retry delays: 0 <= base_delay <= max_delay")

    def delay(self, attempt: int, rand: random.Random | None = None) -> timedelta:
        """How long to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.base_delay * 2 ** max(attempt - 1, 0), self.max_delay)
        if self.jitter and ceiling > 0:
            ceiling = (rand or random).uniform(ceiling / 2, ceiling)
        return timedelta(seconds=ceiling)


DEFAULT_RETRY = RetryPolicy()
DEFAULT_QUEUE = "default"
DEFAULT_TIMEOUT = 300.0
DEFAULT_PRIORITY = 0


class JobRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an engine needs to store a new job. Built by ``JobQueue.enqueue``."""

    id: str
    name: str
    payload: bytes
    queue: str = DEFAULT_QUEUE
    priority: int = DEFAULT_PRIORITY
    run_at: datetime
    idempotency_key: str | None = None
    concurrency_key: str | None = None
    concurrency_limit: int = 1
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = DEFAULT_RETRY
    workspace_id: str | None = None


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One try of a job: when, by which worker, and how it ended."""

    number: int
    started_at: datetime
    worker: str
    finished_at: datetime | None = None
    outcome: str | None = None  # succeeded | failed | timed_out | lost | released
    error: str | None = None


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A unit of work that runs outside the request, at least once."""

    id: str
    name: str
    payload: bytes
    queue: str
    state: JobState
    priority: int
    run_at: datetime
    created_at: datetime
    attempts: int
    retry: RetryPolicy
    timeout: float
    idempotency_key: str | None = None
    concurrency_key: str | None = None
    concurrency_limit: int = 1
    workspace_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_until: datetime | None = None
    worker: str | None = None
    last_error: str | None = None
    history: tuple[Attempt, ...] = ()

    @property
    def attempts_left(self) -> int:
        return max(self.retry.max_attempts - self.attempts, 0)


class JobFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which jobs to list or replay. ``after`` is the cursor: the last id seen."""

    state: JobState | None = None
    queue: str | None = None
    name: str | None = None
    after: str | None = None
    limit: int = 50


class QueueStats(msgspec.Struct, frozen=True, kw_only=True):
    """A queue at a glance, for the admin view and metrics."""

    queue: str
    waiting: int = 0  # queued and due now
    scheduled: int = 0  # queued for later (delayed or waiting to retry)
    running: int = 0
    dead: int = 0
    oldest_waiting_seconds: float | None = None
    failed_last_hour: int = 0
    succeeded_last_hour: int = 0


class Outcome(enum.StrEnum):
    """How an attempt ended, as the runner tells the engine."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    LOST = "lost"  # the worker died; found by recovery after the lease passed
    RELEASED = "released"  # handed back by a worker shutting down: not counted


class Settlement(msgspec.Struct, frozen=True, kw_only=True):
    """What becomes of a job after an attempt: decided by the runner, stored by the
    engine only if this worker still holds the job."""

    job_id: str
    worker: str
    attempt: int  # the attempt being settled: a stale settlement changes nothing
    outcome: Outcome
    at: datetime
    state: JobState  # succeeded, queued (retry or released) or dead
    retry_at: datetime | None = None
    error: str | None = None
