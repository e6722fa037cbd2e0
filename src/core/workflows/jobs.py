"""Durable jobs: declaring them, registering handlers, and enqueueing them.

A job type is declared next to the code that enqueues it (a name, a msgspec payload
type and defaults). The composition root registers a handler for it in every process
that runs a worker. Enqueueing happens inside the caller's unit of work: a job enqueued
by a transaction that rolls back never runs, and one enqueued by a transaction that
commits always does.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from core.kernel import Clock, DomainEvent, IdGenerator, UnitOfWork
from core.workflows.errors import (
    DuplicateJobTypeError,
    InvalidJobOptionsError,
)
from core.workflows.model import (
    DEFAULT_PRIORITY,
    DEFAULT_QUEUE,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    Job,
    JobRequest,
    JobState,
    RetryPolicy,
)
from core.workflows.ports import JobStore

P = TypeVar("P", bound=msgspec.Struct)

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_QUEUE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
MAX_KEY_LENGTH = 200
QUEUE_KEY_PREFIX = "queue:"  # concurrency keys of queue limits; reserved
MAX_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class JobType(Generic[P]):
    """A kind of job: its stable name (``<system>.<what_it_does>``), its payload type
    and the defaults each enqueue may override."""

    name: str
    payload: type[P]
    queue: str = DEFAULT_QUEUE
    priority: int = DEFAULT_PRIORITY
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = DEFAULT_RETRY
    concurrency_limit: int = 1

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"job names look like 'system.do_something': {self.name!r}")
        _check_options(
            queue=self.queue,
            priority=self.priority,
            timeout=self.timeout,
            concurrency_limit=self.concurrency_limit,
        )


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler knows about the run it is in. ``attempt`` starts at 1; a handler
    must be idempotent, since an attempt may be repeated after a crash."""

    job_id: str
    name: str
    queue: str
    attempt: int
    max_attempts: int
    workspace_id: str | None
    scheduled_for: datetime

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


JobHandler = Callable[[Any, JobContext], Awaitable[None]]


class JobRegistry:
    """Which handler runs which job type, by name. One per process."""

    def __init__(self) -> None:
        self._types: dict[str, JobType[Any]] = {}
        self._handlers: dict[str, JobHandler] = {}

    def register(
        self, job_type: JobType[P], handler: Callable[[P, JobContext], Awaitable[None]]
    ) -> None:
        if job_type.name in self._handlers:
            raise DuplicateJobTypeError(f"a handler for {job_type.name!r} is registered already")
        self._types[job_type.name] = job_type
        self._handlers[job_type.name] = handler

    def get(self, name: str) -> tuple[JobType[Any], JobHandler] | None:
        handler = self._handlers.get(name)
        return None if handler is None else (self._types[name], handler)

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def queues(self) -> list[str]:
        """The queues of the registered job types."""
        return sorted({job_type.queue for job_type in self._types.values()})


class JobRequested(DomainEvent, frozen=True, kw_only=True):
    """A job enqueued in a transaction, for an engine outside the database (SAQ): the
    outbox carries it to the engine once the transaction has committed."""

    name: ClassVar[str] = "workflows.job_requested"

    request: JobRequest


def _check_options(*, queue: str, priority: int, timeout: float, concurrency_limit: int) -> None:
    if not _QUEUE.match(queue):
        raise InvalidJobOptionsError(
            f"queue names are 1-40 lowercase letters, digits, '-' or '_': {queue!r}"
        )
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidJobOptionsError(f"priority is between -{MAX_PRIORITY} and {MAX_PRIORITY}")
    if not 0 < timeout <= 24 * 3600:
        raise InvalidJobOptionsError("timeout is more than 0 and at most 24 hours (in seconds)")
    if concurrency_limit < 1:
        raise InvalidJobOptionsError("concurrency_limit is at least 1")


