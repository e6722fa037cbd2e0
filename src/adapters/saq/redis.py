"""SAQ on Redis: jobs are SAQ job records (``saq:job:<prefix>.<queue>:<job id>``, read by
SAQ's ``RedisQueue``), with the indexes our semantics need next to them under
``<prefix>:jobs:``.

SAQ's Redis queue is a FIFO list (no priorities, no per-key limits, its own clock), so
claiming uses indexes of ours, kept in step with every write by Lua scripts:

- per queue, ``q:<queue>:queued`` (every queued job, by ``run_at``) and two sets that
  hold each queued job once: ``sched`` (not yet due, by ``run_at``) and ``ready`` (due,
  ordered by priority, then ``run_at``, then id: members are
  ``<100 - priority><run_at µs><id>``, compared byte by byte); ``running`` (by lease
  expiry), one set per finished state (by ``finished_at``) and ``failed`` (by the last
  failed attempt);
- store-wide: ``where`` (id → SAQ key), ``idem`` (name + idempotency key → id),
  ``ckeys`` (id → concurrency limit and key), ``busy`` (concurrency key → jobs running),
  ``all`` and ``state:<state>`` (ids, for listing), ``queues``.

Every write is a compare-and-set: the store reads a job, applies core's transition in
Python, and a Lua script writes it only if the stored record is still the one read (its
SHA-1), updating the indexes in the same atomic step; a job changed meanwhile is read
again. Claiming is two scripts: one moves due jobs from ``sched`` to ``ready`` and picks
candidates in claim order, skipping keys at their limit; the write then re-checks, for
each job, that its key's running count is still under its limit before counting it in.
So no key ever runs more than its limit, whatever the number of workers. Scripts build
key names at run time: use a single Redis server (or a primary), not Redis Cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import msgspec
from redis import asyncio as aioredis
from saq.queue.redis import RedisQueue

from adapters.saq.codec import (
    SaqQueues,
    Stored,
    decode,
    encode,
    lease_seconds,
    micros,
    saq_priority,
)
from adapters.saq.engine import Change, Outcome, matches
from core.workflows import Job, JobFilter, JobState, QueueStats
from core.workflows.transitions import claimed, is_due, is_expired, last_failure

HOUR = timedelta(hours=1)
SCAN_MAX = 10_000  # ready jobs a claim looks through past those blocked by their key
MAX_TRIES = 20  # reads of a job that others keep changing, before giving up
FINISHED = (JobState.SUCCEEDED, JobState.CANCELLED, JobState.DEAD)

# Index operations, four arguments each: op, key, field or score, member or value.
_APPLY = r"""
local function apply_ops(from, count)
  for k = from, from + count * 4 - 1, 4 do
    local op, key, a, b = ARGV[k], ARGV[k + 1], ARGV[k + 2], ARGV[k + 3]
    if op == 'zadd' then redis.call('ZADD', key, a, b)
    elseif op == 'zrem' then redis.call('ZREM', key, b)
    elseif op == 'hset' then redis.call('HSET', key, a, b)
    elseif op == 'hdel' then redis.call('HDEL', key, a)
    elseif op == 'inc' then redis.call('HINCRBY', key, a, 1)
    elseif op == 'dec' then
      if redis.call('HINCRBY', key, a, -1) <= 0 then redis.call('HDEL', key, a) end
    end
  end
end
local function refused(from, count)
  for k = from, from + count * 4 - 1, 4 do
    if ARGV[k] == 'inc' then
      local busy = tonumber(redis.call('HGET', ARGV[k + 1], ARGV[k + 2]) or '0')
      if busy >= tonumber(ARGV[k + 3]) then return true end
    end
  end
  return false
end
"""

# ARGV: where, idem, id, idempotency field, queues, queue, SAQ key, record, count, ops.
ADD = (
    _APPLY
    + r"""
local found = false
if ARGV[4] ~= '' then
  local other = redis.call('HGET', ARGV[2], ARGV[4])
  if other then found = redis.call('HGET', ARGV[1], other) end
