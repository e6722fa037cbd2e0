"""``ninefold jobs``: look at jobs and queues; retry, cancel and replay jobs.

The commands act as the operator (shell access to the server is the authority, as for
``ninefold staff``) and use the same ``JobAdmin`` as ``/api/v1/admin/jobs``; ``--json``
prints what the API answers. Each change is logged (``operator action``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from entrypoints.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    one_line,
    print_json,
    settings_for_command,
    table,
    when,
    with_container,
)
from entrypoints.logging import configure_logging

if TYPE_CHECKING:
    from core.workflows import Job, JobAdmin, QueueStats
    from entrypoints.containers import ApplicationContainer

# The values of core.workflows.JobState, spelt out so that parsing the command line
# imports nothing heavy (a test checks that they agree).
JOB_STATES = ("queued", "running", "succeeded", "dead", "cancelled")
REPLAYABLE_STATES = ("dead", "cancelled")
PAGE_MAX = 200  # core.workflows.admin.MAX_PAGE
ERROR_WIDTH = 60


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def page_size(text: str) -> int:
    value = positive_int(text)
    if value > PAGE_MAX:
        raise argparse.ArgumentTypeError(f"at most {PAGE_MAX}: {value}")
    return value


def queue_list(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated queue names, at least one."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise argparse.ArgumentTypeError("name at least one queue, e.g. --queues default,mail")
    return names


@asynccontextmanager
async def _job_admin(container: ApplicationContainer) -> AsyncIterator[JobAdmin]:
    from core.workflows import JobAdmin

    async with container.workflows.open_store()() as store:
        yield JobAdmin(store=store, clock=container.kernel.clock())


def _log_action(action: str, **fields: Any) -> None:
    import structlog

    structlog.get_logger("ninefold.staff").info(
        "operator action", actor="cli", action=action, **fields
    )


# --- the commands --------------------------------------------------------------------------


async def _jobs_list(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from core.workflows import JobFilter, JobState
    from entrypoints.http.workflows.admin import list_page

    query = JobFilter(
        state=JobState(args.state) if args.state else None,
        queue=args.queue,
        name=args.name,
        after=args.cursor,
        limit=args.limit,
    )
    async with _job_admin(container) as admin:
        page = await list_page(admin, query)
    if args.json:
        print_json(page)
        return EXIT_OK
    if not page.jobs:
        print("no jobs match")
        return EXIT_OK
    rows = [("ID", "STATE", "QUEUE", "NAME", "ATTEMPTS", "RUN AT", "LAST ERROR")]
    rows += [
        (
            job.id,
            job.state.value,
            job.queue,
            job.name,
            f"{job.attempts}/{job.max_attempts}",
            when(job.run_at),
            one_line(job.last_error, ERROR_WIDTH),
        )
        for job in page.jobs
    ]
    print(table(rows))
    if page.next_cursor:
        print(f"more jobs: run again with --cursor {page.next_cursor}", file=sys.stderr)
    return EXIT_OK


def _describe(job: Job) -> str:
    import msgspec

    retry = job.retry
    concurrency = (
        f"key {job.concurrency_key}, at most {job.concurrency_limit} at once"
        if job.concurrency_key
        else "-"
    )
    fields = [
        ("id", job.id),
        ("name", job.name),
        ("queue", job.queue),
        ("state", job.state.value),
        ("attempts", f"{job.attempts} of {retry.max_attempts} ({job.attempts_left} left)"),
        (
            "retry",
            f"wait {retry.base_delay:g}s doubling to at most {retry.max_delay:g}s, "
            f"jitter {'on' if retry.jitter else 'off'}",
        ),
        ("timeout", f"{job.timeout:g}s"),
        ("priority", str(job.priority)),
        ("idempotency key", job.idempotency_key or "-"),
        ("concurrency", concurrency),
        ("workspace", job.workspace_id or "-"),
        ("created", when(job.created_at)),
        ("run at", when(job.run_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.finished_at)),
        ("lease until", when(job.lease_until)),
        ("worker", job.worker or "-"),
        ("last error", job.last_error or "-"),
    ]
    width = max(len(label) for label, _ in fields)
    lines = [f"{label:<{width}}  {value}" for label, value in fields]
    try:
        payload = msgspec.json.format(job.payload, indent=2).decode()
    except msgspec.DecodeError:  # not JSON: shown as it is
        payload = job.payload.decode("utf-8", errors="replace")
    lines += ["payload", "  " + payload.replace("\n", "\n  ")]
    lines.append("history" if job.history else "history  (no attempt yet)")
    for attempt in job.history:
        lines.append(
            f"  #{attempt.number}  {when(attempt.started_at)} -> {when(attempt.finished_at)}"
            f"  {attempt.outcome or 'running'}  on {attempt.worker}"
            + (f"  {one_line(attempt.error, 200)}" if attempt.error else "")
        )
    return "\n".join(lines)


async def _jobs_show(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from entrypoints.http.workflows.admin import JobOut

    async with _job_admin(container) as admin:
        job = await admin.get(args.job_id)
    if args.json:
        print_json(JobOut.of(job))
    else:
        print(_describe(job))
    return EXIT_OK


async def _jobs_retry(args: argparse.Namespace, container: ApplicationContainer) -> int:
    async with _job_admin(container) as admin:
        before = await admin.get(args.job_id)
        job = await admin.retry(args.job_id)
    _log_action("jobs.retry", job_id=job.id, job_name=job.name, queue=job.queue)
    print(f"job {job.id} ({job.name}) was {before.state.value}: queued again with fresh attempts")
    return EXIT_OK


async def _jobs_cancel(args: argparse.Namespace, container: ApplicationContainer) -> int:
    async with _job_admin(container) as admin:
        job = await admin.cancel(args.job_id)
    _log_action("jobs.cancel", job_id=job.id, job_name=job.name, queue=job.queue)
    print(f"job {job.id} ({job.name}) is cancelled")
    return EXIT_OK


async def _jobs_replay(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from core.workflows import JobFilter, JobState

    query = JobFilter(state=JobState(args.state), queue=args.queue, name=args.name)
    async with _job_admin(container) as admin:
        replayed = await admin.replay(query)
    scope = ", ".join(
        f"{label} {value}" for label, value in (("queue", args.queue), ("name", args.name)) if value
    )
    _log_action(
        "jobs.replay", state=args.state, queue=args.queue, job_name=args.name, replayed=replayed
    )
    jobs = "job" if replayed == 1 else "jobs"
    print(f"replayed {replayed} {args.state} {jobs}" + (f" ({scope})" if scope else ""))
    return EXIT_OK


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


async def _jobs_queues(args: argparse.Namespace, container: ApplicationContainer) -> int:
    async with _job_admin(container) as admin:
        stats: list[QueueStats] = list(await admin.stats())
    if args.json:
        print_json({"queues": stats})
        return EXIT_OK
    if not stats:
        print("no jobs in any queue")
        return EXIT_OK
    rows = [("QUEUE", "WAITING", "SCHEDULED", "RUNNING", "DEAD", "OLDEST", "FAILED/1H", "OK/1H")]
    rows += [
        (
            s.queue,
            str(s.waiting),
            str(s.scheduled),
            str(s.running),
            str(s.dead),
            _age(s.oldest_waiting_seconds),
            str(s.failed_last_hour),
            str(s.succeeded_last_hour),
        )
        for s in stats
    ]
    print(table(rows))
    return EXIT_OK


COMMANDS = {
    "list": _jobs_list,
    "show": _jobs_show,
    "retry": _jobs_retry,
    "cancel": _jobs_cancel,
    "replay": _jobs_replay,
    "queues": _jobs_queues,
}


def cmd_jobs(args: argparse.Namespace) -> int:
    """Durable jobs. Domain errors (unknown id, not retryable) exit 1, in one line."""
    from core.kernel import DomainError

    if args.jobs_command == "replay" and not (args.queue or args.name or args.all):
        print(
            "ninefold jobs replay: name a --queue or a --name to replay, or pass --all to "
            f"replay every {args.state} job",
            file=sys.stderr,
        )
        return EXIT_USAGE
    settings = settings_for_command()
    configure_logging(settings)
    work = partial(COMMANDS[args.jobs_command], args)
    try:
        return asyncio.run(with_container(settings, work))
    except DomainError as exc:
        print(f"ninefold jobs {args.jobs_command}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE


def add_jobs_parser(sub: Any) -> None:
    """``ninefold jobs list|show|retry|cancel|replay|queues``."""
    jobs = sub.add_parser(
        "jobs",
        help="durable jobs: list, show, retry, cancel, replay; queue figures",
        description="Look at the durable jobs and their queues; queue dead or cancelled "
        "jobs again, cancel queued or running ones. The same operations as "
        "/api/v1/admin/jobs, acting as the operator.",
    )
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")

    listing = jobs_sub.add_parser(
        "list",
        help="list jobs, newest first",
        description="List jobs, newest first, a page at a time. When there are more, the "
        "command says which --cursor gives the next page.",
    )
    listing.add_argument("--state", choices=JOB_STATES, help="only jobs in this state")
    listing.add_argument("--queue", help="only jobs of this queue")
    listing.add_argument("--name", help="only jobs of this type, e.g. workflows.prune_jobs")
    listing.add_argument(
        "--limit", type=page_size, default=50, help=f"jobs per page, 1-{PAGE_MAX} (default 50)"
    )
    listing.add_argument("--cursor", help="the id the page before ended with")
    listing.add_argument("--json", action="store_true", help="print JSON, as the API answers")

    show = jobs_sub.add_parser(
        "show",
        help="one job in full",
        description="Print one job: payload, options, lease, last error and every attempt.",
    )
    show.add_argument("job_id", metavar="ID", help="the job's id (job_...)")
    show.add_argument("--json", action="store_true", help="print JSON, as the API answers")

    retry = jobs_sub.add_parser(
        "retry",
        help="queue a dead or cancelled job again",
        description="Queue a dead or cancelled job again, with fresh attempts; it runs as "
        "soon as a worker of its queue is free. Other states exit 1.",
    )
    retry.add_argument("job_id", metavar="ID", help="the job's id (job_...)")

    cancel = jobs_sub.add_parser(
        "cancel",
        help="cancel a queued or running job",
        description="Cancel a queued job, or a running one (its worker stops it at its next "
        "heartbeat). A finished job exits 1.",
    )
    cancel.add_argument("job_id", metavar="ID", help="the job's id (job_...)")

    replay = jobs_sub.add_parser(
        "replay",
        help="queue again every dead job of a queue or job type",
        description="Queue again every dead (or, with --state cancelled, cancelled) job "
        "matching --queue and --name. Without either, --all is required: nothing is "
        "replayed wholesale by accident.",
    )
    replay.add_argument(
        "--state", choices=REPLAYABLE_STATES, default="dead", help="which jobs (default dead)"
    )
    replay.add_argument("--queue", help="only jobs of this queue")
    replay.add_argument("--name", help="only jobs of this type")
    replay.add_argument(
        "--all", action="store_true", help="replay every job in the state, whatever its queue"
    )

    queues = jobs_sub.add_parser(
        "queues",
        help="each queue at a glance",
        description="Per queue: waiting (due now), scheduled (later, or waiting to retry), "
        "running, dead, the oldest waiting job's age, and failed and succeeded attempts "
        "in the last hour.",
    )
    queues.add_argument("--json", action="store_true", help="print JSON")
    jobs.set_defaults(handler=cmd_jobs)
