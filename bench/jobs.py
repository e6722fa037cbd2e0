"""No-op jobs enqueued and completed per second with one worker process.

The subject is ninefold's SQL engine on PostgreSQL, run by core's ``JobRunner`` in
``entrypoints.worker.Worker`` (what ``ninefold worker`` runs); the reference is SAQ on
the same PostgreSQL server and database, run by SAQ's own ``Worker`` with a no-op
function (SAQ's native path). Both run 10 jobs at once (SAQ's default). The same run
also measures our engine on SQLite, and our runner on the SAQ store (PostgreSQL, and
Redis when one answers), whose enqueues travel through the outbox and the worker's
relay as in the app.

A round, per leg: empty its tables, enqueue N jobs one by one from this process (ours:
a unit of work and a commit per job, as a request would; SAQ: ``queue.enqueue``), and
wait until all N are complete, counted in the database every 5 ms once the enqueueing
is done. The figure is N over the time from the first enqueue to the last completion;
the worker's CPU time per job is shown too (less disturbed by other load). Each worker
runs in a process of its own for the whole run (one warm-up round each); rounds
alternate the order of the two main legs, which run back to back, and the ratio is the
median over rounds of ours over SAQ's in the same round. The databases are fresh and
dropped at the end; the Redis leg uses a key prefix of its own and deletes its keys.

``python -m bench jobs`` or ``python -m bench.jobs [--jobs N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bench.common import DEFAULT_POSTGRES_URL, RESULTS_DIR, Options, warn_if_busy, write_results
from bench.postgres import PostgresUnavailableError, fresh_database, masked
from bench.servers import PROJECT_ROOT, app_environment, free_port, migrate

GOAL = 1.0
JOBS = 2000
CONCURRENCY = 10  # SAQ's default; ours is set to the same
QUEUE = "bench"
NOOP_NAME = "bench.noop"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
POLL_SECONDS = 0.005
ROUND_TIMEOUT = 300.0

SUCCEEDED_NOOPS = (
    f"SELECT count(*) FROM workflows_jobs WHERE state = 'succeeded' AND name = '{NOOP_NAME}'"
)
Clear = Callable[[], Awaitable[None]]
Count = Callable[[], Awaitable[int]]


class Noop(msgspec.Struct, frozen=True):
    pass


def noop_job_type() -> Any:
    from core.workflows import JobType

    return JobType(NOOP_NAME, Noop, queue=QUEUE)


# -- the worker processes ----------------------------------------------------------


class WorkerProcess:
    """``python -m bench.jobs worker KIND`` in a session of its own; ready once it says
    so in its log."""

    def __init__(self, kind: str, env: dict[str, str], log: Path) -> None:
        self.kind, self.env, self.log = kind, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.jobs", "worker", self.kind],
                env=self.env,
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while "ready" not in self.log.read_text(errors="replace").split():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.kind} worker did not start; see {self.log}")
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User and system CPU time of the worker so far (``/proc``, Linux)."""
        if self.process is None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


async def _our_worker() -> None:
    """ninefold's worker (relay, runner, scheduler) with the no-op job registered."""
    from entrypoints.containers import close_container
    from entrypoints.settings import ensure_secret_key, load_settings
    from entrypoints.worker import Worker

    container = _container(ensure_secret_key(load_settings()), os.environ)

    async def noop(payload: Noop, context: object) -> None:
        return None

    container.workflows.registry().register(noop_job_type(), noop)
    worker = Worker(container)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    worker.start()
    print("ready", flush=True)
    await stop.wait()
    await worker.stop()
    await close_container(container)


async def _saq_worker() -> None:
    """SAQ's own worker with a no-op function, until SIGTERM."""
    from saq import Worker
    from saq.queue.postgres import PostgresQueue

    queue = PostgresQueue.from_url(os.environ["BENCH_SAQ_URL"], name=QUEUE)

    async def noop(ctx: object) -> None:
        return None

    async def announce(ctx: object) -> None:
        print("ready", flush=True)

    await queue.connect()
    worker = Worker(queue, functions=[("noop", noop)], concurrency=CONCURRENCY, startup=[announce])
    await worker.start()
    await queue.disconnect()


def _container(settings: Any, env: Any) -> Any:
    """The app's container; on SAQ, with this run's key prefix (``BENCH_SAQ_PREFIX``)."""
    from dependency_injector import providers

    from adapters.saq import SaqJobStore
    from entrypoints.containers import build_container

    container = build_container(settings)
    if prefix := env.get("BENCH_SAQ_PREFIX"):
        container.workflows.saq_store.override(
            providers.Singleton(SaqJobStore, url=settings.saq_url, prefix=prefix)
        )
    return container


