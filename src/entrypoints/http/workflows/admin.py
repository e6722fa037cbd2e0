"""Staff operate the durable jobs: ``/api/v1/admin/jobs`` and ``/api/v1/admin/queues``.

The identity system's ``staff_guard`` answers first (anonymous 401, not staff 404, staff
without two-factor 403 where it is required); then each route needs a staff permission:
``jobs:read`` to look, ``jobs:manage`` to retry, cancel and replay (403
``identity/staff-permission-denied`` otherwise). Jobs are read and changed in short
transactions of the job engine's own (``open_store``), not in the request's unit of work.
Each change is written to the log with the staff member's id until the audit log exists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import structlog
from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter
from litestar.types import Guard

from core.identity import Principal, StaffPermission, StaffPermissionError, staff_allows
from core.kernel import ValidationError
from core.workflows import Attempt, Job, JobAdmin, JobFilter, JobState, QueueStats
from core.workflows.admin import MAX_PAGE
from entrypoints.http.auth import authenticate, provide_principal
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard

JOBS_PAGE_DEFAULT = 50
QUEUE_MAX_LENGTH = 40
NAME_MAX_LENGTH = 200
CURSOR_MAX_LENGTH = 100

CurrentPrincipal = NamedDependency[Principal]
QueueName = Annotated[str, msgspec.Meta(min_length=1, max_length=QUEUE_MAX_LENGTH)]
JobName = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX_LENGTH)]


def staff_may(permission: StaffPermission) -> Guard:
    """A route guard: the signed-in staff member's role grants ``permission``. Runs after
    the controller's ``staff_guard``, which has authenticated the request already."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate(connection)
        role = principal.user.staff_role if principal is not None else None
        if not staff_allows(role, permission):
            raise StaffPermissionError(f"this needs the staff permission {permission}")

    return guard


# --- what the routes answer ----------------------------------------------------------------


class JobSummaryOut(msgspec.Struct):
    id: str
    name: str
    queue: str
    state: JobState
    priority: int
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    finished_at: datetime | None
    workspace_id: str | None
    last_error: str | None

    @classmethod
    def of(cls, job: Job) -> JobSummaryOut:
        return cls(
            id=job.id,
            name=job.name,
            queue=job.queue,
            state=job.state,
            priority=job.priority,
            attempts=job.attempts,
            max_attempts=job.retry.max_attempts,
            run_at=job.run_at,
            created_at=job.created_at,
            finished_at=job.finished_at,
            workspace_id=job.workspace_id,
            last_error=job.last_error,
        )


class JobsPage(msgspec.Struct):
    jobs: list[JobSummaryOut]
    next_cursor: str | None


class JobRetryPolicyOut(msgspec.Struct):
    max_attempts: int
    base_delay: float
    max_delay: float
    jitter: bool


class JobAttemptOut(msgspec.Struct):
    number: int
    started_at: datetime
    worker: str
    finished_at: datetime | None
    outcome: str | None
    error: str | None

    @classmethod
    def of(cls, attempt: Attempt) -> JobAttemptOut:
        return cls(
            number=attempt.number,
            started_at=attempt.started_at,
            worker=attempt.worker,
            finished_at=attempt.finished_at,
            outcome=attempt.outcome,
            error=attempt.error,
        )


class JobOut(msgspec.Struct):
    id: str
    name: str
    queue: str
    state: JobState
    payload: Any
    """The payload as JSON; a string when the stored bytes are not JSON."""
    priority: int
    attempts: int
    attempts_left: int
    retry: JobRetryPolicyOut
    timeout: float
    idempotency_key: str | None
    concurrency_key: str | None
    concurrency_limit: int
    workspace_id: str | None
    run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_until: datetime | None
    worker: str | None
    last_error: str | None
    history: list[JobAttemptOut]

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            name=job.name,
            queue=job.queue,
            state=job.state,
            payload=payload_value(job.payload),
            priority=job.priority,
            attempts=job.attempts,
            attempts_left=job.attempts_left,
            retry=JobRetryPolicyOut(
                max_attempts=job.retry.max_attempts,
                base_delay=job.retry.base_delay,
                max_delay=job.retry.max_delay,
                jitter=job.retry.jitter,
            ),
            timeout=job.timeout,
            idempotency_key=job.idempotency_key,
            concurrency_key=job.concurrency_key,
            concurrency_limit=job.concurrency_limit,
            workspace_id=job.workspace_id,
            run_at=job.run_at,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            lease_until=job.lease_until,
            worker=job.worker,
            last_error=job.last_error,
            history=[JobAttemptOut.of(attempt) for attempt in job.history],
        )


