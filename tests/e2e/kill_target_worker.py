"""A worker process for the kill test: the app's worker plus one test job type.

Run as ``python tests/e2e/kill_target_worker.py LOG``: settings come from ``NINEFOLD_*``
variables; each attempt appends ``<job id> <attempt> start|done`` lines to LOG. A job
whose payload says ``slow`` sleeps a minute on its first attempt (long enough to be
killed in the middle of it) and is quick on later ones.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import msgspec

from core.workflows import JobContext, JobType
from entrypoints.containers import build_container, close_container
from entrypoints.settings import load_settings
from entrypoints.worker import Worker


class Work(msgspec.Struct, frozen=True):
    kind: str


WORK = JobType("killtest.work", Work)


async def main(log: Path) -> None:
    container = build_container(load_settings())

    def note(context: JobContext, what: str) -> None:
        with log.open("a") as out:
            out.write(f"{context.job_id} {context.attempt} {what}\n")
            out.flush()
            os.fsync(out.fileno())

    async def work(payload: Work, context: JobContext) -> None:
        note(context, "start")
        await asyncio.sleep(60 if payload.kind == "slow" and context.attempt == 1 else 0.02)
        note(context, "done")

    container.workflows.registry().register(WORK, work)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await Worker(container, grace=5).run_until_stopped(stop)
    finally:
        await close_container(container)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
