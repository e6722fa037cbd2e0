"""The in-app inbox on SQL: ``InboxStore`` on ``notifications_inbox``.

Works in the transaction of the ``AsyncSession`` it is given and never commits. Ids
grow with time, so "newest first" is ``ORDER BY id DESC`` and a page goes on with the
ids lower than the last one seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.tables import check_lengths, inbox
from core.notifications.inbox import InAppNotification


def _notification(row: Any) -> InAppNotification:
    return InAppNotification(**dict(row._mapping))


def _scope(user_id: str, workspace_id: str | None) -> list[ColumnElement[bool]]:
    """The user's notifications; with ``workspace_id``, that workspace's and those of no
    workspace."""
    conditions = [inbox.c.user_id == user_id]
    if workspace_id is not None:
        conditions.append(or_(inbox.c.workspace_id == workspace_id, inbox.c.workspace_id.is_(None)))
    return conditions


class SqlInboxStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, notification: InAppNotification) -> None:
        row = {
            "id": notification.id,
            "user_id": notification.user_id,
            "workspace_id": notification.workspace_id,
            "notification_type": notification.notification_type,
            "category": notification.category,
            "title": notification.title,
            "body": notification.body,
            "link": notification.link,
            "created_at": notification.created_at,
            "read_at": notification.read_at,
        }
        check_lengths(inbox, row, "in-app notification")
        await self._session.execute(insert(inbox).values(row))

    async def get(self, user_id: str, notification_id: str) -> InAppNotification | None:
        query = select(inbox).where(inbox.c.id == notification_id, inbox.c.user_id == user_id)
        row = (await self._session.execute(query)).first()
        return None if row is None else _notification(row)

    async def page(
        self,
        user_id: str,
        *,
        workspace_id: str | None,
        unread_only: bool,
        before: str | None,
        limit: int,
    ) -> Sequence[InAppNotification]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = (
            select(inbox)
            .where(*_scope(user_id, workspace_id))
            .order_by(inbox.c.id.desc())
            .limit(limit)
        )
        if unread_only:
            query = query.where(inbox.c.read_at.is_(None))
        if before is not None:
            query = query.where(inbox.c.id < before)
        return [_notification(row) for row in await self._session.execute(query)]

    async def unread_count(self, user_id: str, *, workspace_id: str | None) -> int:
        query = (
            select(func.count())
            .select_from(inbox)
            .where(*_scope(user_id, workspace_id), inbox.c.read_at.is_(None))
        )
        return int((await self._session.execute(query)).scalar_one())

    async def _mark(self, conditions: list[ColumnElement[bool]], at: datetime) -> int:
        result = await self._session.execute(
            update(inbox).where(*conditions, inbox.c.read_at.is_(None)).values(read_at=at)
        )
        return int(getattr(result, "rowcount", 0))

    async def mark_read(self, user_id: str, notification_ids: Sequence[str], at: datetime) -> int:
        if not notification_ids:
            return 0
        return await self._mark(
            [inbox.c.user_id == user_id, inbox.c.id.in_(list(notification_ids))], at
        )

    async def mark_all_read(self, user_id: str, *, workspace_id: str | None, at: datetime) -> int:
        return await self._mark(_scope(user_id, workspace_id), at)

    async def created_since(
        self, since: datetime, *, user_ids: Sequence[str], limit: int
    ) -> Sequence[InAppNotification]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if not user_ids:
            return []
        query = (
            select(inbox)
            .where(inbox.c.user_id.in_(list(user_ids)), inbox.c.created_at >= since)
            .order_by(inbox.c.created_at, inbox.c.id)
            .limit(limit)
        )
        return [_notification(row) for row in await self._session.execute(query)]