end
if not found then found = redis.call('HGET', ARGV[1], ARGV[3]) end
if found then return {0, redis.call('GET', found)} end
apply_ops(10, tonumber(ARGV[9]))
redis.call('SET', ARGV[7], ARGV[8])
redis.call('SADD', ARGV[5], ARGV[6])
return {1}
"""
)

# ARGV: where, ids...
LOAD = r"""
local records = {}
for j = 2, #ARGV do
  local key = redis.call('HGET', ARGV[1], ARGV[j])
  records[j - 1] = key and redis.call('GET', key) or false
end
return records
"""

# ARGV: count, then per job: SAQ key, SHA-1 of the record read, new record ('' deletes),
# op count, ops. Answers per job: 1 written, 0 changed meanwhile, -1 key at its limit.
WRITE = (
    _APPLY
    + r"""
local results = {}
local i = 2
for j = 1, tonumber(ARGV[1]) do
  local key, expected, record, count = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local from = i + 4
  i = from + count * 4
  local current = redis.call('GET', key)
  if not current or redis.sha1hex(current) ~= expected then
    results[j] = 0
  elseif refused(from, count) then
    results[j] = -1
  else
    apply_ops(from, count)
    if record == '' then redis.call('DEL', key) else redis.call('SET', key, record) end
    results[j] = 1
  end
