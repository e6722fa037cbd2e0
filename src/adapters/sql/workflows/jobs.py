"""The embedded job engine: a queue in the application's own database.

Each method runs in the session it is given: ``add`` in the caller's unit of work (so
a job exists exactly when the caller's transaction commits), the worker's steps in
short transactions of their own. Claiming takes ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so workers never wait on each other's rows, and a transaction-scoped
advisory lock per concurrency key, so two workers cannot both start the last free
slot of a key. On SQLite, ``BEGIN IMMEDIATE`` serializes claimers. On PostgreSQL a
new job also sends ``NOTIFY ninefold_jobs`` (delivered at commit), which wakes
listening workers at once instead of at their next poll.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import and_, bindparam, case, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.sql.workflows.tables import jobs
from core.workflows import (
    RETRYABLE_STATES,
    Attempt,
    Job,
    JobFilter,
    JobRequest,
    JobState,
    QueueStats,
    RetryPolicy,
    Settlement,
    pending_job,
)
from core.workflows.transitions import (
    cancelled,
    claimed,
    last_failure,
    requeued,
    settled,
)

NOTIFY_CHANNEL = "ninefold_jobs"
HOUR = timedelta(hours=1)
_history = msgspec.json.Decoder(tuple[Attempt, ...])
_retry = msgspec.json.Decoder(RetryPolicy)


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        name=row.name,
        payload=row.payload.encode(),
        queue=row.queue,
        state=JobState(row.state),
        priority=row.priority,
        run_at=row.run_at,
        created_at=row.created_at,
        attempts=row.attempts,
        retry=_retry.decode(row.retry),
        timeout=row.timeout,
        idempotency_key=row.idempotency_key,
        concurrency_key=row.concurrency_key,
        concurrency_limit=row.concurrency_limit,
        workspace_id=row.workspace_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        lease_until=row.lease_until,
        worker=row.worker,
        last_error=row.last_error,
        history=_history.decode(row.history),
    )


def _mutable(job: Job) -> dict[str, Any]:
    """The columns a transition may change."""
    return {
        "state": job.state.value,
        "run_at": job.run_at,
        "attempts": job.attempts,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "failed_at": last_failure(job),
        "lease_until": job.lease_until,
        "worker": job.worker,
        "last_error": job.last_error,
        "history": msgspec.json.encode(job.history).decode(),
    }


# The statements of the worker's hot path (claim, settle), built once: SQLAlchemy then
# compiles each once and reuses it, and a batch is saved in one executemany.
_MUTABLE = (
    "state", "run_at", "attempts", "started_at", "finished_at", "failed_at", "lease_until",
    "worker", "last_error", "history",
)  # fmt: skip
_SAVE = (
    update(jobs)
    .where(jobs.c.id == bindparam("job_id"))
    .values({column: bindparam(f"new_{column}") for column in _MUTABLE})
)
_LOCKED = select(jobs).where(jobs.c.id == bindparam("job_id")).with_for_update()
_RUNNING = jobs.alias("running")
_BUSY = (
    select(func.count())
    .select_from(_RUNNING)
    .where(_RUNNING.c.state == JobState.RUNNING.value)
    .where(_RUNNING.c.concurrency_key == jobs.c.concurrency_key)
    .scalar_subquery()
)
_CANDIDATES = (
    select(jobs)
    .where(jobs.c.state == JobState.QUEUED.value, jobs.c.run_at <= bindparam("now"))
    .where(or_(jobs.c.concurrency_key.is_(None), jobs.c.concurrency_limit > _BUSY))
    .order_by(jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=jobs)
)
_CANDIDATES_OF = _CANDIDATES.where(jobs.c.queue.in_(bindparam("queues", expanding=True)))
_ROW = (
    "id", "name", "queue", "priority", "created_at", "payload", "retry", "timeout",
    "idempotency_key", "concurrency_key", "concurrency_limit", "workspace_id", *_MUTABLE,
)  # fmt: skip
_NEW_ROW: dict[str, Any] = {column: bindparam(f"new_{column}") for column in _ROW}
# On PostgreSQL a new row also wakes listening workers (NOTIFY, sent at commit), in the
# same round trip; a conflicting one returns nothing and notifies no one.
_ADD_POSTGRES = (
    pg_insert(jobs)
    .values(_NEW_ROW)
    .on_conflict_do_nothing()
    .returning(jobs.c.id, func.pg_notify(NOTIFY_CHANNEL, jobs.c.queue))
)
_ADD_SQLITE = sqlite_insert(jobs).values(_NEW_ROW).on_conflict_do_nothing().returning(jobs.c.id)


# Settling writes the job in one statement, guarded by "still held by this attempt"
# (while that holds, nothing but its lease can have changed since the worker got it).
_SETTLE = _SAVE.where(
    jobs.c.state == JobState.RUNNING.value,
    jobs.c.worker == bindparam("held_by"),
    jobs.c.attempts == bindparam("held_attempt"),
)


def _save_params(job: Job) -> dict[str, Any]:
    return {"job_id": job.id, **{f"new_{k}": v for k, v in _mutable(job).items()}}


def _row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "queue": job.queue,
        "priority": job.priority,
        "created_at": job.created_at,
        "payload": job.payload.decode(),
        "retry": msgspec.json.encode(job.retry).decode(),
        "timeout": job.timeout,
        "idempotency_key": job.idempotency_key,
        "concurrency_key": job.concurrency_key,
        "concurrency_limit": job.concurrency_limit,
        "workspace_id": job.workspace_id,
        **_mutable(job),
    }


def _filtered(query: Any, where: JobFilter) -> Any:
    if where.state is not None:
        query = query.where(jobs.c.state == where.state.value)
    if where.queue is not None:
        query = query.where(jobs.c.queue == where.queue)
    if where.name is not None:
        query = query.where(jobs.c.name == where.name)
    return query


class SqlJobStore:
    """``JobStore`` on the application's database (SQLite or PostgreSQL)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    async def _save(self, *saved: Job) -> None:
        if saved:
            connection = await self._session.connection()
            await connection.execute(_SAVE, [_save_params(job) for job in saved])

    async def _locked(self, job_id: str) -> Job | None:
        connection = await self._session.connection()
        row = (await connection.execute(_LOCKED, {"job_id": job_id})).first()
        return None if row is None else _job(row)

    async def add(self, request: JobRequest, now: datetime) -> tuple[Job, bool]:
        job = pending_job(request, now)
        connection = await self._session.connection()
        result = await connection.execute(
            _ADD_POSTGRES if self._postgres else _ADD_SQLITE,
            {f"new_{column}": value for column, value in _row(job).items()},
        )
        if result.first() is not None:
            return job, True
        existing = None
        if request.idempotency_key is not None:
            existing = await self.find(request.name, request.idempotency_key)
        existing = existing or await self.get(request.id)
        if existing is None:  # pragma: no cover - a conflict implies a row
            raise RuntimeError(f"job {request.id} conflicted but cannot be found")
        return existing, False

    async def get(self, job_id: str) -> Job | None:
        row = (await self._session.execute(select(jobs).where(jobs.c.id == job_id))).first()
        return None if row is None else _job(row)

    async def find(self, name: str, idempotency_key: str) -> Job | None:
        query = select(jobs).where(jobs.c.name == name, jobs.c.idempotency_key == idempotency_key)
        row = (await self._session.execute(query)).first()
        return None if row is None else _job(row)

    async def list(self, query: JobFilter) -> Sequence[Job]:
        statement = _filtered(select(jobs), query).order_by(jobs.c.id.desc()).limit(query.limit)
        if query.after is not None:
            statement = statement.where(jobs.c.id < query.after)
        return [_job(row) for row in await self._session.execute(statement)]

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_until: datetime,
        worker: str,
    ) -> Sequence[Job]:
        params: dict[str, Any] = {"now": now, "limit": limit}
        candidates = _CANDIDATES
        if queues is not None:
            candidates, params["queues"] = _CANDIDATES_OF, list(queues)
        connection = await self._session.connection()
        found = [_job(row) for row in await connection.execute(candidates, params)]
        if not found:
            return []
        slots = await self._free_slots({j.concurrency_key for j in found if j.concurrency_key})
        batch = []
        for job in found:
            key = job.concurrency_key
            if key is not None:
                if slots.get(key, 0) >= job.concurrency_limit:
                    continue
                slots[key] = slots.get(key, 0) + 1
            batch.append(claimed(job, now, lease_until, worker))
        await self._save(*batch)
        return batch

    async def _free_slots(self, keys: set[str]) -> dict[str, int]:
        """How many jobs run per concurrency key, counted under a per-key lock."""
        if not keys:
            return {}
        if self._postgres:
            for key in sorted(keys):  # one order everywhere: no deadlocks between workers
                await self._session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 7))"),
                    {"key": f"ninefold.jobs:{key}"},
                )
        query = (
            select(jobs.c.concurrency_key, func.count())
            .where(jobs.c.state == JobState.RUNNING.value, jobs.c.concurrency_key.in_(keys))
            .group_by(jobs.c.concurrency_key)
        )
        return {key: int(count) for key, count in await self._session.execute(query)}

    async def extend(
        self, jobs_held: Sequence[tuple[str, int]], worker: str, lease_until: datetime
    ) -> set[str]:
        held = set()
        for job_id, attempt in jobs_held:
            result = await self._session.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == JobState.RUNNING.value)
                .where(jobs.c.worker == worker, jobs.c.attempts == attempt)
                .values(lease_until=lease_until)
            )
            if getattr(result, "rowcount", 0):
                held.add(job_id)
        return held

    async def settle(self, settlement: Settlement, held: Job) -> bool:
        connection = await self._session.connection()
        guard = {"held_by": settlement.worker, "held_attempt": settlement.attempt}
        result = await connection.execute(
            _SETTLE, {**_save_params(settled(held, settlement)), **guard}
        )
        return bool(result.rowcount)

    async def expired(self, now: datetime, limit: int) -> Sequence[Job]:
        query = (
            select(jobs)
            .where(jobs.c.state == JobState.RUNNING.value, jobs.c.lease_until <= now)
            .order_by(jobs.c.id)
            .limit(limit)
        )
        return [_job(row) for row in await self._session.execute(query)]

    async def cancel(self, job_id: str, now: datetime) -> Job | None:
        job = await self._locked(job_id)
        if job is None:
            return None
        after = cancelled(job, now)
        if after is not job:
            await self._save(after)
        return after

    async def requeue(self, job_id: str, now: datetime) -> Job | None:
        job = await self._locked(job_id)
        if job is None:
            return None
        after = requeued(job, now)
        if after is not job:
            await self._save(after)
        return after

    async def requeue_matching(self, query: JobFilter, now: datetime) -> int:
        states = [query.state.value] if query.state else [s.value for s in RETRYABLE_STATES]
        statement = _filtered(
            update(jobs).where(jobs.c.state.in_(states)),
            JobFilter(queue=query.queue, name=query.name),
        ).values(  # the same change as transitions.requeued, in one statement
            state=JobState.QUEUED.value,
            attempts=0,
            run_at=now,
            finished_at=None,
            lease_until=None,
            worker=None,
        )
        if query.state is not None and query.state not in RETRYABLE_STATES:
            return 0
        result = await self._session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    async def stats(self, now: datetime) -> Sequence[QueueStats]:
        queued = jobs.c.state == JobState.QUEUED.value
        due = and_(queued, jobs.c.run_at <= now)

        def count(condition: Any) -> Any:
            return func.sum(case((condition, 1), else_=0))

        query = select(
            jobs.c.queue,
            count(due),
            count(and_(queued, jobs.c.run_at > now)),
            count(jobs.c.state == JobState.RUNNING.value),
            count(jobs.c.state == JobState.DEAD.value),
            func.min(case((due, jobs.c.run_at), else_=None)),
            count(jobs.c.failed_at >= now - HOUR),
            count(and_(jobs.c.state == JobState.SUCCEEDED.value, jobs.c.finished_at >= now - HOUR)),
        ).group_by(jobs.c.queue)
        rows = await self._session.execute(query.order_by(jobs.c.queue))
        stats = []
        for queue, waiting, scheduled, running, dead, oldest, failed, succeeded in rows:
            stats.append(
                QueueStats(
                    queue=queue,
                    waiting=int(waiting or 0),
                    scheduled=int(scheduled or 0),
                    running=int(running or 0),
                    dead=int(dead or 0),
                    oldest_waiting_seconds=_age(oldest, now),
                    failed_last_hour=int(failed or 0),
                    succeeded_last_hour=int(succeeded or 0),
                )
            )
        return stats

    async def prune(self, finished_before: datetime, dead_before: datetime) -> int:
        finished = [JobState.SUCCEEDED.value, JobState.CANCELLED.value]
        result = await self._session.execute(
            delete(jobs).where(
                or_(
                    and_(jobs.c.state.in_(finished), jobs.c.finished_at < finished_before),
                    and_(jobs.c.state == JobState.DEAD.value, jobs.c.finished_at < dead_before),
                )
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _age(oldest: Any, now: datetime) -> float | None:
    """Seconds since ``oldest``; SQLite's ``min`` hands back the stored text."""
    if oldest is None:
        return None
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return float(max((now - oldest).total_seconds(), 0.0))


@asynccontextmanager
async def sql_job_store(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[SqlJobStore]:
    """A store in a short transaction of its own, committed when the block exits."""
    async with session_factory() as session, session.begin():
        yield SqlJobStore(session)