# -- the legs ----------------------------------------------------------------------


@dataclass
class Leg:
    """One engine measured: how to empty it, enqueue N jobs, count completed ones."""

    name: str
    label: str
    worker: WorkerProcess
    clear: Clear
    enqueue: Callable[[int], Awaitable[None]]
    completed: Count
    rates: list[float] = field(default_factory=list)
    enqueue_rates: list[float] = field(default_factory=list)
    worker_cpu_us: list[float] = field(default_factory=list)
    enqueue_cpu_us: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "median_jobs_per_second": self.median,
            "rounds_jobs_per_second": self.rates,
            "rounds_enqueued_per_second": self.enqueue_rates,
            "rounds_worker_cpu_us_per_job": self.worker_cpu_us,
            "rounds_enqueuer_cpu_us_per_job": self.enqueue_cpu_us,
        }


async def measure(leg: Leg, jobs: int, *, record: bool = True) -> str:
    """One round of ``leg``: its figures, recorded unless it is the warm-up."""
    await leg.clear()
    cpu_before, own_before = leg.worker.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    await leg.enqueue(jobs)
    enqueued = time.perf_counter()
    own_cpu = time.process_time() - own_before
    deadline = enqueued + ROUND_TIMEOUT
    while (done := await leg.completed()) < jobs:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{leg.name}: {done} of {jobs} jobs completed in {ROUND_TIMEOUT} s")
        await asyncio.sleep(POLL_SECONDS)
    finished = time.perf_counter()
    rate, enqueue_rate = jobs / (finished - started), jobs / (enqueued - started)
    worker_cpu = (leg.worker.cpu_seconds() - cpu_before) / jobs * 1e6
    if record:
        leg.rates.append(rate)
        leg.enqueue_rates.append(enqueue_rate)
        leg.worker_cpu_us.append(worker_cpu)
        leg.enqueue_cpu_us.append(own_cpu / jobs * 1e6)
    return (
        f"{rate:>7,.0f} jobs/s  (enqueue alone {enqueue_rate:,.0f}/s; CPU per job: worker "
        f"{worker_cpu:,.0f} us, enqueuer {own_cpu / jobs * 1e6:,.0f} us)"
    )


