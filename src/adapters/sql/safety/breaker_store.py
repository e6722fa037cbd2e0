"""``BreakerStore`` on SQL: staff overrides of the circuit breakers and their history,
in the caller's session."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.safety.breaker_tables import breaker_changes, breaker_overrides
from adapters.sql.safety.stores import dialect_insert
from core.safety.breaker_registry import BreakerOverride, OverrideKind


class SqlBreakerStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def overrides(self) -> dict[str, BreakerOverride]:
        rows = await self._session.execute(select(breaker_overrides))
        return {row.name: _override(row, row.change_id) for row in rows.all()}

    async def set(self, override: BreakerOverride) -> None:
        values = {
            "name": override.name,
            "kind": override.kind.value,
            "reason": override.reason,
            "changed_by": override.changed_by,
            "changed_at": override.changed_at,
        }
        insert = dialect_insert(self._session, breaker_overrides).values(
            **values, change_id=override.change_id
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["name"], set_={**values, "change_id": override.change_id}
            )
        )
        await self._session.execute(
            breaker_changes.insert().values(id=override.change_id, **values)
        )

    async def history(self, name: str, *, limit: int = 50) -> list[BreakerOverride]:
        rows = await self._session.execute(
            select(breaker_changes)
            .where(breaker_changes.c.name == name)
            .order_by(breaker_changes.c.id.desc())
            .limit(limit)
        )
        return [_override(row, row.id) for row in rows.all()]


def _override(row: Any, change_id: str) -> BreakerOverride:
    return BreakerOverride(
        name=row.name,
        kind=OverrideKind(row.kind),
        reason=row.reason,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
        change_id=change_id,
    )
