"""``ninefold jobs`` (list, show, retry, cancel, replay, queues) and ``ninefold worker``'s
``--queues`` and ``--concurrency``.

Runs on SQLite and, with ``NINEFOLD_TEST_POSTGRES_URL`` set, on PostgreSQL, like the
other CLI tests (whose fixtures these mirror). Jobs are arranged through a container of
the test's own on the CLI's database, with two test job types registered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
import pytest
from tests.cli.harness import Ninefold

from core.workflows import JobContext, JobState, JobType, PermanentJobError, RetryPolicy
from core.workflows.admin import MAX_PAGE
from entrypoints.cli.jobs import JOB_STATES, PAGE_MAX
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.jobs import register_jobs
from entrypoints.settings import ensure_secret_key, load_settings
from entrypoints.testing.workflows import run_jobs
from entrypoints.worker import Worker

T = TypeVar("T")


# --- arranging jobs ------------------------------------------------------------------------


class Report(msgspec.Struct, frozen=True):
    number: int


_once = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=1.0, jitter=False)
BUILD_REPORT = JobType("reports.build", Report, queue="reports", retry=_once)
SEND_DIGEST = JobType("mail.send_digest", Report, queue="mail", retry=_once)


@dataclass
class Handlers:
    broken: set[str] = field(default_factory=set)
    ran: list[int] = field(default_factory=list)

    async def __call__(self, payload: Report, context: JobContext) -> None:
        if context.name in self.broken:
            raise PermanentJobError("the template is missing")
        self.ran.append(payload.number)


@dataclass
class Jobs:
    """The test's own container on the CLI's database."""

    container: ApplicationContainer
    handlers: Handlers

    async def enqueue(self, job_type: JobType[Report], number: int) -> str:
        async with self.container.unit_of_work() as uow:
            queue = self.container.workflows.job_queue(uow=uow)
            job = await queue.enqueue(job_type, Report(number))
            await uow.commit()
        return job.id

    async def dead(self, job_type: JobType[Report], number: int) -> str:
        self.handlers.broken.add(job_type.name)
        job_id = await self.enqueue(job_type, number)
        await run_jobs(self.container)
        self.handlers.broken.discard(job_type.name)
        return job_id

    async def state(self, job_id: str) -> str:
        async with self.container.workflows.open_store()() as store:
            job = await store.get(job_id)
        assert job is not None
        return job.state.value


def with_jobs(work: Callable[[Jobs], Awaitable[T]]) -> T:
    """Run ``work`` with a container of its own on the CLI's database."""

    async def run() -> T:
        container = build_container(ensure_secret_key(load_settings()))
        register_jobs(container)
        handlers = Handlers()
        container.workflows.registry().register(BUILD_REPORT, handlers)
        container.workflows.registry().register(SEND_DIGEST, handlers)
        try:
            return await work(Jobs(container, handlers))
        finally:
            await close_container(container)

    return asyncio.run(run())


@dataclass
class Arranged:
    dead: str
    queued: str
    digest: str


def arrange(jobs: Jobs) -> Awaitable[Arranged]:
    """A dead report, then a queued report and a queued digest (newest last)."""

    async def work() -> Arranged:
        dead = await jobs.dead(BUILD_REPORT, 1)
        return Arranged(
            dead=dead,
            queued=await jobs.enqueue(BUILD_REPORT, 2),
            digest=await jobs.enqueue(SEND_DIGEST, 3),
        )

    return work()


def ids_in(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]


# --- jobs list -----------------------------------------------------------------------------


def test_list_prints_jobs_newest_first_and_filters_them(ninefold: Ninefold) -> None:
    made = with_jobs(arrange)

    everything = ninefold("jobs", "list")
    dead = ninefold("jobs", "list", "--state", "dead")
    mail = ninefold("jobs", "list", "--queue", "mail")
    reports = ninefold("jobs", "list", "--name", "reports.build", "--state", "queued")
    nothing = ninefold("jobs", "list", "--queue", "nothing-here")

    assert everything.code == 0, everything.err
    assert everything.out.splitlines()[0].split() == [
        "ID", "STATE", "QUEUE", "NAME", "ATTEMPTS", "RUN", "AT", "LAST", "ERROR"
    ]  # fmt: skip
    assert ids_in(everything.out) == [made.digest, made.queued, made.dead]
    assert ids_in(dead.out) == [made.dead]
    assert "PermanentJobError: the template is missing" in dead.out
    assert " 1/3 " in dead.out
    assert ids_in(mail.out) == [made.digest]
    assert ids_in(reports.out) == [made.queued]
    assert nothing.code == 0
    assert nothing.out.strip() == "no jobs match"


def test_list_says_which_cursor_gives_the_next_page(ninefold: Ninefold) -> None:
    made = with_jobs(arrange)

    first = ninefold("jobs", "list", "--limit", "2")
    second = ninefold("jobs", "list", "--limit", "2", "--cursor", made.queued)

    assert ids_in(first.out) == [made.digest, made.queued]
    assert f"--cursor {made.queued}" in first.err
    assert ids_in(second.out) == [made.dead]
    assert "--cursor" not in second.err


def test_list_in_json_answers_what_the_api_answers(ninefold: Ninefold) -> None:
    made = with_jobs(arrange)

    result = ninefold("jobs", "list", "--limit", "1", "--json")

    assert result.code == 0, result.err
    page = json.loads(result.out)
    assert page["next_cursor"] == made.digest
    [job] = page["jobs"]
    assert job["id"] == made.digest
    assert job["state"] == "queued"
    assert job["queue"] == "mail"
    assert job["max_attempts"] == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["--state", "frozen"],
        ["--limit", "0"],
        ["--limit", str(PAGE_MAX + 1)],
        ["--limit", "many"],
    ],
    ids=" ".join,
)
def test_a_bad_filter_is_a_usage_error(ninefold: Ninefold, argv: list[str]) -> None:
    result = ninefold("jobs", "list", *argv)

    assert result.code == 2
    assert argv[0] in result.err


def test_the_clis_states_and_page_limit_are_cores() -> None:
    assert tuple(state.value for state in JobState) == JOB_STATES
    assert PAGE_MAX == MAX_PAGE


# --- jobs show -----------------------------------------------------------------------------


def test_show_prints_the_payload_options_and_every_attempt(ninefold: Ninefold) -> None:
    made = with_jobs(arrange)

    result = ninefold("jobs", "show", made.dead)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["id", made.dead]
    assert "state            dead" in result.out
    assert "attempts         1 of 3 (2 left)" in result.out
    assert "queue            reports" in result.out
    assert "payload" in lines
    assert '  "number": 1' in result.out
    history = lines[lines.index("history") + 1]
    assert history.startswith("  #1  ")
    assert "failed" in history
    assert "PermanentJobError: the template is missing" in history


def test_show_in_json_gives_the_api_s_detail(ninefold: Ninefold) -> None:
    made = with_jobs(arrange)

    result = ninefold("jobs", "show", made.dead, "--json")

    shown = json.loads(result.out)
    assert shown["id"] == made.dead
    assert shown["payload"] == {"number": 1}
    assert shown["retry"]["max_attempts"] == 3
    assert [a["outcome"] for a in shown["history"]] == ["failed"]


def test_an_unknown_id_exits_1_saying_so(ninefold: Ninefold) -> None:
    for action in ("show", "retry", "cancel"):
        result = ninefold("jobs", action, "job_nothing")

        assert result.code == 1, action
        assert result.err.strip() == f"ninefold jobs {action}: no job has the id 'job_nothing'"


# --- retry, cancel, replay -------------------------------------------------------------------


def test_retry_queues_a_dead_job_again_and_it_runs(ninefold: Ninefold) -> None:
    made = with_jobs(arrange)

    retried = ninefold("jobs", "retry", made.dead)
    not_dead = ninefold("jobs", "retry", made.queued)

    assert retried.code == 0, retried.err
    assert f"job {made.dead} (reports.build) was dead: queued again" in retried.out
    assert not_dead.code == 1
    assert "is queued" in not_dead.err

    async def run_them(jobs: Jobs) -> tuple[str, list[int]]:
        await run_jobs(jobs.container)
        return await jobs.state(made.dead), jobs.handlers.ran

    state, ran = with_jobs(run_them)
    assert state == "succeeded"
    assert 1 in ran


def test_cancel_stops_a_queued_job_and_refuses_a_finished_one(ninefold: Ninefold) -> None:
    made = with_jobs(arrange)

    cancelled = ninefold("jobs", "cancel", made.queued)
    finished = ninefold("jobs", "cancel", made.dead)

    assert cancelled.code == 0, cancelled.err
    assert cancelled.out.strip() == f"job {made.queued} (reports.build) is cancelled"
    assert finished.code == 1
    assert "has dead" in finished.err

    async def state(jobs: Jobs) -> str:
        return await jobs.state(made.queued)

    assert with_jobs(state) == "cancelled"


def test_replay_needs_a_queue_a_name_or_all(ninefold: Ninefold) -> None:
    with_jobs(arrange)

    result = ninefold("jobs", "replay")

    assert result.code == 2
    assert "--all" in result.err
    assert ids_in(ninefold("jobs", "list", "--state", "dead").out) != []


def test_replay_queues_again_the_dead_jobs_of_a_queue_and_then_all(ninefold: Ninefold) -> None:
    async def two_queues(jobs: Jobs) -> list[str]:
        return [
            await jobs.dead(BUILD_REPORT, 1),
            await jobs.dead(BUILD_REPORT, 2),
            await jobs.dead(SEND_DIGEST, 3),
        ]

    reports_one, reports_two, digest = with_jobs(two_queues)

    by_queue = ninefold("jobs", "replay", "--queue", "reports")
    by_name = ninefold("jobs", "replay", "--name", "reports.build")
    everything = ninefold("jobs", "replay", "--all")

    assert by_queue.code == 0, by_queue.err
    assert by_queue.out.strip() == "replayed 2 dead jobs (queue reports)"
    assert by_name.out.strip() == "replayed 0 dead jobs (name reports.build)"
    assert everything.out.strip() == "replayed 1 dead job"
    queued = ids_in(ninefold("jobs", "list", "--state", "queued").out)
    assert sorted(queued) == sorted([reports_one, reports_two, digest])


