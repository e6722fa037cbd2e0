"""Our ``Job`` stored as a SAQ job, so SAQ's own tools (``queue.job(key)``, its web UI)
read it as one of theirs.

The SAQ record's own fields mirror ours, each set explicitly (SAQ's defaults are one
retry and a 10 s timeout): ``function`` is the job's name, ``kwargs`` its payload,
``key`` its id, ``status`` its state, ``attempts``, ``timeout``, ``retries`` (the most
attempts), ``retry_delay``/``retry_backoff`` (the retry policy's base and longest
delay), ``scheduled`` (``run_at``, epoch seconds), ``priority`` (SAQ's order is
ascending: ``100 - priority``), ``group_key`` (the concurrency key), ``ttl`` 0 (kept
until ``prune``, never expired by SAQ) and, for a running job, ``heartbeat`` and
``touched`` such that SAQ's ``stuck`` becomes true exactly when our lease passes. The
whole job, attempt history included, is in ``meta["ninefold"]``: that is what
``decode`` reads back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from saq.job import Job as SaqJob
from saq.job import Status
from saq.queue import Queue

from core.workflows import Job, JobState

META_KEY = "ninefold"
MAX_PRIORITY = 100  # core's priorities run from -100 to 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

SAQ_STATUS = {
    JobState.QUEUED: Status.QUEUED,
    JobState.RUNNING: Status.ACTIVE,
    JobState.SUCCEEDED: Status.COMPLETE,
    JobState.DEAD: Status.FAILED,
    JobState.CANCELLED: Status.ABORTED,
}


@dataclass(frozen=True, slots=True)
class Stored:
    """A job as read from SAQ: ours, the lease length SAQ was told (its ``heartbeat``),
    and the stored bytes (compared on write, so a write never overwrites a change it
    did not see)."""

    job: Job
    heartbeat: int
    raw: bytes


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: exact, and ordered like the datetimes."""
    return max((moment - EPOCH) // MICROSECOND, 0)


def _millis(moment: datetime | None) -> int:
    return 0 if moment is None else micros(moment) // 1000


def saq_priority(priority: int) -> int:
    """SAQ runs the lowest number first; core runs the highest priority first."""
    return MAX_PRIORITY - max(-MAX_PRIORITY, min(priority, MAX_PRIORITY))


def lease_seconds(now: datetime, lease_until: datetime) -> int:
    """A lease's length in whole seconds: SAQ's ``heartbeat`` for the job holding it."""
    return max(math.ceil((lease_until - now).total_seconds()), 1)


def to_saq(job: Job, queue: Queue, heartbeat: int) -> SaqJob:
    """The SAQ record of ``job`` in ``queue``; ``heartbeat`` is its lease length when it
    runs (the worker renews the lease at least that often)."""
    running = job.state is JobState.RUNNING
    heartbeat = heartbeat if running else 0
    stored = msgspec.to_builtins(job)
    del stored["payload"]
    if running and job.lease_until is not None:
        touched = _millis(job.lease_until) - heartbeat * 1000
    else:
        touched = _millis(job.finished_at or job.started_at or job.created_at)
    return SaqJob(
        function=job.name,
        kwargs={"payload": job.payload.decode()},
        queue=queue,
        key=job.id,
        timeout=max(math.ceil(job.timeout), 1),
        heartbeat=heartbeat,
        retries=job.retry.max_attempts,
        ttl=0,
        retry_delay=job.retry.base_delay,
        retry_backoff=job.retry.max_delay,
        scheduled=int(job.run_at.timestamp()),
        attempts=job.attempts,
        queued=_millis(job.created_at),
        started=_millis(job.started_at),
        completed=_millis(job.finished_at),
        touched=touched,
        error=job.last_error,
        status=SAQ_STATUS[job.state],
        priority=saq_priority(job.priority),
        group_key=job.concurrency_key,
        meta={META_KEY: stored},
        worker_id=job.worker,
    )


def encode(job: Job, queue: Queue, heartbeat: int) -> bytes:
    serialized = queue.serialize(to_saq(job, queue, heartbeat))
    return serialized if isinstance(serialized, bytes) else serialized.encode()


def from_saq(record: SaqJob) -> Job:
    stored: dict[str, Any] = dict(record.meta[META_KEY])
    stored["payload"] = str((record.kwargs or {})["payload"]).encode()
    return msgspec.convert(stored, Job, strict=False)


def decode(raw: bytes, queue_named: Callable[[str], Queue]) -> Stored:
    """The job in ``raw``; ``queue_named`` gives the SAQ queue of a SAQ queue name."""
    data = msgspec.json.decode(raw)
    record = queue_named(data["queue"]).deserialize(data)
    if record is None:  # pragma: no cover - only for an empty value
        raise ValueError("an empty SAQ job")
    return Stored(job=from_saq(record), heartbeat=record.heartbeat, raw=raw)


class SaqQueues:
    """One SAQ queue per ninefold queue (``<prefix>.<queue>``), all sharing the engine's
    connection; made on first use."""

    def __init__(self, prefix: str, make: Callable[[str], Queue]) -> None:
        self.prefix = prefix
        self._make = make
        self._by_name: dict[str, Queue] = {}

    def saq_name(self, queue: str) -> str:
        return f"{self.prefix}.{queue}"

    def ours(self, saq_name: str) -> str:
        """The ninefold queue name of a SAQ queue name."""
        return saq_name[len(self.prefix) + 1 :]

    def of(self, queue: str) -> Queue:
        return self.named(self.saq_name(queue))

    def named(self, saq_name: str) -> Queue:
        queue = self._by_name.get(saq_name)
        if queue is None:
            queue = self._by_name[saq_name] = self._make(saq_name)
        return queue
