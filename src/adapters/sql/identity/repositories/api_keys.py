"""The SQL repository of workspace API keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.tables import api_keys
from core.identity import ApiKey, Permission
from core.kernel import TenantContext


def _encode(permissions: Iterable[Permission]) -> str:
    return " ".join(sorted(p.value for p in permissions))


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        permissions=frozenset(Permission(p) for p in row.permissions.split()),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: ApiKey) -> None:
        await self._session.execute(
            insert(api_keys).values(
                id=key.id,
                workspace_id=key.workspace_id,
                name=key.name,
                prefix=key.prefix,
                secret_hash=key.secret_hash,
                permissions=_encode(key.permissions),
                created_by=key.created_by,
                created_at=key.created_at,
                expires_at=key.expires_at,
                last_used_at=key.last_used_at,
                revoked_at=key.revoked_at,
            )
        )

    async def get(self, tenant: TenantContext, key_id: str) -> ApiKey | None:
        query = select(api_keys).where(
            api_keys.c.workspace_id == tenant.workspace_id, api_keys.c.id == key_id
        )
        row = (await self._session.execute(query)).first()
        return _api_key(row) if row else None

    async def list_keys(self, tenant: TenantContext) -> Sequence[ApiKey]:
        query = (
            select(api_keys)
            .where(api_keys.c.workspace_id == tenant.workspace_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        return [_api_key(row) for row in await self._session.execute(query)]

    async def find_by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.secret_hash == secret_hash)
        row = (await self._session.execute(query)).first()
        return _api_key(row) if row else None

    async def revoke(self, tenant: TenantContext, key_id: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(api_keys)
            .where(
                api_keys.c.workspace_id == tenant.workspace_id,
                api_keys.c.id == key_id,
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def touch(self, key_id: str, at: datetime) -> None:
        await self._session.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at)
        )
