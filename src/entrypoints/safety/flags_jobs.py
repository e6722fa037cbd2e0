"""Feature flags' job: ``safety.apply_flag_schedules``, every minute, applies the
scheduled flag changes whose time has come (each recorded as a change by whoever
scheduled it, with their reason) and refreshes this process's snapshot; the other
processes see the change within the poll interval. A schedule that no longer applies
(its flag archived, a segment gone) is marked failed with the reason, and logged."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import msgspec

from core.safety.flag_events import ScheduleState
from core.workflows import JobContext, JobType, RetryPolicy, Schedule

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

logger = logging.getLogger("ninefold.safety")

FLAGS_QUEUE = "maintenance"


class Tick(msgspec.Struct, frozen=True):
    """The payload of the periodic job (none needed)."""


APPLY_FLAG_SCHEDULES = JobType(
    "safety.apply_flag_schedules",
    Tick,
    queue=FLAGS_QUEUE,
    retry=RetryPolicy(max_attempts=3, base_delay=10.0, max_delay=60.0),
)


def flag_schedules() -> list[Schedule]:
    return [
        Schedule(
            "safety.apply_flag_schedules", APPLY_FLAG_SCHEDULES, Tick(), every=timedelta(minutes=1)
        )
    ]


async def apply_flag_schedules(container: ApplicationContainer) -> int:
    """Apply the due scheduled changes; how many were applied."""
    async with container.unit_of_work() as uow:
        done = await container.safety.flag_service(uow=uow).apply_due()
        await uow.commit()
    for schedule in done:
        if schedule.state is ScheduleState.FAILED:
            logger.warning(
                "scheduled change %s of flag %s failed: %s",
                schedule.id,
                schedule.key,
                schedule.detail,
            )
    if done:
        await container.safety.snapshots().refresh()
    return sum(1 for s in done if s.state is ScheduleState.APPLIED)


def register_flag_jobs(container: ApplicationContainer) -> None:
    registry = container.workflows.registry()

    async def apply(_payload: Tick, _context: JobContext) -> None:
        applied = await apply_flag_schedules(container)
        if applied:
            logger.info("applied %d scheduled flag changes", applied)

    registry.register(APPLY_FLAG_SCHEDULES, apply)
