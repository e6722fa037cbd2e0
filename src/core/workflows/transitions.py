"""How a stored job changes, as pure functions: every engine applies the same ones, so
the SQL queue, SAQ and the fake keep the same state, attempts and history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from core.workflows.model import (
    RETRYABLE_STATES,
    Attempt,
    Job,
    JobState,
    Outcome,
    QueueStats,
    Settlement,
)

HISTORY_MAX = 50  # attempts kept per job; the oldest go first
HOUR = timedelta(hours=1)
FAILED_OUTCOMES = frozenset({"failed", "timed_out", "lost"})


def claimed(job: Job, now: datetime, lease_until: datetime, worker: str) -> Job:
    attempt = job.attempts + 1
    record = Attempt(number=attempt, started_at=now, worker=worker)
    return msgspec.structs.replace(
        job,
        state=JobState.RUNNING,
        attempts=attempt,
        started_at=now,
        lease_until=lease_until,
        worker=worker,
        history=(*job.history, record)[-HISTORY_MAX:],
    )


def holds(job: Job, worker: str, attempt: int) -> bool:
    """Whether ``worker`` still holds ``attempt`` of ``job``."""
    return job.state is JobState.RUNNING and job.worker == worker and job.attempts == attempt


def settled(job: Job, settlement: Settlement) -> Job:
    """The job after the runner's decision (the caller has checked ``holds``)."""
    history = list(job.history)
    if history and history[-1].number == settlement.attempt and history[-1].finished_at is None:
        history[-1] = msgspec.structs.replace(
            history[-1],
            finished_at=settlement.at,
            outcome=settlement.outcome.value,
            error=settlement.error,
        )
    released = settlement.outcome is Outcome.RELEASED
    finished = settlement.state in (JobState.SUCCEEDED, JobState.DEAD)
    return msgspec.structs.replace(
        job,
        state=settlement.state,
        attempts=job.attempts - 1 if released else job.attempts,
        run_at=settlement.retry_at or job.run_at,
        lease_until=None,
        worker=None,
        finished_at=settlement.at if finished else None,
        last_error=settlement.error if settlement.error is not None else job.last_error,
        history=tuple(history),
    )


def extended(job: Job, lease_until: datetime) -> Job:
    return msgspec.structs.replace(job, lease_until=lease_until)


def cancelled(job: Job, now: datetime) -> Job:
    """A queued or running job, cancelled; any other is returned as it is."""
    if job.state not in (JobState.QUEUED, JobState.RUNNING):
        return job
    history = list(job.history)
    if job.state is JobState.RUNNING and history and history[-1].finished_at is None:
        history[-1] = msgspec.structs.replace(history[-1], finished_at=now, outcome="cancelled")
    return msgspec.structs.replace(
        job,
        state=JobState.CANCELLED,
        finished_at=now,
        lease_until=None,
        worker=None,
        history=tuple(history),
    )


def requeued(job: Job, now: datetime) -> Job:
    """A dead or cancelled job, queued again with fresh attempts; any other unchanged."""
    if job.state not in RETRYABLE_STATES:
        return job
    return msgspec.structs.replace(
        job,
        state=JobState.QUEUED,
        attempts=0,
        run_at=now,
        finished_at=None,
        lease_until=None,
        worker=None,
    )


def is_due(job: Job, now: datetime) -> bool:
    return job.state is JobState.QUEUED and job.run_at <= now


def is_expired(job: Job, now: datetime) -> bool:
    return job.state is JobState.RUNNING and job.lease_until is not None and job.lease_until <= now


def claim_order(job: Job) -> tuple[int, datetime, str]:
    """Highest priority first, then the earliest ``run_at``, then the oldest id."""
    return (-job.priority, job.run_at, job.id)


def stats_of(jobs: Iterable[Job], now: datetime) -> list[QueueStats]:
    """Per-queue figures over jobs, for engines that cannot aggregate themselves.
    ``failed_last_hour`` counts jobs with a failed attempt in the last hour, once each;
    ``succeeded_last_hour`` jobs that succeeded in the last hour."""
    figures: dict[str, dict[str, float]] = {}
    for job in jobs:
        entry = figures.setdefault(job.queue, dict.fromkeys(_FIGURES, 0.0))
        if job.state is JobState.QUEUED and job.run_at <= now:
            entry["waiting"] += 1
            entry["oldest"] = max(entry["oldest"], (now - job.run_at).total_seconds())
        elif job.state is JobState.QUEUED:
            entry["scheduled"] += 1
        elif job.state in (JobState.RUNNING, JobState.DEAD):
            entry[job.state.value] += 1
        failed_at = last_failure(job)
        entry["failed"] += failed_at is not None and now - failed_at <= HOUR
        entry["succeeded"] += (
            job.state is JobState.SUCCEEDED
            and job.finished_at is not None
            and now - job.finished_at <= HOUR
        )
    return [
        QueueStats(
            queue=queue,
            waiting=int(e["waiting"]),
            scheduled=int(e["scheduled"]),
            running=int(e["running"]),
            dead=int(e["dead"]),
            oldest_waiting_seconds=e["oldest"] if e["waiting"] else None,
            failed_last_hour=int(e["failed"]),
            succeeded_last_hour=int(e["succeeded"]),
        )
        for queue, e in sorted(figures.items())
    ]


_FIGURES = ("waiting", "scheduled", "running", "dead", "failed", "succeeded", "oldest")


def last_failure(job: Job) -> datetime | None:
    """When the job's latest failed attempt ended, if it had one."""
    for attempt in reversed(job.history):
        if attempt.outcome in FAILED_OUTCOMES:
            return attempt.finished_at
    return None
