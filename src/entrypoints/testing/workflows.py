"""Running the worker's work to the end inside a test, without the worker's loops."""

from __future__ import annotations

from core.workflows import JobRunner
from entrypoints.containers import ApplicationContainer
from entrypoints.jobs import register_jobs


def job_runner(container: ApplicationContainer) -> JobRunner:
    """A runner over every queue, with the app's handlers registered."""
    register_jobs(container)
    runner: JobRunner = container.workflows.job_runner(queues=None)
    return runner


async def run_jobs(container: ApplicationContainer) -> int:
    """Relay committed events into jobs and run every due job, until nothing is left;
    returns how many jobs ran. Time does not move: jobs waiting to retry stay queued."""
    relay, runner = container.workflows.outbox_relay(), job_runner(container)
    total = 0
    while True:
        relayed = await relay.drain()
        ran = await runner.drain()
        total += ran
        if not relayed and not ran:
            return total
