"""SAQ on PostgreSQL: jobs are rows of SAQ's own table (``saq_jobs``, created and
migrated by SAQ's ``PostgresQueue``), reached through SAQ's psycopg connection pool.

SAQ's columns carry what they mean to SAQ (``key`` our job id, ``job`` the SAQ record,
``queue``, ``status``, ``priority``, ``group_key`` the concurrency key, ``scheduled``);
the columns our queries need that SAQ lacks are added next to them, prefixed
``ninefold_`` (name, idempotency key, concurrency limit, exact ``run_at``, lease,
finish and last failure), with their indexes. SAQ's own statements name their columns,
so they keep working.

Every step is one transaction. Claiming selects due jobs in claim order with
``FOR UPDATE SKIP LOCKED`` (workers never wait on each other's rows), skipping keys
already at their limit; then it takes a transaction-scoped advisory lock per
concurrency key (in one order, so workers cannot deadlock) and counts the key's running
jobs again before starting any: two workers cannot both take a key's last free slot.
The other changes lock the job's row (``FOR UPDATE``), apply core's transition and
write it back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from psycopg import AsyncConnection, sql
from saq.queue.postgres import JOBS_TABLE, PostgresQueue

from adapters.saq.codec import (
    SAQ_STATUS,
    SaqQueues,
    Stored,
    decode,
    encode,
    lease_seconds,
    saq_priority,
)
from adapters.saq.engine import Change, Outcome
from core.workflows import Job, JobFilter, JobState, QueueStats
from core.workflows.transitions import claimed, last_failure

HOUR = timedelta(hours=1)
BATCH = 500

_MIGRATION = """
ALTER TABLE {table}
  ADD COLUMN IF NOT EXISTS ninefold_name TEXT,
  ADD COLUMN IF NOT EXISTS ninefold_idempotency_key TEXT,
  ADD COLUMN IF NOT EXISTS ninefold_concurrency_limit INTEGER,
  ADD COLUMN IF NOT EXISTS ninefold_run_at TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS ninefold_lease_until TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS ninefold_finished_at TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS ninefold_failed_at TIMESTAMPTZ;
CREATE UNIQUE INDEX IF NOT EXISTS {idempotency} ON {table}
  (ninefold_name, ninefold_idempotency_key) WHERE ninefold_idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS {claim} ON {table} (queue, priority, ninefold_run_at, key)
  WHERE status = 'queued' AND ninefold_run_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS {running} ON {table} (group_key, ninefold_lease_until)
  WHERE status = 'active';
CREATE INDEX IF NOT EXISTS {finished} ON {table} (status, ninefold_finished_at)
  WHERE ninefold_finished_at IS NOT NULL;
"""

# Writes what a transition may change, for many jobs in one statement.
_UPDATE = """
UPDATE {table} AS j SET
  job = v.job, status = v.status, scheduled = v.scheduled, ninefold_run_at = v.run_at,
  ninefold_lease_until = v.lease_until, ninefold_finished_at = v.finished_at,
  ninefold_failed_at = v.failed_at
FROM unnest(
  %s::text[], %s::bytea[], %s::text[], %s::bigint[], %s::timestamptz[], %s::timestamptz[],
  %s::timestamptz[], %s::timestamptz[]
) AS v(key, job, status, scheduled, run_at, lease_until, finished_at, failed_at)
WHERE j.key = v.key
"""

_CLAIM = """
SELECT key, job FROM {table} AS j
WHERE status = 'queued' AND {queues} AND ninefold_run_at <= %(now)s
  AND (group_key IS NULL OR ninefold_concurrency_limit > (
    SELECT count(*) FROM {table} AS r WHERE r.status = 'active' AND r.group_key = j.group_key
  ))
