"""What ``SaqJobStore`` needs from SAQ's broker: the Redis and the PostgreSQL engine.

Each method is atomic on its own. The store computes every change with core's pure
transitions; an engine only selects, locks (PostgreSQL) or compares-and-sets (Redis)
and writes, and keeps its indexes in step with the stored job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Protocol

from core.workflows import Job, JobFilter, JobState, QueueStats

# A change to one job: the job after it, or ``None`` to leave the job as it is.
Change = Callable[[Job], Job | None]
# What a change did: the job as stored now, and whether it was changed.
Outcome = tuple[Job, bool]


class Engine(Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """One round trip to the broker; raises when it does not answer."""
        ...

    async def insert(self, job: Job) -> Job | None:
        """Store ``job`` unless its id or its (name, idempotency key) is taken; then
        return the job holding it, else ``None``."""
        ...

    async def load(self, job_ids: Sequence[str]) -> list[Job | None]: ...

    async def find(self, name: str, idempotency_key: str) -> Job | None: ...

    async def page(self, query: JobFilter) -> list[Job]: ...

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_until: datetime,
        worker: str,
    ) -> list[Job]: ...

    async def change(self, job_ids: Sequence[str], change: Change) -> dict[str, Outcome]:
        """Apply ``change`` to each job atomically (read, change, write with nothing in
        between). Unknown ids are left out of the answer."""
        ...

    def scan(self, states: Sequence[JobState]) -> AsyncIterator[list[str]]:
        """The ids of the jobs in ``states``, in batches."""
        ...

    async def expired(self, now: datetime, limit: int) -> list[Job]: ...

    async def stats(self, now: datetime) -> list[QueueStats]: ...

    async def prune(self, finished_before: datetime, dead_before: datetime) -> int: ...


def matches(job: Job, query: JobFilter) -> bool:
    return (
        (query.state is None or job.state is query.state)
        and (query.queue is None or job.queue == query.queue)
        and (query.name is None or job.name == query.name)
    )
