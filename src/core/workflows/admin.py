"""What staff (and the CLI) do with jobs: look, cancel, retry, replay, prune."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from core.kernel import Clock
from core.workflows.errors import (
    JobAlreadyFinishedError,
    JobNotFoundError,
    JobNotRetryableError,
)
from core.workflows.model import (
    RETRYABLE_STATES,
    Job,
    JobFilter,
    JobState,
    QueueStats,
)
from core.workflows.ports import JobStore

MAX_PAGE = 200


class JobAdmin:
    """Job operations for staff, over one engine's store."""

    def __init__(self, *, store: JobStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def get(self, job_id: str) -> Job:
        job = await self._store.get(job_id)
        if job is None:
            raise JobNotFoundError(f"no job has the id {job_id!r}")
        return job

    async def list(self, query: JobFilter) -> Sequence[Job]:
        limit = min(max(query.limit, 1), MAX_PAGE)
        return await self._store.list(
            JobFilter(
                state=query.state,
                queue=query.queue,
                name=query.name,
                after=query.after,
                limit=limit,
            )
        )

    async def cancel(self, job_id: str) -> Job:
        job = await self._store.cancel(job_id, self._clock.now())
        if job is None:
            raise JobNotFoundError(f"no job has the id {job_id!r}")
        if job.state is not JobState.CANCELLED:
            raise JobAlreadyFinishedError(f"job {job_id} has {job.state.value}")
        return job

    async def retry(self, job_id: str) -> Job:
        before = await self.get(job_id)
        if before.state not in RETRYABLE_STATES:
            raise JobNotRetryableError(f"job {job_id} is {before.state.value}")
        job = await self._store.requeue(job_id, self._clock.now())
        if job is None or job.state is not JobState.QUEUED:
            raise JobNotRetryableError(f"job {job_id} changed meanwhile; look again")
        return job

    async def replay(self, query: JobFilter) -> int:
        """Queue again every dead (or, asked for, cancelled) job matching the filter."""
        state = query.state or JobState.DEAD
        if state not in RETRYABLE_STATES:
            raise JobNotRetryableError("only dead or cancelled jobs can be replayed")
        scoped = JobFilter(state=state, queue=query.queue, name=query.name)
        return await self._store.requeue_matching(scoped, self._clock.now())

    async def stats(self) -> Sequence[QueueStats]:
        return await self._store.stats(self._clock.now())

    async def prune(self, *, finished_after: timedelta, dead_after: timedelta) -> int:
        now = self._clock.now()
        return await self._store.prune(now - finished_after, now - dead_after)