ORDER BY priority, ninefold_run_at, key
LIMIT %(limit)s
FOR UPDATE OF j SKIP LOCKED
"""

_STATS = """
SELECT queue,
  count(*) FILTER (WHERE status = 'queued' AND ninefold_run_at <= %(now)s),
  count(*) FILTER (WHERE status = 'queued' AND ninefold_run_at > %(now)s),
  count(*) FILTER (WHERE status = 'active'),
  count(*) FILTER (WHERE status = 'failed'),
  min(ninefold_run_at) FILTER (WHERE status = 'queued' AND ninefold_run_at <= %(now)s),
  count(*) FILTER (WHERE ninefold_failed_at >= %(hour_ago)s),
  count(*) FILTER (WHERE status = 'complete' AND ninefold_finished_at >= %(hour_ago)s)
FROM {table} WHERE starts_with(queue, %(prefix)s)
GROUP BY queue ORDER BY queue
"""


class PostgresEngine:
    """The PostgreSQL half of ``SaqJobStore`` (see the module docstring)."""

    def __init__(
        self, url: str, prefix: str, *, pool_size: int = 10, table: str = JOBS_TABLE
    ) -> None:
        options: dict[str, Any] = {"dump": msgspec.json.encode, "load": msgspec.json.decode}
        first = PostgresQueue.from_url(
            url,
            name=f"{prefix}.default",
            jobs_table=table,
            min_size=1,
            max_size=pool_size,
            **options,
        )
        self._first = first
        self._pool = first.pool
        self._queues = SaqQueues(
            prefix,
            lambda name: (
                first
                if name == first.name
                else PostgresQueue(pool=first.pool, name=name, jobs_table=table, **options)
            ),
        )
        self._in_prefix = f"{prefix}."
        self._table_name = table
        self._table = sql.Identifier(table)

    async def connect(self) -> None:
        await self._first.connect()  # opens the pool; SAQ creates or migrates its tables
        await self._migrate()

    async def close(self) -> None:
        await self._first.disconnect()
        if not self._pool.closed:  # a connect that failed half-way left it open
            await self._pool.close()

    async def ping(self) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("SELECT 1")

    def _sql(self, text: str, **names: sql.Composable) -> sql.Composed:
        return sql.SQL(text).format(table=self._table, **names)

    async def _migrate(self) -> None:
        names = {
            what: sql.Identifier(f"{self._table_name}_ninefold_{what}")
            for what in ("idempotency", "claim", "running", "finished")
        }
        async with self._pool.connection() as conn, conn.transaction():
            last = f"{self._table_name}_ninefold_finished"
            done = await (await conn.execute("SELECT to_regclass(%s)", [last])).fetchone()
            if done is not None and done[0] is not None:
                return
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('ninefold.saq.migrate', 0))"
            )
            await conn.execute(self._sql(_MIGRATION, **names))

    def _decode(self, raw: bytes) -> Stored:
        return decode(raw, self._queues.named)

    def _row(self, job: Job) -> dict[str, Any]:
        queue = self._queues.of(job.queue)
        return {
            "key": job.id,
            "job": encode(job, queue, 0),
            "queue": queue.name,
            "status": SAQ_STATUS[job.state].value,
            "priority": saq_priority(job.priority),
            "group_key": job.concurrency_key,
            "scheduled": int(job.run_at.timestamp()),
            "ninefold_name": job.name,
            "ninefold_idempotency_key": job.idempotency_key,
            "ninefold_concurrency_limit": job.concurrency_limit,
            "ninefold_run_at": job.run_at,
            "ninefold_lease_until": job.lease_until,
            "ninefold_finished_at": job.finished_at,
            "ninefold_failed_at": last_failure(job),
        }

    async def _update(self, conn: AsyncConnection[Any], changes: Sequence[tuple[Job, int]]) -> None:
        """Write each ``(job, lease seconds)``: the record and the columns it changes."""
        if not changes:
            return
        columns: list[list[Any]] = [[] for _ in range(8)]
        for job, heartbeat in changes:
            values = (
                job.id,
                encode(job, self._queues.of(job.queue), heartbeat),
                SAQ_STATUS[job.state].value,
                int(job.run_at.timestamp()),
                job.run_at,
                job.lease_until,
                job.finished_at,
                last_failure(job),
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        await conn.execute(self._sql(_UPDATE), columns)

    # -- reading ---------------------------------------------------------------------

    async def _rows(self, query: sql.Composed, params: Any) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as conn:
            return await (await conn.execute(query, params)).fetchall()

    async def load(self, job_ids: Sequence[str]) -> list[Job | None]:
        rows = await self._rows(
            self._sql(
                "SELECT key, job FROM {table} WHERE key = ANY(%s) AND starts_with(queue, %s)"
            ),
            [list(job_ids), self._in_prefix],
        )
        found = {key: self._decode(raw).job for key, raw in rows}
        return [found.get(job_id) for job_id in job_ids]

    async def find(self, name: str, idempotency_key: str) -> Job | None:
        rows = await self._rows(
            self._sql(
                "SELECT job FROM {table} WHERE ninefold_name = %s"
                " AND ninefold_idempotency_key = %s AND starts_with(queue, %s)"
            ),
            [name, idempotency_key, self._in_prefix],
        )
        return self._decode(rows[0][0]).job if rows else None

    async def page(self, query: JobFilter) -> list[Job]:
        conditions = [sql.SQL("starts_with(queue, %s)")]
        params: list[Any] = [self._in_prefix]
        if query.state is not None:
            conditions.append(sql.SQL("status = %s"))
            params.append(SAQ_STATUS[query.state].value)
        if query.queue is not None:
            conditions.append(sql.SQL("queue = %s"))
            params.append(self._queues.saq_name(query.queue))
        if query.name is not None:
            conditions.append(sql.SQL("ninefold_name = %s"))
            params.append(query.name)
        if query.after is not None:
            conditions.append(sql.SQL("key < %s"))
            params.append(query.after)
        statement = self._sql(
            "SELECT job FROM {table} WHERE {where} ORDER BY key DESC LIMIT %s",
            where=sql.SQL(" AND ").join(conditions),
        )
        rows = await self._rows(statement, [*params, query.limit])
        return [self._decode(raw).job for (raw,) in rows]

    async def scan(self, states: Sequence[JobState]) -> AsyncIterator[list[str]]:
        statuses = [SAQ_STATUS[state].value for state in states]
        after = ""
        statement = self._sql(
            "SELECT key FROM {table} WHERE status = ANY(%s) AND starts_with(queue, %s)"
            " AND key > %s ORDER BY key LIMIT %s"
        )
        while rows := await self._rows(statement, [statuses, self._in_prefix, after, BATCH]):
            yield [key for (key,) in rows]
            after = rows[-1][0]

    async def expired(self, now: datetime, limit: int) -> list[Job]:
        rows = await self._rows(
            self._sql(
                "SELECT job FROM {table} WHERE status = 'active' AND ninefold_lease_until <= %s"
                " AND starts_with(queue, %s) ORDER BY key LIMIT %s"
            ),
            [now, self._in_prefix, limit],
        )
        return [self._decode(raw).job for (raw,) in rows]

    async def stats(self, now: datetime) -> list[QueueStats]:
        rows = await self._rows(
            self._sql(_STATS), {"now": now, "hour_ago": now - HOUR, "prefix": self._in_prefix}
        )
        return [
            QueueStats(
                queue=self._queues.ours(queue),
                waiting=waiting,
                scheduled=scheduled,
                running=running,
                dead=dead,
                oldest_waiting_seconds=None
                if oldest is None
                else max((now - oldest).total_seconds(), 0.0),
                failed_last_hour=failed,
                succeeded_last_hour=succeeded,
            )
            for queue, waiting, scheduled, running, dead, oldest, failed, succeeded in rows
        ]

    # -- writing ---------------------------------------------------------------------

    async def insert(self, job: Job) -> Job | None:
        row = self._row(job)
        statement = self._sql(
            "INSERT INTO {table} ({columns}) VALUES ({values})"
            " ON CONFLICT DO NOTHING RETURNING key",
            columns=sql.SQL(", ").join(sql.Identifier(column) for column in row),
            values=sql.SQL(", ").join(sql.Placeholder(column) for column in row),
        )
        if await self._rows(statement, row):
            return None
        existing = None
        if job.idempotency_key is not None:
            existing = await self.find(job.name, job.idempotency_key)
        if existing is None:
            (existing,) = await self.load([job.id])
        if existing is None:  # pragma: no cover - a conflict implies a row
            raise RuntimeError(f"job {job.id} conflicted but cannot be found")
        return existing

    async def change(self, job_ids: Sequence[str], change: Change) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        writes: list[tuple[Job, int]] = []
        async with self._pool.connection() as conn, conn.transaction():
            rows = await (
                await conn.execute(
                    self._sql(
                        "SELECT job FROM {table} WHERE key = ANY(%s) AND starts_with(queue, %s)"
                        " ORDER BY key FOR UPDATE"
                    ),
                    [sorted(set(job_ids)), self._in_prefix],
                )
            ).fetchall()
            for (raw,) in rows:
                stored = self._decode(raw)
                after = change(stored.job)
                if after is None or after is stored.job:
                    outcomes[stored.job.id] = (stored.job, False)
                else:
                    outcomes[stored.job.id] = (after, True)
                    writes.append((after, stored.heartbeat))
            await self._update(conn, writes)
        return outcomes

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_until: datetime,
        worker: str,
    ) -> list[Job]:
        names: str | list[str]
        if queues is None:
            where, names = sql.SQL("starts_with(queue, %(queues)s)"), self._in_prefix
        else:
            where, names = (
                sql.SQL("queue = ANY(%(queues)s)"),
                [self._queues.saq_name(q) for q in queues],
            )
        heartbeat = lease_seconds(now, lease_until)
        async with self._pool.connection() as conn, conn.transaction():
            rows = await (
                await conn.execute(
                    self._sql(_CLAIM, queues=where), {"queues": names, "now": now, "limit": limit}
                )
            ).fetchall()
            found = [self._decode(raw).job for _, raw in rows]
            running = await self._running(conn, {j.concurrency_key for j in found} - {None})
            batch = []
            for job in found:
                key = job.concurrency_key
                if key is not None:
                    if running.get(key, 0) >= job.concurrency_limit:
                        continue
                    running[key] = running.get(key, 0) + 1
                batch.append(claimed(job, now, lease_until, worker))
            await self._update(conn, [(job, heartbeat) for job in batch])
        return batch

    async def _running(self, conn: AsyncConnection[Any], keys: set[str | None]) -> dict[str, int]:
        """How many jobs run per concurrency key, counted under a per-key lock."""
        if not keys:
            return {}
        ordered = sorted(key for key in keys if key is not None)
        for key in ordered:  # one order everywhere: no deadlocks between workers
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))",
                [f"ninefold.saq:{key}"],
            )
        rows = await (
            await conn.execute(
                self._sql(
                    "SELECT group_key, count(*) FROM {table}"
                    " WHERE status = 'active' AND group_key = ANY(%s) GROUP BY group_key"
                ),
                [ordered],
            )
        ).fetchall()
        return {key: int(count) for key, count in rows}

    async def prune(self, finished_before: datetime, dead_before: datetime) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                self._sql(
                    "DELETE FROM {table} WHERE starts_with(queue, %(prefix)s) AND ("
                    " (status IN ('complete', 'aborted') AND ninefold_finished_at < %(finished)s)"
                    " OR (status = 'failed' AND ninefold_finished_at < %(dead)s))"
                ),
                {"prefix": self._in_prefix, "finished": finished_before, "dead": dead_before},
            )
            return cursor.rowcount
