"""``JobStore`` on SAQ: jobs kept by SAQ on Redis or PostgreSQL, run by core's runner.

Each ninefold queue is a SAQ queue (``<prefix>.<queue>``, prefix ``ninefold`` unless
told otherwise) and each job a SAQ job record whose fields mirror ours (see
``adapters.saq.codec``); our state, attempt history, retry policy, concurrency key and
limit, lease and worker travel in its ``meta``, so ``get``, ``list`` and ``stats``
answer with whole jobs, and SAQ's own tools read the records too.

Why SAQ's ``Queue`` stores and hands out jobs but SAQ's ``Worker`` does not run them:
core's ``JobRunner`` owns the semantics every engine shares (retries with jittered
backoff, dead letters with their history, timeouts, leases with heartbeats and
recovery, per-key concurrency limits of N, a graceful release at shutdown), so the SQL
queue, SAQ and the fake behave alike and pass one conformance suite. SAQ's worker has
its own (one retry and a 10 s timeout by default, at most one running job per
``group_key`` on PostgreSQL and none on Redis, no priorities on Redis, and its own
clock), which would make a job's fate depend on the engine. So every change is one of
core's pure transitions (``core.workflows.transitions``), applied atomically:

- **Redis** (``adapters.saq.redis``): compare-and-set Lua scripts over the SAQ records
  and indexes of ours (priority order, due times, running counts per concurrency key);
- **PostgreSQL** (``adapters.saq.postgres``): transactions on SAQ's ``saq_jobs`` table,
  with ``FOR UPDATE SKIP LOCKED`` and an advisory lock per concurrency key.

Don't point a SAQ worker at these queues: it would run the jobs under SAQ's rules, and
on PostgreSQL its sweeper would abort jobs our runner holds.

Enqueueing goes through the transactional outbox (``store_in_transaction=False``): the
relay calls ``add`` once the enqueueing transaction has committed, and ``add`` is
idempotent (by job id, and by name and idempotency key), so a relay that retries
creates one job. Finished jobs are kept (SAQ ``ttl`` 0) until ``prune`` deletes them.

The store connects on first use; ``close()`` (or ``async with``) releases the
connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from urllib.parse import urlsplit

from adapters.saq.engine import Engine, matches
from core.workflows import (
    RETRYABLE_STATES,
    Job,
    JobFilter,
    JobRequest,
    QueueStats,
    Settlement,
    pending_job,
)
from core.workflows.transitions import cancelled, extended, holds, requeued, settled

REDIS_SCHEMES = frozenset({"redis", "rediss"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
DEFAULT_PREFIX = "ninefold"
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:-]{0,63}$")


def broker_kind(url: str) -> str:
    """``redis`` or ``postgres``, from the URL's scheme; ``ValueError`` for any other."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme in POSTGRES_SCHEMES:
        return "postgres"
    raise ValueError(
        f"a SAQ URL starts with redis://, rediss://, postgresql:// or postgres:// (not {scheme!r})"
    )


class SaqJobStore:
    """``JobStore`` on SAQ's Redis or PostgreSQL queue, chosen by ``url``'s scheme.

    ``prefix`` names this application's SAQ queues (``<prefix>.<queue>``) and, on Redis,
    its index keys (``<prefix>:jobs:…``): stores with different prefixes don't see each
    other's jobs. ``pool_size`` bounds the PostgreSQL connections.
    """

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, pool_size: int = 10) -> None:
        self.kind = broker_kind(url)
        if not _PREFIX.match(prefix):
            raise ValueError(f"a SAQ queue prefix is 1-64 letters, digits, _ : or -: {prefix!r}")
        self.url = url
        self.prefix = prefix
        self._pool_size = pool_size
        self._engine: Engine | None = None
        self._connecting = asyncio.Lock()

    async def _connected(self) -> Engine:
        if self._engine is not None:
            return self._engine
        async with self._connecting:
            if self._engine is None:
                engine: Engine
                if self.kind == "redis":
                    from adapters.saq.redis import RedisEngine

                    engine = RedisEngine(self.url, self.prefix)
                else:
                    from adapters.saq.postgres import PostgresEngine

                    engine = PostgresEngine(self.url, self.prefix, pool_size=self._pool_size)
                try:
                    await engine.connect()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await engine.close()
                    raise
                self._engine = engine
        return self._engine

    async def close(self) -> None:
        """Release the connections; the next use connects again."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.close()

    async def ready(self) -> bool:
        """Whether the broker answers (for a readiness check); connects if need be."""
        try:
            await (await self._connected()).ping()
        except Exception:
            return False
        return True

    async def __aenter__(self) -> SaqJobStore:
        await self._connected()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- JobStore --------------------------------------------------------------------

    async def add(self, request: JobRequest, now: datetime) -> tuple[Job, bool]:
        job = pending_job(request, now)
        existing = await (await self._connected()).insert(job)
        return (job, True) if existing is None else (existing, False)

    async def get(self, job_id: str) -> Job | None:
        (job,) = await (await self._connected()).load([job_id])
        return job

    async def find(self, name: str, idempotency_key: str) -> Job | None:
        return await (await self._connected()).find(name, idempotency_key)

    async def list(self, query: JobFilter) -> Sequence[Job]:
        return await (await self._connected()).page(query)

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_until: datetime,
        worker: str,
    ) -> Sequence[Job]:
        if limit <= 0 or (queues is not None and not queues):
            return []
        return await (await self._connected()).claim(queues, limit, now, lease_until, worker)

    async def extend(
        self, jobs: Sequence[tuple[str, int]], worker: str, lease_until: datetime
    ) -> set[str]:
        attempts = dict(jobs)

        def extend(job: Job) -> Job | None:
            return extended(job, lease_until) if holds(job, worker, attempts[job.id]) else None

        changed = await (await self._connected()).change(list(attempts), extend)
        return {job_id for job_id, (_, applied) in changed.items() if applied}

    async def settle(self, settlement: Settlement, held: Job) -> bool:
        def settle(job: Job) -> Job | None:
            if not holds(job, settlement.worker, settlement.attempt):
                return None
            return settled(job, settlement)

        changed = await (await self._connected()).change([settlement.job_id], settle)
        return changed.get(settlement.job_id, (None, False))[1]

    async def expired(self, now: datetime, limit: int) -> Sequence[Job]:
        return await (await self._connected()).expired(now, limit)

    async def cancel(self, job_id: str, now: datetime) -> Job | None:
        changed = await (await self._connected()).change([job_id], lambda j: cancelled(j, now))
        return changed[job_id][0] if job_id in changed else None

    async def requeue(self, job_id: str, now: datetime) -> Job | None:
        changed = await (await self._connected()).change([job_id], lambda j: requeued(j, now))
        return changed[job_id][0] if job_id in changed else None

    async def requeue_matching(self, query: JobFilter, now: datetime) -> int:
        if query.state is not None and query.state not in RETRYABLE_STATES:
            return 0
        states = [query.state] if query.state is not None else sorted(RETRYABLE_STATES)
        where = JobFilter(queue=query.queue, name=query.name)

        def requeue(job: Job) -> Job | None:
            if job.state not in states or not matches(job, where):
                return None
            return requeued(job, now)

        engine = await self._connected()
        count = 0
        async for job_ids in engine.scan(states):
            changed = await engine.change(job_ids, requeue)
            count += sum(applied for _, applied in changed.values())
        return count

    async def stats(self, now: datetime) -> Sequence[QueueStats]:
        return await (await self._connected()).stats(now)

    async def prune(self, finished_before: datetime, dead_before: datetime) -> int:
        return await (await self._connected()).prune(finished_before, dead_before)
