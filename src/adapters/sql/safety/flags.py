"""Feature flags' SQL store (``FlagStore``), in the caller's session. Definitions are
stored as msgspec JSON and decoded into the core's structs on the way back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.safety.flag_tables import flag_changes, flag_schedules, flags, segments
from adapters.sql.safety.stores import dialect_insert
from core.safety.flag_events import (
    ChangeAction,
    FlagChange,
    FlagExistsError,
    FlagPatch,
    FlagSchedule,
    FlagVersionConflictError,
    ScheduleState,
)
from core.safety.flags import Flag, Segment

_encode = msgspec.json.encode
_flag = msgspec.json.Decoder(Flag)
_segment = msgspec.json.Decoder(Segment)
_patch = msgspec.json.Decoder(FlagPatch)
_document = msgspec.json.Decoder(dict[str, Any])


def _text(value: Any) -> str | None:
    return None if value is None else _encode(value).decode()


class SqlFlagStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _is_postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    # --- flags ---------------------------------------------------------------------------

    async def flags(self, *, include_archived: bool = True) -> list[Flag]:
        query = select(flags.c.definition).order_by(flags.c.key)
        if not include_archived:
            query = query.where(flags.c.archived_at.is_(None))
        return [_flag.decode(text) for text in (await self._session.scalars(query)).all()]

    async def get(self, key: str, *, for_update: bool = False) -> Flag | None:
        query = select(flags.c.definition).where(flags.c.key == key)
        if for_update:
            query = query.with_for_update()
        text = (await self._session.execute(query)).scalar_one_or_none()
        return None if text is None else _flag.decode(text)

    async def save(self, flag: Flag) -> None:
        assert flag.created_at is not None
        assert flag.updated_at is not None
        values = {
            "kind": flag.kind.value,
            "value_type": flag.value_type.value,
            "client_visible": flag.client_visible,
            "definition": _encode(flag).decode(),
            "version": flag.version,
            "updated_at": flag.updated_at,
            "archived_at": flag.archived_at,
        }
        if flag.version == 1:
            inserted = await self._session.execute(
                dialect_insert(self._session, flags)
                .values(key=flag.key, created_at=flag.created_at, **values)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            if inserted.rowcount != 1:  # type: ignore[attr-defined]
                raise FlagExistsError(f"a flag {flag.key!r} exists already", key=flag.key)
            return
        updated = await self._session.execute(
            update(flags)
            .where(flags.c.key == flag.key, flags.c.version == flag.version - 1)
            .values(**values)
        )
        if updated.rowcount != 1:  # type: ignore[attr-defined]
            raise FlagVersionConflictError(f"{flag.key!r} changed meanwhile: try again")

    # --- segments ------------------------------------------------------------------------

    async def segments(self) -> list[Segment]:
        query = select(segments.c.definition).order_by(segments.c.key)
        return [_segment.decode(text) for text in (await self._session.scalars(query)).all()]

    async def get_segment(self, key: str) -> Segment | None:
        query = select(segments.c.definition).where(segments.c.key == key)
        text = (await self._session.execute(query)).scalar_one_or_none()
        return None if text is None else _segment.decode(text)

    async def save_segment(self, segment: Segment) -> None:
        assert segment.created_at is not None
        assert segment.updated_at is not None
        values = {
            "definition": _encode(segment).decode(),
            "version": segment.version,
            "updated_at": segment.updated_at,
        }
        insert = dialect_insert(self._session, segments).values(
            key=segment.key, created_at=segment.created_at, **values
        )
        await self._session.execute(
            insert.on_conflict_do_update(index_elements=["key"], set_=values)
        )

    async def delete_segment(self, key: str) -> None:
        await self._session.execute(delete(segments).where(segments.c.key == key))

    # --- history -------------------------------------------------------------------------

    async def add_change(self, change: FlagChange) -> None:
        await self._session.execute(
            flag_changes.insert().values(
                id=change.id,
                subject=change.subject,
                key=change.key,
                action=change.action.value,
                actor=change.actor,
                reason=change.reason,
                at=change.at,
                before=_text(change.before),
                after=_text(change.after),
                schedule_id=change.schedule_id,
            )
        )

    async def history(self, subject: str, key: str, *, limit: int = 50) -> list[FlagChange]:
        rows = await self._session.execute(
            select(flag_changes)
            .where(flag_changes.c.subject == subject, flag_changes.c.key == key)
            .order_by(flag_changes.c.id.desc())
            .limit(limit)
        )
        return [
            FlagChange(
                id=row.id,
                subject=row.subject,
                key=row.key,
                action=ChangeAction(row.action),
                actor=row.actor,
                reason=row.reason,
                at=row.at,
                before=None if row.before is None else _document.decode(row.before),
                after=None if row.after is None else _document.decode(row.after),
                schedule_id=row.schedule_id,
            )
            for row in rows.all()
        ]

    # --- scheduled changes ---------------------------------------------------------------

    async def add_schedule(self, schedule: FlagSchedule) -> None:
        await self._session.execute(
            flag_schedules.insert().values(
                id=schedule.id,
                key=schedule.key,
                apply_at=schedule.apply_at,
                patch=_encode(schedule.patch).decode(),
                reason=schedule.reason,
                created_by=schedule.created_by,
                created_at=schedule.created_at,
                state=schedule.state.value,
                done_at=schedule.done_at,
                detail=schedule.detail,
            )
        )

    async def get_schedule(self, schedule_id: str) -> FlagSchedule | None:
        row = (
            await self._session.execute(
                select(flag_schedules).where(flag_schedules.c.id == schedule_id)
            )
        ).one_or_none()
        return None if row is None else _schedule(row)

    async def schedules(self, key: str | None = None) -> list[FlagSchedule]:
        query = (
            select(flag_schedules)
            .where(flag_schedules.c.state == ScheduleState.PENDING.value)
            .order_by(flag_schedules.c.apply_at, flag_schedules.c.id)
        )
        if key is not None:
            query = query.where(flag_schedules.c.key == key)
        return [_schedule(row) for row in (await self._session.execute(query)).all()]

    async def due(self, now: datetime, *, limit: int = 100) -> list[FlagSchedule]:
        query = (
            select(flag_schedules)
            .where(
                flag_schedules.c.state == ScheduleState.PENDING.value,
                flag_schedules.c.apply_at <= now,
            )
            .order_by(flag_schedules.c.apply_at, flag_schedules.c.id)
            .limit(limit)
        )
        if self._is_postgres():
            query = query.with_for_update(skip_locked=True)
        return [_schedule(row) for row in (await self._session.execute(query)).all()]

    async def finish_schedule(self, schedule: FlagSchedule) -> None:
        await self._session.execute(
            update(flag_schedules)
            .where(flag_schedules.c.id == schedule.id)
            .values(state=schedule.state.value, done_at=schedule.done_at, detail=schedule.detail)
        )


def _schedule(row: Any) -> FlagSchedule:
    return FlagSchedule(
        id=row.id,
        key=row.key,
        apply_at=row.apply_at,
        patch=_patch.decode(row.patch),
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        state=ScheduleState(row.state),
        done_at=row.done_at,
        detail=row.detail,
    )
