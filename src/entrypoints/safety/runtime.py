"""The process's safety snapshots, kept fresh: ``SafetyRuntime.start`` loads them (the
app answers nothing before that) and polls the shared versions every half second, so a
flag, kill switch or breaker change made through any process is in force in this one
within the interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from core.safety import Snapshots

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

POLL_SECONDS = 0.5
logger = logging.getLogger("ninefold.safety")


class SafetyRuntime:
    def __init__(self, container: ApplicationContainer, *, interval: float = POLL_SECONDS):
        self._snapshots: Snapshots = container.safety.snapshots()
        self._interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self._snapshots.refresh(force=True)
        except Exception:  # an unmigrated database: the poller keeps trying
            logger.warning("safety snapshots not loaded at start; retrying", exc_info=True)
        self._stop.clear()
        self._task = asyncio.create_task(
            self._snapshots.run_forever(self._stop, self._interval), name="safety.snapshots"
        )

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