end
return results
"""
)

# ARGV: base, now (µs), limit, scan limit, queues... (none: every queue).
# Answers id, record, id, record... in claim order.
SELECT = r"""
local base, now, limit, scan_max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local names = {}
for j = 5, #ARGV do names[#names + 1] = ARGV[j] end
if #names == 0 then names = redis.call('SMEMBERS', base .. ':queues') end
local heads = {}
for _, name in ipairs(names) do
  local q = base .. ':q:' .. name
  local due = redis.call('ZRANGEBYSCORE', q .. ':sched', '-inf', ARGV[2])
  if #due > 0 then
    for _, member in ipairs(due) do redis.call('ZADD', q .. ':ready', 0, member) end
    redis.call('ZREMRANGEBYSCORE', q .. ':sched', '-inf', ARGV[2])
  end
  heads[#heads + 1] = {key = q .. ':ready', buffer = {}, at = 1, offset = 0, done = false}
end
local function peek(h)
  if h.at > #h.buffer then
    if h.done then return nil end
    h.buffer = redis.call('ZRANGE', h.key, h.offset, h.offset + 99)
    h.offset = h.offset + #h.buffer
    h.at = 1
    if #h.buffer < 100 then h.done = true end
    if #h.buffer == 0 then return nil end
  end
  return h.buffer[h.at]
end
-- byte order, not the locale's: priority, then run_at, then id
local function before(a, b)
  local x, y = tonumber(string.sub(a, 1, 3)), tonumber(string.sub(b, 1, 3))
  if x ~= y then return x < y end
  x, y = tonumber(string.sub(a, 4, 21)), tonumber(string.sub(b, 4, 21))
  if x ~= y then return x < y end
  for k = 22, math.min(#a, #b) do
    local ca, cb = string.byte(a, k), string.byte(b, k)
    if ca ~= cb then return ca < cb end
  end
  return #a < #b
end
local busy_key, ckeys_key, where_key = base .. ':busy', base .. ':ckeys', base .. ':where'
local taken, picked, found, scanned = {}, {}, 0, 0
while found < limit and scanned < scan_max do
  local best, best_head = nil, nil
  for _, h in ipairs(heads) do
    local m = peek(h)
    if m and (not best or before(m, best)) then best, best_head = m, h end
  end
  if not best then break end
  best_head.at = best_head.at + 1
  scanned = scanned + 1
  if tonumber(string.sub(best, 4, 21)) <= now then
    local id = string.sub(best, 22)
    local free = true
    local spec = redis.call('HGET', ckeys_key, id)
    if spec then
      local sep = string.find(spec, '\31', 1, true)
      local most, ckey = tonumber(string.sub(spec, 1, sep - 1)), string.sub(spec, sep + 1)
      local running = taken[ckey] or tonumber(redis.call('HGET', busy_key, ckey) or '0')
      if running >= most then free = false else taken[ckey] = running + 1 end
    end
    if free then
      local key = redis.call('HGET', where_key, id)
      local record = key and redis.call('GET', key)
      if record then
        picked[#picked + 1] = id
        picked[#picked + 1] = record
        found = found + 1
      end
    end
  end
end
return picked
"""

# One index entry: (kind, key, field or score, member or value). Kinds: "z" a sorted
# set member, "q" a queued job (in ``queued`` and ``sched``, or ``ready``), "h" a hash
# field, "c" a job counted against its concurrency key (the value is its limit).
Entry = tuple[str, str, str, str]


class RedisEngine:
    """The Redis half of ``SaqJobStore`` (see the module docstring)."""

    def __init__(self, url: str, prefix: str) -> None:
        self._client: aioredis.Redis = aioredis.from_url(url)
        self._queues = SaqQueues(
            prefix,
            lambda name: RedisQueue(
                self._client, name=name, dump=msgspec.json.encode, load=msgspec.json.decode
            ),
        )
        self._base = base = f"{prefix}:jobs"
        self._where, self._idem, self._ckeys = f"{base}:where", f"{base}:idem", f"{base}:ckeys"
        self._busy, self._all, self._queue_set = f"{base}:busy", f"{base}:all", f"{base}:queues"
        self._add_script = self._client.register_script(ADD)
        self._load_script = self._client.register_script(LOAD)
        self._write_script = self._client.register_script(WRITE)
        self._select_script = self._client.register_script(SELECT)

    async def connect(self) -> None:
        await cast(Awaitable[bool], self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        await cast(Awaitable[bool], self._client.ping())

    # -- keys and indexes ----------------------------------------------------------

    def _q(self, queue: str, what: str) -> str:
        return f"{self._base}:q:{queue}:{what}"

    def _state(self, state: JobState) -> str:
        return f"{self._base}:state:{state.value}"

    def _saq_key(self, job: Job) -> str:
        return self._queues.of(job.queue).job_id(job.id)

    def _entries(self, job: Job) -> set[Entry]:
        entries: set[Entry] = {
            ("h", self._where, job.id, self._saq_key(job)),
            ("z", self._all, "0", job.id),
            ("z", self._state(job.state), "0", job.id),
        }
        if job.idempotency_key is not None:
            entries.add(("h", self._idem, _idem_field(job.name, job.idempotency_key), job.id))
        if job.concurrency_key is not None:
            entries.add(
                ("h", self._ckeys, job.id, f"{job.concurrency_limit}\x1f{job.concurrency_key}")
            )
        if job.state is JobState.QUEUED:
            entries.add(("q", self._q(job.queue, ""), str(micros(job.run_at)), _order(job)))
        elif job.state is JobState.RUNNING:
            lease = micros(job.lease_until or job.run_at)
            entries.add(("z", self._q(job.queue, "running"), str(lease), job.id))
            if job.concurrency_key is not None:
                entries.add(("c", self._busy, job.concurrency_key, str(job.concurrency_limit)))
        else:
            finished = micros(job.finished_at or job.run_at)
            entries.add(("z", self._q(job.queue, job.state.value), str(finished), job.id))
        failed = last_failure(job)
        if failed is not None:
            entries.add(("z", self._q(job.queue, "failed"), str(micros(failed)), job.id))
        return entries

    def _ops(self, before: Job | None, after: Job | None) -> list[str]:
        old = self._entries(before) if before is not None else set()
        new = self._entries(after) if after is not None else set()
        ops: list[str] = []
        for kind, key, a, b in sorted(old - new):
            if kind == "q":
                for what in ("queued", "sched", "ready"):
                    ops += ["zrem", key + what, "", b]
            elif kind == "z":
                ops += ["zrem", key, "", b]
            elif kind == "h":
                ops += ["hdel", key, a, ""]
            else:
                ops += ["dec", key, a, ""]
        for kind, key, a, b in sorted(new - old):
            if kind == "q":
                ops += ["zadd", key + "queued", a, b, "zadd", key + "sched", a, b]
            elif kind == "z":
                ops += ["zadd", key, a, b]
            elif kind == "h":
                ops += ["hset", key, a, b]
            else:
                ops += ["inc", key, a, b]
        return ops

    def _decode(self, raw: bytes) -> Stored:
        return decode(raw, self._queues.named)

    # -- reading ---------------------------------------------------------------------

    async def _load(self, job_ids: Sequence[str]) -> list[Stored | None]:
        if not job_ids:
            return []
        records = await self._load_script(args=[self._where, *job_ids])
        return [None if raw is None else self._decode(raw) for raw in records]

    async def load(self, job_ids: Sequence[str]) -> list[Job | None]:
        return [None if s is None else s.job for s in await self._load(job_ids)]

    async def find(self, name: str, idempotency_key: str) -> Job | None:
        job_id = await cast(
            Awaitable[bytes | None],
            self._client.hget(self._idem, _idem_field(name, idempotency_key)),
        )
        if job_id is None:
            return None
        (job,) = await self.load([job_id.decode()])
        return job

    async def page(self, query: JobFilter) -> list[Job]:
        index = self._all if query.state is None else self._state(query.state)
        batch = query.limit if query.queue is None and query.name is None else 500
        top = b"+" if query.after is None else b"(" + query.after.encode()
        found: list[Job] = []
        while len(found) < query.limit:
            ids = await self._client.zrevrangebylex(index, top, b"-", start=0, num=batch)
            if not ids:
                break
            found += [j for j in await self.load(_texts(ids)) if j and matches(j, query)]
            top = b"(" + ids[-1]
            if len(ids) < batch:
                break
        return found[: query.limit]

    async def scan(self, states: Sequence[JobState]) -> AsyncIterator[list[str]]:
        for state in states:
            low = b"-"
            while ids := await self._client.zrangebylex(
                self._state(state), low, b"+", start=0, num=500
            ):
                yield _texts(ids)
                low = b"(" + ids[-1]

    async def _names(self) -> list[str]:
        names = await cast(Awaitable[set[bytes]], self._client.smembers(self._queue_set))
        return sorted(_texts(names))

    async def expired(self, now: datetime, limit: int) -> list[Job]:
        names = await self._names()
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zrangebyscore(self._q(name, "running"), "-inf", micros(now))
            found = await pipe.execute()
        ids = sorted({job_id for batch in found for job_id in _texts(batch)})
        jobs = [j for j in await self.load(ids) if j is not None and is_expired(j, now)]
        return sorted(jobs, key=lambda job: job.id)[:limit]

    async def stats(self, now: datetime) -> list[QueueStats]:
        names = await self._names()
        at, hour_ago = micros(now), micros(now - HOUR)
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                queued = self._q(name, "queued")
                pipe.zcount(queued, "-inf", at)
                pipe.zcount(queued, f"({at}", "+inf")
                pipe.zrangebyscore(queued, "-inf", at, start=0, num=1, withscores=True)
                pipe.zcard(self._q(name, "running"))
                pipe.zcard(self._q(name, "dead"))
                pipe.zcount(self._q(name, "failed"), hour_ago, "+inf")
                pipe.zcount(self._q(name, "succeeded"), hour_ago, "+inf")
                pipe.zcard(self._q(name, "succeeded"))
                pipe.zcard(self._q(name, "cancelled"))
            replies = await pipe.execute()
        stats = []
        for n, name in enumerate(names):
            waiting, scheduled, oldest, running, dead, failed, succeeded, done, gone = replies[
                n * 9 : n * 9 + 9
            ]
            if not waiting + scheduled + running + dead + done + gone:
                continue
            stats.append(
                QueueStats(
                    queue=name,
                    waiting=waiting,
                    scheduled=scheduled,
                    running=running,
                    dead=dead,
                    oldest_waiting_seconds=max((at - oldest[0][1]) / 1e6, 0.0) if oldest else None,
                    failed_last_hour=failed,
                    succeeded_last_hour=succeeded,
                )
            )
        return stats

    # -- writing ---------------------------------------------------------------------

    async def insert(self, job: Job) -> Job | None:
        queue = self._queues.of(job.queue)
        ops = self._ops(None, job)
        field = "" if job.idempotency_key is None else _idem_field(job.name, job.idempotency_key)
        reply = await self._add_script(
            args=[
                self._where,
                self._idem,
                job.id,
                field,
                self._queue_set,
                job.queue,
                queue.job_id(job.id),
                encode(job, queue, 0),
                len(ops) // 4,
                *ops,
            ]
        )
        if reply[0] == 1:
            return None
        if reply[1] is None:  # pragma: no cover - an index without its job
            raise RuntimeError(f"job {job.id} conflicts with a job that cannot be read")
        return self._decode(reply[1]).job

    async def _write(self, writes: Sequence[tuple[Stored, Job | None, int]]) -> list[int]:
        """Write each ``(as read, after, lease seconds)``; ``None`` deletes the job."""
        if not writes:
            return []
        args: list[Any] = [len(writes)]
        for stored, after, heartbeat in writes:
            queue = self._queues.of(stored.job.queue)
            ops = self._ops(stored.job, after)
            record = b"" if after is None else encode(after, queue, heartbeat)
            args += [queue.job_id(stored.job.id), _sha1(stored.raw), record, len(ops) // 4, *ops]
        return [int(status) for status in await self._write_script(args=args)]

    async def change(self, job_ids: Sequence[str], change: Change) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        pending = list(dict.fromkeys(job_ids))
        for _ in range(MAX_TRIES):
            writes: list[tuple[Stored, Job | None, int]] = []
            for stored in await self._load(pending):
                if stored is None:
                    continue
                after = change(stored.job)
                if after is None or after is stored.job:
                    outcomes[stored.job.id] = (stored.job, False)
                else:
                    writes.append((stored, after, stored.heartbeat))
            statuses = await self._write(writes)
            pending = []
            for (stored, after, _), status in zip(writes, statuses, strict=True):
                if status == 0:  # changed since it was read: read it again
                    pending.append(stored.job.id)
                elif status == 1 and after is not None:
                    outcomes[stored.job.id] = (after, True)
                else:  # it would start a job over its concurrency limit
                    outcomes[stored.job.id] = (stored.job, False)
            if not pending:
                return outcomes
        raise RuntimeError(f"jobs {pending} kept changing while being written")

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime,
        lease_until: datetime,
        worker: str,
    ) -> list[Job]:
        heartbeat = lease_seconds(now, lease_until)
        taken: list[Job] = []
        for _ in range(3):  # more only when other workers took some of the candidates
            wanted = limit - len(taken)
            reply = await self._select_script(
                args=[self._base, micros(now), wanted, SCAN_MAX + wanted, *(queues or ())]
            )
            candidates = [self._decode(raw) for raw in reply[1::2]]
            writes: list[tuple[Stored, Job | None, int]] = [
                (s, claimed(s.job, now, lease_until, worker), heartbeat)
                for s in candidates
                if is_due(s.job, now)
            ]
            statuses = await self._write(writes)
            taken += [
                after
                for (_, after, _), status in zip(writes, statuses, strict=True)
                if after is not None and status == 1
            ]
            if len(candidates) < wanted or all(status == 1 for status in statuses):
                break
            if len(taken) >= limit:
                break
        return taken

    async def prune(self, finished_before: datetime, dead_before: datetime) -> int:
        names = await self._names()
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                for state in FINISHED:
                    before = dead_before if state is JobState.DEAD else finished_before
                    pipe.zrangebyscore(self._q(name, state.value), "-inf", f"({micros(before)}")
            found = await pipe.execute()
        ids = [job_id for batch in found for job_id in _texts(batch)]
        pruned = 0
        for start in range(0, len(ids), 500):
            stored = [s for s in await self._load(ids[start : start + 500]) if s is not None]
            statuses = await self._write([(s, None, 0) for s in stored])
            pruned += sum(status == 1 for status in statuses)
        return pruned


def _idem_field(name: str, idempotency_key: str) -> str:
    return f"{name}\x1f{idempotency_key}"


def _order(job: Job) -> str:
    """The member that orders queued jobs: priority, then run_at, then id."""
    return f"{saq_priority(job.priority):03d}{micros(job.run_at):018d}{job.id}"


def _sha1(raw: bytes) -> str:
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


def _texts(values: Iterable[bytes]) -> list[str]:
    return [value.decode() for value in values]
