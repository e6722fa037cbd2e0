"""Schedules declared in code: cron expressions in a time zone, or fixed intervals.

Every worker runs the scheduler, and each tick is enqueued with the idempotency key
``schedule:<name>:<tick>``, so however many workers see a tick, the engine keeps one
job for it: a tick runs once. A tick missed (every worker down) by more than the
schedule's ``misfire_grace`` is skipped; a more recent one is caught up, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from core.kernel import Clock
from core.workflows.errors import InvalidScheduleError
from core.workflows.jobs import JobQueue, JobType

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CronEvaluator(Protocol):
    """Reads cron expressions (an adapter: core has no cron parser of its own)."""

    def validate(self, expression: str) -> None:
        """Raise ``ValueError`` naming what is wrong with ``expression``."""
        ...

    def latest(self, expression: str, at: datetime) -> datetime:
        """The latest tick at or before ``at``, in ``at``'s time zone."""
        ...


@dataclass(frozen=True)
class Schedule:
    """Run ``job`` with ``payload`` on a ``cron`` expression (in ``timezone``) or
    ``every`` interval (aligned to the Unix epoch, so all workers agree on ticks)."""

    name: str
    job: JobType[Any]
    payload: msgspec.Struct
    cron: str | None = None
    timezone: str = "UTC"
    every: timedelta | None = None
    misfire_grace: timedelta = timedelta(hours=1)
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise InvalidScheduleError(f"schedule {self.name!r}: give either cron or every")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise InvalidScheduleError(f"schedule {self.name!r}: every is at least 1 second")
        try:
            object.__setattr__(self, "zone", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidScheduleError(
                f"schedule {self.name!r}: unknown time zone {self.timezone!r}"
            ) from exc

    def latest_tick(self, now: datetime, cron: CronEvaluator) -> datetime:
        """The latest tick at or before ``now``, in UTC."""
        if self.every is not None:
            periods = (now - EPOCH) // self.every
            return EPOCH + periods * self.every
        assert self.cron is not None
        return cron.latest(self.cron, now.astimezone(self.zone)).astimezone(UTC)


def tick_key(schedule: Schedule, tick: datetime) -> str:
    return f"schedule:{schedule.name}:{tick.astimezone(UTC).isoformat()}"


OpenJobQueue = Callable[[], AbstractAsyncContextManager[JobQueue]]


class Scheduler:
    """Enqueues each schedule's due tick; run it in every worker."""

    def __init__(
        self,
        schedules: Sequence[Schedule],
        *,
        cron: CronEvaluator,
        open_queue: OpenJobQueue,
        clock: Clock,
    ) -> None:
        names = [s.name for s in schedules]
        if len(set(names)) != len(names):
            raise InvalidScheduleError("two schedules share a name")
        for schedule in schedules:
            if schedule.cron is not None:
                try:
                    cron.validate(schedule.cron)
                except ValueError as exc:
                    raise InvalidScheduleError(f"schedule {schedule.name!r}: {exc}") from exc
        self._schedules = tuple(schedules)
        self._cron = cron
        self._open_queue = open_queue
        self._clock = clock
        self._seen: dict[str, datetime] = {}

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        return self._schedules

    async def tick(self) -> int:
        """Enqueue every tick that is due and not yet enqueued by this process; returns
        how many jobs this call created or found."""
        now = self._clock.now()
        due = []
        for schedule in self._schedules:
            tick = schedule.latest_tick(now, self._cron)
            if self._seen.get(schedule.name) == tick or now - tick > schedule.misfire_grace:
                continue
            due.append((schedule, tick))
        if not due:
            return 0
        async with self._open_queue() as queue:
            for schedule, tick in due:
                await queue.enqueue(
                    schedule.job,
                    schedule.payload,
                    idempotency_key=tick_key(schedule, tick),
                    run_at=tick,
                )
        for schedule, tick in due:
            self._seen[schedule.name] = tick
        return len(due)

    async def run_forever(self, stop: asyncio.Event, every: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the scheduler could not enqueue due ticks")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
