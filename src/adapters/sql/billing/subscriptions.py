"""Subscriptions on SQL: ``SubscriptionStore`` on ``billing_subscriptions`` (SQLite and
PostgreSQL). Works in the transaction of the ``AsyncSession`` it is given; never commits.

``save`` is an optimistic lock: ``UPDATE … SET version = version + 1 WHERE id = ? AND
version = ?``; no row updated means another writer saved first. On PostgreSQL a second
writer of the same version waits for the first one's row lock and, once it commits,
finds the version moved on (READ COMMITTED re-checks the ``WHERE`` on the new row); on
SQLite writers queue (every writing transaction begins ``IMMEDIATE``).

One live subscription per workspace is the partial unique index
``uq_billing_subscriptions_live``; the insert or update that would break it runs in a
SAVEPOINT, so that on ``SubscriptionExistsError`` the caller's transaction carries on.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec
from sqlalchemy import case, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.store_tables import subscriptions
from core.billing.errors import ConcurrentSubscriptionUpdateError, SubscriptionExistsError
from core.billing.subscriptions import FINAL_STATUSES, Subscription, SubscriptionStatus
from core.kernel import TenantContext

_S = subscriptions.c
_FINAL = [status.value for status in FINAL_STATUSES]
# The live one first, then the most recent final one.
_LIVE_FIRST = (case((_S.status.in_(_FINAL), 1), else_=0), _S.created_at.desc(), _S.id.desc())


def _row(subscription: Subscription) -> dict[str, Any]:
    return {
        name: value.value if isinstance(value, enum.Enum) else value
        for name, value in msgspec.structs.asdict(subscription).items()
    }


def _subscription(row: Any) -> Subscription:
    return msgspec.convert({str(k): v for k, v in row._asdict().items()}, Subscription)


class SqlSubscriptionStore:
    """``SubscriptionStore`` on the session's database."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _first(self, *where: Any) -> Subscription | None:
        query = select(subscriptions).where(*where).order_by(*_LIVE_FIRST).limit(1)
        row = (await self._session.execute(query)).first()
        return None if row is None else _subscription(row)

    async def current(self, tenant: TenantContext) -> Subscription | None:
        return await self._first(_S.workspace_id == tenant.workspace_id)

    async def get(self, subscription_id: str) -> Subscription | None:
        return await self._first(_S.id == subscription_id)

    async def by_provider_id(
        self, provider: str, provider_subscription_id: str
    ) -> Subscription | None:
        return await self._first(
            _S.provider == provider, _S.provider_subscription_id == provider_subscription_id
        )

    async def add(self, subscription: Subscription) -> Subscription:
        stored = msgspec.structs.replace(subscription, version=1)
        try:
            async with self._session.begin_nested():
                await self._session.execute(insert(subscriptions).values(_row(stored)))
        except IntegrityError as exc:
            raise SubscriptionExistsError(
                f"workspace {subscription.workspace_id} already has a live subscription"
            ) from exc
        return stored

    async def save(self, subscription: Subscription) -> Subscription:
        saved = msgspec.structs.replace(subscription, version=subscription.version + 1)
        values = _row(saved)
        del values["id"]
        query = (
            update(subscriptions)
            .where(_S.id == subscription.id, _S.version == subscription.version)
            .values(values)
        )
        try:
            async with self._session.begin_nested():
                result = await self._session.execute(query)
        except IntegrityError as exc:
            raise SubscriptionExistsError(
                f"workspace {subscription.workspace_id} already has a live subscription"
            ) from exc
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentSubscriptionUpdateError(
                f"subscription {subscription.id} is no longer at version {subscription.version}"
            )
        return saved

    async def page(
        self,
        *,
        status: SubscriptionStatus | None = None,
        workspace_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Subscription]:
        query = select(subscriptions).order_by(_S.id).limit(limit)
        if status is not None:
            query = query.where(_S.status == SubscriptionStatus(status).value)
        if workspace_id is not None:
            query = query.where(_S.workspace_id == workspace_id)
        if after is not None:
            query = query.where(_S.id > after)
        return [_subscription(row) for row in await self._session.execute(query)]