class Legs:
    """Builds the legs, their workers and their connections; ``close`` undoes it all."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.stack = contextlib.AsyncExitStack()
        self.base = {"NINEFOLD_WORKER_CONCURRENCY": str(CONCURRENCY)}

    async def close(self) -> None:
        await self.stack.aclose()

    def _worker(self, kind: str, name: str, env: dict[str, str]) -> WorkerProcess:
        process = WorkerProcess(kind, env, self.work / f"{name}.log")
        self.stack.callback(process.stop)
        process.start()
        return process

    def _app_env(self, name: str, **settings: str) -> dict[str, str]:
        """The app's environment for leg ``name``, migrated (``ninefold db upgrade``)."""
        env = {**app_environment(self.work / name, free_port()), **self.base, **settings}
        migrate(env, self.work / f"migrate-{name}.log")
        return env

    async def ours(
        self, name: str, label: str, env: dict[str, str], clear: Clear, completed: Count
    ) -> Leg:
        """Our worker on ``env``'s engine; enqueues through the app's units of work."""
        from entrypoints.containers import close_container
        from entrypoints.settings import ensure_secret_key, load_settings

        worker = self._worker("ours", name, env)
        container = _container(ensure_secret_key(load_settings(env, env_file=None)), env)
        self.stack.push_async_callback(close_container, container)
        job_type = noop_job_type()

        async def enqueue(jobs: int) -> None:
            for _ in range(jobs):
                async with container.unit_of_work() as uow:
                    await container.workflows.job_queue(uow=uow).enqueue(job_type, Noop())
                    await uow.commit()

        return Leg(name, label, worker, clear, enqueue, completed)

    async def _postgres(self, url: str, tables: Sequence[str], count: str) -> tuple[Clear, Count]:
        """Empty ``tables`` (those that exist yet); count completed jobs with ``count``."""
        import asyncpg

        connection = await asyncpg.connect(url)
        self.stack.push_async_callback(connection.close)

        async def clear() -> None:
            for table in tables:
                if await connection.fetchval("SELECT to_regclass($1)", table) is not None:
                    await connection.execute(f"TRUNCATE {table}")

        async def completed() -> int:
            return int(await connection.fetchval(count))

        return clear, completed

    async def sql_postgres(self, url: str) -> Leg:
        env = self._app_env("sql-postgres", NINEFOLD_DATABASE_URL=url)
        clear, completed = await self._postgres(
            url,
            ("workflows_jobs", "workflows_outbox"),
            SUCCEEDED_NOOPS,
        )
        return await self.ours(
            "sql-postgres", "ours: SQL engine, PostgreSQL", env, clear, completed
        )

    async def saq_native(self, url: str) -> Leg:
        from saq.queue.postgres import PostgresQueue

        env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_")}
        worker = self._worker("saq", "saq-native", {**env, "BENCH_SAQ_URL": url})
        queue = PostgresQueue.from_url(url, name=QUEUE)
        await queue.connect()
        self.stack.push_async_callback(queue.disconnect)
        clear, completed = await self._postgres(
            url,
            ("saq_jobs",),
            f"SELECT count(*) FROM saq_jobs WHERE status = 'complete' AND queue = '{QUEUE}'",
        )

        async def enqueue(jobs: int) -> None:
            for _ in range(jobs):
                await queue.enqueue("noop")

        label = "SAQ's own Worker, PostgreSQL"
        return Leg("saq-native", label, worker, clear, enqueue, completed)

    async def sql_sqlite(self) -> Leg:
        env = self._app_env("sql-sqlite")
        clear, completed = _sqlite(Path(env["NINEFOLD_DATA_DIR"]) / "ninefold.db")
        return await self.ours("sql-sqlite", "ours: SQL engine, SQLite", env, clear, completed)

    async def saq_postgres(self, url: str) -> Leg:
        env = self._app_env(
            "ours-saq-postgres",
            NINEFOLD_DATABASE_URL=url,
            NINEFOLD_JOBS_BACKEND="saq",
            NINEFOLD_SAQ_URL=url,
        )
        clear, completed = await self._postgres(
            url,
            ("saq_jobs", "workflows_outbox"),
            "SELECT count(*) FROM saq_jobs WHERE status = 'complete'"
            f" AND queue = 'ninefold.{QUEUE}'",
        )
        label = "ours: runner on the SAQ store, PostgreSQL"
        return await self.ours("ours-saq-postgres", label, env, clear, completed)

    async def saq_redis(self, url: str) -> Leg:
        from redis import asyncio as aioredis

        prefix = f"ninefold-bench:{secrets.token_hex(4)}"
        client = aioredis.from_url(url)
        self.stack.push_async_callback(client.aclose)

        async def forget() -> None:
            for pattern in (f"{prefix}:*", f"saq:job:{prefix}.*"):
                keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
                if keys:
                    await client.delete(*keys)

        self.stack.push_async_callback(forget)  # after its worker stopped: nothing is left
        env = self._app_env(
            "ours-saq-redis",
            NINEFOLD_JOBS_BACKEND="saq",
            NINEFOLD_SAQ_URL=url,
            BENCH_SAQ_PREFIX=prefix,
        )
        clear_outbox, _ = _sqlite(Path(env["NINEFOLD_DATA_DIR"]) / "ninefold.db")

        async def clear() -> None:
            await clear_outbox()
            await forget()

        async def completed() -> int:
            return int(await client.zcard(f"{prefix}:jobs:q:{QUEUE}:succeeded"))

        label = "ours: runner on the SAQ store, Redis (outbox in SQLite)"
        return await self.ours("ours-saq-redis", label, env, clear, completed)


def _sqlite(path: Path) -> tuple[Clear, Count]:
    def run(statement: str) -> int:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection, connection:
            row = connection.execute(statement).fetchone()
            return int(row[0]) if row else 0

    async def clear() -> None:
        run("DELETE FROM workflows_jobs")
        run("DELETE FROM workflows_outbox")

    async def completed() -> int:
        return run(SUCCEEDED_NOOPS)

    return clear, completed


async def _redis_problem(url: str) -> str | None:
    from redis import asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()


# -- the run -----------------------------------------------------------------------


