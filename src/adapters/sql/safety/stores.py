"""The safety system's SQL stores: topic versions (``VersionStore``) and kill switches
(``KillSwitchStore``), each in the caller's session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.safety.tables import kill_switch_changes, kill_switches, versions
from core.kernel import IdGenerator
from core.safety.kill_switches import SwitchState
from core.safety.snapshots import Topic


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """The dialect's ``INSERT`` (with ``on_conflict_…``)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"safety supports SQLite and PostgreSQL, not {dialect}")


class SqlVersionStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def bump(self, topic: Topic, at: datetime) -> int:
        insert = dialect_insert(self._session, versions).values(
            topic=topic.value, version=1, updated_at=at
        )
        statement = insert.on_conflict_do_update(
            index_elements=["topic"],
            set_={"version": versions.c.version + 1, "updated_at": at},
        ).returning(versions.c.version)
        version: int = (await self._session.execute(statement)).scalar_one()
        return version

    async def versions(self) -> dict[str, int]:
        rows = await self._session.execute(select(versions.c.topic, versions.c.version))
        return {topic: int(version) for topic, version in rows.all()}


class SqlKillSwitchStore:
    def __init__(self, session: AsyncSession, ids: IdGenerator) -> None:
        self._session = session
        self._ids = ids

    async def states(self) -> dict[str, SwitchState]:
        rows = await self._session.execute(select(kill_switches))
        return {row.name: _state(row) for row in rows.all()}

    async def set(self, state: SwitchState) -> None:
        assert state.changed_at is not None
        values = {
            "name": state.name,
            "engaged": state.engaged,
            "reason": state.reason,
            "changed_by": state.changed_by,
            "changed_at": state.changed_at,
        }
        insert = dialect_insert(self._session, kill_switches).values(**values)
        await self._session.execute(
            insert.on_conflict_do_update(index_elements=["name"], set_=values)
        )
        await self._session.execute(
            kill_switch_changes.insert().values(id=self._ids.new("ksc", state.changed_at), **values)
        )

    async def history(self, name: str, *, limit: int = 50) -> list[SwitchState]:
        rows = await self._session.execute(
            select(kill_switch_changes)
            .where(kill_switch_changes.c.name == name)
            .order_by(kill_switch_changes.c.id.desc())
            .limit(limit)
        )
        return [_state(row) for row in rows.all()]


def _state(row: Any) -> SwitchState:
    return SwitchState(
        name=row.name,
        engaged=row.engaged,
        reason=row.reason,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )
