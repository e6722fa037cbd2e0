"""The SQL repository of sessions: one indexed read per authenticated request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.repositories.rows import (
    user_from_row,
)
from adapters.sql.identity.tables import (
    sessions,
    users,
)
from adapters.sql.types import UTCDateTime
from core.identity import (
    AuthSession,
    User,
)

_SESSION_COLUMNS = list(sessions.c)
_USER_COLUMNS = [c.label(f"usr__{c.name}") for c in users.c]


def _session(row: Any) -> AuthSession:
    return AuthSession(
        id=row.id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        idle_expires_at=row.idle_expires_at,
        user_agent=row.user_agent,
        ip=row.ip,
        revoked_at=row.revoked_at,
    )


class _Prefixed:
    """A row's ``usr__*`` columns (the joined user) seen without the prefix."""

    def __init__(self, row: Any) -> None:
        self._mapping = row._mapping

    def __getattr__(self, name: str) -> Any:
        return self._mapping["usr__" + name]


def _live(now: datetime) -> Any:
    return (
        sessions.c.revoked_at.is_(None)
        & (sessions.c.expires_at > now)
        & (sessions.c.idle_expires_at > now)
    )


# Built once: this runs on every authenticated request, and building the statement (and
# its cache key) cost more than running it.
_NOW = bindparam("now", type_=UTCDateTime())
_FIND_ACTIVE = (
    select(*_SESSION_COLUMNS, *_USER_COLUMNS)
    .join(users, users.c.id == sessions.c.user_id)
    .where(sessions.c.token_hash == bindparam("token_hash"))
    .where(sessions.c.revoked_at.is_(None))
    .where(sessions.c.expires_at > _NOW)
    .where(sessions.c.idle_expires_at > _NOW)
)


class SqlSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, session: AuthSession) -> None:
        await self._session.execute(
            insert(sessions).values(
                id=session.id,
                user_id=session.user_id,
                token_hash=session.token_hash,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                idle_expires_at=session.idle_expires_at,
                user_agent=session.user_agent,
                ip=session.ip,
                revoked_at=session.revoked_at,
            )
        )

    async def find_active(self, token_hash: str, now: datetime) -> tuple[AuthSession, User] | None:
        parameters = {"token_hash": token_hash, "now": now}
        row = (await self._session.execute(_FIND_ACTIVE, parameters)).first()
        return (_session(row), user_from_row(_Prefixed(row))) if row else None

    async def get(self, user_id: str, session_id: str) -> AuthSession | None:
        query = select(sessions).where(sessions.c.id == session_id, sessions.c.user_id == user_id)
        row = (await self._session.execute(query)).first()
        return _session(row) if row else None

    async def list_active(self, user_id: str, now: datetime) -> Sequence[AuthSession]:
        query = (
            select(sessions)
            .where(sessions.c.user_id == user_id)
            .where(_live(now))
            .order_by(sessions.c.last_seen_at.desc(), sessions.c.id.desc())
        )
        return [_session(row) for row in await self._session.execute(query)]

    async def touch(
        self, session_id: str, last_seen_at: datetime, idle_expires_at: datetime
    ) -> None:
        await self._session.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(last_seen_at=last_seen_at, idle_expires_at=idle_expires_at)
        )

    async def revoke(self, session_id: str, at: datetime) -> None:
        await self._session.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_all(self, user_id: str, at: datetime, keep: str | None = None) -> int:
        query = update(sessions).where(sessions.c.user_id == user_id).where(_live(at))
        if keep is not None:
            query = query.where(sessions.c.id != keep)
        result = await self._session.execute(query.values(revoked_at=at))
        return int(getattr(result, "rowcount", 0) or 0)
