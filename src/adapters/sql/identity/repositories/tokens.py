"""SQL repositories of single-use secrets: email tokens and recovery codes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.tables import (
    email_tokens,
    recovery_codes,
)
from core.identity import (
    EmailToken,
    RecoveryCode,
    TokenPurpose,
)


def _email_token(row: Any) -> EmailToken:
    return EmailToken(
        id=row.id,
        user_id=row.user_id,
        purpose=TokenPurpose(row.purpose),
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class SqlEmailTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token: EmailToken) -> None:
        await self._session.execute(
            insert(email_tokens).values(
                id=token.id,
                user_id=token.user_id,
                purpose=token.purpose.value,
                token_hash=token.token_hash,
                created_at=token.created_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def find_usable(
        self, token_hash: str, purpose: TokenPurpose, now: datetime
    ) -> EmailToken | None:
        query = select(email_tokens).where(
            email_tokens.c.token_hash == token_hash,
            email_tokens.c.purpose == purpose.value,
            email_tokens.c.used_at.is_(None),
            email_tokens.c.expires_at > now,
        )
        row = (await self._session.execute(query)).first()
        return _email_token(row) if row else None

    async def use(self, token_id: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(email_tokens)
            .where(email_tokens.c.id == token_id, email_tokens.c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_all(self, user_id: str, purpose: TokenPurpose, at: datetime) -> None:
        await self._session.execute(
            update(email_tokens)
            .where(
                email_tokens.c.user_id == user_id,
                email_tokens.c.purpose == purpose.value,
                email_tokens.c.used_at.is_(None),
            )
            .values(used_at=at)
        )


class SqlRecoveryCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace_all(self, user_id: str, codes: Sequence[RecoveryCode]) -> None:
        await self.delete_all(user_id)
        if codes:
            await self._session.execute(
                insert(recovery_codes),
                [
                    {"id": c.id, "user_id": c.user_id, "code_hash": c.code_hash, "used_at": None}
                    for c in codes
                ],
            )

    async def use(self, user_id: str, code_hash: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(recovery_codes)
            .where(
                recovery_codes.c.user_id == user_id,
                recovery_codes.c.code_hash == code_hash,
                recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def count_unused(self, user_id: str) -> int:
        query = (
            select(func.count())
            .select_from(recovery_codes)
            .where(recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None))
        )
        return int((await self._session.execute(query)).scalar_one())

    async def delete_all(self, user_id: str) -> None:
        await self._session.execute(
            delete(recovery_codes).where(recovery_codes.c.user_id == user_id)
        )
