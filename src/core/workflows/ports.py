"""What the workflows system needs from outside: the outbox and a job engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.workflows.model import (
    Job,
    JobFilter,
    JobRequest,
    OutboxMessage,
    QueueStats,
    Settlement,
)


class OutboxStore(Protocol):
    """Reads and settles outbox messages. Writing them is the unit of work's job.

    ``claim`` leases pending messages to one relay until ``lease_until``: no other relay
    sees them meanwhile, and if this one crashes they are handed out again once the lease
    has passed. Delivery therefore happens outside any open transaction.
    """

    async def claim(
        self, limit: int, now: datetime, lease_until: datetime
    ) -> Sequence[OutboxMessage]:
        """Up to ``limit`` pending, unleased messages, oldest first, now leased."""
        ...

    async def mark_published(self, message_id: str, at: datetime) -> None: ...

    async def mark_failed(self, message_id: str, error: str, retry_at: datetime) -> None:
        """Count a failed attempt; the message stays pending until ``retry_at``."""
        ...

    async def pending_count(self) -> int: ...


class JobStore(Protocol):
    """A job engine's storage: the port every engine implements (the SQL queue in the
    application's database, SAQ, the in-memory fake).

    The runner in ``core.workflows.runner`` owns the semantics (retries, backoff,
    timeouts, dead letters), so every engine behaves alike; an engine stores, claims
    and settles atomically. Each method is one atomic step on its own; the SQL engine's
    ``add`` joins the caller's transaction instead.
    """

    async def add(self, request: JobRequest, now: datetime) -> tuple[Job, bool]:
        """Store a new queued job; with an ``idempotency_key`` already used by a job of
        the same name, store nothing and return that job. ``True`` when created."""
        ...

    async def get(self, job_id: str) -> Job | None: ...

    async def find(self, name: str, idempotency_key: str) -> Job | None: ...

    async def list(self, query: JobFilter) -> Sequence[Job]:
        """Jobs matching ``query``, newest first (ids descending), after the cursor."""
        ...

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_until: datetime,
        worker: str,
    ) -> Sequence[Job]:
        """Up to ``limit`` due queued jobs of ``queues`` (all when ``None``), highest
        priority first then oldest ``run_at``, now ``running`` under this worker's lease
        with ``attempts`` counted. A job whose concurrency key already has
        ``concurrency_limit`` jobs running is skipped (it stays queued)."""
        ...

    async def extend(
        self, jobs: Sequence[tuple[str, int]], worker: str, lease_until: datetime
    ) -> set[str]:
        """Heartbeat: extend the leases of ``(job id, attempt)`` this worker still holds;
        returns the ids it still holds (a cancelled or recovered job is not among them)."""
        ...

    async def settle(self, settlement: Settlement, held: Job) -> bool:
        """Apply the runner's decision, only if the worker still holds that attempt of
        the job. ``held`` is the job as the worker got it (from ``claim`` or
        ``expired``); while the attempt is held only its lease can have changed, so an
        engine may compute the settled job from it instead of reading it again.
        ``False`` when the worker no longer holds it (nothing changes)."""
        ...

    async def expired(self, now: datetime, limit: int) -> Sequence[Job]:
        """Running jobs whose lease has passed: their worker died or stalled."""
        ...

    async def cancel(self, job_id: str, now: datetime) -> Job | None:
        """Cancel a queued or running job (a running one is stopped at its worker's next
        heartbeat). A finished job is returned unchanged; ``None`` if unknown."""
        ...

    async def requeue(self, job_id: str, now: datetime) -> Job | None:
        """Queue a dead or cancelled job again, due now, with its attempts reset (the
        history keeps the earlier ones). Any other job is returned unchanged."""
        ...

    async def requeue_matching(self, query: JobFilter, now: datetime) -> int:
        """``requeue`` every dead or cancelled job matching ``query`` (its ``state``,
        ``queue`` and ``name``; the cursor and limit are ignored). Returns the count."""
        ...

    async def stats(self, now: datetime) -> Sequence[QueueStats]:
        """One entry per queue that holds any job."""
        ...

    async def prune(self, finished_before: datetime, dead_before: datetime) -> int:
        """Delete succeeded and cancelled jobs finished before ``finished_before`` and
        dead ones finished before ``dead_before``; returns how many went."""
        ...
