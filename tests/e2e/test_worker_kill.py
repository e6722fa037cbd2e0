"""A worker killed with SIGKILL in the middle of a job loses nothing: once its lease
has passed, another worker takes the job again, and every job completes. On both
engines: the SQL queue (SQLite and PostgreSQL) and SAQ on Redis.

The workers are real processes (``tests/e2e/kill_target_worker.py``) on a real
database, with a 2-second lease so the test stays short.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from core.workflows import JobFilter, JobState, JobType
from entrypoints.containers import build_container, close_container
from entrypoints.settings import Settings
from entrypoints.testing.plugin import settings_with
from entrypoints.testing.redis import delete_keys
from entrypoints.worker import open_queue_for

TARGET = Path(__file__).with_name("kill_target_worker.py")
JOBS = 40
WITHIN_SECONDS = 60.0


class Work(msgspec.Struct, frozen=True):
    kind: str


WORK = JobType("killtest.work", Work)  # as declared in kill_target_worker.py


@pytest.fixture(params=["sql", pytest.param("saq", marks=pytest.mark.redis)])
def engine_settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """The test's settings on each engine: the SQL queue in the test database, or SAQ on
    Redis under a key prefix of the test's own (the outbox stays in the database).
    Synchronous: the Redis fixtures check the server with an event loop of their own."""
    if request.param == "sql":
        yield settings
        return
    redis_url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_key_prefix")
    yield settings_with(settings, jobs_backend="saq", saq_url=redis_url, saq_prefix=prefix)
    for pattern in (f"saq:job:{prefix}.*", f"saq:{prefix}.*"):
        asyncio.run(delete_keys(redis_url, pattern))


def worker_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_")}
    env.update(
        NINEFOLD_ENV="test",
        NINEFOLD_DATA_DIR=str(data_dir),
        NINEFOLD_DATABASE_URL=settings.database_url,
        NINEFOLD_SECRET_KEY=settings.secret_key,
        NINEFOLD_PASSWORD_HASHER="fast-insecure",
        NINEFOLD_JOBS_BACKEND=settings.jobs_backend,
        NINEFOLD_SAQ_URL=settings.saq_url,
        NINEFOLD_SAQ_PREFIX=settings.saq_prefix,
        NINEFOLD_JOBS_LEASE_SECONDS="2",
        NINEFOLD_WORKER_CONCURRENCY="4",
        NINEFOLD_LOG_LEVEL="warning",
    )
    return env


def start_worker(env: dict[str, str], log: Path, output: Path) -> subprocess.Popen[bytes]:
    with output.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(TARGET), str(log)], env=env, stdout=out, stderr=out
        )


def lines(log: Path) -> list[tuple[str, int, str]]:
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        job_id, attempt, what = line.split()
        found.append((job_id, int(attempt), what))
    return found


def wait_for(condition: object, what: str, output: Path) -> None:
    deadline = time.monotonic() + WITHIN_SECONDS
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {WITHIN_SECONDS:g}s; worker output:\n{output.read_text()[-3000:]}")


async def test_a_killed_worker_loses_no_job(engine_settings: Settings, tmp_path: Path) -> None:
    settings = engine_settings
    container = build_container(settings)  # the real clock: the workers use it too
    try:
        async with open_queue_for(container)() as queue:
            slow = await queue.enqueue(WORK, Work("slow"))
            for _ in range(JOBS - 1):
                await queue.enqueue(WORK, Work("quick"))
        await container.workflows.outbox_relay().drain()  # SAQ: hand the jobs over now
        log, output = tmp_path / "attempts.log", tmp_path / "workers.out"
        env = worker_env(settings, tmp_path / "var")

        first = start_worker(env, log, output)
        try:
            wait_for(
                lambda: (slow.id, 1, "start") in lines(log), "the slow job never started", output
            )
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()

        second = start_worker(env, log, output)
        try:
            # Done means settled in the store: a job whose handler finished in the killed
            # worker but was never recorded as finished is recovered and runs again.
            deadline = time.monotonic() + WITHIN_SECONDS
            while True:
                async with container.workflows.open_store()() as store:
                    jobs = await store.list(JobFilter(name=WORK.name, limit=JOBS + 10))
                states = Counter(job.state for job in jobs)
                if states == {JobState.SUCCEEDED: JOBS} or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=15)
        finally:
            if second.poll() is None:
                second.kill()

        assert states == {JobState.SUCCEEDED: JOBS}, states  # lost: 0
        by_id = {job.id: job for job in jobs}
        assert [a.outcome for a in by_id[slow.id].history] == ["lost", "succeeded"]
        # At least once: a job the killed worker finished ran once; only those it was
        # running when it died may have run again.
        runs = Counter(job_id for job_id, _, what in lines(log) if what == "start")
        assert all(count >= 1 for count in runs.values())
        assert sum(runs.values()) - JOBS <= 4  # at most the killed worker's 4 slots
    finally:
        await close_container(container)
