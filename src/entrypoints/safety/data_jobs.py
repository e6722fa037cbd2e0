"""Data export and deletion's jobs, schedules and event subscriptions.

- ``safety.build_export``: builds one export's archive (enqueued with the request);
  after its last failed attempt the request is marked ``failed`` for staff.
- ``safety.expire_exports`` (hourly): deletes archives whose links have expired.
- ``safety.erase_due`` (hourly): erases every account whose deletion grace period has
  passed, each in a unit of work of its own (one that fails is retried whole next hour,
  without holding up the others).
- Identity's ``WorkspaceDeletionScheduled`` is recorded as a scheduled deletion, and its
  ``WorkspacePurged`` completes the purge in every system through the parts.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import msgspec

from adapters.sql.uow import SqlUnitOfWork
from core.identity import WorkspaceDeletionScheduled, WorkspacePurged
from core.safety.data_service import DataService
from core.workflows import JobContext, JobQueue, JobType, RetryPolicy, Schedule

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

logger = logging.getLogger("ninefold.safety.data")

DATA_QUEUE = "maintenance"
ERASE_BATCH = 100
PURGE_SUBSCRIBER = "safety.data.erase_workspace"
SCHEDULED_SUBSCRIBER = "safety.data.workspace_deletion_scheduled"


class BuildExport(msgspec.Struct, frozen=True):
    request_id: str


class DataTick(msgspec.Struct, frozen=True):
    """The payload of a periodic data job (none needed)."""


_periodic = RetryPolicy(max_attempts=3, base_delay=30.0, max_delay=600.0)
BUILD_EXPORT = JobType(
    "safety.build_export",
    BuildExport,
    queue=DATA_QUEUE,
    retry=RetryPolicy(max_attempts=5, base_delay=30.0, max_delay=1800.0),
    timeout=600.0,
)
EXPIRE_EXPORTS = JobType("safety.expire_exports", DataTick, queue=DATA_QUEUE, retry=_periodic)
ERASE_DUE = JobType("safety.erase_due", DataTick, queue=DATA_QUEUE, retry=_periodic, timeout=1800.0)


def data_schedules() -> list[Schedule]:
    hourly = timedelta(hours=1)
    return [
        Schedule("safety.expire_exports", EXPIRE_EXPORTS, DataTick(), every=hourly),
        Schedule("safety.erase_due", ERASE_DUE, DataTick(), every=hourly),
    ]


def data_service(container: ApplicationContainer, uow: SqlUnitOfWork) -> DataService:
    """The data service on ``uow``, sending its notifications in the same transaction."""
    service: DataService = container.safety.data(
        uow=uow, notifier=container.notifications.notifier(uow=uow)
    )
    return service


async def enqueue_build(jobs: JobQueue, request_id: str) -> None:
    await jobs.enqueue(BUILD_EXPORT, BuildExport(request_id), idempotency_key=request_id)


def register_data_jobs(container: ApplicationContainer) -> None:
    """Register the data jobs' handlers and subscriptions (once per process, from
    ``register_jobs``)."""
    registry = container.workflows.registry()
    bus = container.workflows.event_bus()

    async def build_export(payload: BuildExport, context: JobContext) -> None:
        try:
            async with container.unit_of_work() as uow:
                await data_service(container, uow).build_export(payload.request_id)
                await uow.commit()
        except Exception as exc:
            if context.is_last_attempt:
                async with container.unit_of_work() as uow:
                    await data_service(container, uow).export_failed(
                        payload.request_id, f"{type(exc).__name__}: {exc}"
                    )
                    await uow.commit()
            raise

    async def expire_exports(_payload: DataTick, _context: JobContext) -> None:
        async with container.unit_of_work() as uow:
            expired = await data_service(container, uow).expire_exports()
            await uow.commit()
        if expired:
            logger.info("deleted %d export archives past their link's expiry", expired)

    async def erase_due(_payload: DataTick, _context: JobContext) -> None:
        await erase_due_accounts(container)

    async def erase_workspace(event: WorkspacePurged) -> None:
        async with container.unit_of_work() as uow:
            await data_service(container, uow).erase_workspace(event.workspace_id)
            await uow.commit()

    async def deletion_scheduled(event: WorkspaceDeletionScheduled) -> None:
        async with container.unit_of_work() as uow:
            await data_service(container, uow).workspace_deletion_scheduled(
                event.workspace_id, event.purge_after
            )
            await uow.commit()

    registry.register(BUILD_EXPORT, build_export)
    registry.register(EXPIRE_EXPORTS, expire_exports)
    registry.register(ERASE_DUE, erase_due)
    bus.subscribe(WorkspacePurged, erase_workspace, name=PURGE_SUBSCRIBER)
    bus.subscribe(WorkspaceDeletionScheduled, deletion_scheduled, name=SCHEDULED_SUBSCRIBER)


async def erase_due_accounts(container: ApplicationContainer) -> int:
    """Erase the accounts whose grace period has passed, one unit of work each; returns
    how many were erased. One that fails is logged and left for the next run."""
    async with container.unit_of_work() as uow:
        due = await data_service(container, uow).due_deletions(ERASE_BATCH)
    erased = failed = 0
    for request_id in due:
        try:
            async with container.unit_of_work() as uow:
                done = await data_service(container, uow).erase(request_id)
                await uow.commit()
            erased += done
        except Exception:
            failed += 1
            logger.exception("erasing data request %s failed; it is retried next run", request_id)
    if erased:
        logger.info("erased %d accounts past their deletion grace period", erased)
    if failed:
        raise RuntimeError(f"{failed} of {len(due)} due erasures failed (see the log)")
    return erased