async def run_legs(
    work: Path, jobs: int, rounds: int, postgres: Sequence[str], redis_url: str | None
) -> list[Leg]:
    """Start every leg, warm each up, then measure ``rounds`` rounds."""
    legs = Legs(work)
    try:
        chosen: list[Leg] = []
        if postgres:
            chosen += [await legs.sql_postgres(postgres[0]), await legs.saq_native(postgres[0])]
        chosen.append(await legs.sql_sqlite())
        if postgres:
            chosen.append(await legs.saq_postgres(postgres[1]))
        if redis_url is not None:
            chosen.append(await legs.saq_redis(redis_url))
        print(f"\n== warm-up: {max(jobs // 4, 1)} jobs per leg", flush=True)
        for leg in chosen:
            await measure(leg, max(jobs // 4, 1), record=False)
        main, extra = (chosen[:2], chosen[2:]) if postgres else ([], chosen)
        for index in range(rounds):
            for leg in [*(main if index % 2 == 0 else main[::-1]), *extra]:
                figures = await measure(leg, jobs)
                print(f"  round {index + 1}  {leg.name:<18} {figures}", flush=True)
        return chosen
    finally:
        await legs.close()


def run(options: Options, *, jobs: int = JOBS, redis_url: str | None = DEFAULT_REDIS_URL) -> int:
    """Measure every leg; 0 when measured (the goal's verdict is printed), 2 when it
    could not run. A leg whose server cannot be reached is skipped, not failed."""
    print(
        f"\nninefold bench jobs: no-op jobs enqueued and completed per second, one worker "
        f"process per leg ({CONCURRENCY} jobs at once); {jobs} jobs x {options.rounds} rounds "
        "after a warm-up; ours (JobRunner, SQL engine) vs SAQ's own Worker on one PostgreSQL",
        flush=True,
    )
    busy = warn_if_busy()
    skipped: dict[str, str] = {}
    with (
        tempfile.TemporaryDirectory(prefix="ninefold-bench-jobs-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        postgres: list[str] = []
        try:
            for _ in range(2):  # the main legs' database; the SAQ store's
                postgres.append(stack.enter_context(fresh_database(options.postgres_url)))
            print(f"  fresh databases {', '.join(masked(url) for url in postgres)}", flush=True)
        except PostgresUnavailableError as exc:
            skipped["postgres"] = f"PostgreSQL at {masked(options.postgres_url)}: {exc}"
            print(f"  SKIPPED the PostgreSQL legs: {skipped['postgres']}", flush=True)
            postgres = []
        if redis_url is not None and (problem := asyncio.run(_redis_problem(redis_url))):
            skipped["redis"] = f"Redis at {redis_url}: {problem}"
            print(f"  SKIPPED the Redis leg: {skipped['redis']}", flush=True)
            redis_url = None
        try:
            legs = asyncio.run(run_legs(work, jobs, options.rounds, postgres, redis_url))
        except Exception as exc:
            print(f"error: {type(exc).__name__}: {exc}")
            for log in sorted(work.glob("*.log")):
                print(f"--- {log.name} (last lines)\n{log.read_text(errors='replace')[-2000:]}")
            return 2
    return report(legs, jobs, options, skipped, busy)


def report(
    legs: list[Leg], jobs: int, options: Options, skipped: dict[str, str], busy: float | None
) -> int:
    print()
    for leg in legs:
        cpu = statistics.median(leg.worker_cpu_us)
        print(
            f"result {leg.name:<18} {leg.median:>7,.0f} jobs/s (median), worker "
            f"{cpu:,.0f} us CPU/job  {leg.label}"
        )
    by_name = {leg.name: leg for leg in legs}
    ratio = None
    ours, saq = by_name.get("sql-postgres"), by_name.get("saq-native")
    if ours is not None and saq is not None and all(saq.rates):
        # The two legs of a round run back to back, so a round's ratio is measured under
        # the same conditions; the median over rounds resists a round disturbed by load.
        per_round = [a / b for a, b in zip(ours.rates, saq.rates, strict=True)]
        ratio = statistics.median(per_round)
        spread = ", ".join(f"{r:.3f}" for r in per_round)
        verdict = "met" if ratio >= GOAL else "NOT met"
        print(
            f"ratio sql-postgres / saq-native {ratio:.3f} "
            f"(per round: {spread}; goal >= {GOAL}: {verdict})"
        )
    path = write_results(
        options.results_dir,
        "jobs",
        {
            "jobs_per_round": jobs,
            "rounds": options.rounds,
            "worker_concurrency": CONCURRENCY,
            "goal_ratio": GOAL,
            "ratio_sql_postgres_to_saq_native": ratio,
            "skipped": skipped,
            "environment": {"cpu_busy_before_run": busy},
            "legs": {leg.name: leg.as_dict() for leg in legs},
        },
    )
    print(f"written to {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["worker"]:  # inside a worker process
        asyncio.run(_saq_worker() if args[1:] == ["saq"] else _our_worker())
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__)
    parser.add_argument("--jobs", type=int, default=JOBS, help="per round and leg")
    parser.add_argument("--rounds", type=int, default=Options().rounds)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="'' skips that leg")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parsed = parser.parse_args(args)
    if parsed.jobs < 1 or parsed.rounds < 1:
        parser.error("--jobs and --rounds must be >= 1")
    options = Options(
        rounds=parsed.rounds, postgres_url=parsed.postgres_url, results_dir=parsed.results_dir
    )
    return run(options, jobs=parsed.jobs, redis_url=parsed.redis_url or None)


if __name__ == "__main__":
    raise SystemExit(main())