class JobQueue:
    """Enqueues jobs within one unit of work.

    With an engine in the application's database (``store_in_transaction``), the job row
    is written in the caller's transaction. With an engine elsewhere (SAQ), the request
    goes into the outbox with the transaction, and the relay hands it to the engine
    after the commit: either way, the job exists exactly when the transaction commits.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        store: JobStore,
        store_in_transaction: bool,
        clock: Clock,
        ids: IdGenerator,
        on_enqueued: Callable[[JobRequest], None] | None = None,
        wake: Callable[[], None] | None = None,
        queue_limits: Mapping[str, int] | None = None,
    ) -> None:
        self._queue_limits = dict(queue_limits or {})
        self._uow = uow
        self._store = store
        self._in_transaction = store_in_transaction
        self._clock = clock
        self._ids = ids
        self._on_enqueued = on_enqueued
        self._wake = wake

    async def enqueue(
        self,
        job_type: JobType[P],
        payload: P,
        *,
        idempotency_key: str | None = None,
        delay: timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the job's time limit, not this call's
        retry: RetryPolicy | None = None,
        workspace_id: str | None = None,
    ) -> Job:
        """Enqueue a job; with an ``idempotency_key`` already used for this job type,
        enqueue nothing and return the existing job."""
        if not isinstance(payload, job_type.payload):
            raise InvalidJobOptionsError(
                f"{job_type.name} takes a {job_type.payload.__name__} payload"
            )
        if delay is not None and run_at is not None:
            raise InvalidJobOptionsError("give either delay or run_at, not both")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_LENGTH:
            raise InvalidJobOptionsError(f"idempotency keys are 1-{MAX_KEY_LENGTH} characters")
        if concurrency_key is not None and not 0 < len(concurrency_key) <= MAX_KEY_LENGTH:
            raise InvalidJobOptionsError(f"concurrency keys are 1-{MAX_KEY_LENGTH} characters")
        if concurrency_key is not None and concurrency_key.startswith(QUEUE_KEY_PREFIX):
            raise InvalidJobOptionsError(
                f"concurrency keys starting with {QUEUE_KEY_PREFIX!r} are the queues' own"
            )
        if run_at is not None and run_at.tzinfo is None:
            raise InvalidJobOptionsError("run_at must be timezone-aware")
        now = self._clock.now()
        request = make_request(
            job_type,
            payload,
            job_id=self._ids.new("job", now),
            run_at=run_at or (now + delay if delay else now),
            idempotency_key=idempotency_key,
            priority=priority,
            queue=queue,
            concurrency_key=concurrency_key,
            concurrency_limit=concurrency_limit,
            timeout=timeout,
            retry=retry,
            workspace_id=workspace_id,
            queue_limits=self._queue_limits,
        )
        if self._in_transaction:
            job, created = await self._store.add(request, now)
        else:
            existing = None
            if idempotency_key is not None:
                existing = await self._store.find(job_type.name, idempotency_key)
            if existing is not None:
                return existing
            self._uow.raise_event(JobRequested(occurred_at=now, request=request))
            job, created = pending_job(request, now), True
        if created:
            self._uow.after_commit(self._after_commit(request))
        return job

    def _after_commit(self, request: JobRequest) -> Callable[[], Awaitable[None]]:
        async def notify() -> None:
            if self._on_enqueued is not None:
                self._on_enqueued(request)
            if self._wake is not None:
                self._wake()

        return notify


def make_request(
    job_type: JobType[Any],
    payload: msgspec.Struct,
    *,
    job_id: str,
    run_at: datetime,
    idempotency_key: str | None = None,
    priority: int | None = None,
    queue: str | None = None,
    concurrency_key: str | None = None,
    concurrency_limit: int | None = None,
    timeout: float | None = None,
    retry: RetryPolicy | None = None,
    workspace_id: str | None = None,
    queue_limits: Mapping[str, int] | None = None,
) -> JobRequest:
    """A checked request for ``job_type``, its defaults filled in.

    A queue with a limit in ``queue_limits`` gives its jobs that have no concurrency key
    of their own the key ``queue:<name>`` with that limit: at most that many of them run
    at once, across every worker, on every engine."""
    queue = queue or job_type.queue
    if concurrency_key is None and queue_limits and queue in queue_limits:
        concurrency_key = f"{QUEUE_KEY_PREFIX}{queue}"
        concurrency_limit = queue_limits[queue]
    request = JobRequest(
        id=job_id,
        name=job_type.name,
        payload=msgspec.json.encode(payload),
        queue=queue,
        priority=job_type.priority if priority is None else priority,
        run_at=run_at,
        idempotency_key=idempotency_key,
        concurrency_key=concurrency_key,
        concurrency_limit=concurrency_limit or job_type.concurrency_limit,
        timeout=timeout or job_type.timeout,
        retry=retry or job_type.retry,
        workspace_id=workspace_id,
    )
    _check_options(
        queue=request.queue,
        priority=request.priority,
        timeout=request.timeout,
        concurrency_limit=request.concurrency_limit,
    )
    return request


def pending_job(request: JobRequest, now: datetime) -> Job:
    """The job a request becomes once stored: queued, no attempts yet."""
    return Job(
        id=request.id,
        name=request.name,
        payload=request.payload,
        queue=request.queue,
        state=JobState.QUEUED,
        priority=request.priority,
        run_at=request.run_at,
        created_at=now,
        attempts=0,
        retry=request.retry,
        timeout=request.timeout,
        idempotency_key=request.idempotency_key,
        concurrency_key=request.concurrency_key,
        concurrency_limit=request.concurrency_limit,
        workspace_id=request.workspace_id,
    )


class JobMetrics:
    """Per-queue counters of this process (enqueued, started, succeeded, failed, dead)
    and run latencies, for the observability system to export."""

    COUNTERS = ("enqueued", "started", "succeeded", "failed", "dead", "released")

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(self.COUNTERS, 0)
        )
        self._seconds: dict[str, dict[str, float]] = defaultdict(
            lambda: {"wait_total": 0.0, "run_total": 0.0, "run_max": 0.0}
        )

    def count(self, queue: str, what: str, by: int = 1) -> None:
        self._counts[queue][what] += by

    def observe(self, queue: str, *, waited: float, ran: float) -> None:
        seconds = self._seconds[queue]
        seconds["wait_total"] += max(waited, 0.0)
        seconds["run_total"] += ran
        seconds["run_max"] = max(seconds["run_max"], ran)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """``{queue: {counter: value, ..., wait_total, run_total, run_max}}``."""
        return {queue: {**counts, **self._seconds[queue]} for queue, counts in self._counts.items()}