def payload_value(raw: bytes) -> Any:
    """A stored payload as a JSON value, or as text when it is not JSON."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw.decode("utf-8", errors="replace")


class JobQueueCountersOut(msgspec.Struct):
    """This process's counters for a queue since it started (``JobMetrics``)."""

    enqueued: int
    started: int
    succeeded: int
    failed: int
    dead: int
    released: int
    wait_seconds_total: float
    run_seconds_total: float
    run_seconds_max: float

    @classmethod
    def of(cls, snapshot: dict[str, float]) -> JobQueueCountersOut:
        return cls(
            enqueued=int(snapshot.get("enqueued", 0)),
            started=int(snapshot.get("started", 0)),
            succeeded=int(snapshot.get("succeeded", 0)),
            failed=int(snapshot.get("failed", 0)),
            dead=int(snapshot.get("dead", 0)),
            released=int(snapshot.get("released", 0)),
            wait_seconds_total=float(snapshot.get("wait_total", 0.0)),
            run_seconds_total=float(snapshot.get("run_total", 0.0)),
            run_seconds_max=float(snapshot.get("run_max", 0.0)),
        )


class JobQueueOut(msgspec.Struct):
    queue: str
    waiting: int
    """Queued and due now: the queue's depth."""
    scheduled: int
    """Queued for later: delayed, or waiting to retry."""
    running: int
    dead: int
    oldest_waiting_seconds: float | None
    failed_last_hour: int
    succeeded_last_hour: int
    this_process: JobQueueCountersOut


class JobQueuesOut(msgspec.Struct):
    queues: list[JobQueueOut]


def queues_view(stats: list[QueueStats], snapshot: dict[str, dict[str, float]]) -> JobQueuesOut:
    """Every queue the store or this process's counters know, by name."""
    by_name = {s.queue: s for s in stats}
    queues = []
    for name in sorted(set(by_name) | set(snapshot)):
        figures = by_name.get(name) or QueueStats(queue=name)
        queues.append(
            JobQueueOut(
                queue=name,
                waiting=figures.waiting,
                scheduled=figures.scheduled,
                running=figures.running,
                dead=figures.dead,
                oldest_waiting_seconds=figures.oldest_waiting_seconds,
                failed_last_hour=figures.failed_last_hour,
                succeeded_last_hour=figures.succeeded_last_hour,
                this_process=JobQueueCountersOut.of(snapshot.get(name, {})),
            )
        )
    return JobQueuesOut(queues=queues)


class JobsReplayIn(msgspec.Struct, forbid_unknown_fields=True):
    """Which finished jobs to queue again. A queue or a job name is required, or
    ``all: true``, so that nobody replays every dead job by accident."""

    state: Literal["dead", "cancelled"] = "dead"
    queue: QueueName | None = None
    name: JobName | None = None
    all: bool = False


class JobsReplayOut(msgspec.Struct):
    replayed: int


# --- the routes ----------------------------------------------------------------------------


@asynccontextmanager
async def _job_admin(state: State) -> AsyncIterator[JobAdmin]:
    """Job operations in one short transaction of the job engine."""
    container = container_of(state)
    async with container.workflows.open_store()() as store:
        yield JobAdmin(store=store, clock=container.kernel.clock())


def _wake_runner(state: State) -> None:
    """Jobs were queued again: let this process's runner (if any) look at once."""
    container_of(state).workflows.jobs_wakeup().set()


def _record(principal: Principal, action: str, **fields: Any) -> None:
    """A staff action, as a structured log line (until the audit log exists)."""
    structlog.get_logger("ninefold.staff").info(
        "staff action",
        staff_id=principal.user.id,
        staff_role=str(principal.user.staff_role),
        action=action,
        **fields,
    )


def _state_named(value: str | None) -> JobState | None:
    """The ``state`` filter. Parsed here, not by Litestar: the handler's parameter cannot
    be called ``state`` (Litestar injects the app state under that name), and Litestar's
    errors would name the handler's parameter instead of the query's."""
    if value is None:
        return None
    try:
        return JobState(value)
    except ValueError:
        choices = ", ".join(s.value for s in JobState)
        raise ValidationException(
            extra=[
                {
                    "message": f"Invalid state {value!r}: one of {choices}",
                    "key": "state",
                    "source": "query",
                }
            ]
        ) from None


