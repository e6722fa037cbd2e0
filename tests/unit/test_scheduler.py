"""The scheduler's interval tasks keep running when one run fails."""

from __future__ import annotations

import asyncio

from entrypoints.worker import IntervalTask


async def test_an_interval_task_runs_again_after_a_failure() -> None:
    runs: list[int] = []
    third_run = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("first run fails")
        if len(runs) == 3:
            third_run.set()

    task = asyncio.create_task(IntervalTask("flaky", 0.01, flaky).loop())
    try:
        await asyncio.wait_for(third_run.wait(), timeout=5)
    finally:
        task.cancel()

    assert runs[:3] == [0, 1, 2]
