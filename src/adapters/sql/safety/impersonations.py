"""The SQL ``ImpersonationStore``, in the caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.safety.impersonation_tables import impersonations
from core.safety.impersonation import PAGE_DEFAULT, EndReason, Impersonation


class SqlImpersonationStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, impersonation: Impersonation, token_hash: str) -> None:
        await self._session.execute(
            impersonations.insert().values(
                id=impersonation.id,
                staff_id=impersonation.staff_id,
                user_id=impersonation.user_id,
                reason=impersonation.reason,
                started_at=impersonation.started_at,
                expires_at=impersonation.expires_at,
                staff_session_id=impersonation.staff_session_id,
                session_id=impersonation.session_id,
                token_hash=token_hash,
                ended_at=impersonation.ended_at,
                ended_reason=impersonation.ended_reason,
                ended_by=impersonation.ended_by,
            )
        )

    async def get(self, impersonation_id: str) -> Impersonation | None:
        return await self._one(impersonations.c.id == impersonation_id)

    async def by_token_hash(self, token_hash: str) -> Impersonation | None:
        return await self._one(impersonations.c.token_hash == token_hash)

    async def open_of_staff(self, staff_id: str) -> Sequence[Impersonation]:
        query = (
            select(impersonations)
            .where(impersonations.c.staff_id == staff_id, impersonations.c.ended_at.is_(None))
            .order_by(impersonations.c.id)
        )
        return [_impersonation(row) for row in await self._session.execute(query)]

    async def latest_of_staff_session(self, staff_session_id: str) -> Impersonation | None:
        query = (
            select(impersonations)
            .where(impersonations.c.staff_session_id == staff_session_id)
            .order_by(impersonations.c.id.desc())
            .limit(1)
        )
        row = (await self._session.execute(query)).first()
        return _impersonation(row) if row else None

    async def overdue(self, now: datetime, *, limit: int = 100) -> Sequence[Impersonation]:
        query = (
            select(impersonations)
            .where(impersonations.c.ended_at.is_(None), impersonations.c.expires_at <= now)
            .order_by(impersonations.c.expires_at, impersonations.c.id)
            .limit(limit)
        )
        return [_impersonation(row) for row in await self._session.execute(query)]

    async def page(
        self,
        *,
        active_at: datetime | None = None,
        staff_id: str | None = None,
        user_id: str | None = None,
        before: str | None = None,
        limit: int = PAGE_DEFAULT,
    ) -> Sequence[Impersonation]:
        query = select(impersonations)
        if active_at is not None:
            query = query.where(
                impersonations.c.ended_at.is_(None), impersonations.c.expires_at > active_at
            )
        if staff_id is not None:
            query = query.where(impersonations.c.staff_id == staff_id)
        if user_id is not None:
            query = query.where(impersonations.c.user_id == user_id)
        if before is not None:
            query = query.where(impersonations.c.id < before)
        query = query.order_by(impersonations.c.id.desc()).limit(limit)
        return [_impersonation(row) for row in await self._session.execute(query)]

    async def end(
        self, impersonation_id: str, *, at: datetime, reason: EndReason, by: str | None
    ) -> bool:
        result = await self._session.execute(
            update(impersonations)
            .where(impersonations.c.id == impersonation_id, impersonations.c.ended_at.is_(None))
            .values(ended_at=at, ended_reason=reason.value, ended_by=by)
        )
        return bool(getattr(result, "rowcount", 0))

    async def _one(self, condition: Any) -> Impersonation | None:
        row = (await self._session.execute(select(impersonations).where(condition))).first()
        return _impersonation(row) if row else None


def _impersonation(row: Any) -> Impersonation:
    return Impersonation(
        id=row.id,
        staff_id=row.staff_id,
        user_id=row.user_id,
        reason=row.reason,
        started_at=row.started_at,
        expires_at=row.expires_at,
        staff_session_id=row.staff_session_id,
        session_id=row.session_id,
        ended_at=row.ended_at,
        ended_reason=EndReason(row.ended_reason) if row.ended_reason else None,
        ended_by=row.ended_by,
    )
