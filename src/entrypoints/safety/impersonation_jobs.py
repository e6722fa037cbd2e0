"""Impersonation's job: ``safety.expire_impersonations``, every minute, records the
impersonations whose hour (or shorter maximum) has passed as expired, so the audit log
says when each ended even if nobody used its session again."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import msgspec

from core.identity import SessionService
from core.safety.impersonation import ImpersonationService
from core.workflows import JobContext, JobType, RetryPolicy, Schedule

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

logger = logging.getLogger("ninefold.safety")


class Tick(msgspec.Struct, frozen=True):
    """The payload of the periodic job (none needed)."""


EXPIRE_IMPERSONATIONS = JobType(
    "safety.expire_impersonations",
    Tick,
    queue="maintenance",
    retry=RetryPolicy(max_attempts=3, base_delay=10.0, max_delay=60.0),
)


def impersonation_schedules() -> list[Schedule]:
    return [
        Schedule(
            "safety.expire_impersonations",
            EXPIRE_IMPERSONATIONS,
            Tick(),
            every=timedelta(minutes=1),
        )
    ]


async def expire_impersonations(container: ApplicationContainer) -> int:
    """Record the overdue impersonations as expired; how many."""
    async with container.unit_of_work() as uow:
        sessions: SessionService = container.identity.sessions(session=uow.session)
        service: ImpersonationService = container.safety.impersonations(uow=uow, sessions=sessions)
        expired = await service.expire_overdue()
        await uow.commit()
    if expired:
        logger.info("recorded %d impersonations as expired", expired)
    return expired


def register_impersonation_jobs(container: ApplicationContainer) -> None:
    async def expire(_payload: Tick, _context: JobContext) -> None:
        await expire_impersonations(container)

    container.workflows.registry().register(EXPIRE_IMPERSONATIONS, expire)
