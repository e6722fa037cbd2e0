"""Changing flags and segments: each change with a reason, its before and after kept in
the history, an audit event raised, and the flags' snapshot version bumped in the same
transaction (so every process reloads within the poll interval). Changes may be
scheduled; ``apply_due`` applies those whose time has come (a job, every minute)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from core.kernel import Clock, IdGenerator, UnitOfWork
from core.safety.flag_changes import apply_patch, check_reason, environment_change
from core.safety.flag_events import (
    ChangeAction,
    FlagArchived,
    FlagArchivedError,
    FlagChange,
    FlagChangeScheduled,
    FlagCreated,
    FlagExistsError,
    FlagNotFoundError,
    FlagPatch,
    FlagSchedule,
    FlagUpdated,
    FlagVersionConflictError,
    ScheduleNotFoundError,
    ScheduleState,
    SegmentChanged,
    SegmentInUseError,
    SegmentNotFoundError,
)
from core.safety.flag_ports import FlagStore
from core.safety.flags import (
    EnvironmentConfig,
    Flag,
    FlagDefinitionError,
    Segment,
    validate_flag,
    validate_segment,
    with_default_variants,
)
from core.safety.snapshots import Topic, VersionStore


def _shown(item: Flag | Segment | None) -> dict[str, Any] | None:
    if item is None:
        return None
    shown: dict[str, Any] = msgspec.to_builtins(item)
    return shown


class FlagService:
    """The use cases, in the caller's unit of work (commit is the caller's)."""

    def __init__(
        self,
        store: FlagStore,
        versions: VersionStore,
        uow: UnitOfWork,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self.store = store
        self._versions = versions
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def _record(  # noqa: PLR0917 (a history row's fields, in their order)
        self,
        subject: str,
        key: str,
        action: ChangeAction,
        actor: str | None,
        reason: str,
        now: datetime,
        before: Flag | Segment | None,
        after: Flag | Segment | None,
        schedule_id: str | None = None,
    ) -> FlagChange:
        change = FlagChange(
            id=self._ids.new("fch", now),
            subject=subject,
            key=key,
            action=action,
            actor=actor,
            reason=reason,
            at=now,
            before=_shown(before),
            after=_shown(after),
            schedule_id=schedule_id,
        )
        await self.store.add_change(change)
        await self._versions.bump(Topic.FLAGS, now)
        return change

    async def _segment_keys(self) -> set[str]:
        return {s.key for s in await self.store.segments()}

    async def get(self, key: str) -> Flag:
        flag = await self.store.get(key)
        if flag is None:
            raise FlagNotFoundError(f"no flag {key!r}", key=key)
        return flag

    async def create(self, flag: Flag, *, reason: str, actor: str | None) -> Flag:
        reason = check_reason(reason)
        if await self.store.get(flag.key) is not None:
            raise FlagExistsError(f"a flag {flag.key!r} exists already", key=flag.key)
        now = self._clock.now()
        flag = msgspec.structs.replace(
            with_default_variants(flag), version=1, created_at=now, updated_at=now, archived_at=None
        )
        validate_flag(flag, await self._segment_keys())
        await self.store.save(flag)
        await self._record("flag", flag.key, ChangeAction.CREATED, actor, reason, now, None, flag)
        self._uow.raise_event(
            FlagCreated(occurred_at=now, key=flag.key, reason=reason, after=_shown(flag))
        )
        return flag

    async def update(
        self,
        key: str,
        patch: FlagPatch,
        *,
        reason: str,
        actor: str | None,
        expected_version: int | None = None,
        schedule_id: str | None = None,
    ) -> Flag:
        reason = check_reason(reason)
        before = await self.store.get(key, for_update=True)
        if before is None:
            raise FlagNotFoundError(f"no flag {key!r}", key=key)
        if expected_version is not None and expected_version != before.version:
            raise FlagVersionConflictError(
                f"{key!r} is at version {before.version}, not {expected_version}: read it again",
                key=key,
                version=before.version,
            )
        if before.archived:
            raise FlagArchivedError(f"{key!r} is archived: restore it first", key=key)
        now = self._clock.now()
        after = msgspec.structs.replace(
            apply_patch(before, patch), version=before.version + 1, updated_at=now
        )
        validate_flag(after, await self._segment_keys())
        await self.store.save(after)
        await self._record(
            "flag", key, ChangeAction.UPDATED, actor, reason, now, before, after, schedule_id
        )
        self._uow.raise_event(
            FlagUpdated(
                occurred_at=now,
                key=key,
                reason=reason,
                before=_shown(before),
                after=_shown(after),
                schedule_id=schedule_id,
            )
        )
        return after

    async def set_environment(
        self,
        key: str,
        environment: str,
        *,
        reason: str,
        actor: str | None,
        enabled: bool | None = None,
        rollout: int | None = None,
        default_variant: str | None = None,
    ) -> Flag:
        """Turn a flag on or off in one environment, set its first rule's rollout, or its
        default variant (``environment_change``)."""
        flag = await self.get(key)
        patch = environment_change(
            flag, environment, enabled=enabled, rollout=rollout, default_variant=default_variant
        )
        return await self.update(key, patch, reason=reason, actor=actor)

    async def archive(
        self, key: str, *, reason: str, actor: str | None, restore: bool = False
    ) -> Flag:
        reason = check_reason(reason)
        before = await self.store.get(key, for_update=True)
        if before is None:
            raise FlagNotFoundError(f"no flag {key!r}", key=key)
        if before.archived != restore:
            return before  # already in that state: nothing to record
        now = self._clock.now()
        after = msgspec.structs.replace(
            before,
            version=before.version + 1,
            updated_at=now,
            archived_at=None if restore else now,
        )
        await self.store.save(after)
        action = ChangeAction.RESTORED if restore else ChangeAction.ARCHIVED
        await self._record("flag", key, action, actor, reason, now, before, after)
        self._uow.raise_event(
            FlagArchived(
                occurred_at=now,
                key=key,
                reason=reason,
                before=_shown(before),
                after=_shown(after),
                archived=not restore,
            )
        )
        return after

    # --- scheduled changes -------------------------------------------------------------

    async def schedule(
        self, key: str, patch: FlagPatch, *, apply_at: datetime, reason: str, actor: str | None
    ) -> FlagSchedule:
        reason = check_reason(reason)
        flag = await self.get(key)
        now = self._clock.now()
        if apply_at.tzinfo is None:
            raise FlagDefinitionError("apply_at needs a time zone")
        if apply_at <= now:
            raise FlagDefinitionError("apply_at is in the past: change the flag now instead")
        validate_flag(apply_patch(flag, patch), await self._segment_keys())
        schedule = FlagSchedule(
            id=self._ids.new("fsc", now),
            key=key,
            apply_at=apply_at,
            patch=patch,
            reason=reason,
            created_by=actor,
            created_at=now,
        )
        await self.store.add_schedule(schedule)
        await self._record(
            "flag", key, ChangeAction.SCHEDULED, actor, reason, now, flag, None, schedule.id
        )
        self._uow.raise_event(
            FlagChangeScheduled(
                occurred_at=now,
                key=key,
                reason=reason,
                before=_shown(flag),
                after=msgspec.to_builtins(patch),
                schedule_id=schedule.id,
                apply_at=apply_at,
            )
        )
        return schedule

    async def cancel_schedule(
        self, schedule_id: str, *, reason: str, actor: str | None
    ) -> FlagSchedule:
        reason = check_reason(reason)
        schedule = await self.store.get_schedule(schedule_id)
        if schedule is None or schedule.state is not ScheduleState.PENDING:
            raise ScheduleNotFoundError(f"no pending scheduled change {schedule_id!r}")
        now = self._clock.now()
        done = msgspec.structs.replace(
            schedule, state=ScheduleState.CANCELED, done_at=now, detail=f"canceled: {reason}"
        )
        await self.store.finish_schedule(done)
        await self._record(
            "flag",
            schedule.key,
            ChangeAction.SCHEDULE_CANCELED,
            actor,
            reason,
            now,
            None,
            None,
            schedule.id,
        )
        self._uow.raise_event(
            FlagChangeScheduled(
                occurred_at=now,
                key=schedule.key,
                reason=reason,
                schedule_id=schedule.id,
                apply_at=schedule.apply_at,
                canceled=True,
            )
        )
        return done

    async def apply_due(self, *, limit: int = 100) -> list[FlagSchedule]:
        """Apply the scheduled changes due now, in order; one that no longer applies (the
        flag archived, a segment gone) is marked failed with the reason."""
        now = self._clock.now()
        finished: list[FlagSchedule] = []
        for schedule in await self.store.due(now, limit=limit):
            state, detail = ScheduleState.APPLIED, ""
            try:
                await self.update(
                    schedule.key,
                    schedule.patch,
                    reason=f"{schedule.reason} (scheduled {schedule.id})",
                    actor=schedule.created_by,
                    schedule_id=schedule.id,
                )
            except (FlagNotFoundError, FlagArchivedError, FlagDefinitionError) as exc:
                state, detail = ScheduleState.FAILED, exc.detail
            done = msgspec.structs.replace(schedule, state=state, done_at=now, detail=detail)
            await self.store.finish_schedule(done)
            finished.append(done)
        return finished

    # --- segments ----------------------------------------------------------------------

    async def save_segment(
        self, segment: Segment, *, reason: str, actor: str | None, create: bool
    ) -> Segment:
        reason = check_reason(reason)
        validate_segment(segment)
        before = await self.store.get_segment(segment.key)
        if create and before is not None:
            raise FlagExistsError(f"a segment {segment.key!r} exists already", key=segment.key)
        if not create and before is None:
            raise SegmentNotFoundError(f"no segment {segment.key!r}", key=segment.key)
        now = self._clock.now()
        after = msgspec.structs.replace(
            segment,
            version=(before.version if before else 0) + 1,
            created_at=before.created_at if before else now,
            updated_at=now,
        )
        await self.store.save_segment(after)
        action = ChangeAction.CREATED if create else ChangeAction.UPDATED
        await self._record("segment", segment.key, action, actor, reason, now, before, after)
        self._uow.raise_event(
            SegmentChanged(
                occurred_at=now,
                key=segment.key,
                reason=reason,
                before=_shown(before),
                after=_shown(after),
            )
        )
        return after

    async def delete_segment(self, key: str, *, reason: str, actor: str | None) -> None:
        reason = check_reason(reason)
        before = await self.store.get_segment(key)
        if before is None:
            raise SegmentNotFoundError(f"no segment {key!r}", key=key)
        users = sorted(
            flag.key
            for flag in await self.store.flags(include_archived=False)
            if any(key in rule.segments for env in flag.environments.values() for rule in env.rules)
        )
        if users:
            raise SegmentInUseError(f"flags use {key!r}: {', '.join(users)}", flags=users)
        now = self._clock.now()
        await self.store.delete_segment(key)
        await self._record("segment", key, ChangeAction.DELETED, actor, reason, now, before, None)
        self._uow.raise_event(
            SegmentChanged(occurred_at=now, key=key, reason=reason, before=_shown(before))
        )

    async def stale(self) -> list[Flag]:
        """Live flags past their kind's expected lifetime, the longest overdue first."""
        now = self._clock.now()
        found = [f for f in await self.store.flags(include_archived=False) if f.is_stale(now)]
        return sorted(found, key=lambda f: f.stale_at() or now)


__all__ = [
    "EnvironmentConfig",
    "FlagService",
    "FlagStore",
    "apply_patch",
    "check_reason",
    "environment_change",
]
