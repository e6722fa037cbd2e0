"""``JobStore`` in memory: the reference engine for tests, with the same semantics as
the SQL queue and SAQ (it passes the same conformance suite)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from core.workflows import (
    RETRYABLE_STATES,
    Job,
    JobFilter,
    JobRequest,
    JobState,
    QueueStats,
    Settlement,
    pending_job,
)
from core.workflows.transitions import (
    cancelled,
    claim_order,
    claimed,
    extended,
    holds,
    is_due,
    is_expired,
    requeued,
    settled,
    stats_of,
)


class InMemoryJobStore:
    """Jobs in a dict. Not transactional: pair it with ``store_in_transaction=False``
    so enqueues travel through the unit of work's outbox, as with SAQ."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}

    async def add(self, request: JobRequest, now: datetime) -> tuple[Job, bool]:
        if request.idempotency_key is not None:
            existing = await self.find(request.name, request.idempotency_key)
            if existing is not None:
                return existing, False
        if request.id in self.jobs:
            return self.jobs[request.id], False
        job = pending_job(request, now)
        self.jobs[job.id] = job
        return job, True

    async def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    async def find(self, name: str, idempotency_key: str) -> Job | None:
        for job in self.jobs.values():
            if job.name == name and job.idempotency_key == idempotency_key:
                return job
        return None

    async def list(self, query: JobFilter) -> Sequence[Job]:
        jobs = sorted(
            (job for job in self.jobs.values() if _matches(job, query)),
            key=lambda job: job.id,
            reverse=True,
        )
        if query.after is not None:
            jobs = [job for job in jobs if job.id < query.after]
        return jobs[: query.limit]

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_until: datetime,
        worker: str,
    ) -> Sequence[Job]:
        running = Counter(
            job.concurrency_key
            for job in self.jobs.values()
            if job.state is JobState.RUNNING and job.concurrency_key is not None
        )
        due = sorted(
            (
                job
                for job in self.jobs.values()
                if is_due(job, now) and (queues is None or job.queue in queues)
            ),
            key=claim_order,
        )
        batch: list[Job] = []
        for job in due:
            if len(batch) >= limit:
                break
            key = job.concurrency_key
            if key is not None:
                if running[key] >= job.concurrency_limit:
                    continue
                running[key] += 1
            self.jobs[job.id] = claimed(job, now, lease_until, worker)
            batch.append(self.jobs[job.id])
        return batch

    async def extend(
        self, jobs: Sequence[tuple[str, int]], worker: str, lease_until: datetime
    ) -> set[str]:
        held = set()
        for job_id, attempt in jobs:
            job = self.jobs.get(job_id)
            if job is not None and holds(job, worker, attempt):
                self.jobs[job_id] = extended(job, lease_until)
                held.add(job_id)
        return held

    async def settle(self, settlement: Settlement, held: Job) -> bool:
        job = self.jobs.get(settlement.job_id)
        if job is None or not holds(job, settlement.worker, settlement.attempt):
            return False
        self.jobs[job.id] = settled(job, settlement)
        return True

    async def expired(self, now: datetime, limit: int) -> Sequence[Job]:
        found = [job for job in self.jobs.values() if is_expired(job, now)]
        return sorted(found, key=lambda job: job.id)[:limit]

    async def cancel(self, job_id: str, now: datetime) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        self.jobs[job_id] = cancelled(job, now)
        return self.jobs[job_id]

    async def requeue(self, job_id: str, now: datetime) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        self.jobs[job_id] = requeued(job, now)
        return self.jobs[job_id]

    async def requeue_matching(self, query: JobFilter, now: datetime) -> int:
        count = 0
        for job in list(self.jobs.values()):
            if job.state in RETRYABLE_STATES and _matches(job, query):
                self.jobs[job.id] = requeued(job, now)
                count += 1
        return count

    async def stats(self, now: datetime) -> Sequence[QueueStats]:
        return stats_of(self.jobs.values(), now)

    async def prune(self, finished_before: datetime, dead_before: datetime) -> int:
        gone = [
            job.id
            for job in self.jobs.values()
            if job.finished_at is not None
            and (
                (job.state is JobState.DEAD and job.finished_at < dead_before)
                or (
                    job.state in (JobState.SUCCEEDED, JobState.CANCELLED)
                    and job.finished_at < finished_before
                )
            )
        ]
        for job_id in gone:
            del self.jobs[job_id]
        return len(gone)


def _matches(job: Job, query: JobFilter) -> bool:
    return (
        (query.state is None or job.state is query.state)
        and (query.queue is None or job.queue == query.queue)
        and (query.name is None or job.name == query.name)
    )