async def list_page(admin: JobAdmin, query: JobFilter) -> JobsPage:
    """One page of jobs, newest first; ``next_cursor`` is None on the last page.

    A full page asks for one more job after it (``JobAdmin.list`` caps pages at
    ``MAX_PAGE``, so asking for ``limit + 1`` cannot tell at the cap)."""
    jobs = list(await admin.list(query))
    next_cursor = None
    if jobs and len(jobs) >= query.limit:
        after = msgspec.structs.replace(query, after=jobs[-1].id, limit=1)
        next_cursor = jobs[-1].id if await admin.list(after) else None
    return JobsPage([JobSummaryOut.of(job) for job in jobs], next_cursor)


class JobsAdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/jobs",
        summary="List jobs, newest first (staff: jobs:read)",
        guards=[staff_may(StaffPermission.JOBS_READ)],
    )
    async def list_jobs(
        self,
        *,
        state: State,
        job_state: Annotated[
            str | None,
            QueryParameter(
                name="state",
                description="only jobs in this state",
                enum=[s.value for s in JobState],
            ),
        ] = None,
        queue: Annotated[
            str | None, Parameter(description="only this queue", max_length=QUEUE_MAX_LENGTH)
        ] = None,
        name: Annotated[
            str | None,
            Parameter(description="only this job type", max_length=NAME_MAX_LENGTH),
        ] = None,
        cursor: Annotated[
            str | None,
            Parameter(description="next_cursor of the page before", max_length=CURSOR_MAX_LENGTH),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = JOBS_PAGE_DEFAULT,
    ) -> JobsPage:
        query = JobFilter(
            state=_state_named(job_state), queue=queue, name=name, after=cursor, limit=limit
        )
        async with _job_admin(state) as admin:
            return await list_page(admin, query)

    @get(
        "/jobs/{job_id:str}",
        summary="One job in full: payload, options, lease, attempts (staff: jobs:read)",
        guards=[staff_may(StaffPermission.JOBS_READ)],
    )
    async def read_job(self, state: State, job_id: FromPath[str]) -> JobOut:
        async with _job_admin(state) as admin:
            return JobOut.of(await admin.get(job_id))

    @post(
        "/jobs/{job_id:str}/retry",
        summary="Queue a dead or cancelled job again, its attempts reset (staff: jobs:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.JOBS_MANAGE)],
    )
    async def retry_job(
        self, state: State, principal: CurrentPrincipal, job_id: FromPath[str]
    ) -> JobOut:
        async with _job_admin(state) as admin:
            job = await admin.retry(job_id)
        _wake_runner(state)
        _record(principal, "jobs.retry", job_id=job_id, job_name=job.name, queue=job.queue)
        return JobOut.of(job)

    @post(
        "/jobs/{job_id:str}/cancel",
        summary="Cancel a queued or running job (staff: jobs:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.JOBS_MANAGE)],
    )
    async def cancel_job(
        self, state: State, principal: CurrentPrincipal, job_id: FromPath[str]
    ) -> JobOut:
        async with _job_admin(state) as admin:
            job = await admin.cancel(job_id)
        _record(principal, "jobs.cancel", job_id=job_id, job_name=job.name, queue=job.queue)
        return JobOut.of(job)

    @post(
        "/jobs/replay",
        summary="Queue again every dead (or cancelled) job of a queue or job type "
        "(staff: jobs:manage)",
        status_code=200,
        guards=[staff_may(StaffPermission.JOBS_MANAGE)],
    )
    async def replay_jobs(
        self, state: State, principal: CurrentPrincipal, data: JSONBody[JobsReplayIn]
    ) -> JobsReplayOut:
        if data.queue is None and data.name is None and not data.all:
            raise ValidationError(
                'name a queue or a job name to replay, or send "all": true to replay '
                f"every {data.state} job",
                field="all",
            )
        query = JobFilter(state=JobState(data.state), queue=data.queue, name=data.name)
        async with _job_admin(state) as admin:
            replayed = await admin.replay(query)
        if replayed:
            _wake_runner(state)
        _record(
            principal,
            "jobs.replay",
            state=data.state,
            queue=data.queue,
            job_name=data.name,
            replayed=replayed,
        )
        return JobsReplayOut(replayed=replayed)

    @get(
        "/queues",
        summary="Each queue at a glance, with this process's counters (staff: jobs:read)",
        guards=[staff_may(StaffPermission.JOBS_READ)],
    )
    async def list_queues(self, state: State) -> JobQueuesOut:
        async with _job_admin(state) as admin:
            stats = list(await admin.stats())
        return queues_view(stats, container_of(state).workflows.metrics().snapshot())
