"""The SQL repository of users."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.repositories.rows import (
    user_from_row,
)
from adapters.sql.identity.tables import (
    users,
)
from core.identity import (
    EmailTakenError,
    StaffRole,
    User,
)


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        values = {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "password_hash": user.password_hash,
            "staff_role": user.staff_role.value if user.staff_role else None,
            "created_at": user.created_at,
            "email_verified_at": user.email_verified_at,
            "banned_at": user.banned_at,
            "totp_secret": user.totp_secret,
            "totp_enabled_at": user.totp_enabled_at,
            "totp_last_step": user.totp_last_step,
        }
        try:
            async with self._session.begin_nested():
                await self._session.execute(insert(users).values(values))
        except IntegrityError as exc:
            raise EmailTakenError() from exc

    async def get(self, user_id: str) -> User | None:
        row = (await self._session.execute(select(users).where(users.c.id == user_id))).first()
        return user_from_row(row) if row else None

    async def get_by_email(self, email: str) -> User | None:
        query = select(users).where(users.c.email == email)
        row = (await self._session.execute(query)).first()
        return user_from_row(row) if row else None

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        query = update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        await self._session.execute(query)

    async def mark_email_verified(self, user_id: str, at: datetime) -> None:
        await self._session.execute(
            update(users)
            .where(users.c.id == user_id, users.c.email_verified_at.is_(None))
            .values(email_verified_at=at)
        )

    async def rename(self, user_id: str, name: str) -> None:
        await self._session.execute(update(users).where(users.c.id == user_id).values(name=name))

    async def set_totp(
        self,
        user_id: str,
        secret: str | None,
        enabled_at: datetime | None = None,
        last_step: int | None = None,
    ) -> None:
        await self._session.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(totp_secret=secret, totp_enabled_at=enabled_at, totp_last_step=last_step)
        )

    async def use_totp_step(self, user_id: str, step: int) -> bool:
        # One conditional UPDATE: of two concurrent uses of one code, only one matches.
        result = await self._session.execute(
            update(users)
            .where(users.c.id == user_id)
            .where(users.c.totp_last_step.is_(None) | (users.c.totp_last_step < step))
            .values(totp_last_step=step)
        )
        return bool(getattr(result, "rowcount", 0))

    async def search(
        self,
        email_prefix: str = "",
        *,
        after: str | None = None,
        limit: int | None = 50,
        staff_only: bool = False,
    ) -> Sequence[User]:
        query = select(users).order_by(users.c.id)
        if email_prefix:
            query = query.where(users.c.email.startswith(email_prefix, autoescape=True))
        if after is not None:
            query = query.where(users.c.id > after)
        if staff_only:
            query = query.where(users.c.staff_role.is_not(None))
        if limit is not None:
            query = query.limit(limit)
        return [user_from_row(row) for row in await self._session.execute(query)]

    async def set_banned(self, user_id: str, at: datetime | None) -> None:
        await self._session.execute(update(users).where(users.c.id == user_id).values(banned_at=at))

    async def set_staff_role(self, user_id: str, role: StaffRole | None) -> None:
        await self._session.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(staff_role=role.value if role is not None else None)
        )

    async def count(self) -> int:
        return int(
            (await self._session.execute(select(func.count()).select_from(users))).scalar_one()
        )
