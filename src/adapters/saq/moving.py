"""Moving queued jobs from one engine to another (the SQL queue to SAQ), through the
``JobStore`` port only.

Run it while no worker runs on either engine (see docs/systems/workflows.md, "Moving to
SAQ"): each queued job is added to the target under the same id, name, payload,
``run_at``, keys and policy, then cancelled in the source. Its attempts start afresh in
the target; its earlier history stays with the cancelled job in the source. Adding is
idempotent, so a move that stopped half-way can simply be run again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from core.workflows import Job, JobFilter, JobRequest, JobState, JobStore

BATCH = 200


def request_of(job: Job) -> JobRequest:
    """The request that stores ``job`` afresh."""
    return JobRequest(
        id=job.id,
        name=job.name,
        payload=job.payload,
        queue=job.queue,
        priority=job.priority,
        run_at=job.run_at,
        idempotency_key=job.idempotency_key,
        concurrency_key=job.concurrency_key,
        concurrency_limit=job.concurrency_limit,
        timeout=job.timeout,
        retry=job.retry,
        workspace_id=job.workspace_id,
    )


async def move_queued_jobs(
    open_source: Callable[[], AbstractAsyncContextManager[JobStore]],
    target: JobStore,
    now: datetime,
) -> int:
    """Move every queued job of the source engine into ``target``; returns how many.

    A job the source no longer holds queued when it comes to cancelling it (a worker
    took it after all) is cancelled in the target instead, so it never runs twice."""
    moved = 0
    while True:
        async with open_source() as source:
            batch = await source.list(JobFilter(state=JobState.QUEUED, limit=BATCH))
        if not batch:
            return moved
        for job in batch:
            await target.add(request_of(job), now)
            async with open_source() as source:
                left = await source.cancel(job.id, now)
            if left is not None and left.state is JobState.CANCELLED:
                moved += 1
            else:
                await target.cancel(job.id, now)