def test_replay_of_cancelled_jobs(ninefold: Ninefold) -> None:
    made = with_jobs(arrange)
    ninefold("jobs", "cancel", made.digest)

    result = ninefold("jobs", "replay", "--state", "cancelled", "--queue", "mail")

    assert result.out.strip() == "replayed 1 cancelled job (queue mail)"
    assert ids_in(ninefold("jobs", "list", "--state", "dead").out) == [made.dead]


# --- jobs queues ---------------------------------------------------------------------------


def test_queues_prints_each_queues_figures(ninefold: Ninefold) -> None:
    with_jobs(arrange)

    table = ninefold("jobs", "queues")
    as_json = ninefold("jobs", "queues", "--json")

    assert table.code == 0, table.err
    rows = {line.split()[0]: line.split()[1:] for line in table.out.splitlines()[1:]}
    # waiting, scheduled, running, dead, oldest, failed/1h, succeeded/1h
    assert rows["reports"][:4] == ["1", "0", "0", "1"]
    assert rows["reports"][5:] == ["1", "0"]
    assert rows["mail"][:4] == ["1", "0", "0", "0"]
    figures = {q["queue"]: q for q in json.loads(as_json.out)["queues"]}
    assert figures["reports"]["dead"] == 1
    assert figures["reports"]["failed_last_hour"] == 1
    assert figures["mail"]["waiting"] == 1
    assert figures["mail"]["oldest_waiting_seconds"] >= 0


def test_queues_without_jobs(ninefold: Ninefold) -> None:
    result = ninefold("jobs", "queues")

    assert result.code == 0
    assert result.out.strip() == "no jobs in any queue"


def test_jobs_explains_itself(ninefold: Ninefold) -> None:
    result = ninefold("jobs", "--help")

    assert result.code == 0
    for action in ("list", "show", "retry", "cancel", "replay", "queues"):
        assert action in result.out


# --- the worker's flags --------------------------------------------------------------------


@pytest.fixture
def started(cli_env: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Workers the CLI builds start and stop at once; their options are recorded."""
    options: list[dict[str, Any]] = []

    class StartsAndStops(Worker):
        def __init__(self, container: ApplicationContainer, **given: Any) -> None:
            super().__init__(container, **given)
            options.append(given)

        async def run_until_stopped(self, stop: asyncio.Event) -> None:
            before = asyncio.all_tasks()
            stop.set()
            await super().run_until_stopped(stop)
            options[-1]["stopped"] = asyncio.all_tasks() - before == set()

    cli_env.setattr("entrypoints.worker.Worker", StartsAndStops)
    return options


def test_worker_flags_override_the_settings(
    ninefold: Ninefold, cli_env: pytest.MonkeyPatch, started: list[dict[str, Any]]
) -> None:
    cli_env.setenv("NINEFOLD_WORKER_QUEUES", "default")
    cli_env.setenv("NINEFOLD_WORKER_CONCURRENCY", "8")

    result = ninefold("worker", "--queues", "mail, reports,mail", "--concurrency", "2")

    assert result.code == 0, result.err
    assert started == [{"queues": ("mail", "reports"), "concurrency": 2, "stopped": True}]
    assert "ninefold worker: mail, reports, 2 jobs at a time" in result.err


def test_without_flags_the_worker_takes_the_settings(
    ninefold: Ninefold, cli_env: pytest.MonkeyPatch, started: list[dict[str, Any]]
) -> None:
    cli_env.setenv("NINEFOLD_WORKER_QUEUES", "default,maintenance")
    cli_env.setenv("NINEFOLD_WORKER_CONCURRENCY", "3")

    configured = ninefold("worker")
    cli_env.delenv("NINEFOLD_WORKER_QUEUES")
    cli_env.delenv("NINEFOLD_WORKER_CONCURRENCY")
    defaults = ninefold("worker")

    assert configured.code == 0, configured.err
    assert started[0] == {"queues": ("default", "maintenance"), "concurrency": 3, "stopped": True}
    assert started[1] == {"queues": None, "concurrency": 8, "stopped": True}
    assert "ninefold worker: every queue, 8 jobs at a time" in defaults.err


@pytest.mark.parametrize(
    "argv",
    [["--concurrency", "0"], ["--concurrency", "two"], ["--queues", " , "]],
    ids=" ".join,
)
def test_bad_worker_flags_are_usage_errors(
    ninefold: Ninefold, started: list[dict[str, Any]], argv: list[str]
) -> None:
    result = ninefold("worker", *argv)

    assert result.code == 2
    assert argv[0] in result.err
    assert started == []


def test_worker_help_names_the_flags(ninefold: Ninefold) -> None:
    result = ninefold("worker", "--help")

    text = " ".join(result.out.split())
    assert "--queues" in text
    assert "NINEFOLD_WORKER_QUEUES" in text
    assert "NINEFOLD_WORKER_CONCURRENCY" in text
